"""Shared data of the PWE model tests: a small cohort whose cuts are known exactly, and the likelihood by hand."""

import math

import numpy as np
import pandas as pd

from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

# Event times 1..9 with K = 4 give cuts at exactly 3, 5 and 7 (linear quantiles at positions 2, 4, 6), so some
# patients sit exactly on a cut; censored times 5 and 12 must not move the cuts.
SMALL_TIME = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 5.0, 12.0, 0.5])
SMALL_EVENT = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
SMALL_DESIGN = pd.DataFrame(
    {
        "arm": [0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0],
        "b_cell_ges": [2.1, 3.5, 1.2, 4.4, 2.8, 3.3, 0.9, 5.1, 2.2, 3.0, 1.7, 4.0],
    },
    dtype=float,
).assign(**{"arm:b_cell_ges": lambda frame: frame["arm"] * frame["b_cell_ges"]})
SMALL_MODEL = PweSettings(intervals=4)
SMALL_SAMPLER = SamplerSettings(draws=60, tune=60, chains=2, seed=11)


def hand_log_likelihood(time, event, eta, log_baseline, cuts):
    """Explicit per-interval loop: exposure in every interval (start, end], and the interval of the event."""
    bounds = [0.0, *cuts, math.inf]
    result = []
    for t, d, e in zip(time, event, eta, strict=True):
        cumulative, log_hazard_at_t = 0.0, None
        for k in range(len(bounds) - 1):
            start, end = bounds[k], bounds[k + 1]
            cumulative += math.exp(log_baseline[k]) * max(0.0, min(t, end) - start)
            if start < t <= end or (k == 0 and t == 0):
                log_hazard_at_t = log_baseline[k]
        result.append(d * (log_hazard_at_t + e) - math.exp(e) * cumulative)
    return np.array(result)
