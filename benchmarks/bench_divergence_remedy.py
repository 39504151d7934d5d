"""Divergent transitions of every Bayesian fit of R's veteran and pbc, without and with the divergence remedy.

For each data set (``tests/reference/veteran.yaml``: 24 fits; ``tests/reference/pbc.yaml``: 7 fits) the analyses of
``tmesurv bayes`` run twice with the default settings (8 intervals, nutpie, 4 chains x 1,000 draws after 1,000 tuning
steps, seed 20180125): once with ``bayes.divergence_reruns: []`` (every fit at target_accept 0.9, as before the remedy)
and once with the default remedy (a fit with divergences re-run at 0.95, then 0.99). Prints per fit the divergences of
each run and the target acceptance the remedy reported, then per data set how many fits had divergences before and
after, and the wall time of each run.

Measured 2026-12-04 (shared machine, load about 20 on 2 cores, so the wall times are only relative): veteran (24
fits: treatment, 5 interactions, 18 subgroups), 19 fits with divergences at 0.9 (1 to 21 each), none with the remedy
(8 cleared at 0.95, 11 at 0.99), wall time 1.5x (675 s to 1,020 s). pbc (7 fits: treatment, 2 interactions, 4
subgroups; measured 2026-12-04 at load about 1): 4 fits with divergences at 0.9 (1 to 7 each), none with the remedy
(2 cleared at 0.95, 2 at 0.99), wall time 1.5x (30 s to 46 s). Run:
``.venv/bin/python benchmarks/bench_divergence_remedy.py [veteran|pbc ...]`` (default: both).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd

from tmesurv.api.bayes import fit_pwe
from tmesurv.cohort import Cohort

REFERENCE = Path(__file__).parents[1] / "tests" / "reference"
DATA_SETS = ("veteran", "pbc")
FIT_KEYS = ["endpoint", "analysis", "subgroup"]


def fit_divergences(cohort: Cohort, reruns: list[float] | None) -> tuple[pd.DataFrame, float]:
    """Per fit, its divergences, target_accept and re-runs (``reruns`` None: the default remedy); and the wall time."""
    options = {} if reruns is None else {"divergence_reruns": reruns}
    start = time.perf_counter()
    bayes = fit_pwe(cohort, **options).table
    seconds = time.perf_counter() - start
    fits = bayes[bayes["analysis"] != "treatment_at"].groupby(FIT_KEYS, sort=False, dropna=False)
    table = fits.agg(divergences=("divergences", "max"), target_accept=("target_accept", "max"))
    return table, seconds


def main(names: list[str]) -> None:
    for name in names or DATA_SETS:
        cohort = Cohort.from_config(REFERENCE / f"{name}.yaml")
        before, before_seconds = fit_divergences(cohort, [])
        after, after_seconds = fit_divergences(cohort, None)
        both = before.join(after, lsuffix="_before", rsuffix="_after")
        print(f"\n{name}: divergences per fit at target_accept 0.9 (before) and with the remedy (after)")
        print(both.to_string())
        flagged = (before["divergences"] > 0).sum(), (after["divergences"] > 0).sum()
        print(
            f"{name}: fits with divergences {flagged[0]} of {len(before)} before, {flagged[1]} after; "
            f"wall time {before_seconds:.0f} s before, {after_seconds:.0f} s with the remedy"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
