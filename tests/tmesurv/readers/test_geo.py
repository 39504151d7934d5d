"""GEO series matrix files: parsing, characteristics as columns, signatures and genes, visits, errors."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tmesurv.config import load_config
from tmesurv.errors import InputError
from tmesurv.readers import read_cohort
from tmesurv.readers.geo import read_series_matrix

ACCESSIONS = ["GSM1", "GSM2", "GSM3", "GSM4", "GSM5"]
CHARACTERISTICS = [  # one line per key; "" = no cell for that sample
    ["patient: P1", "patient: P2", "patient: P3", "patient: P4", "patient: P1"],
    ["treatment arm: Axi-cel", "treatment arm: SOC", "treatment arm: Axi-cel", "treatment arm: SOC",
     "treatment arm: Axi-cel"],
    ["event.free.survival.months: 3.5", "event.free.survival.months: 7", "event.free.survival.months: 12.25",
     "event.free.survival.months: 2", "event.free.survival.months: 3.5"],
    ["event.free.survival.event: 1", "event.free.survival.event: 1", "event.free.survival.event: 0",
     "event.free.survival.event: 1", "event.free.survival.event: 1"],
    ["cell of origin: GCB", "cell of origin: NA", "", "cell of origin: non-GCB", "cell of origin: GCB"],
    ["visit: baseline", "visit: baseline", "visit: baseline", "visit: baseline", "visit: relapse"],
]  # fmt: skip
TABLE = {  # ID_REF -> values per sample ("NA" and "" are missing)
    "BLK": ["6.0", "8.0", "7.0", "9.0", "1.0"],
    "CD19": ["5.0", "4.0", "6.0", "NA", "1.0"],
    "MS4A1": ["10.0", "12.0", "11.0", "13.0", "1.0"],
    "SIG_1": ["2.5", "3.5", "", "4.5", "1.0"],
    "SIG_2": ["-1.0", "0.5", "1.5", "2.0", "1.0"],
}
PLATFORM = pd.DataFrame(
    {
        "ID": list(TABLE),
        "ORF": ["BLK", "CD19", "MS4A1", "B Cells", "TGF-Beta"],
        "Analyte Type": ["mRNA", "mRNA", "mRNA", "IO360 Signature", "IO360 Signature"],
    }
)


def series_matrix(characteristics: list[list[str]] = CHARACTERISTICS, table: dict = TABLE) -> str:
    """A small series matrix in GEO's layout: quoted cells, characteristics lines, the table."""

    def line(key: str, cells: list[str]) -> str:
        return "\t".join([key, *(f'"{cell}"' for cell in cells)])

    lines = ['!Series_title\t"test"', line("!Sample_title", [f"sample {a}" for a in ACCESSIONS])]
    lines.append(line("!Sample_geo_accession", ACCESSIONS))
    lines += [line("!Sample_characteristics_ch1", cells) for cells in characteristics]
    lines += ["!series_matrix_table_begin", line('"ID_REF"', ACCESSIONS)]
    lines += ["\t".join([f'"{analyte}"', *values]) for analyte, values in table.items()]
    return "\n".join([*lines, "!series_matrix_table_end", ""])


def write_series(folder: Path, text: str, gz: bool = False) -> Path:
    path = folder / ("series.txt.gz" if gz else "series.txt")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


def geo_config(folder: Path, **geo: object) -> Path:
    """A config reading ``series.txt`` with the platform, visit baseline, and the B cell score of two genes."""
    write_series(folder, series_matrix())
    PLATFORM.to_csv(folder / "platform.txt", sep="\t", index=False)
    spec = {
        "series_matrix": "series.txt",
        "platform": "platform.txt",
        "characteristics": {
            "patient": "patient",
            "arm": "treatment arm",
            "efs_time": "event.free.survival.months",
            "efs_event": "event.free.survival.event",
            "cell_of_origin": "cell of origin",
        },
        "visit": {"key": "visit", "value": "baseline"},
    } | geo
    config = {
        "data": {
            "geo": spec,
            "id": "patient",
            "arm": {"column": "arm", "treated": "Axi-cel", "control": "SOC"},
            "endpoints": {"efs": {"time": "efs_time", "event": "efs_event"}},
            "features": ["sig_*"],
            "covariates": ["cell_of_origin"],
            "derive": {"signatures": {"b_cell": ["BLK", "MS4A1"]}},
        },
        "analysis": {"endpoint": "efs"},
    }
    path = folder / "analysis.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize("gz", [False, True])
def test_plain_and_gzipped_files_read_the_same_values(tmp_path: Path, gz: bool):
    matrix = read_series_matrix(write_series(tmp_path, series_matrix(), gz=gz))
    assert list(matrix.samples.index) == ACCESSIONS
    assert list(matrix.samples["title"]) == [f"sample {a}" for a in ACCESSIONS]
    assert list(matrix.samples["treatment arm"]) == ["Axi-cel", "SOC", "Axi-cel", "SOC", "Axi-cel"]
    assert matrix.samples.loc["GSM2", "cell of origin"] is None  # "NA"
    assert pd.isna(matrix.samples.loc["GSM3", "cell of origin"])  # no cell at all
    assert matrix.table.loc["MS4A1", "GSM4"] == 13.0
    assert np.isnan(matrix.table.loc["CD19", "GSM4"])  # NA
    assert np.isnan(matrix.table.loc["SIG_1", "GSM3"])  # empty


def test_cell_without_key_names_file_line_and_sample(tmp_path: Path):
    characteristics = [*CHARACTERISTICS[:-1], ["visit: baseline", "baseline", "", "", ""]]
    path = write_series(tmp_path, series_matrix(characteristics))
    with pytest.raises(InputError, match=r"series matrix 'series.txt', line 9, sample GSM2: .*'baseline'.*key: value"):
        read_series_matrix(path)


def test_text_in_the_table_names_line_and_sample(tmp_path: Path):
    path = write_series(tmp_path, series_matrix(table=TABLE | {"BLK": ["6", "high", "7", "9", "1"]}))
    with pytest.raises(InputError, match=r"'series.txt', column 'GSM2', row 12: 'high' is not a number"):
        read_series_matrix(path)


def test_cohort_from_geo_with_platform(tmp_path: Path):
    config, _ = load_config(geo_config(tmp_path, signature_names={"TGF-Beta": "tgfb"}))
    cohort = read_cohort(config.data)
    patients = cohort.patients
    assert list(patients.index) == ["P1", "P2", "P3", "P4"]  # GSM5 is P1's relapse sample
    assert list(patients["arm"]) == ["treated", "control", "treated", "control"]
    assert list(patients["efs.time"]) == [3.5, 7.0, 12.25, 2.0]
    assert cohort.features == ("sig_b_cells",)  # the renamed signature is not matched by sig_*
    assert list(patients["sig_b_cells"].fillna(-99)) == [2.5, 3.5, -99, 4.5]
    assert patients["cell_of_origin"].isna().tolist() == [False, True, True, False]
    expected = pd.DataFrame(
        {"P1": [6.0, 5.0, 10.0], "P2": [8.0, 4.0, 12.0], "P3": [7.0, 6.0, 11.0], "P4": [9.0, np.nan, 13.0]},
        index=["BLK", "CD19", "MS4A1"],
    )
    pd.testing.assert_frame_equal(cohort.expression, expected, check_names=False)
    [visit] = cohort.data_exclusions
    assert (visit.ids, visit.reason) == (("GSM5",), "visit 'relapse', not the analysed visit 'baseline'")
    assert visit.unit == "samples"  # GSM ids: counted as samples, not patients


def test_signature_columns_without_platform_by_pattern(tmp_path: Path):
    path = geo_config(tmp_path, platform=None, signature_rows=["SIG_*"], signature_prefix="io360_")
    raw = yaml.safe_load(path.read_text())
    raw["data"]["features"] = ["io360_*"]
    path.write_text(yaml.safe_dump(raw))
    config, _ = load_config(path)
    cohort = read_cohort(config.data)
    assert cohort.features == ("io360_sig_1", "io360_sig_2")
    assert list(cohort.expression.index) == ["BLK", "CD19", "MS4A1"]


def test_several_samples_per_patient_need_a_visit(tmp_path: Path):
    config, _ = load_config(geo_config(tmp_path, visit=None))
    with pytest.raises(InputError, match=r"patient P1 has several samples \(GSM1, GSM5\).*data.geo.visit"):
        read_cohort(config.data)


def test_unknown_characteristic_lists_the_known_ones(tmp_path: Path):
    path = geo_config(tmp_path)
    raw = yaml.safe_load(path.read_text())
    raw["data"]["geo"]["characteristics"]["efs_time"] = "efs months"
    path.write_text(yaml.safe_dump(raw))
    config, _ = load_config(path)
    with pytest.raises(InputError, match=r"no sample characteristic 'efs months'.*event.free.survival.months"):
        read_cohort(config.data)


def test_bad_value_points_at_the_characteristic_and_sample(tmp_path: Path):
    characteristics = [list(cells) for cells in CHARACTERISTICS]
    characteristics[3][1] = "event.free.survival.event: 2"
    path = geo_config(tmp_path)
    write_series(tmp_path, series_matrix(characteristics))
    config, _ = load_config(path)
    with pytest.raises(InputError, match=r"characteristic 'event.free.survival.event'.*column 'efs_event', row GSM2"):
        read_cohort(config.data)


def test_platform_must_describe_every_row(tmp_path: Path):
    path = geo_config(tmp_path)
    PLATFORM.iloc[:-1].to_csv(tmp_path / "platform.txt", sep="\t", index=False)
    config, _ = load_config(path)
    with pytest.raises(InputError, match="does not describe ID_REF SIG_2"):
        read_cohort(config.data)
