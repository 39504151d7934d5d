"""What a saved fit carries about the development cohort."""

import json

import numpy as np
import pandas as pd
import pytest

from tmesurv.models.cox.km import median_follow_up
from tmesurv.models.prediction.info import Development
from tmesurv.models.prediction.terms import QUANTILE_PROBABILITIES


def test_development_summary(development):
    loaded, model = development
    cohort, dev = loaded, model.info.development
    ges = cohort.patients["b_cell_ges"].to_numpy()
    assert (dev.n, dev.events) == (cohort.n, int(cohort.event("efs").sum()))
    assert dev.follow_up_max == cohort.time("efs").max()
    assert dev.follow_up_median == median_follow_up(cohort.time("efs"), cohort.event("efs"))
    assert dev.first_event == cohort.time("efs")[cohort.event("efs") == 1].min()
    assert dev.terms["b_cell_ges"].mean == pytest.approx(ges.mean(), abs=1e-14)
    assert dev.terms["b_cell_ges"].sd == pytest.approx(ges.std(ddof=1), rel=1e-14)
    np.testing.assert_allclose(dev.terms["b_cell_ges"].quantiles, np.quantile(ges, QUANTILE_PROBABILITIES))
    assert dev.terms["ldh"].binary
    assert not dev.terms["age"].binary
    assert model.info.horizons == (6.0, 12.0)


def test_development_of_single_event_summary():
    dev = Development.of(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 0]), pd.DataFrame({"x": [0.0, 1.0, 2.0]}))
    assert (dev.n, dev.events, dev.first_event, dev.follow_up_max) == (3, 1, 2.0, 3.0)
    assert Development.from_json(json.loads(json.dumps(dev.to_json()))).terms["x"].mean == 1.0
