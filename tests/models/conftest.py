"""Shared fixtures of the model tests."""

import numpy as np
import pandas as pd
import pytest

INTERACTION = -0.3  # the true arm x biomarker log HR of :func:`pwe_cohort`


def simulated_pwe_cohort(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Piecewise-constant baseline hazard, binary arm, a continuous biomarker and their interaction."""
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, n).astype(float)
    biomarker = rng.normal(1.0, 1.5, n)
    eta = -0.5 * arm + 0.2 * biomarker + INTERACTION * arm * biomarker
    # Baseline hazard 0.04 / month before month 6 and 0.08 after: invert the cumulative hazard.
    target = rng.exponential(size=n) / np.exp(eta)
    event_time = np.where(target < 0.24, target / 0.04, 6 + (target - 0.24) / 0.08)
    censor = rng.uniform(12, 36, n)
    design = pd.DataFrame({"arm": arm, "b_cell_ges": biomarker, "arm:b_cell_ges": arm * biomarker})
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), design


@pytest.fixture
def pwe_cohort():
    """:func:`simulated_pwe_cohort`: ``pwe_cohort(seed, n)`` gives time, event and the interaction design."""
    return simulated_pwe_cohort


def _value_point(model, point: dict) -> dict:
    """``point`` in the model's value space: standardised coefficients ``coef_std`` become ``coef_rotated``."""
    if "coef_std" not in point or "coef_rotated" not in model.initial_point():
        return point
    rotation = model["rotation"].get_value()
    rest = {name: value for name, value in point.items() if name != "coef_std"}
    return rest | {"coef_rotated": rotation.T @ point["coef_std"]}


def _likelihood_at(model, point: dict) -> float:
    (likelihood,) = model.replace_rvs_by_values([model["log_likelihood"]])
    function = model.compile_fn(likelihood, inputs=model.value_vars, point_fn=True, on_unused_input="ignore")
    return float(function(_value_point(model, point)))


@pytest.fixture
def likelihood_at():
    """``likelihood_at(model, point)``: the model's log-likelihood term (its potential) at a point given with
    ``coef_std`` (standardised coefficients) and the other free variables in their value space."""
    return _likelihood_at


@pytest.fixture
def value_point():
    """``value_point(model, point)``: a point with ``coef_std`` mapped to the sampled ``coef_rotated``."""
    return _value_point
