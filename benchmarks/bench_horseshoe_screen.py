"""Divergences of the horseshoe interaction screen on the test fixture by local scales, target acceptance, tuning.

The fixture is ``tests/models/pwe/test_screen.py``'s ZUMA-7-size screen (359 patients, 15 with a missing biomarker,
46 biomarkers, two true interactions of -0.8 and 0.7 log HR per sd, 244 events; 4 baseline intervals). Each variant is
fitted with 4 chains x 1,000 draws at sampler seeds 1 to 5 (seed 3 is the test's); printed per fit: divergences,
R-hat max and ESS min over the 93 coefficients, wall time, and the estimates the slow test asserts (posterior mean and
sd of the true interactions, the nulls' mean and largest |posterior mean|, the median shrinkage factor of the nulls and
the largest of the true ones), then per variant the totals. Variants (regularised horseshoe, slab scale 1, df 4):

- ``horseshoe ...``: ``local_df`` 1, half-Cauchy local scales (the horseshoe proper), at target_accept 0.99 after 500
  tuning steps (the slow test's setting before issue #17 closed), and after 1,000 at 0.99, 0.995 and 0.999;
- ``local_df 3, ...``: half-Student-t(3) local scales (the default) at ``bayes.target_accept`` 0.9, at the default
  ``bayes.screen_target_accept`` 0.99 and at 0.995.

Measured 2026-12-04 on 2 shared cores at load 2 to 9 (wall times only indicative: 20-400 s per fit), divergences at
seeds 1-5: horseshoe 0.99 after 500 tuning steps 2, 0, 1, 2, 0; after 1,000: 0, 0, 0, 2, 0; 0.995: none (R-hat <= 1.008,
ESS >= 863), but seed 3 under ``NUMBA_CPU_NAME=generic`` 1; 0.999: 0, 0, 1, 0, 0 (R-hat up to 1.0098). local_df 3 at
0.9: 3, 5, 4, 3, 1; at 0.99: none (R-hat <= 1.0043, ESS >= 639), under ``NUMBA_CPU_NAME=generic`` 0, 0, 0, 0, 28; at
0.995 (4 fits, as the machine's load allowed): seed 1 here 0, seed 3 here 1 (the slow test's fit), seeds 3 and 5 under
generic 0 and 0. No setting is free of divergences on every seed; local_df 3 at 0.99 had the fewest divergent fits.
Estimates: the horseshoe's nulls mean |posterior mean| 0.019-0.021 (largest 0.075-0.089, median kappa 0.82-0.84), true
effects -0.82 to -0.83 and 0.79 to 0.80; local_df 3: nulls 0.043-0.045 (largest 0.14-0.15, median kappa 0.59-0.60), true
effects -0.78 to -0.80 and 0.72 to 0.73 (the unshrunk fit: nulls 0.18, largest 0.47; true effects -1.08 and 0.89).
Measured once with a scratch variant, not in this script: brms's direct half-Cauchy form (``student_t`` priors on the
scales themselves) with its slab scale 2, at 0.99: 6, 6, 7, 17, 6. Where the divergences sit is described in
:mod:`tmesurv.models.pwe.shrinkage`. Run: ``.venv/bin/python benchmarks/bench_horseshoe_screen.py [seeds ...]`` (default
1 2 3 4 5); set ``NUMBA_CPU_NAME=generic`` to sample as on CI.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.models.pwe.test_screen import SCREEN, TRUE, simulate_screen
from tmesurv.models.pwe.screen import fit_interaction_screen
from tmesurv.models.pwe.settings import PweAnalysisSettings, SamplerSettings

SCREEN_TARGET = PweAnalysisSettings().screen_target_accept
HORSESHOE = {"local_df": 1.0}
VARIANTS = {  # label -> (priors update, target_accept, tune)
    "horseshoe 0.99/500": (HORSESHOE, 0.99, 500),
    "horseshoe 0.99": (HORSESHOE, 0.99, 1000),
    "horseshoe 0.995": (HORSESHOE, 0.995, 1000),
    "horseshoe 0.999": (HORSESHOE, 0.999, 1000),
    "local_df 3, 0.9": ({"local_df": 3.0}, PweAnalysisSettings().target_accept, 1000),
    f"local_df 3, {SCREEN_TARGET:g}": ({"local_df": 3.0}, SCREEN_TARGET, 1000),
    "local_df 3, 0.995": ({"local_df": 3.0}, 0.995, 1000),
}


def fit_once(priors: dict, target_accept: float, tune: int, seed: int) -> dict:
    """One fit of the fixture: its diagnostics, wall time and the estimates the slow test asserts."""
    settings = SCREEN.model_copy(update={"priors": SCREEN.priors.model_copy(update=priors)})
    sampler = SamplerSettings(tune=tune, seed=seed, target_accept=target_accept)
    start = time.perf_counter()
    screen = fit_interaction_screen(*simulate_screen(1), settings, sampler, "horseshoe")
    seconds = time.perf_counter() - start
    table, found = screen.table.set_index("biomarker"), screen.diagnostics
    nulls = [name for name in table.index if name not in TRUE]
    true = table.loc[list(TRUE)]
    return {
        "seed": seed,
        "divergences": found["divergences"],
        "r_hat_max": round(found["r_hat_max"], 4),
        "ess_min": round(found["ess_min"]),
        "seconds": round(seconds, 1),
        **{f"{name}_mean": round(row["mean"], 3) for name, row in true.iterrows()},
        **{f"{name}_sd": round(row["sd"], 3) for name, row in true.iterrows()},
        "null_mean_abs": round(table.loc[nulls, "mean"].abs().mean(), 4),
        "null_max_abs": round(table.loc[nulls, "mean"].abs().max(), 3),
        "null_kappa_median": round(table.loc[nulls, "kappa"].median(), 3),
        "true_kappa_max": round(true["kappa"].max(), 3),
    }


def main(seeds: list[int]) -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    totals = []
    for label, (priors, target_accept, tune) in VARIANTS.items():
        fits = pd.DataFrame([fit_once(priors, target_accept, tune, seed) for seed in seeds])
        print(f"\n{label}\n{fits.to_string(index=False)}")
        totals.append(
            {
                "variant": label,
                "divergences": fits["divergences"].sum(),
                "fits_divergent": (fits["divergences"] > 0).sum(),
                "r_hat_max": fits["r_hat_max"].max(),
                "ess_min": fits["ess_min"].min(),
                "seconds_median": np.median(fits["seconds"]),
                "null_mean_abs": fits["null_mean_abs"].mean().round(4),
            }
        )
    print(f"\nover seeds {', '.join(map(str, seeds))}\n{pd.DataFrame(totals).to_string(index=False)}")


if __name__ == "__main__":
    main([int(seed) for seed in sys.argv[1:]] or [1, 2, 3, 4, 5])
