"""Shrinkage priors (regularised horseshoe, R2D2) and the many-biomarker interaction screen."""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from tmesurv.errors import InputError
from tmesurv.models.pwe.diagnostics import BFMI_MIN, ESS_MIN, RHAT_MAX
from tmesurv.models.pwe.model import build_pwe_model
from tmesurv.models.pwe.screen import SCREEN_COLUMNS, fit_interaction_screen
from tmesurv.models.pwe.settings import PweAnalysisSettings, PwePriors, PweSettings, SamplerSettings
from tmesurv.models.pwe.shrinkage import ShrinkagePrior, global_scale

# 1. the priors at fixed values, against the formulas of the module docstring

TIME = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 5.0, 12.0, 0.5])
EVENT = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0])
ARM = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0], dtype=float)
B1 = np.array([2.1, 3.5, 1.2, 4.4, 2.8, 3.3, 0.9, 5.1, 2.2, 3.0, 1.7, 4.0])
B2 = np.array([0.3, -1.2, 0.8, 0.1, -0.4, 1.9, -0.7, 0.2, 1.1, -1.5, 0.6, -0.2])
DESIGN = pd.DataFrame({"arm": ARM, "b1": B1, "b2": B2, "arm:b1": ARM * B1, "arm:b2": ARM * B2})
PRIORS = PwePriors(expected_interactions=0.5, slab_scale=1.5, slab_df=4.0, r2d2_mean=0.4, r2d2_precision=3.0)
SETTINGS = PweSettings(intervals=4, priors=PRIORS)
BASELINE = {
    "baseline_start": np.float64(-1.7),
    "random_walk_sd_log__": np.float64(np.log(0.8)),
    "baseline_steps_std": np.array([0.3, -0.9, 0.6]),
}
Z = np.array([0.7, -1.3])
FREE = np.array([0.4, -0.3, 0.25])


def derived(model, point, names):
    outputs = model.replace_rvs_by_values([model[name] for name in names])
    return model.compile_fn(outputs, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")(point)


def test_global_scale_is_piironen_vehtari():
    assert global_scale(2.0, 46, 254.0) == pytest.approx(2 / 44 / np.sqrt(254.0), rel=1e-12)
    with pytest.raises(InputError, match="expected_interactions"):
        global_scale(46.0, 46, 254.0)


@pytest.mark.parametrize("shrunk", [(3, 4), (1, 3)])  # trailing block, and a gather
def test_horseshoe_coefficients_at_a_point(shrunk):
    prior = ShrinkagePrior("horseshoe", shrunk, 5)
    model = build_pwe_model(TIME, EVENT, DESIGN, SETTINGS, coefficient_prior=prior)
    values = {"global_normal": 1.3, "global_ig": 0.6, "local_normal": [0.5, 2.0], "local_ig": [1.7, 0.4], "slab": 0.9}
    point = BASELINE | {
        "horseshoe_global_normal_log__": np.log(values["global_normal"]),
        "horseshoe_global_inverse_gamma_log__": np.log(values["global_ig"]),
        "horseshoe_local_normal_log__": np.log(values["local_normal"]),
        "horseshoe_local_inverse_gamma_log__": np.log(values["local_ig"]),
        "horseshoe_slab_log__": np.log(values["slab"]),
        "shrinkage_z": Z,
        "coef_free": FREE,
    }
    assert set(point) == set(model.initial_point())
    tau = 0.5 / 1.5 / np.sqrt(9) * values["global_normal"] * np.sqrt(values["global_ig"])
    local = np.array(values["local_normal"]) * np.sqrt(values["local_ig"])
    slab = 1.5**2 * values["slab"]
    sd = tau * np.sqrt(slab * local**2 / (slab + tau**2 * local**2))
    expected = np.empty(5)
    expected[list(shrunk)] = sd * Z
    expected[[j for j in range(5) if j not in shrunk]] = FREE
    coef_std, kappa = derived(model, point, ["coef_std", "kappa"])
    np.testing.assert_allclose(coef_std, expected, rtol=1e-12)
    np.testing.assert_allclose(kappa, 1 / (1 + 9 * sd**2), rtol=1e-12)


@pytest.mark.parametrize("local_df", [1.0, 3.0])
def test_horseshoe_local_scales_are_half_student_t_with_local_df(local_df):
    """The local scale is ``HalfNormal(1) * sqrt(InvGamma(df/2, df/2))``: the model's log density of the inverse gamma
    at two points against scipy's (their difference: PyTensor rounds the constant log Gamma(df/2) to float32), and the
    scale mixture against the half-Student-t density by quadrature."""
    priors = PRIORS.model_copy(update={"local_df": local_df})
    prior = ShrinkagePrior("horseshoe", (3, 4), 5)
    model = build_pwe_model(TIME, EVENT, DESIGN, PweSettings(intervals=4, priors=priors), coefficient_prior=prior)
    logp = model.compile_logp(vars=[model["horseshoe_local_inverse_gamma"]], jacobian=False)
    mixing = stats.invgamma(local_df / 2, scale=local_df / 2)
    values = [np.array([1.7, 0.4]), np.array([0.05, 9.0])]
    points = [model.initial_point() | {"horseshoe_local_inverse_gamma_log__": np.log(value)} for value in values]
    expected = mixing.logpdf(values[0]).sum() - mixing.logpdf(values[1]).sum()
    assert logp(points[0]) - logp(points[1]) == pytest.approx(expected, rel=1e-12)
    for scale in (0.3, 2.0):
        density = integrate.quad(lambda v, x=scale: stats.halfnorm.pdf(x / v**0.5) / v**0.5 * mixing.pdf(v), 0, np.inf)
        assert density[0] == pytest.approx(2 * stats.t(local_df).pdf(scale), rel=1e-7)


def test_r2d2_coefficients_at_a_point():
    model = build_pwe_model(TIME, EVENT, DESIGN, SETTINGS, coefficient_prior=ShrinkagePrior("r2d2", (3, 4), 5))
    gamma, r2 = np.array([0.2, 1.4]), 0.3
    point = BASELINE | {
        "r2d2_r2_logodds__": np.log(r2 / (1 - r2)),
        "r2d2_gamma_log__": np.log(gamma),
        "shrinkage_z": Z,
        "coef_free": FREE,
    }
    assert set(point) == set(model.initial_point())
    sd = np.sqrt(gamma / gamma.sum() * r2 / (1 - r2))
    coef_std, kappa = derived(model, point, ["coef_std", "kappa"])
    np.testing.assert_allclose(coef_std, [*FREE, *(sd * Z)], rtol=1e-12)
    np.testing.assert_allclose(kappa, 1 / (1 + 9 * sd**2), rtol=1e-12)


def test_shrinkage_prior_is_hashable_and_checks_positions():
    assert ShrinkagePrior("horseshoe", (3, 4), 5) == ShrinkagePrior("horseshoe", (3, 4), 5)
    assert len({ShrinkagePrior("horseshoe", (3, 4), 5), ShrinkagePrior("r2d2", (3, 4), 5)}) == 2
    with pytest.raises(ValueError, match="lie in"):
        ShrinkagePrior("horseshoe", (3, 5), 5)


# 2. the screen's input checks (no sampling)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"arm": ARM * 2}, "arm must be 0"),
        ({"biomarkers": pd.DataFrame({"b1": B1, "b2": np.full(12, 3.0)})}, "b2 are constant"),
        ({"biomarkers": pd.DataFrame({"b1": B1, "b2": ["x"] * 12})}, "not numeric"),
        ({"biomarkers": pd.DataFrame({"b1": B1, "arm": B2})}, "none called 'arm'"),
        ({"settings": PweSettings(priors=PwePriors(expected_interactions=2.0))}, "expected_interactions"),
    ],
)
def test_screen_rejects_bad_inputs(change, match):
    inputs = {"arm": ARM, "biomarkers": pd.DataFrame({"b1": B1, "b2": B2}), "settings": PweSettings()} | change
    with pytest.raises(InputError, match=match):
        fit_interaction_screen(
            TIME, EVENT, inputs["arm"], inputs["biomarkers"], inputs["settings"], SamplerSettings(), "horseshoe"
        )


# 3. a ZUMA-7-size screen: 359 patients, 46 biomarkers, two true interactions


BIOMARKERS, TRUE = 46, {"sig_00": -0.8, "sig_01": 0.7}  # interaction log HR per sd
MISSING = 15
SCREEN = PweSettings(intervals=4)
SCREEN_SAMPLER = SamplerSettings(draws=300, tune=300, chains=2, seed=3, target_accept=0.95)
# The horseshoe screen as tmesurv runs it by default (priors.local_df 3): 4 chains of 1,000 draws after 1,000 tuning
# steps at bayes.screen_target_accept. benchmarks/bench_horseshoe_screen.py has the seeds and forms measured.
HORSESHOE_SAMPLER = SamplerSettings(seed=3, target_accept=PweAnalysisSettings().screen_target_accept)


def simulate_screen(seed: int, n: int = 359) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """Exponential EFS (0.06 / month), arm log HR -0.5, three prognostic biomarkers, two predictive ones.

    ``MISSING`` patients miss one biomarker each (as assays fail in a real trial).
    """
    rng = np.random.default_rng(seed)
    arm = (np.arange(n) % 2).astype(float)
    x = rng.standard_normal((n, BIOMARKERS))
    names = [f"sig_{j:02d}" for j in range(BIOMARKERS)]
    main = np.zeros(BIOMARKERS)
    main[[2, 5, 9]] = [0.3, -0.25, 0.2]
    interaction = np.array([TRUE.get(name, 0.0) for name in names])
    eta = -0.5 * arm + x @ main + arm * (x @ interaction)
    event_time = rng.exponential(size=n) / (0.06 * np.exp(eta))
    censor = rng.uniform(12, 48, n)
    biomarkers = pd.DataFrame(x, columns=names)
    rows = rng.choice(n, MISSING, replace=False)
    for row, column in zip(rows, rng.integers(0, BIOMARKERS, MISSING), strict=True):
        biomarkers.iloc[row, column] = np.nan
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), arm, biomarkers


@pytest.fixture(scope="module")
def cohort():
    return simulate_screen(1)


@pytest.fixture(scope="module")
def horseshoe(cohort):
    return fit_interaction_screen(*cohort, SCREEN, HORSESHOE_SAMPLER, "horseshoe")


@pytest.fixture(scope="module")
def independent(cohort):
    return fit_interaction_screen(*cohort, SCREEN, SCREEN_SAMPLER, "normal")


@pytest.mark.slow
@pytest.mark.sampling
def test_zuma7_size_screen_converges_and_reports_its_diagnostics(horseshoe):
    table, found = horseshoe.table, horseshoe.diagnostics
    assert list(table.columns) == SCREEN_COLUMNS
    assert len(table) == BIOMARKERS
    assert found["n"] == 359 - MISSING
    assert found["excluded"] == MISSING
    assert (table["n"] == 359 - MISSING).all()
    assert (table["divergences"] == found["divergences"]).all()
    assert table.attrs["divergences"] == found["divergences"]
    assert found["global_scale"] == pytest.approx(2 / 44 / np.sqrt(found["events"]))
    assert horseshoe.notes[0] == "15 patients with a missing biomarker were left out (complete cases)"
    # The project's convergence rule, applied here independently: the default screen converges on this fixture, and
    # says so (no NOT CONVERGED note).
    assert found["divergences"] == 0, found
    assert found["max_treedepth"] == 0, found
    assert found["r_hat_max"] < RHAT_MAX, found
    assert found["ess_min"] >= ESS_MIN, found
    assert found["bfmi_min"] >= BFMI_MIN, found
    assert found["converged"], found
    assert table["converged"].all()
    assert not [note for note in horseshoe.notes if "NOT CONVERGED" in note], horseshoe.notes


@pytest.mark.slow
@pytest.mark.sampling
def test_horseshoe_screen_finds_the_true_interactions_and_shrinks_the_nulls(horseshoe):
    """Against the simulated truth, on the converged fit: each true interaction (-0.8, 0.7 per sd) inside its 95%
    interval, within 3 posterior sds, its interval on the right side of 1, and shrunk less than every null (a smaller
    shrinkage factor kappa, below 0.1); every null within 3 posterior sds of 0, none excluding 1, and shrunk more than
    halfway to 0 for most (median kappa above one half). The benchmark's local_df 3 fits (seeds 1-5) gave true
    means -0.78 to -0.80 and 0.72 to 0.73 (posterior sd 0.17), kappa 0.050-0.058 (true) and a median of 0.59-0.60
    (nulls): the bounds hold with margins many Monte Carlo standard errors wide."""
    shrunk = horseshoe.table.set_index("biomarker")
    nulls = [name for name in shrunk.index if name not in TRUE]
    truth = pd.Series(TRUE).reindex(shrunk.index, fill_value=0.0)
    assert ((shrunk["mean"] - truth).abs() < 3 * shrunk["sd"]).all(), shrunk[["mean", "sd"]]
    true_hr = np.exp(pd.Series(TRUE))
    assert ((shrunk.loc[list(TRUE), "hr_lower"] < true_hr) & (true_hr < shrunk.loc[list(TRUE), "hr_upper"])).all()
    assert shrunk.loc["sig_00", "hr_upper"] < 1
    assert shrunk.loc["sig_01", "hr_lower"] > 1
    assert not ((shrunk["hr_upper"] < 1) | (shrunk["hr_lower"] > 1))[nulls].any()
    assert (shrunk.loc[list(TRUE), "kappa"] < 0.1).all()
    assert shrunk.loc[list(TRUE), "kappa"].max() < shrunk.loc[nulls, "kappa"].min()
    assert shrunk.loc[nulls, "kappa"].median() > 0.5


@pytest.mark.slow
@pytest.mark.sampling
def test_horseshoe_shrinks_the_nulls_more_than_independent_normals(horseshoe, independent):
    """The nulls' mean |estimate| below 0.3 of the unshrunk one (0.044 against 0.18, five seeds 0.043-0.045) and the
    largest below half the unshrunk largest (0.14-0.15 against 0.47)."""
    shrunk, free = (fit.table.set_index("biomarker") for fit in (horseshoe, independent))
    nulls = [name for name in shrunk.index if name not in TRUE]
    assert shrunk["mean"][nulls].abs().mean() < 0.3 * free["mean"][nulls].abs().mean()
    assert shrunk["mean"][nulls].abs().max() < 0.5 * free["mean"][nulls].abs().max()
    assert free["kappa"].isna().all()


@pytest.mark.slow
@pytest.mark.sampling
def test_r2d2_shrinks_the_nulls_and_finds_the_true_interactions(cohort, independent):
    screen = fit_interaction_screen(*cohort, SCREEN, SCREEN_SAMPLER, "r2d2")
    shrunk, free = screen.table.set_index("biomarker"), independent.table.set_index("biomarker")
    nulls = [name for name in shrunk.index if name not in TRUE]
    print(shrunk["mean"][nulls].abs().mean(), free["mean"][nulls].abs().mean(), screen.diagnostics)
    assert shrunk["mean"][nulls].abs().mean() < 0.6 * free["mean"][nulls].abs().mean()
    assert shrunk.loc["sig_00", "hr_upper"] < 1
    assert shrunk.loc["sig_01", "hr_lower"] > 1
    assert np.isnan(screen.diagnostics["global_scale"])
