"""Per-patient predictions of a validation (``predictions.csv``): linear predictor and risk by each horizon.

One row per patient and horizon. For a benefit model scored on a two-arm cohort, also the risk under control and
under treatment, and the predicted benefit (control minus treated risk; positive: the treatment helps); NaN otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmesurv.validation.score import ExternalPredictions

PREDICTION_COLUMNS = ["id", "horizon", "linear_predictor", "risk", "risk_control", "risk_treated", "benefit"]


def predictions_table(predictions: ExternalPredictions, ids: pd.Index | np.ndarray) -> pd.DataFrame:
    """The predictions of every patient (``ids``, in the order of ``predictions``) at every horizon.

    Returns
    -------
    pandas.DataFrame
        Columns ``PREDICTION_COLUMNS``, sorted by horizon, then in patient order.
    """
    p, ids = predictions, np.asarray(ids)
    nan = np.full(ids.size, np.nan)
    tables = []
    for horizon in sorted(p.risk):
        control = p.risk_control[horizon] if p.risk_control is not None else nan
        treated = p.risk_treated[horizon] if p.risk_treated is not None else nan
        table = {
            "id": ids,
            "horizon": float(horizon),
            "linear_predictor": p.lp,
            "risk": p.risk[horizon],
            "risk_control": control,
            "risk_treated": treated,
            "benefit": control - treated,
        }
        tables.append(pd.DataFrame(table))
    return pd.concat(tables, ignore_index=True)[PREDICTION_COLUMNS]
