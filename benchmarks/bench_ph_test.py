"""The proportional-hazards test of one interaction model at n = 20,000, against the fit it tests and R's cox.zph.

Target: the test (transform ``km``) takes less time than the lifelines fit of the same model in ``tmesurv cox``, so it
is never the slow part of the Cox analyses; its cost is ``O(n p^2)`` (no n x n matrix). Timed: the lifelines fit
(``fitted_cox``, as ``cox_analyses`` fits), ``cox_zph`` on its coefficients, and, when ``Rscript`` is on PATH, R's
``cox.zph`` on a ``coxph`` fit of the same data (timed inside R with ``system.time``; reading the data is not timed).
Models: arm, a continuous biomarker and their product; without strata and with four strata. Times in days with ties.

Run: ``.venv/bin/python benchmarks/bench_ph_test.py``
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.models.cox.analyses import fitted_cox
from tmesurv.models.cox.ph_test import cox_zph

PATIENTS, REPEATS = 20_000, 3
R_ZPH = """
library(survival)
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- coxph(Surv(time, event) ~ arm + marker + arm:marker, data = d, control = coxph.control(eps = 1e-10))
fit_s <- coxph(Surv(time, event) ~ arm + marker + arm:marker + strata(stratum), data = d,
               control = coxph.control(eps = 1e-10))
best <- function(f) min(sapply(1:3, function(i) system.time(cox.zph(f))[["elapsed"]]))
cat(best(fit), best(fit_s), cox.zph(fit)$table["GLOBAL", "chisq"], cox.zph(fit_s)$table["GLOBAL", "chisq"], "\\n")
"""


def simulated(seed: int = 1) -> pd.DataFrame:
    """A trial with a treatment-by-biomarker interaction, exponential times in whole days, uniform censoring."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, PATIENTS).astype(float)
    marker = rng.standard_normal(PATIENTS)
    event_time = np.ceil(rng.exponential(365 * np.exp(0.5 * arm - 0.3 * marker + 0.3 * arm * marker)))
    censor = np.ceil(rng.uniform(6, 36, PATIENTS) * 30.4)
    return pd.DataFrame(
        {
            "time": np.minimum(event_time, censor),
            "event": (event_time <= censor).astype(int),
            "arm": arm,
            "marker": marker,
            "stratum": rng.integers(0, 4, PATIENTS),
        }
    )


def best_of(function, repeats: int = REPEATS) -> tuple[float, object]:
    seconds, value = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        seconds.append(time.perf_counter() - start)
    return min(seconds), value


def time_r(data: pd.DataFrame) -> list[float] | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "data.csv"
        data.to_csv(path, index=False)
        script = Path(folder) / "zph.R"
        script.write_text(R_ZPH)
        output = subprocess.run(["Rscript", str(script), str(path)], capture_output=True, text=True, check=True)
    return [float(value) for value in output.stdout.split()]


def main() -> None:
    data = simulated()
    design = data[["arm", "marker"]].assign(**{"arm:marker": data["arm"] * data["marker"]})
    time_, event = data["time"].to_numpy(), data["event"].to_numpy()
    r = time_r(data)
    print(f"n = {PATIENTS}, events = {event.sum()}, distinct event times = {np.unique(time_[event == 1]).size}")
    for label, strata in [("no strata", None), ("4 strata", data[["stratum"]])]:
        fit_seconds, fitter = best_of(lambda s=strata: fitted_cox(time_, event, design, s), repeats=1)
        coef = fitter.params_.to_numpy()
        codes = None if strata is None else strata["stratum"].to_numpy()
        zph_seconds, test = best_of(lambda b=coef, c=codes: cox_zph(time_, event, design.to_numpy(), b, c))
        tracemalloc.start()
        cox_zph(time_, event, design.to_numpy(), coef, codes)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        line = (
            f"{label}: lifelines fit {fit_seconds:.2f} s; cox_zph (km) {zph_seconds:.3f} s, peak {peak:.0f} MB "
            f"({fit_seconds / zph_seconds:.0f}x faster than the fit)"
        )
        if r is not None:
            r_seconds, r_chisq = (r[0], r[2]) if strata is None else (r[1], r[3])
            line += f"; R cox.zph {r_seconds:.3f} s ({r_seconds / zph_seconds:.1f}x), GLOBAL chisq "
            line += f"{test.chisq[-1]:.6f} vs R {r_chisq:.6f}"
        print(line)


if __name__ == "__main__":
    main()
