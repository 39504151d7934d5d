"""Wall time of mixture-cure fits against proportional-hazards PWE fits of the same data, as ratios in one run.

Prints, for the default settings (8 intervals, 4 chains x 1,000 draws after 1,000 tuning steps, nutpie on the
hand-coded densities):

* a simulated ZUMA-7 trial (n = 359, ``simulate_trial(load_scenario("zuma7"), 1)``), the arm alone and the arm x
  b_cell_ges interaction model: cure / PH time -- target: at most 2x;
* n = 20,000 from a mixture-cure model with an arm x biomarker interaction (tests/models/pwe/cure/conftest.py): the
  cure fit's time -- target: under 60 s -- and its ratio to the PH fit.

Both models run in this process after a warm-up fit of each (the numba caches are written once per machine; the
timings are of later fits). Each n = 359 time is the median of three fits. Timings are noisy on a shared machine: run
it on an idle one. Run: ``.venv/bin/python benchmarks/bench_cure.py``
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.models.pwe.cure.conftest import simulated_cure_cohort
from tmesurv.models.pwe.cure.fit import fit_cure
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

SETTINGS, SAMPLER = PweSettings(), SamplerSettings(seed=1)


def zuma7(interaction: bool) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """The simulated ZUMA-7 trial: the arm alone, or arm x b_cell_ges (patients with a value)."""
    from tmesurv.simulations.scenario import load_scenario
    from tmesurv.simulations.trial import simulate_trial

    scenario = load_scenario("zuma7")
    frame = simulate_trial(scenario, 1).to_frame()
    design = pd.DataFrame({"arm": (frame["arm"] == scenario.arms.treated_label).astype(float)})
    if interaction:
        keep = frame["b_cell_ges"].notna().to_numpy()
        frame, design = frame[keep], design[keep].reset_index(drop=True)
        marker = frame["b_cell_ges"].to_numpy(float)
        design = design.assign(b_cell_ges=marker, **{"arm:b_cell_ges": design["arm"].to_numpy() * marker})
    return frame["efs_time"].to_numpy(float), frame["efs_event"].to_numpy(float), design


def seconds(function, *args, repeats: int = 1) -> float:
    """Median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function(*args, SETTINGS, SAMPLER)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    warm = zuma7(interaction=True)
    fit_pwe(*warm, SETTINGS, SAMPLER.model_copy(update={"draws": 20, "tune": 20}))
    fit_cure(*warm, SETTINGS, SAMPLER.model_copy(update={"draws": 20, "tune": 20}))
    print("cure vs PH PWE fit, 4 chains x 1,000 draws (1,000 tuning), 8 intervals; later fits (caches warm)")
    for label, interaction in (("n = 359, arm", False), ("n = 359, arm x b_cell_ges", True)):
        data = zuma7(interaction)
        ph, cure = seconds(fit_pwe, *data, repeats=3), seconds(fit_cure, *data, repeats=3)
        print(f"  {label:<28} PH {ph:6.2f} s   cure {cure:6.2f} s   cure / PH {cure / ph:4.2f}x   (target <= 2x)")
    time_, event, design, _ = simulated_cure_cohort(1, n=20_000)
    ph, cure = seconds(fit_pwe, time_, event, design), seconds(fit_cure, time_, event, design)
    print(f"  {'n = 20,000, arm x biomarker':<28} PH {ph:6.2f} s   cure {cure:6.2f} s   cure / PH {cure / ph:4.2f}x   "
          "(target: cure < 60 s)")  # fmt: skip


if __name__ == "__main__":
    main()
