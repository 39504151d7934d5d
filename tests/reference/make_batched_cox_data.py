"""Write batched_cox_data.csv, the input of batched_cox.R (run once; the CSV is committed).

Five replicate cohorts of 120 patients: x1 a 0/1 arm, x2 a standard-normal biomarker, x3 = x1 * x2. Event and
censoring times are rounded up to whole months so that many patients share a time (ties among events and between
events and censorings). Run from the repository root: ``.venv/bin/python tests/reference/make_batched_cox_data.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

REPLICATES, PATIENTS = 5, 120


def main() -> None:
    rng = np.random.default_rng(20240611)
    x1 = rng.integers(0, 2, (REPLICATES, PATIENTS)).astype(float)
    x2 = np.round(rng.standard_normal((REPLICATES, PATIENTS)), 3)
    x3 = x1 * x2
    hazard = np.exp(np.log(1 / 12) - 0.5 * x1 + 0.2 * x2 - 0.4 * x3)
    event_time = np.ceil(rng.exponential(1 / hazard))
    censor_time = np.ceil(rng.uniform(6, 36, (REPLICATES, PATIENTS)))
    frame = pd.DataFrame(
        {
            "replicate": np.repeat(np.arange(1, REPLICATES + 1), PATIENTS),
            "time": np.minimum(event_time, censor_time).astype(int).ravel(),
            "event": (event_time <= censor_time).astype(int).ravel(),
            "x1": x1.astype(int).ravel(),
            "x2": x2.ravel(),
            "x3": (np.round(x3, 3) + 0.0).ravel(),  # + 0.0 turns -0.0 into 0.0
        }
    )
    frame.to_csv(Path(__file__).parent / "batched_cox_data.csv", index=False)


if __name__ == "__main__":
    main()
