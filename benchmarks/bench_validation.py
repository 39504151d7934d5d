"""Bootstrap of the external-validation metrics: one vectorised call for all replicates against a Python loop.

The metrics of :mod:`tmesurv.validation` take bootstrap counts ``(B, n)`` as case weights and evaluate all B
replicates in one call (the Cox-based calibration metrics refit all replicates at once with the batched Cox solver).
This script prints, in one run:

* B = 1,000 bootstrap replicates of the gbsg reference cohort (n = 686): the vectorised call against the alternative
  it replaces, a Python loop over resampled data sets calling the same estimator once per replicate, and (where
  scikit-survival has the metric) ``sksurv.metrics`` once per replicate. Loops run ``LOOP`` replicates and are scaled
  to B;
* all six metrics' 1,000 bootstrap replicates for a cohort of n = 1,000 (gbsg resampled) -- target: under 60 s;
* scoring n = 100,000 simulated external patients (Harrell C, Uno C, time-dependent AUC and Brier at a horizon) --
  target: under 10 s -- against the same metrics of scikit-survival, run at full size where its expected time (from
  n = 10,000, scaled by its observed growth) is under ``SKSURV_BUDGET`` seconds, and otherwise at n = 10,000 only.

Run: ``.venv/bin/python benchmarks/bench_validation.py``
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sksurv.metrics import brier_score as sksurv_brier
from sksurv.metrics import concordance_index_censored, concordance_index_ipcw, cumulative_dynamic_auc
from sksurv.util import Surv

from tmesurv.validation.bootstrap import counts_to_indices, resample_counts
from tmesurv.validation.brier import brier_score
from tmesurv.validation.calibration import calibration_curve, calibration_slope
from tmesurv.validation.discrimination import harrell_c, time_auc, uno_c

REPLICATES, LOOP, HORIZON = 1000, 50, 5
LARGE, SKSURV_BUDGET = 100_000, 120.0
DATA = Path(__file__).parents[1] / "tests" / "reference" / "validation_external.csv"


def seconds(call, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def looped(estimator, rows: np.ndarray) -> float:
    """Seconds for REPLICATES calls of ``estimator(row)``, timed on LOOP of them."""
    return seconds(lambda: [estimator(row) for row in rows[:LOOP]]) * REPLICATES / LOOP


def sksurv_metrics(t: np.ndarray, d: np.ndarray, lp: np.ndarray, risk: np.ndarray) -> dict:
    y = Surv.from_arrays(d == 1, t)
    return {
        "harrell_c": lambda r: concordance_index_censored(d[r] == 1, t[r], lp[r]),
        "uno_c": lambda r: concordance_index_ipcw(y[r], y[r], lp[r], tau=HORIZON),
        "time_auc": lambda r: cumulative_dynamic_auc(y[r], y[r], risk[r], [HORIZON]),
        "brier": lambda r: sksurv_brier(y[r], y[r], 1 - risk[r], [HORIZON]),
    }


def main() -> None:
    data = pd.read_csv(DATA)
    t, d, lp, risk = (data[c].to_numpy(dtype=float) for c in ("time", "event", "lp", f"risk_{HORIZON}"))
    counts = resample_counts(t.size, REPLICATES, seed=1)
    rows = counts_to_indices(counts)
    metrics = {
        "harrell_c": lambda w: harrell_c(t, d, lp, w),
        "uno_c": lambda w: uno_c(t, d, lp, HORIZON, w),
        "time_auc": lambda w: time_auc(t, d, risk, HORIZON, w),
        "brier": lambda w: brier_score(t, d, risk, HORIZON, w),
        "calibration_slope": lambda w: calibration_slope(t, d, lp, weights=w),
        "calibration_curve": lambda w: calibration_curve(t, d, risk, HORIZON, weights=w),
    }
    reference = sksurv_metrics(t, d, lp, risk)
    harrell_c(t, d, lp)  # load the compiled concordance sweep (numba, cached on disk) before timing
    print(f"{REPLICATES} bootstrap replicates of n = {t.size}; seconds for all replicates")
    print(f"{'metric':<20}{'vectorised':>12}{'loop (ours)':>14}{'speed-up':>10}{'loop (sksurv)':>16}{'speed-up':>10}")
    for name, metric in metrics.items():
        vectorised = seconds(lambda metric=metric: metric(counts))
        ours = looped(lambda r, metric=metric: metric(np.bincount(r, minlength=t.size)[None, :]), rows)
        line = f"{name:<20}{vectorised:>12.3f}{ours:>14.3f}{ours / vectorised:>9.1f}x"
        if name in reference:
            other = looped(reference[name], rows)
            line += f"{other:>16.3f}{other / vectorised:>9.1f}x"
        print(line)


def simulated_external(n: int, seed: int = 7) -> tuple[np.ndarray, ...]:
    """Weibull event times driven by a linear predictor, uniform censoring; risk at HORIZON from the true model."""
    rng = np.random.default_rng(seed)
    lp = rng.normal(0.0, 0.8, n)
    shape, scale = 1.3, 8.0
    event_time = scale * (rng.exponential(size=n) / np.exp(lp)) ** (1 / shape)
    censor = rng.uniform(1.0, 12.0, n)
    risk = 1 - np.exp(-((HORIZON / scale) ** shape) * np.exp(lp))
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), lp, risk


def score_ours(t: np.ndarray, d: np.ndarray, lp: np.ndarray, risk: np.ndarray) -> None:
    """The four scoring metrics with tmesurv."""
    harrell_c(t, d, lp), uno_c(t, d, lp, HORIZON), time_auc(t, d, risk, HORIZON), brier_score(t, d, risk, HORIZON)


def score_sksurv(t: np.ndarray, d: np.ndarray, lp: np.ndarray, risk: np.ndarray) -> None:
    """The same four metrics with scikit-survival."""
    everyone = np.arange(t.size)
    for metric in sksurv_metrics(t, d, lp, risk).values():
        metric(everyone)


def main_scoring() -> None:
    print(f"\nScoring n = {LARGE:,} external patients: Harrell C, Uno C, AUC and Brier at {HORIZON} (target < 10 s)")
    small, medium, large = (simulated_external(n) for n in (LARGE // 10, LARGE // 20, LARGE))
    small_ours, small_theirs = seconds(lambda: score_ours(*small)), seconds(lambda: score_sksurv(*small))
    medium_theirs = seconds(lambda: score_sksurv(*medium))
    growth = np.log(small_theirs / medium_theirs) / np.log(2)  # observed exponent of sksurv's time in n
    expected = small_theirs * 10**growth
    ours = seconds(lambda: score_ours(*large))
    print(f"  tmesurv {ours:.2f} s at n = {LARGE:,} ({small_ours:.3f} s at n = {LARGE // 10:,})")
    if expected <= SKSURV_BUDGET:
        theirs = seconds(lambda: score_sksurv(*large))
        print(f"  scikit-survival {theirs:.2f} s at n = {LARGE:,}: ratio {theirs / ours:.1f}x")
    else:
        print(
            f"  scikit-survival {small_theirs:.2f} s at n = {LARGE // 10:,} (ratio {small_theirs / small_ours:.1f}x); "
            f"at n = {LARGE:,} expected ~{expected:.0f} s (time grows as n^{growth:.1f}): not run"
        )


def main_bootstrap_at_1000() -> None:
    data = pd.read_csv(DATA).sample(n=1000, replace=True, random_state=3)
    t, d, lp, risk = (data[c].to_numpy(dtype=float) for c in ("time", "event", "lp", f"risk_{HORIZON}"))
    counts = resample_counts(t.size, REPLICATES, seed=2)
    total = seconds(
        lambda: (
            harrell_c(t, d, lp, counts),
            uno_c(t, d, lp, HORIZON, counts),
            time_auc(t, d, risk, HORIZON, counts),
            brier_score(t, d, risk, HORIZON, counts),
            calibration_slope(t, d, lp, weights=counts),
            calibration_curve(t, d, risk, HORIZON, weights=counts),
        )
    )
    print(f"\n{REPLICATES:,} bootstrap replicates of all six metrics, n = 1,000: {total:.1f} s (target < 60 s)")


if __name__ == "__main__":
    main()
    main_bootstrap_at_1000()
    main_scoring()
