from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv import InputError
from tmesurv.config import load_config
from tmesurv.readers import read_cohort


def test_parquet_and_csv_give_the_same_cohort(write_study, export: pd.DataFrame, tmp_path: Path):
    csv_config, _ = load_config(write_study(export))
    from_csv = read_cohort(csv_config.data)
    export.to_parquet(tmp_path / "cohort.parquet")
    parquet_config = csv_config.data.model_copy(update={"path": tmp_path / "cohort.parquet"})
    from_parquet = read_cohort(parquet_config)
    pd.testing.assert_frame_equal(from_csv.patients, from_parquet.patients)


def test_parquet_rows_are_numbered_from_one(write_study, export: pd.DataFrame, tmp_path: Path):
    csv_config, _ = load_config(write_study(export))
    export.loc[0, "efs_event"] = 3
    export.to_parquet(tmp_path / "cohort.parquet")
    spec = csv_config.data.model_copy(update={"path": tmp_path / "cohort.parquet"})
    with pytest.raises(InputError, match=r"cohort\.parquet', column 'efs_event', row 1: event must be"):
        read_cohort(spec)


def test_unknown_extension(write_study, tmp_path: Path):
    config, _ = load_config(write_study())
    (tmp_path / "cohort.xlsx").write_bytes(b"")
    spec = config.data.model_copy(update={"path": tmp_path / "cohort.xlsx"})
    with pytest.raises(InputError, match=r"unknown extension '\.xlsx'"):
        read_cohort(spec)


def test_ids_stay_text(write_study, export: pd.DataFrame):
    export["subject_id"] = [f"{i:05d}" for i in range(len(export))]
    config, _ = load_config(write_study(export))
    assert read_cohort(config.data).patients.index[1] == "00001"
    assert np.issubdtype(read_cohort(config.data).patients["b_cell_ges"].dtype, np.floating)
