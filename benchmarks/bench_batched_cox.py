"""Cox fits against lifelines and R's coxph: 1,000 small cohorts at once, and one 20,000-patient cohort.

The 1,000 replicate cohorts (n = 359, 3 covariates) are fitted in one batch (power studies); the 20,000-patient cohort
(continuous times, two strata) is fitted once, as ``tmesurv cox`` fits each of its models.

Targets: at least 30x faster than lifelines' ``CoxPHFitter`` per fit, at least 3x faster than R's ``coxph`` per fit.
The large cohort (``tmesurv.models.cox.fitting.fitted_cox``): faster than lifelines and not slower than R's coxph.
All three fit Efron ties to the same tightness (relative log-likelihood change 1e-10 for ours and R; lifelines with
precision 1e-14). Lifelines is timed on a subset of the cohorts and scaled per fit; R
is timed inside R with ``system.time`` around the loop over all cohorts (reading the data is not timed), and skipped
with a note when ``Rscript`` is not on PATH.

Run: ``.venv/bin/python benchmarks/bench_batched_cox.py``
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter

from tmesurv.models.cox.batched import fit_cox_batch
from tmesurv.models.cox.fitting import fitted_cox

COHORTS, PATIENTS, LIFELINES_FITS, BATCHED_REPEATS = 1000, 359, 50, 3
LARGE_COHORT = 20_000
FIT_OPTIONS = {"precision": 1e-14, "r_precision": 1e-15, "max_steps": 200}  # lifelines as tight as R
TERMS = ["x1", "x2", "x3"]
R_LOOP = """
library(survival)
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
cohorts <- split(data, data$replicate)
ctrl <- coxph.control(eps = 1e-10, iter.max = 30)
coef <- matrix(NA_real_, length(cohorts), 3)
elapsed <- system.time(
  for (i in seq_along(cohorts)) {
    coef[i, ] <- coef(coxph(Surv(time, event) ~ x1 + x2 + x3, data = cohorts[[i]], ties = "efron", control = ctrl))
  }
)[["elapsed"]]
write.csv(coef, args[2], row.names = FALSE)
cat(elapsed, "\\n")
"""


def simulated(seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arm, biomarker and their interaction; exponential event times in days, uniform censoring at 6-36 months."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, (COHORTS, PATIENTS)).astype(float)
    marker = rng.standard_normal((COHORTS, PATIENTS))
    x = np.stack([arm, marker, arm * marker], axis=-1)
    event_time = np.ceil(rng.exponential(365 * np.exp(0.5 * arm - 0.3 * marker + 0.3 * arm * marker)))
    censor = np.ceil(rng.uniform(6, 36, (COHORTS, PATIENTS)) * 30.4)
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), x


def time_batched(time_: np.ndarray, event: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    fit_cox_batch(time_[:10], event[:10], x[:10])  # warm up
    seconds = []
    for _ in range(BATCHED_REPEATS):
        start = time.perf_counter()
        fit = fit_cox_batch(time_, event, x)
        seconds.append(time.perf_counter() - start)
    assert fit.converged.all()
    assert not fit.monotone.any()
    return min(seconds), fit.coef


def time_lifelines(time_: np.ndarray, event: np.ndarray, x: np.ndarray, coef: np.ndarray) -> float:
    frames = [pd.DataFrame(x[r], columns=TERMS).assign(time=time_[r], event=event[r]) for r in range(LIFELINES_FITS)]
    start = time.perf_counter()
    fitted = [CoxPHFitter().fit(f, "time", "event", fit_options=FIT_OPTIONS).params_.to_numpy() for f in frames]
    seconds = time.perf_counter() - start
    assert np.allclose(np.array(fitted), coef[:LIFELINES_FITS], rtol=0, atol=1e-6)
    return seconds / LIFELINES_FITS


def time_r(time_: np.ndarray, event: np.ndarray, x: np.ndarray, coef: np.ndarray) -> float | None:
    if shutil.which("Rscript") is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        data, script, out = Path(folder, "cohorts.csv"), Path(folder, "loop.R"), Path(folder, "coef.csv")
        frame = pd.DataFrame(x.reshape(-1, 3), columns=TERMS)
        frame.insert(0, "event", event.ravel().astype(int))
        frame.insert(0, "time", time_.ravel())
        frame.insert(0, "replicate", np.repeat(np.arange(COHORTS), PATIENTS))
        frame.to_csv(data, index=False, float_format="%.17g")
        script.write_text(R_LOOP)
        run = subprocess.run(["Rscript", str(script), str(data), str(out)], capture_output=True, text=True, check=True)
        assert np.allclose(pd.read_csv(out).to_numpy(), coef, rtol=0, atol=1e-6)
    return float(run.stdout.split()[-1]) / COHORTS


R_LARGE = """
library(survival)
args <- commandArgs(trailingOnly = TRUE)
data <- read.csv(args[1])
elapsed <- system.time(for (i in 1:3) fit <- coxph(Surv(time, event) ~ x1 + x2 + x3 + strata(stratum), data = data))
write.csv(t(coef(fit)), args[2], row.names = FALSE)
cat(elapsed[["elapsed"]] / 3, "\\n")
"""


def large_cohort(seed: int = 2) -> pd.DataFrame:
    """20,000 patients: arm, biomarker, interaction, two strata; continuous (untied) exponential times."""
    rng = np.random.default_rng(seed)
    arm, marker = rng.integers(0, 2, LARGE_COHORT).astype(float), rng.standard_normal(LARGE_COHORT)
    stratum = rng.integers(0, 2, LARGE_COHORT)
    event_time = rng.exponential(365 * np.exp(0.5 * arm - 0.3 * marker + 0.3 * arm * marker + 0.4 * stratum))
    censor = rng.uniform(6, 36, LARGE_COHORT) * 30.4
    frame = pd.DataFrame({"x1": arm, "x2": marker, "x3": arm * marker, "stratum": stratum})
    return frame.assign(time=np.minimum(event_time, censor), event=(event_time <= censor).astype(float))


def time_large(frame: pd.DataFrame) -> None:
    """Seconds per fit of the large cohort: ours (best of 3), lifelines (one fit), R (inside R, mean of 3)."""
    design, strata = frame[TERMS], frame[["stratum"]]
    seconds = []
    for _ in range(3):
        start = time.perf_counter()
        ours = fitted_cox(frame["time"].to_numpy(), frame["event"].to_numpy(), design, strata)
        seconds.append(time.perf_counter() - start)
    start = time.perf_counter()
    reference = CoxPHFitter().fit(frame, "time", "event", strata=["stratum"], fit_options=FIT_OPTIONS)
    lifelines = time.perf_counter() - start
    assert np.allclose(ours.coef, reference.params_[TERMS], rtol=0, atol=1e-6)
    line = f"n = {LARGE_COHORT:,}, 3 covariates, 2 strata: ours {min(seconds):.3f} s/fit; lifelines {lifelines:.2f} s"
    line += f" -> {lifelines / min(seconds):.0f}x"
    if shutil.which("Rscript") is not None:
        with tempfile.TemporaryDirectory() as folder:
            data, script, out = Path(folder, "large.csv"), Path(folder, "large.R"), Path(folder, "coef.csv")
            frame.to_csv(data, index=False, float_format="%.17g")
            script.write_text(R_LARGE)
            run = subprocess.run(["Rscript", str(script), str(data), str(out)], capture_output=True, text=True)
            run.check_returncode()
            assert np.allclose(pd.read_csv(out).to_numpy()[0], ours.coef, rtol=0, atol=1e-6)
        r_seconds = float(run.stdout.split()[-1])
        line += f"; R coxph {r_seconds:.3f} s -> {r_seconds / min(seconds):.1f}x (target >= 1x)"
    print(line + "; coefficients agree to 1e-6")


def main() -> None:
    time_, event, x = simulated()
    batched, coef = time_batched(time_, event, x)
    per_fit = batched / COHORTS
    lifelines = time_lifelines(time_, event, x, coef)
    r_per_fit = time_r(time_, event, x, coef)
    print(f"{COHORTS} cohorts of n = {PATIENTS}, 3 covariates, Efron ties; coefficients of all three agree to 1e-6")
    print(f"  batched:   {batched:.2f} s in total, best of {BATCHED_REPEATS} runs ({per_fit * 1e3:.2f} ms/fit)")
    print(f"  lifelines: {lifelines * 1e3:.1f} ms/fit, timed over {LIFELINES_FITS} fits and scaled per fit")
    r_part = "R coxph: skipped (Rscript not on PATH)"
    if r_per_fit is None:
        print("  R coxph:   skipped, Rscript is not on PATH")
    else:
        print(f"  R coxph:   {r_per_fit * 1e3:.2f} ms/fit, system.time of the loop over {COHORTS} fits inside R")
        r_part = f"R coxph: {r_per_fit * 1e3:.2f} ms/fit -> {r_per_fit / per_fit:.1f}x (target >= 3x)"
    print(
        f"batched: {batched:.2f} s ({per_fit * 1e3:.2f} ms/fit); "
        f"lifelines: {lifelines * 1e3:.0f} ms/fit -> {lifelines / per_fit:.0f}x (target >= 30x); {r_part}"
    )
    time_large(large_cohort())


if __name__ == "__main__":
    main()
