"""Expression matrices next to a flat export: samples matched to patients, scales, errors, the RCC hook."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tmesurv.config import load_config
from tmesurv.errors import InputError
from tmesurv.readers import read_cohort
from tmesurv.readers.expression import read_matrix

MATRIX = pd.DataFrame(  # genes x samples; sample X9 belongs to no patient
    {"gene": ["BLK", "CD19", "MS4A1"], "X1": [6.0, 5.0, 10.0], "X2": [8.0, 4.0, 12.0], "X9": [1.0, 1.0, 1.0]}
)


def write_study(folder: Path, export: pd.DataFrame, config: dict, expression: dict, matrix_file: str) -> Path:
    """Write the export, the matrix (CSV or Parquet by extension) and a config with ``data.expression``."""
    export.to_csv(folder / "cohort.csv", index=False)
    if matrix_file.endswith(".parquet"):
        MATRIX.to_parquet(folder / matrix_file)
    else:
        MATRIX.to_csv(folder / matrix_file, index=False)
    config["data"]["expression"] = {"path": matrix_file} | expression
    path = folder / "analysis.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _with_samples(export: pd.DataFrame) -> pd.DataFrame:
    samples = [None] * len(export)
    samples[:2] = ["X1", "X2"]
    return export.assign(sample=samples)


@pytest.mark.parametrize("matrix_file", ["genes.csv", "genes.parquet"])
def test_samples_by_export_column(tmp_path: Path, export: pd.DataFrame, config: dict, matrix_file: str):
    path = write_study(tmp_path, _with_samples(export), config, {"samples": "sample"}, matrix_file)
    cohort = read_cohort(load_config(path)[0].data)
    first, second = export["subject_id"][:2]
    expected = MATRIX.set_index("gene")[["X1", "X2"]].set_axis([first, second], axis=1)
    pd.testing.assert_frame_equal(cohort.expression, expected, check_names=False)
    without, unmatched = cohort.data_exclusions
    assert (without.reason, without.count) == ("no expression sample", len(export) - 2)
    assert (unmatched.ids, unmatched.reason) == (("X9",), "sample matches no patient of the export (not used)")
    assert (without.unit, unmatched.unit) == ("patients", "samples")
    assert without in cohort.analysis_exclusions()  # listed with the analyses' exclusions


def test_samples_by_mapping_and_counts_scale(tmp_path: Path, export: pd.DataFrame, config: dict):
    mapping = {"X1": export["subject_id"][3], "X2": export["subject_id"][0]}
    path = write_study(tmp_path, export, config, {"samples": mapping, "scale": "counts"}, "genes.csv")
    cohort = read_cohort(load_config(path)[0].data)
    assert list(cohort.expression.columns) == [export["subject_id"][0], export["subject_id"][3]]  # export order
    assert cohort.expression.loc["CD19", export["subject_id"][3]] == pytest.approx(np.log2(5.0 + 1.0))


def test_derived_score_uses_the_matched_samples(tmp_path: Path, export: pd.DataFrame, config: dict):
    config["data"]["derive"] = {"signatures": {"b_low": ["BLK", "CD19", "PAX5"]}}
    config["data"]["features"] = ["b_low"]
    path = write_study(tmp_path, _with_samples(export), config, {"samples": "sample"}, "genes.csv")
    cohort = read_cohort(load_config(path)[0].data)
    # BLK centred at (6 + 8) / 2 = 7, CD19 at 4.5: patient 1 (6 - 7 + 5 - 4.5) / 2, patient 2 (8 - 7 + 4 - 4.5) / 2
    assert list(cohort.patients["b_low"][:2]) == [-0.25, 0.25]
    assert cohort.patients["b_low"][2:].isna().all()
    assert cohort.notes == ("gene set 'b_low': PAX5 not in the expression panel; scored without them",)


def test_two_samples_of_one_patient(tmp_path: Path, export: pd.DataFrame, config: dict):
    mapping = {"X1": export["subject_id"][0], "X2": export["subject_id"][0]}
    path = write_study(tmp_path, export, config, {"samples": mapping}, "genes.csv")
    with pytest.raises(InputError, match=rf"patient {export['subject_id'][0]} has several samples \(X1, X2\)"):
        read_cohort(load_config(path)[0].data)


def test_counts_said_to_be_log2(tmp_path: Path, export: pd.DataFrame, config: dict):
    path = write_study(tmp_path, export, config, {}, "genes.csv")
    MATRIX.assign(X1=[6.0, 5000.0, 10.0]).to_csv(tmp_path / "genes.csv", index=False)
    with pytest.raises(InputError, match="counts, not log2 expression; set scale: counts"):
        read_cohort(load_config(path)[0].data)


def test_text_and_repeated_genes_name_file_and_row(tmp_path: Path, export: pd.DataFrame, config: dict):
    path = write_study(tmp_path, export, config, {}, "genes.csv")
    MATRIX.assign(X2=[8.0, "low", 12.0]).to_csv(tmp_path / "genes.csv", index=False)
    with pytest.raises(InputError, match=r"'genes.csv', column 'X2', row 3: 'low' is not a number"):
        read_cohort(load_config(path)[0].data)
    MATRIX.assign(gene=["BLK", "CD19", "BLK"]).to_csv(tmp_path / "genes.csv", index=False)
    with pytest.raises(InputError, match=r"'genes.csv', column 'gene', rows 2, 4: gene BLK appears more than once"):
        read_cohort(load_config(path)[0].data)


def test_rcc_folder_goes_through_the_nanostring_reader(tmp_path, export, config, monkeypatch):
    """The hook: every .RCC of the folder is passed on; the matrix's sample ids are matched; QC flags are noted."""
    import tmesurv.readers.nanostring as nanostring

    (tmp_path / "rcc").mkdir()
    for name in ("b.RCC", "a.RCC", "notes.txt"):
        (tmp_path / "rcc" / name).write_text("")
    seen = []

    def fake(paths: list[Path]) -> tuple[pd.DataFrame, pd.DataFrame]:
        seen.extend(paths)
        qc = pd.DataFrame({"sample_id": ["X1", "X2"], "any_flag": [False, True]})
        return MATRIX.set_index("gene")[["X1", "X2"]].rename_axis(index="Name"), qc

    monkeypatch.setattr(nanostring, "normalised_rcc_matrix", fake)
    config["data"]["expression"] = {"rcc": "rcc", "samples": "sample"}
    _with_samples(export).to_csv(tmp_path / "cohort.csv", index=False)
    (tmp_path / "analysis.yaml").write_text(yaml.safe_dump(config))
    cohort = read_cohort(load_config(tmp_path / "analysis.yaml")[0].data)
    assert [path.name for path in seen] == ["a.RCC", "b.RCC"]
    assert list(cohort.expression.columns) == list(export["subject_id"][:2])
    assert cohort.notes == ("RCC lane QC flags samples X2 (kept; see their QC metrics)",)


def test_unreadable_matrix_names_the_file(tmp_path: Path):
    path = tmp_path / "genes.csv"
    path.write_bytes(b"gene,S1\nCD19,\xff\xfe\n")
    with pytest.raises(InputError, match=r"expression file '.*genes\.csv' could not be read as CSV"):
        read_matrix(path)
    with pytest.raises(InputError, match=r"expression file '.*absent\.csv' does not exist: check data\.expression"):
        read_matrix(tmp_path / "absent.csv")
