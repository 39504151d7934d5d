from pathlib import Path

import pandas as pd
import pytest

from tmesurv.outputs.files import COX, REGISTRY, SCREEN_RESPONSE_GROUPS, ResultFile, write_result


def test_every_entry_is_consistent():
    for stem, entry in REGISTRY.items():
        assert entry.stem == stem
        assert len(set(entry.columns)) == len(entry.columns), stem
        assert set(entry.keys) <= set(entry.required), stem  # a reader can only check keys it requires


def test_an_entry_naming_an_unknown_column_is_refused():
    with pytest.raises(ValueError, match="hr not among its columns"):
        ResultFile("x.csv", ("a",), numbers=("hr",))


def test_writer_orders_columns_and_refuses_missing_or_unregistered_ones(tmp_path: Path):
    row = {column: [1.0] for column in reversed(COX.columns)}
    path = write_result(tmp_path, COX, pd.DataFrame(row))
    assert pd.read_csv(path).columns.tolist() == list(COX.columns)
    with pytest.raises(ValueError, match=r"missing columns \['p'\]"):
        write_result(tmp_path, COX, pd.DataFrame(row).drop(columns="p"))
    with pytest.raises(ValueError, match=r"unregistered columns \['extra'\]"):
        write_result(tmp_path, COX, pd.DataFrame(row).assign(extra=1))


def test_open_ended_tables_keep_their_data_dependent_columns(tmp_path: Path):
    row = {column: [1] for column in SCREEN_RESPONSE_GROUPS.columns} | {"median_ongoing": [2.5]}
    path = write_result(tmp_path, SCREEN_RESPONSE_GROUPS, pd.DataFrame(row))
    assert pd.read_csv(path).columns[-1] == "median_ongoing"
