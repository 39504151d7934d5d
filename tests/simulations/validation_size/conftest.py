"""Shared by the validation-size tests: small study files."""

from __future__ import annotations

from pathlib import Path

import yaml


def write_study(folder: Path, name: str = "study.yaml", **fields) -> Path:
    """A small ZUMA-7 validation-size study file in ``folder``, with ``fields`` replacing the defaults."""
    study = {
        "kind": "validation_size",
        "name": "small",
        "scenario": "zuma7",
        "seed": 5,
        "replicates": 40,
        "chunk_size": 20,
        "model": {"terms": ["b_cell_ges", "sii", "ldh_elevated"], "interaction": "b_cell_ges"},
        "horizon": 12.0,
        "population_trials": 10,
        "grid": {"n": [150, 600], "calibration_slope": [1.0, 0.8]},
    }
    study.update(fields)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(study))
    return path
