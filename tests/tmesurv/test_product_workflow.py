"""tmesurv cox with data.pk and a product section writes the product tables, figure and exclusions."""

import numpy as np
import pandas as pd

from tests.conftest import small_config, small_export
from tmesurv.api.cox import fit_cox
from tmesurv.cohort import Cohort


def test_cox_writes_product_tables_with_pk_columns(write_study, tmp_path):
    export = small_export(n_per_arm=40)
    treated = export["arm"] == "axi-cel"
    export["grade3_ne"] = np.where(treated, np.arange(len(export)) % 3 == 0, np.nan)
    ids = export.loc[treated, "subject_id"]
    peaks = np.linspace(5, 80, ids.size)
    days = [0, 7, 14, 28]
    levels = pd.DataFrame(
        {
            "subject_id": np.repeat(ids, 4),
            "day": np.tile(days, ids.size),
            "cells": np.outer(peaks, [0, 1, 0.5, 0.1]).ravel(),
        }
    )
    levels.loc[levels["subject_id"].eq(ids.iloc[0]) & levels["day"].eq(28), "cells"] = np.nan  # no AUC: counted
    levels.to_csv(tmp_path / "levels.csv", index=False)
    config = small_config()
    config["data"] |= {"product": ["grade3_ne"], "pk": {"path": "levels.csv", "level": "cells"}}
    config["product"] = {
        "attributes": ["car_t_peak", "car_t_auc_0_28"],
        "outcomes": {"grade3_ne": "grade3_ne"},
        "subgroups": [{"attribute": "car_t_auc_0_28", "biomarker": "cd19_hscore"}],
    }
    out = tmp_path / "out"
    fit_cox(Cohort.from_config(write_study(export, config))).write(out)
    associations = pd.read_csv(out / "product_associations.csv")
    assert list(associations["attribute"]) == ["car_t_peak", "car_t_auc_0_28"]
    assert list(associations["n"]) == [40, 39]
    subgroups = pd.read_csv(out / "product_subgroups.csv")
    assert subgroups.loc[subgroups["statistic"] == "median", "n"].sum() == 39
    exclusions = pd.read_csv(out / "exclusions.csv").set_index("reason")
    assert exclusions.loc["last CAR T sample before day 28: no AUC(0-28)", "ids"] == ids.iloc[0]
    assert exclusions.loc["1 CAR T samples without a level left out", "count"] == 1
    assert (out / "figures" / "km_product_car_t_auc_0_28_cd19_hscore.svg").is_file()
