"""ADaM ADSL + ADTTE (SAS XPT) fixtures built in the test, read into the same Cohort as a flat export."""

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from tmesurv import InputError
from tmesurv.config import DAYS_PER_MONTH, load_config
from tmesurv.readers import read_cohort


def _write_adam(folder: Path, export: pd.DataFrame) -> None:
    """ADSL (one row per subject) and ADTTE (EFS plus an OS parameter, days, CNSR = 1 - event)."""
    adsl = pd.DataFrame(
        {
            "USUBJID": export["subject_id"],
            "TRT01P": export["arm"].map({"axi-cel": "Axicabtagene Ciloleucel", "SOC": "Standard of Care"}),
            "BCELLGES": export["b_cell_ges"],
        }
    )
    efs = pd.DataFrame(
        {
            "USUBJID": export["subject_id"],
            "PARAMCD": "EFS",
            "AVAL": export["efs_time"] * DAYS_PER_MONTH,
            "CNSR": 1 - export["efs_event"],
        }
    )
    os_records = efs.assign(PARAMCD="OS", AVAL=efs["AVAL"] * 2, CNSR=2 * (1 - export["efs_event"]))
    adtte = pd.concat([os_records, efs], ignore_index=True)  # EFS rows come second, so row numbers are checked
    pyreadstat.write_xport(adsl, str(folder / "adsl.xpt"), table_name="ADSL")
    pyreadstat.write_xport(adtte, str(folder / "adtte.xpt"), table_name="ADTTE")


def _adam_config(folder: Path) -> Path:
    config = {
        "data": {
            "adam": {"adsl": "adsl.xpt", "adtte": "adtte.xpt"},
            "arm": {"column": "TRT01P", "treated": "Axicabtagene Ciloleucel", "control": "Standard of Care"},
            "time_unit": "days",
            "endpoints": {"efs": {"paramcd": "EFS"}, "os": {"paramcd": "OS"}},
            "biomarkers": ["BCELLGES"],
        },
        "analysis": {"endpoint": "efs"},
    }
    path = folder / "adam.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_adam_gives_the_same_cohort_as_the_flat_export(tmp_path: Path, export: pd.DataFrame):
    _write_adam(tmp_path, export)
    config, _ = load_config(_adam_config(tmp_path))
    cohort = read_cohort(config.data)
    assert list(cohort.patients.index) == list(export["subject_id"])
    np.testing.assert_allclose(cohort.time("efs"), export["efs_time"], rtol=1e-12)
    np.testing.assert_array_equal(cohort.event("efs"), export["efs_event"])
    np.testing.assert_array_equal(cohort.event("os"), export["efs_event"])  # CNSR = 2 is censored too
    np.testing.assert_array_equal(cohort.treated, (export["arm"] == "axi-cel").astype(int))
    np.testing.assert_allclose(cohort.patients["BCELLGES"], export["b_cell_ges"])


def test_bad_adtte_value_points_at_the_adtte_row(tmp_path: Path, export: pd.DataFrame):
    export.loc[3, "efs_time"] = -2.0
    _write_adam(tmp_path, export)
    config, _ = load_config(_adam_config(tmp_path))
    n = len(export)
    with pytest.raises(InputError, match=rf"adtte\.xpt .*column 'efs\.time', row {n + 4}: time must be zero or"):
        read_cohort(config.data)


def test_subject_missing_from_adtte_is_reported(tmp_path: Path, export: pd.DataFrame):
    _write_adam(tmp_path, export)
    adtte, _ = pyreadstat.read_xport(str(tmp_path / "adtte.xpt"))
    adtte = adtte[~((adtte["USUBJID"] == "S002") & (adtte["PARAMCD"] == "EFS"))]
    pyreadstat.write_xport(adtte, str(tmp_path / "adtte.xpt"), table_name="ADTTE")
    config, _ = load_config(_adam_config(tmp_path))
    with pytest.raises(InputError, match=r"adsl\.xpt', row 2 \(subjects S002\): no PARAMCD 'EFS' record"):
        read_cohort(config.data)


def test_adtte_subject_missing_from_adsl_is_reported(tmp_path: Path, export: pd.DataFrame):
    _write_adam(tmp_path, export)
    adsl, _ = pyreadstat.read_xport(str(tmp_path / "adsl.xpt"))
    pyreadstat.write_xport(adsl.iloc[1:], str(tmp_path / "adsl.xpt"), table_name="ADSL")
    config, _ = load_config(_adam_config(tmp_path))
    with pytest.raises(InputError, match=r"PARAMCD 'EFS': subjects S001 are not in ADSL"):
        read_cohort(config.data)


def test_unknown_paramcd_lists_what_is_there(tmp_path: Path, export: pd.DataFrame):
    _write_adam(tmp_path, export)
    path = _adam_config(tmp_path)
    path.write_text(path.read_text().replace("paramcd: OS", "paramcd: PFS"))
    config, _ = load_config(path)
    with pytest.raises(InputError, match="no rows with PARAMCD 'PFS'; it has: EFS, OS"):
        read_cohort(config.data)


def test_missing_xpt_file(tmp_path: Path):
    config, _ = load_config(_adam_config(tmp_path))
    with pytest.raises(InputError, match=r"ADaM file '.*adsl\.xpt' does not exist"):
        read_cohort(config.data)
