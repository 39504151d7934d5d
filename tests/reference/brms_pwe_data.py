"""Write the inputs of brms_pwe.R: the veteran patients as tmesurv analyses them, and tmesurv's interval cuts.

R's survival::veteran (``veteran.csv``, from veteran_cox.R) with time in months (days / (365.25 / 12)), event = status,
``arm`` 1 for the test arm, ``karno10`` = (Karnofsky score - 60) / 10 (log hazard ratios per 10 points, the arm
effect at a score of 60) and ``arm:karno10`` their product. The cuts are :func:`tmesurv.models.pwe.data.interval_cuts`
with ``INTERVALS`` intervals, so that brms splits follow-up at exactly the points tmesurv uses (floats are written
with 17 significant digits, which R reads back to the same doubles).

Writes ``brms_pwe_data.csv`` and ``brms_pwe_cuts.csv`` next to this file. Run from the repository root, before
``Rscript tests/reference/brms_pwe.R``: ``.venv/bin/python tests/reference/brms_pwe_data.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.config import DAYS_PER_MONTH
from tmesurv.models.pwe.data import interval_cuts

REFERENCE = Path(__file__).parent
INTERVALS = 10
KARNO_CENTRE, KARNO_UNIT = 60, 10


def veteran_design() -> pd.DataFrame:
    """One row per patient: id, time (months), event, arm, karno10, arm:karno10."""
    veteran = pd.read_csv(REFERENCE / "veteran.csv")
    arm = (veteran["arm"] == "test").astype(float)
    karno10 = (veteran["karno"] - KARNO_CENTRE) / KARNO_UNIT
    return pd.DataFrame(
        {
            "id": veteran["id"],
            "time": veteran["time"] / DAYS_PER_MONTH,
            "event": veteran["status"].astype(int),
            "arm": arm,
            "karno10": karno10,
            "arm:karno10": arm * karno10,
        }
    )


def main() -> None:
    data = veteran_design()
    cuts = interval_cuts(data["time"].to_numpy(), data["event"].to_numpy(), INTERVALS)
    data.to_csv(REFERENCE / "brms_pwe_data.csv", index=False, float_format="%.17g")
    pd.DataFrame({"cut": np.asarray(cuts)}).to_csv(REFERENCE / "brms_pwe_cuts.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
