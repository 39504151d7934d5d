"""Calibration of the posterior-vs-Kaplan-Meier misfit rule (tmesurv.models.pwe.fit_check): what a correct model gives.

Fits the PWE treatment model (default priors, nutpie, 4 chains x 500 draws after 500 tuning steps) to simulated
cohorts and records the check's statistics per arm:

* correct models (proportional hazards hold, the baseline is a piecewise-exponential hazard): ``pwe_step``, the
  ZUMA-7-like control baseline without its cured fraction (hazards 0.36, 0.28, 0.10, 0.01 per month, cut at 2, 6 and 12
  months: a tenfold drop the model's quantile intervals must follow), and ``pwe_smooth`` (0.10, 0.07, 0.05, cut at 6
  and 18 months); treatment HR 0.5; 1:1; entry uniform over 20.3 months, cutoff at 37.8 months, dropout 0.11 per
  year (the ZUMA-7 scenario's accrual); n = 359, 120 and 60 (the treatment fit and subgroup sizes);
* the ZUMA-7-like scenario (``configs/scenarios/zuma7.yaml``: per-arm baselines with a cured fraction, so hazards are
  not proportional): ``zuma7`` (all 359 patients, the treatment fit) and ``zuma7_half`` (a random half, a subgroup).

``python tests/reference/fit_check_calibration.py INTERVALS REPLICATES`` writes replicates 0 to REPLICATES - 1 into
``tests/reference/fit_check_calibration.csv`` (one row per scenario, cohort size, intervals, replicate and arm: the
check's statistics, ``n`` the arm's patients, and the fit's divergences; replicate
``r`` is seeded by ``(SEED, r)``; replicates already in the file are kept, so a run can be resumed or extended).
``tests/models/pwe/test_fit_check_calibration.py`` reads the file and holds the rule's flag rates to what the
documentation states.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.models.pwe.diagnostics import count_divergences
from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.fit_check import fit_check
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings
from tmesurv.simulations.event_times import ArmHazard, draw_event_times
from tmesurv.simulations.scenario import load_scenario
from tmesurv.simulations.trial import simulate_trial

OUT = Path(__file__).with_name("fit_check_calibration.csv")
SEED = 2017
CORRECT = {
    "pwe_step": ArmHazard(cuts=[2, 6, 12], hazards=[0.36, 0.28, 0.10, 0.01]),
    "pwe_smooth": ArmHazard(cuts=[6, 18], hazards=[0.10, 0.07, 0.05]),
}
SIZES = (359, 120, 60)
LOG_HR = np.log(0.5)
ACCRUAL, CUTOFF, DROPOUT_PER_MONTH = 20.3, 37.8, 0.11 / 12


def correct_cohort(baseline: ArmHazard, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Time, event and arm of a 1:1 trial whose hazards are proportional (treated: baseline x 0.5)."""
    arm = (np.arange(n) < n // 2).astype(float)
    event_time = draw_event_times(rng.uniform(size=n), LOG_HR * arm, baseline)
    entry = rng.uniform(0.0, ACCRUAL, n)
    censor = np.minimum(CUTOFF - entry, rng.exponential(1 / DROPOUT_PER_MONTH, n))
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), arm


def zuma7_cohort(replicate: int, half: bool, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Time, event and arm of the ZUMA-7-like trial (replicate of SEED), or of a random half of its patients."""
    frame = simulate_trial(load_scenario("zuma7"), seed=SEED, replicate=replicate).to_frame()
    if half:
        frame = frame.iloc[np.sort(rng.choice(len(frame), len(frame) // 2, replace=False))]
    arm = (frame["arm"] == "axi-cel").to_numpy(dtype=float)
    return frame["efs_time"].to_numpy(dtype=float), frame["efs_event"].to_numpy(dtype=float), arm


def cohorts(replicate: int):
    """Every calibration cohort of one replicate: (scenario, time, event, arm)."""
    rng = np.random.default_rng([SEED, replicate])
    for name, baseline in CORRECT.items():
        for n in SIZES:
            yield name, *correct_cohort(baseline, n, rng)
    yield "zuma7", *zuma7_cohort(replicate, False, rng)
    yield "zuma7_half", *zuma7_cohort(replicate, True, rng)


def calibration_fit(time: np.ndarray, event: np.ndarray, arm: np.ndarray, intervals: int, replicate: int):
    """The PWE treatment fit of one calibration cohort (default priors, 4 chains x 500 draws, seed ``replicate``)."""
    model = PweSettings(intervals=intervals)
    sampler = SamplerSettings(draws=500, tune=500, chains=4, seed=replicate)
    return fit_pwe(time, event, pd.DataFrame({"arm": arm}), model, sampler, log_likelihood=False)


def calibrate(intervals: int, replicate: int) -> pd.DataFrame:
    """The check's statistics per arm (``n``: the arm's patients; no misfit flag, the test applies the rule) for every
    cohort (``cohort_n`` patients) of one replicate, fitted with ``intervals`` intervals."""
    rows = []
    for scenario, time, event, arm in cohorts(replicate):
        idata = calibration_fit(time, event, arm, intervals, replicate)
        keys = {"scenario": scenario, "cohort_n": time.size, "intervals": intervals, "replicate": replicate}
        rows.append(fit_check(idata).drop(columns="misfit").assign(**keys, divergences=count_divergences(idata)))
    return pd.concat(rows, ignore_index=True)


if __name__ == "__main__":
    intervals, count = int(sys.argv[1]), int(sys.argv[2])
    for replicate in range(count):
        done = pd.read_csv(OUT) if OUT.exists() else None
        if done is not None and ((done["intervals"] == intervals) & (done["replicate"] == replicate)).any():
            continue
        table = calibrate(intervals, replicate)
        pd.concat([done, table], ignore_index=True).to_csv(OUT, index=False)
        print(f"intervals {intervals}: replicate {replicate} written", flush=True)
