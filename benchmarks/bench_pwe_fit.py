"""Wall time (compilation included) and peak memory of whole PWE fits, against a naive long-format PyMC model and brms.

Prints, in one run:

* a ZUMA-7-size cohort (n = 359, K = 20, arm x biomarker): tmesurv (nutpie, interval statistics) against the naive
  "Poisson trick" model in PyMC (one row per patient-interval, PyMC's NUTS) -- target: faster -- and against brms on
  the same rows when R with brms is installed (``benchmarks/bench_pwe_brms.R``) -- target: at least 5x faster;
* n = 20,000 with K = 50: 4 chains x 1,000 draws on 2 cores -- target: under 60 s -- with the peak memory.

Every case runs in its own process (its own peak resident memory). The draws of both PyMC-side models use the same
vague priors; timings include importing, building and compiling the model. "First fit" runs with empty numba and
PyTensor caches (a new machine, or a model structure never fitted on it); "later fits" reuse the caches the first fit
wrote, as every later process on the machine does. brms compiles its Stan program on every call. Timings are noisy on
a shared machine: run it on an idle one.
Run: ``.venv/bin/python benchmarks/bench_pwe_fit.py [--skip-brms]``
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

DRAWS, TUNE, CHAINS = 1000, 1000, 4


def simulated(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Arm, a standard-normal biomarker and their interaction; exponential event times, uniform censoring."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    marker = rng.standard_normal(n)
    event_time = rng.exponential(1 / np.exp(-2.5 - 0.8 * arm + 0.2 * marker - 0.4 * arm * marker))
    censor = rng.uniform(6, 36, n)
    design = pd.DataFrame({"arm": arm, "marker": marker, "arm:marker": arm * marker})
    return np.minimum(event_time, censor), (event_time <= censor).astype(int), design


def fit_tmesurv(n: int, intervals: int) -> None:
    """The tmesurv fit: nutpie on the interval statistics (compiles once)."""
    from tmesurv.models.pwe.fit import fit_pwe
    from tmesurv.models.pwe.settings import PwePriors, PweSettings, SamplerSettings

    time_, event, design = simulated(n)
    priors = PwePriors(random_walk_sd=10.0, random_walk_sd_fixed=True)
    settings = PweSettings(intervals=intervals, priors=priors)
    sampler = SamplerSettings(draws=DRAWS, tune=TUNE, chains=CHAINS, seed=1)
    fit_pwe(time_, event, design, settings, sampler, log_likelihood=n <= 5000)


def fit_naive(n: int, intervals: int) -> None:
    """The naive long-format Poisson model in PyMC, sampled with PyMC's NUTS."""
    import pymc as pm

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_pwe_likelihood import naive_model

    time_, event, design = simulated(n)
    model, _ = naive_model(time_, event, design, intervals)
    with model:
        pm.sample(draws=DRAWS, tune=TUNE, chains=CHAINS, cores=2, random_seed=1, progressbar=False)


def _run_and_report(function, args: tuple, queue) -> None:
    function(*args)
    queue.put(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # kB on Linux -> MB


def timed_in_child(function, *args, caches: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of ``function(*args)`` run in a fresh process.

    The process keeps numba's and PyTensor's compilation caches in ``caches`` (empty: a first fit).
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    environment = {"NUMBA_CACHE_DIR": str(caches / "numba"), "PYTENSOR_FLAGS": f"base_compiledir={caches / 'pytensor'}"}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)  # a spawned process inherits the environment at start
    start = time.perf_counter()
    process = context.Process(target=_run_and_report, args=(function, args, queue))
    process.start()
    for name, value in saved.items():
        if value is None:
            del os.environ[name]
        else:
            os.environ[name] = value
    peak_mb = queue.get()
    process.join()
    seconds = time.perf_counter() - start
    if process.exitcode != 0:
        raise RuntimeError(f"{function.__name__}{args} failed with exit code {process.exitcode}")
    return seconds, peak_mb


def brms_seconds(n: int, intervals: int) -> float | None:
    """Wall seconds of brms on the same patient-interval rows (compile + sample), or None without R and brms."""
    if shutil.which("Rscript") is None:
        return None
    from tmesurv.models.pwe.data import interval_cuts

    time_, event, design = simulated(n)
    with tempfile.TemporaryDirectory() as folder:
        data = design.assign(time=time_, event=event)
        data.to_csv(Path(folder) / "patients.csv", index=False)
        cuts = pd.DataFrame({"cut": interval_cuts(time_, event, intervals)})
        cuts.to_csv(Path(folder) / "cuts.csv", index=False)
        script = Path(__file__).with_name("bench_pwe_brms.R")
        command = ["Rscript", str(script), folder, str(DRAWS), str(TUNE), str(CHAINS)]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(f"  brms not run: {result.stderr.strip().splitlines()[-1] if result.stderr else 'R failed'}")
        return None
    return seconds


def main() -> None:
    skip_brms = "--skip-brms" in sys.argv
    print(f"PWE fits, {CHAINS} chains x {DRAWS} draws after {TUNE} tuning, 2 cores; wall time includes compiling")
    with tempfile.TemporaryDirectory() as ours_caches, tempfile.TemporaryDirectory() as naive_caches:
        first, first_mb = timed_in_child(fit_tmesurv, 359, 20, caches=Path(ours_caches))
        later, _ = timed_in_child(fit_tmesurv, 359, 20, caches=Path(ours_caches))
        naive, _ = timed_in_child(fit_naive, 359, 20, caches=Path(naive_caches))
        print(f"  n = 359, K = 20:   tmesurv first fit {first:6.1f} s, later fits {later:6.1f} s")
        print(f"                     naive long-format PyMC (first fit) {naive:6.1f} s   ratio {naive / first:4.1f}x")
        print("                     (target: faster than the naive model)")
        brms = None if skip_brms else brms_seconds(359, 20)
        if brms is not None:
            print(f"                     brms {brms:6.1f} s   ratio {brms / first:4.1f}x to the first fit, "
                  f"{brms / later:4.1f}x to later fits (target: at least 5x)")  # fmt: skip
        large, large_mb = timed_in_child(fit_tmesurv, 20_000, 50, caches=Path(ours_caches))
    print(f"  n = 20,000, K = 50: tmesurv {large:6.1f} s (target: under 60 s); peak memory {large_mb:,.0f} MB")
    print(f"  (peak memory of the n = 359 fit: {first_mb:,.0f} MB)")


if __name__ == "__main__":
    main()
