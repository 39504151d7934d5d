"""Bootstrap of the external-validation metrics: one vectorised call for all replicates against a Python loop.

The metrics of :mod:`tmesurv.validation` take bootstrap counts ``(B, n)`` as case weights and evaluate all B
replicates in one call (the Cox-based calibration metrics refit all replicates at once with the batched Cox solver).
This script times that call for B = 1,000 replicates of the gbsg reference cohort (n = 686) against the alternative
it replaces: a Python loop over resampled data sets, calling the same estimator once per replicate, and (where
scikit-survival has the metric) ``sksurv.metrics`` once per replicate. Loops run ``LOOP`` replicates and are scaled to
B. It prints seconds for B replicates and the speed-up.

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


if __name__ == "__main__":
    main()
