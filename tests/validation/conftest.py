"""Reference data for the validation metrics: a Cox model developed on R's rotterdam data, scored on gbsg.

``Rscript tests/reference/validation_reference.R`` (from the repository root) writes the data, the model's
predictions (fitted in R) and the reference metric values; the tests need no R.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

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


def synthetic_trial(
    n: int, seed: int, single_arm: str | None = None, shift: float = 0.0, scale: float = 1.0
) -> pd.DataFrame:
    """A trial export with a predictive biomarker: ``b_cell_ges`` lowers the hazard on treatment only.

    ``shift`` and ``scale`` put ``b_cell_ges`` on another measurement scale (``scale * true + shift``);
    ``single_arm`` ("treated" or "control") gives a one-arm cohort without an arm column.
    """
    rng = np.random.default_rng(seed)
    treated = rng.integers(0, 2, n) if single_arm is None else np.full(n, int(single_arm == "treated"))
    ges, ldh, age = rng.standard_normal(n), rng.integers(0, 2, n), rng.normal(60, 10, n)
    lp = -0.5 * treated + 0.1 * ges - 0.6 * treated * ges + 0.5 * ldh + 0.02 * (age - 60)
    event_time = rng.exponential(14 * np.exp(-lp))
    censoring = rng.uniform(8, 40, n)
    export = pd.DataFrame(
        {
            "subject_id": [f"P{seed}-{i:04d}" for i in range(n)],
            "efs_time": np.round(np.minimum(event_time, censoring), 3) + 0.001,
            "efs_event": (event_time <= censoring).astype(int),
            "b_cell_ges": np.round(scale * ges + shift, 4),
            "ldh": np.where(ldh == 1, "elevated", "normal"),
            "age": np.round(age, 1),
        }
    )
    if single_arm is None:
        export.insert(1, "arm", np.where(treated == 1, "axi-cel", "SOC"))
    return export


def synthetic_config(data_file: str, single_arm: str | None = None, validation_model: dict | None = None) -> dict:
    """The config that reads :func:`synthetic_trial` (landmarks 6 and 12 months)."""
    data = {
        "path": data_file,
        "id": "subject_id",
        "endpoints": {"efs": {"time": "efs_time", "event": "efs_event"}},
        "biomarkers": ["b_cell_ges", "ldh"],
        "covariates": ["age"],
    }
    if single_arm is None:
        data["arm"] = {"column": "arm", "treated": "axi-cel", "control": "SOC"}
    else:
        data["single_arm"] = single_arm
    config = {"data": data, "analysis": {"endpoint": "efs", "landmarks": [6.0, 12.0]}}
    if validation_model is not None:
        config["validation_model"] = validation_model
    return config


INTERACTION_MODEL = {"terms": ["b_cell_ges", "ldh", "age"], "interaction": "b_cell_ges"}


def write_synthetic(
    folder: Path, name: str, export: pd.DataFrame, single_arm: str | None = None, validation_model: dict | None = None
) -> Path:
    """Write ``export`` as ``<name>.csv`` and its config as ``<name>.yaml`` into ``folder``; return the config."""
    export.to_csv(folder / f"{name}.csv", index=False)
    config = synthetic_config(f"{name}.csv", single_arm=single_arm, validation_model=validation_model)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return folder / f"{name}.yaml"


@pytest.fixture(scope="session")
def synthetic() -> SimpleNamespace:
    """The synthetic trial generator (``trial``), its config (``config``, ``write``) and ``interaction_model``."""
    return SimpleNamespace(
        trial=synthetic_trial, config=synthetic_config, write=write_synthetic, interaction_model=INTERACTION_MODEL
    )
