"""The cost of PSIS-LOO at n = 20,000: time and peak memory, as a ratio to the fit, and against ``arviz.loo``.

One interaction model (arm, a standard-normal biomarker, their product; 8 intervals; 4 chains x 1,000 draws after
1,000 tuning) is fitted to the 20,000-patient cohort of ``bench_bayes_scale.py``; then

* tmesurv's LOO (:func:`tmesurv.models.pwe.compare.add_loo`: the per-patient log-likelihood a block of patients at a
  time, PSIS vectorised over patients, blocks on two threads);
* the way before: the whole chains x draws x patients float64 log-likelihood in the InferenceData, and ``arviz.loo``
  on it.

Memory per step: the peak resident memory of the process above its level when the step starts (polled every 20 ms,
so it covers nutpie's own allocations), and the peak of numpy's allocations traced by ``tracemalloc`` (numpy reports
its buffers to it; nutpie's are not traced). CPU time is printed next to the wall time: other work on the machine
inflates the wall time. The two LOO results are checked to agree.
Run: ``nice -n 10 .venv/bin/python benchmarks/bench_loo.py``
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from bench_bayes_scale import TreeMemory, cohort

from tmesurv.models.pwe.compare import add_loo
from tmesurv.models.pwe.fit import fit_pwe, pointwise_log_likelihood
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings


def timed(step):
    """Wall and CPU seconds, peak resident MB above the start, traced numpy peak MB, and the result of ``step()``."""
    traced = tracemalloc.is_tracing()
    if traced:
        tracemalloc.reset_peak()
    start_rss = psutil.Process(os.getpid()).memory_info().rss
    memory = TreeMemory(os.getpid())
    start, cpu = time.perf_counter(), time.process_time()
    result = step()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    resident = (memory.stop() - start_rss) / 1e6
    traced_mb = tracemalloc.get_traced_memory()[1] / 1e6 if traced else float("nan")
    return seconds, cpu_seconds, resident, traced_mb, result


def arviz_loo(idata: az.InferenceData) -> az.ELPDData:
    """The way before: the whole float64 log-likelihood in the InferenceData, then ``arviz.loo``."""
    whole = az.InferenceData(posterior=idata.posterior, constant_data=idata.constant_data)
    whole.add_groups(log_likelihood={"event": pointwise_log_likelihood(idata)}, dims={"event": ["patient"]})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto", category=UserWarning)
        return az.loo(whole, pointwise=True)


def main() -> None:
    patients = cohort()
    arm = (patients["arm"] == "treated").to_numpy(dtype=float)
    marker = patients["marker"].to_numpy()
    design = pd.DataFrame({"arm": arm, "marker": marker, "arm:marker": arm * marker})
    time_, event = patients["efs_time"].to_numpy(), patients["efs_event"].to_numpy()
    fit = timed(lambda: fit_pwe(time_, event, design, PweSettings(), SamplerSettings(seed=1)))  # untraced: full speed
    idata = fit[-1]
    tracemalloc.start()
    loo = timed(lambda: add_loo(idata, "ph"))
    whole = timed(lambda: arviz_loo(idata))
    tracemalloc.stop()
    ours, reference = loo[-1], whole[-1]
    difference = abs(ours["elpd_loo"] - reference["elpd_loo"])
    k_difference = np.max(np.abs(ours["pareto_k"].to_numpy() - reference["pareto_k"].to_numpy()))
    print(f"PSIS-LOO of one interaction model, n = {len(patients):,}, 4 chains x 1,000 draws, 2 cores")
    print("  step                       wall s    CPU s   peak RSS above start MB   traced numpy peak MB")
    for label, (seconds, cpu_seconds, resident, traced, _) in (("fit", fit), ("LOO (tmesurv, blocks)", loo),
                                                               ("arviz.loo, whole array", whole)):  # fmt: skip
        print(f"  {label:24s} {seconds:8.1f} {cpu_seconds:8.1f} {resident:14.1f} {traced:25.1f}")
    print(
        f"  LOO / fit: wall {loo[0] / fit[0]:.2f}x, CPU {loo[1] / fit[1]:.2f}x, peak RSS above start "
        f"{loo[2] / fit[2]:.2f}x"
    )
    print(
        f"  tmesurv's LOO against arviz.loo on the whole array: {whole[1] / loo[1]:.1f}x less CPU, "
        f"{whole[2] / max(loo[2], 1e-9):.1f}x less resident memory, {whole[3] / loo[3]:.1f}x less traced memory"
    )
    print(f"  elpd_loo {ours['elpd_loo']:.4f}; from arviz's: |difference| {difference:.1e}, k {k_difference:.1e}")


if __name__ == "__main__":
    main()
