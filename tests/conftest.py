"""Shared fixtures: a small valid trial export and its config, written to a temporary folder."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.figure import Figure

from tmesurv.reports.graphics import PNG_SIGNATURE


def small_export(n_per_arm: int = 20, seed: int = 3) -> pd.DataFrame:
    """A valid flat export with two arms, events in both, and two biomarkers."""
    rng = np.random.default_rng(seed)
    n = 2 * n_per_arm
    return pd.DataFrame(
        {
            "subject_id": [f"S{i:03d}" for i in range(1, n + 1)],
            "arm": ["axi-cel", "SOC"] * n_per_arm,
            "efs_time": np.round(rng.exponential(10, n) + 0.1, 3),
            "efs_event": np.tile([1, 1, 0, 1], n // 4 + 1)[:n],
            "b_cell_ges": np.round(rng.standard_normal(n), 3),
            "cd19_hscore": rng.integers(0, 300, n),
        }
    )


def small_config(data_file: str = "cohort.csv") -> dict:
    """The config that reads :func:`small_export`."""
    return {
        "data": {
            "path": data_file,
            "id": "subject_id",
            "arm": {"column": "arm", "treated": "axi-cel", "control": "SOC"},
            "time_unit": "months",
            "endpoints": {"efs": {"time": "efs_time", "event": "efs_event"}},
            "biomarkers": ["b_cell_ges", "cd19_hscore"],
        },
        "analysis": {"endpoint": "efs", "cutpoint": "median"},
    }


@pytest.fixture
def export() -> pd.DataFrame:
    """A small valid flat export (a fresh copy per test, free to break)."""
    return small_export()


@pytest.fixture
def config() -> dict:
    """The config that reads the ``export`` fixture from ``cohort.csv``."""
    return small_config()


@pytest.fixture
def write_study(tmp_path: Path):
    """Write an export and a config into ``tmp_path``; return the config path."""

    def write(export: pd.DataFrame | None = None, config: dict | None = None, data_file: str = "cohort.csv") -> Path:
        export = small_export() if export is None else export
        export.to_csv(tmp_path / data_file, index=False)
        config_path = tmp_path / "analysis.yaml"
        config_path.write_text(yaml.safe_dump(small_config(data_file) if config is None else config))
        return config_path

    return write


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


@pytest.fixture
def undrawn_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """Figures are built but not drawn: each file or image is the PNG signature alone. For tests of result tables and
    report text, where drawing is most of the time; figures are checked where they are drawn (the figure tests, the
    full report, the demo)."""

    def save_undrawn(figure: Figure, target, **_) -> None:
        if isinstance(target, str | Path):
            Path(target).write_bytes(PNG_SIGNATURE)
        else:
            target.write(PNG_SIGNATURE)

    monkeypatch.setattr(Figure, "savefig", save_undrawn)
