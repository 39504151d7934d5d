"""Shared fixtures: a small valid trial export and its config, written to a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml


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
