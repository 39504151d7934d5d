"""Shared by the power-study tests: one 2-worker Dask cluster, and small study files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tmesurv.simulations.power.chunks import CHUNK_FOLDER
from tmesurv.simulations.power.execution import local_cluster


@pytest.fixture(scope="session")
def cluster():
    """The address of a 2-worker local cluster, for ``scheduler=``."""
    with local_cluster(2) as local:
        yield local.scheduler_address


def write_study(folder: Path, name: str = "study.yaml", **fields) -> Path:
    """A small ZUMA-7 study file in ``folder``, with ``fields`` replacing the defaults."""
    study = {
        "name": "small",
        "scenario": "zuma7",
        "seed": 11,
        "replicates": 100,
        "chunk_size": 25,
        "grid": {"n": [120], "interaction_hr": [1.0, 0.5]},
        "methods": ["cox_interaction", "cox_interaction_stratified", "median_split"],
    }
    study.update(fields)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(study))
    return path


def saved_chunks(out: Path) -> dict[str, dict[str, np.ndarray]]:
    chunks = {}
    for path in sorted((out / CHUNK_FOLDER).glob("*.npz")):
        with np.load(path) as saved:
            chunks[path.name] = {name: saved[name] for name in saved.files}
    return chunks


def assert_same_chunks(first: Path, second: Path) -> None:
    a, b = saved_chunks(first), saved_chunks(second)
    assert a.keys() == b.keys()
    for name, arrays in a.items():
        assert arrays.keys() == b[name].keys(), name
        for key, values in arrays.items():
            assert np.array_equal(values, b[name][key], equal_nan=values.dtype.kind == "f"), (name, key)


def assert_same_results(first: Path, second: Path) -> None:
    """Bit for bit: every chunk, power.nc (and so the Dataset), power.csv and power_errors.csv."""
    assert_same_chunks(first, second)
    for name in ("power.nc", "power.csv", "power_errors.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
