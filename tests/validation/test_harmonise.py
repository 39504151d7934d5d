"""Harmonisation of external terms onto the development distribution: z-score, quantile mapping, and what is kept."""

import numpy as np
import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.models.prediction.terms import TermDistribution
from tmesurv.validation.harmonise import HARMONISATION_COLUMNS, harmonisation_notes, harmonise, parse_methods

RNG = np.random.default_rng(8)
DEVELOPMENT = {"ges": RNG.standard_normal(400), "ldh": RNG.integers(0, 2, 400).astype(float)}
DISTRIBUTIONS = {term: TermDistribution.of(values) for term, values in DEVELOPMENT.items()}


def external(n: int = 300, shift: float = 3.0, scale: float = 2.0) -> pd.DataFrame:
    rng = np.random.default_rng(9)
    return pd.DataFrame({"ges": scale * rng.standard_normal(n) + shift, "ldh": rng.integers(0, 2, n).astype(float)})


def test_zscore_gives_the_development_mean_and_sd():
    harmonised, table = harmonise(external(), DISTRIBUTIONS, {"ges": "zscore", "ldh": "zscore"})
    assert table.columns.tolist() == HARMONISATION_COLUMNS
    ges = table.set_index("term").loc["ges"]
    assert harmonised["ges"].mean() == pytest.approx(DEVELOPMENT["ges"].mean(), abs=1e-12)
    assert harmonised["ges"].std(ddof=1) == pytest.approx(DEVELOPMENT["ges"].std(ddof=1), rel=1e-12)
    assert ges["external_mean_after"] == pytest.approx(ges["development_mean"], abs=1e-12)
    assert ges["external_sd_after"] == pytest.approx(ges["development_sd"], rel=1e-12)
    assert ges["external_mean_before"] == pytest.approx(external()["ges"].mean(), rel=1e-12)
    # ranks are kept: a z-score is an increasing linear map
    np.testing.assert_array_equal(np.argsort(harmonised["ges"]), np.argsort(external()["ges"]))


def test_two_level_term_is_kept_as_coded():
    harmonised, table = harmonise(external(), DISTRIBUTIONS, {"ges": "none", "ldh": "quantile"})
    ldh = table.set_index("term").loc["ldh"]
    assert (ldh["method"], ldh["note"]) == ("none", "two-level term (0/1): kept as coded")
    pd.testing.assert_series_equal(harmonised["ldh"], external()["ldh"])


def test_quantile_mapping_recovers_the_development_values_of_a_rescaled_sample():
    values = DEVELOPMENT["ges"]
    rescaled = pd.DataFrame({"ges": np.exp(values), "ldh": DEVELOPMENT["ldh"]})  # same sample, monotone transform
    harmonised, _ = harmonise(rescaled, DISTRIBUTIONS, {"ges": "quantile"})
    # each value goes to the development quantile at its mid-rank level, interpolated on the 1% grid
    level = (np.argsort(np.argsort(values)) + 0.5) / values.size
    grid = np.interp(level, np.linspace(0, 1, 101), DISTRIBUTIONS["ges"].quantiles)
    np.testing.assert_allclose(harmonised["ges"], grid, rtol=1e-12)
    bulk = (level > 0.05) & (level < 0.95)  # where the grid is dense, close to the exact development quantile
    np.testing.assert_allclose(harmonised["ges"][bulk], np.quantile(values, level[bulk]), atol=0.05)
    assert harmonised["ges"].mean() == pytest.approx(values.mean(), abs=0.01)


def test_ties_share_a_level():
    ties = pd.DataFrame({"ges": [1.0, 2.0, 2.0, 3.0], "ldh": [0.0, 1.0, 0.0, 1.0]})
    harmonised, _ = harmonise(ties, DISTRIBUTIONS, {"ges": "quantile"})
    assert harmonised["ges"].iloc[1] == harmonised["ges"].iloc[2]
    expected = np.interp([0.125, 0.5, 0.5, 0.875], np.linspace(0, 1, 101), DISTRIBUTIONS["ges"].quantiles)
    np.testing.assert_allclose(harmonised["ges"], expected, rtol=1e-12)


def test_constant_external_term_is_kept():
    constant = external().assign(ges=2.0)
    harmonised, table = harmonise(constant, DISTRIBUTIONS, {"ges": "zscore"})
    assert table.set_index("term").loc["ges", "method"] == "none"
    assert (harmonised["ges"] == 2.0).all()


def test_none_flags_a_term_on_another_scale():
    _, table = harmonise(external(), DISTRIBUTIONS, {"ges": "none"})
    assert "use --harmonise zscore or quantile" in table.set_index("term").loc["ges", "note"]
    _, same = harmonise(external(shift=0.0, scale=1.0), DISTRIBUTIONS, {"ges": "none"})
    assert same.set_index("term").loc["ges", "note"] == ""
    lines = harmonisation_notes(table)
    assert lines[0].startswith("ges: none (development mean")


def test_parse_methods():
    assert parse_methods([], ["a", "b"]) == {"a": "none", "b": "none"}
    assert parse_methods(["zscore", "b=quantile"], ["a", "b"]) == {"a": "zscore", "b": "quantile"}
    assert parse_methods(["b=quantile", "none"], ["a", "b"]) == {"a": "none", "b": "none"}
    with pytest.raises(InputError, match=r"--harmonise 'rank': unknown method 'rank'; use one of none, zscore"):
        parse_methods(["rank"], ["a"])
    with pytest.raises(InputError, match=r"--harmonise 'c=zscore': 'c' is not a model term \(a, b\)"):
        parse_methods(["c=zscore"], ["a", "b"])
