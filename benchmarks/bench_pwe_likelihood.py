"""Log-density + gradient speed of tmesurv's PWE likelihood against the naive PyMC formulation.

The naive formulation (the "Poisson trick" most tutorials and brms use) expands each patient into one row per
interval it is at risk in and puts a Poisson likelihood on the rows. tmesurv's model evaluates one term per
patient from cumulative hazards. Both are compiled by PyTensor and evaluated at the same point; the ratio is printed.

Run: ``.venv/bin/python benchmarks/bench_pwe_likelihood.py``
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from tmesurv.models.pwe.data import interval_cuts, interval_layout
from tmesurv.models.pwe.model import build_pwe_model
from tmesurv.models.pwe.settings import PweSettings

REPEATS = 2000


def simulated(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    marker = rng.standard_normal(n)
    event_time = rng.exponential(1 / np.exp(-1.5 - 0.8 * arm - 0.4 * arm * marker))
    censor = rng.uniform(6, 36, n)
    design = pd.DataFrame({"arm": arm, "marker": marker, "arm:marker": arm * marker})
    return np.minimum(event_time, censor), (event_time <= censor).astype(int), design


def naive_model(time_: np.ndarray, event: np.ndarray, design: pd.DataFrame, n_intervals: int) -> pm.Model:
    """One row per patient-interval, Poisson likelihood with log-exposure offset."""
    cuts = interval_cuts(time_, event, n_intervals)
    index, offset, width = interval_layout(time_, cuts)
    starts = np.r_[0.0, cuts]
    rows_patient = np.concatenate([np.full(k + 1, i) for i, k in enumerate(index)])
    rows_interval = np.concatenate([np.arange(k + 1) for k in index])
    exposure = np.where(rows_interval < index[rows_patient], width[np.minimum(rows_interval, len(width) - 1)], 0.0)
    last = rows_interval == index[rows_patient]
    exposure[last] = offset[rows_patient[last]]
    died = (last & (event[rows_patient] == 1)).astype(int)
    x = design.to_numpy()[rows_patient]
    with pm.Model() as model:
        coef = pm.Normal("coef", 0, 10, shape=x.shape[1])
        log_baseline = pm.Normal("log_baseline", np.log(event.sum() / time_.sum()), 10, shape=starts.size)
        rate = pt.exp(log_baseline[rows_interval] + pt.dot(x, coef) + np.log(np.maximum(exposure, 1e-300)))
        pm.Poisson("died", rate, observed=died)
    return model, len(rows_patient)


def time_logp_dlogp(model: pm.Model) -> float:
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    point = model.initial_point()
    logp(point), dlogp(point)
    start = time.perf_counter()
    for _ in range(REPEATS):
        logp(point)
        dlogp(point)
    return (time.perf_counter() - start) / REPEATS


def main() -> None:
    print(f"{'n':>6} {'rows (naive)':>13} {'tmesurv us':>11} {'naive us':>9} {'speed-up':>9}")
    for n in (359, 2000, 10000):
        time_, event, design = simulated(n)
        ours = build_pwe_model(time_, event, design, PweSettings(intervals=8))
        naive, rows = naive_model(time_, event, design, 8)
        ours_s, naive_s = time_logp_dlogp(ours), time_logp_dlogp(naive)
        print(f"{n:>6} {rows:>13} {ours_s * 1e6:>11.1f} {naive_s * 1e6:>9.1f} {naive_s / ours_s:>8.2f}x")


if __name__ == "__main__":
    main()
