"""Product analyses of the treated arm, checked against statsmodels' own implementations and hand formulas."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.discrete.discrete_model import Logit
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from tmesurv.cohort import Cohort
from tmesurv.config import parse_config
from tmesurv.errors import InputError
from tmesurv.models.product.analyses import product_analyses

N_TREATED, N_CONTROL = 90, 30


@pytest.fixture(scope="module")
def cohort() -> Cohort:
    rng = np.random.default_rng(12)
    n = N_TREATED + N_CONTROL
    treated = np.arange(n) < N_TREATED
    peak = np.where(treated, rng.lognormal(3, 1, n), np.nan)
    peak[3] = np.nan  # a treated patient without PK: counted out
    response = np.where(rng.random(n) < 0.3 + 0.4 * (np.nan_to_num(peak) > 20), "CR", rng.choice(["PR", "PD"], n))
    response = response.astype(object)
    response[5] = None  # not assessed: counted out of the ORR associations
    patients = pd.DataFrame(
        {
            "arm": np.where(treated, "treated", "control"),
            "efs.time": rng.exponential(12, n) + 0.1,
            "efs.event": (rng.random(n) < 0.7).astype(int),
            "cd19": rng.normal(100, 30, n),
            "peak": peak,
            "crs": np.where(treated, (rng.random(n) < 0.2).astype(float), np.nan),
            "best_response": response,
        },
        index=pd.Index([f"P{i:03d}" for i in range(n)], name="id"),
    )
    return Cohort(patients, ("efs",), biomarkers=("cd19",), product=("peak", "crs"), responses=("best_response",))


def _config(product: dict, landmarks=(6.0,)):
    data = {"path": "x.csv", "id": "id", "arm": {"column": "arm", "treated": "t", "control": "c"}}
    data |= {"endpoints": {"efs": {"time": "t", "event": "e"}}, "biomarkers": ["cd19"], "product": ["peak", "crs"]}
    data["responses"] = ["best_response"]
    raw = {"data": data, "analysis": {"endpoint": "efs", "landmarks": list(landmarks)}, "product": product}
    return parse_config(raw, source="test")


def run(cohort, config):
    """The product analyses of a whole config, as ``tmesurv cox`` runs them."""
    analysis = config.analysis
    return product_analyses(cohort, config.product, analysis.endpoint, analysis, analysis.landmarks, analysis.km_ci)


ASSOCIATIONS = {"attributes": ["peak"], "outcomes": {"orr": {"column": "best_response", "levels": ["CR", "PR"]}}}


def test_associations_match_direct_tests_and_iqr_rescaling(cohort):
    config = _config(ASSOCIATIONS | {"outcomes": ASSOCIATIONS["outcomes"] | {"crs": "crs"}})
    results = run(cohort, config)
    table = results.tables["product_associations"].set_index("outcome")
    treated = cohort.patients.iloc[:N_TREATED]
    for outcome, y in {
        "orr": treated["best_response"].isin(["CR", "PR"]).astype(float).where(treated["best_response"].notna()),
        "crs": treated["crs"],
    }.items():
        keep = treated["peak"].notna() & y.notna()
        x, y = treated.loc[keep, "peak"].to_numpy(), y[keep].to_numpy()
        row = table.loc[outcome]
        assert (row["n"], row["events"]) == (keep.sum(), y.sum())
        normal = stats.mannwhitneyu(x[y == 1], x[y == 0], method="asymptotic")  # ties none, groups >= 50: R's normal
        assert row["wilcoxon_p"] == pytest.approx(normal.pvalue, rel=1e-12)
        iqr = np.subtract(*np.percentile(x, [75, 25]))
        per_iqr = Logit(y, np.column_stack([np.ones_like(x), x / iqr])).fit(disp=0, tol=1e-12)
        assert row["or_per_iqr"] == pytest.approx(np.exp(per_iqr.params[1]), rel=1e-6)
        assert row["or_per_iqr_lower"] == pytest.approx(np.exp(per_iqr.conf_int()[1, 0]), rel=1e-6)
    p = table["logistic_p"].to_numpy()  # BH over two tests: the larger P stays, the smaller is min(2 p, larger)
    expected = np.where(p == p.max(), p.max(), np.minimum(2 * p, p.max()))
    assert table["logistic_q"].to_numpy() == pytest.approx(expected, rel=1e-12)
    reasons = {(e.analysis, e.reason): e.ids for e in results.exclusions}
    assert reasons[("product attribute peak", "missing peak")] == ("P003",)
    assert reasons[("product outcome orr", "missing best_response")] == ("P005",)


def test_an_outcome_column_that_is_not_0_1_is_an_input_error(cohort):
    bad = cohort.patients.copy()
    bad.loc["P007", "crs"] = 2.0
    broken = Cohort(bad, ("efs",), biomarkers=("cd19",), product=("peak", "crs"))
    with pytest.raises(InputError, match=r"column 'crs', row P007 \(ids\): a product outcome without levels"):
        run(broken, _config({"attributes": ["peak"], "outcomes": {"crs": "crs"}}))


def test_subgroups_count_groups_and_match_independent_km_logrank_and_cox(cohort):
    config = _config({"attributes": ["peak"], "subgroups": [{"attribute": "peak", "biomarker": "cd19"}]})
    results = run(cohort, config)
    table = results.tables["product_subgroups"]
    patients = cohort.patients
    cd19_high = patients["cd19"] > patients["cd19"].median()  # the analysis cut: median over both arms
    treated = patients.iloc[:N_TREATED].dropna(subset=["peak"])
    group = np.where(treated["peak"] > treated["peak"].median(), "high", "low")
    group = pd.Series(group, index=treated.index) + "/" + np.where(cd19_high[treated.index], "high", "low")
    time, event = treated["efs.time"].to_numpy(), treated["efs.event"].to_numpy()
    medians = table[table["statistic"] == "median"].set_index("group")
    for level in ["low/low", "low/high", "high/low", "high/high"]:
        inside = (group == level).to_numpy()
        assert medians.loc[level, "n"] == inside.sum()
        assert medians.loc[level, "events"] == event[inside].sum()
        curve = SurvfuncRight(time[inside], event[inside])
        assert medians.loc[level, "estimate"] == pytest.approx(curve.quantile(0.5), rel=1e-12)
    chisq, p = survdiff(time, event, group.to_numpy())
    logrank = table[table["statistic"] == "logrank"].iloc[0]
    assert (logrank["estimate"], logrank["p"], logrank["df"]) == (pytest.approx(chisq), pytest.approx(p), 3)
    levels = ["low/high", "high/low", "high/high"]
    design = np.column_stack([(group == level).to_numpy(float) for level in levels])
    cox = PHReg(time, design, status=event, ties="efron").fit()
    hazard_ratios = table[table["statistic"] == "hr_vs_low/low"].set_index("group")
    assert hazard_ratios.loc[levels, "estimate"].to_numpy() == pytest.approx(np.exp(cox.params), rel=1e-6)
    assert hazard_ratios.loc[levels, "p"].to_numpy() == pytest.approx(cox.pvalues, rel=1e-5)
    assert set(results.curves) == {"peak/cd19"}
