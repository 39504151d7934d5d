"""data.pk: CAR T level files are checked, derived columns join the treated patients, exclusions are counted."""

import numpy as np
import pandas as pd
import pytest
import yaml

from tmesurv.config import load_config
from tmesurv.errors import InputError
from tmesurv.readers import read_cohort

EXPORT = pd.DataFrame(
    {
        "pid": ["T1", "T2", "T3", "C1", "C2"],
        "arm": ["car-t", "car-t", "car-t", "soc", "soc"],
        "efs_time": [3.0, 5.0, 8.0, 2.0, 4.0],
        "efs_event": [1, 0, 1, 1, 1],
        "grade3_crs": [1, 0, 0, None, None],
    }
)
LEVELS = [  # T1: full series; T2: ends on day 14, an empty level on day 7; T3: no day 0; C1: control
    ("T1", 0, 0.0), ("T1", 7, 70.0), ("T1", 14, 35.0), ("T1", 28, 7.0),
    ("T2", 0, 0.0), ("T2", 7, None), ("T2", 9, 20.0), ("T2", 14, 10.0),
    ("T3", 7, 14.0), ("T3", 28, 14.0),
    ("C1", 7, 3.0),
]  # fmt: skip


def _config(folder, levels, **pk):
    EXPORT.to_csv(folder / "export.csv", index=False)
    pd.DataFrame(levels, columns=["pid", "day", "cells"]).to_csv(folder / "levels.csv", index=False)
    data = {
        "path": "export.csv",
        "id": "pid",
        "arm": {"column": "arm", "treated": "car-t", "control": "soc"},
        "endpoints": {"efs": {"time": "efs_time", "event": "efs_event"}},
        "product": ["grade3_crs"],
        "pk": {"path": "levels.csv", "level": "cells"} | pk,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump({"data": data, "analysis": {"endpoint": "efs"}}))
    return load_config(folder / "config.yaml")[0]


def test_derived_columns_join_the_treated_arm(tmp_path):
    cohort = read_cohort(_config(tmp_path, LEVELS).data)
    patients = cohort.patients
    assert cohort.product == ("grade3_crs", "car_t_peak", "car_t_time_to_peak", "car_t_auc_0_28")
    assert patients.loc["T1", "car_t_auc_0_28"] == pytest.approx(245 + 367.5 + 14 * 21, rel=1e-12)
    assert (patients.loc["T2", "car_t_peak"], patients.loc["T2", "car_t_time_to_peak"]) == (20.0, 9.0)
    assert np.isnan(patients.loc["T2", "car_t_auc_0_28"])
    assert patients.loc["T3", "car_t_auc_0_28"] == pytest.approx(7 * 14 / 2 + 21 * 14, rel=1e-12)
    assert patients.loc[["C1", "C2"], ["car_t_peak", "car_t_auc_0_28"]].isna().all().all()
    reasons = {e.reason: e.ids for e in cohort.data_exclusions}
    assert reasons == {
        "1 CAR T samples without a level left out": ("T2",),
        "CAR T levels of control patients are not used": ("C1",),
        "last CAR T sample before day 28: no AUC(0-28)": ("T2",),
    }
    assert any("1 patients without a day-0 CAR T sample" in note for note in cohort.notes)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("T1", 14, 1.0), r"levels.csv', column 'day', rows 4, 13: two samples of one patient on the same day"),
        (("T1", -2, 1.0), r"column 'day', row 13: negative day; days count from the infusion"),
        (("T1", 30, -1.0), r"column 'cells', row 13: negative level"),
        (("X9", 30, 1.0), r"column 'pid', row 13: patients not in 'export.csv'"),
        (("T1", "late", 1.0), r"column 'day', row 13: day is not a number"),
    ],
)
def test_bad_samples_are_input_errors_naming_file_column_rows(tmp_path, change, message):
    with pytest.raises(InputError, match=message):
        read_cohort(_config(tmp_path, [*LEVELS, change]).data)


def test_a_missing_column_names_the_config_key(tmp_path):
    with pytest.raises(InputError, match=r"levels.csv' has no column 'level_ul' \(named by data.pk\)"):
        read_cohort(_config(tmp_path, LEVELS, level="level_ul").data)
