"""Reference data for the validation metrics: a Cox model developed on R's rotterdam data, scored on gbsg.

``Rscript tests/reference/validation_reference.R`` (from the repository root) writes the data, the model's
predictions (fitted in R) and the reference metric values; the tests need no R.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REFERENCE = Path(__file__).parents[1] / "reference"
HORIZONS = (3, 5)


@pytest.fixture(scope="session")
def external() -> pd.DataFrame:
    """gbsg with the rotterdam model's predictions (``lp``, ``risk_<h>``, ``risk_control_<h>``, ...)."""
    return pd.read_csv(REFERENCE / "validation_external.csv")


@pytest.fixture(scope="session")
def development() -> pd.DataFrame:
    """rotterdam, node-positive patients."""
    return pd.read_csv(REFERENCE / "validation_development.csv")


@pytest.fixture(scope="session")
def grid_risk() -> tuple[np.ndarray, np.ndarray]:
    """The integrated-Brier grid times and the ``(n, K)`` predicted risks on them."""
    frame = pd.read_csv(REFERENCE / "validation_grid_risk.csv")
    return np.array([float(name.removeprefix("t_")) for name in frame.columns]), frame.to_numpy()


@pytest.fixture(scope="session")
def reference():
    """``reference(metric, horizon=None)``: the R value of a metric (horizon None for metrics without one)."""
    table = pd.read_csv(REFERENCE / "validation_metrics.csv")

    def value(metric: str, horizon: float | None = None) -> float:
        rows = table[
            (table["metric"] == metric) & (table["horizon"].isna() if horizon is None else table["horizon"] == horizon)
        ]
        assert len(rows) == 1, f"{metric} at {horizon}: {len(rows)} reference rows"
        return float(rows["value"].iloc[0])

    return value


@pytest.fixture(scope="session")
def resampled(external) -> tuple[np.ndarray, np.ndarray]:
    """Four bootstrap resamples of the external cohort: the index matrix and its counts (the estimators' weights)."""
    n = len(external)
    rows = np.random.default_rng(11).integers(0, n, (4, n))
    return rows, np.stack([np.bincount(row, minlength=n) for row in rows])
