"""Model terms with stored transformations: rcs knots and basis equal R's rms::rcs, log, clip, factor dummies.

References: ``Rscript tests/reference/model_terms.R`` writes ``model_terms_rcs_*.csv`` (from the repository root).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tmesurv.errors import InputError
from tmesurv.models.prediction.transforms import ModelTerms, hmisc_knots, parse_term, rcs_basis

REFERENCE = Path(__file__).parents[2] / "reference"
DATA = pd.read_csv(REFERENCE / "model_terms_rcs_data.csv")
KNOTS = pd.read_csv(REFERENCE / "model_terms_rcs_knots.csv")
BASIS = pd.read_csv(REFERENCE / "model_terms_rcs_basis.csv")
CASES = sorted(set(zip(KNOTS["case"], KNOTS["k"], strict=True)))


def values_of(case: str) -> np.ndarray:
    return DATA[case].dropna().to_numpy(dtype=float)


@pytest.mark.parametrize(("case", "k"), CASES)
def test_knots_equal_rms_rcs(case, k):
    expected = KNOTS[(KNOTS["case"] == case) & (KNOTS["k"] == k)].sort_values("knot")["value"].to_numpy()
    np.testing.assert_allclose(hmisc_knots(values_of(case), k), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize(("case", "k"), CASES)
def test_basis_equals_rms_rcs(case, k):
    reference = BASIS[(BASIS["case"] == case) & (BASIS["k"] == k)]
    by_column = reference.groupby("column")
    columns = [frame.sort_values("row")["value"] for _, frame in by_column]
    expected = np.column_stack(columns)
    basis = rcs_basis(values_of(case), hmisc_knots(values_of(case), k))
    np.testing.assert_allclose(basis, expected, rtol=1e-12, atol=1e-13)


def test_knot_rules_are_exercised():
    """The reference cases hit Hmisc's special rules: a common end value, fewer than 100 values, few values."""
    tied = hmisc_knots(values_of("tied_low"), 4)
    assert tied[0] == np.sort(np.unique(values_of("tied_low")))[1]  # the next value above the common 0
    small = np.sort(values_of("small"))
    assert hmisc_knots(small, 3)[[0, -1]].tolist() == [small[4], small[-5]]
    assert hmisc_knots(values_of("few"), 4).tolist() == [2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("text", "canonical", "source"),
    [
        ("age", "age", "age"),
        ("rcs( age ,4)", "rcs(age, 4)", "age"),
        ("rcs(log(clip(er, 1, 2e3)), 3)", "rcs(log(clip(er, 1, 2000)), 3)", "er"),
        ("clip(x, -1.5, 2)", "clip(x, -1.5, 2)", "x"),
        ("factor(grade, ref=3)", 'factor(grade, ref="3")', "grade"),
        ('log("CD19 score")', 'log("CD19 score")', "CD19 score"),
    ],
)
def test_terms_are_read_into_one_spelling(text, canonical, source):
    term = parse_term(text)
    assert (term.text, term.source) == (canonical, source)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rcs(age, 2)", r"rcs\(x, k\) with k knots from 3 to 7"),
        ("clip(x, 3, 1)", "lo < hi"),
        ("exp(x)", "use log"),
        ("log(rcs(x, 3))", r"applies to a column, log\(\) or clip\(\)"),
        ("factor(log(x))", r"factor\(\) takes one column"),
        ("rcs(x, k)", "must be numbers"),
    ],
)
def test_unknown_or_malformed_terms_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_term(text)


def test_transformations_and_dummies_by_hand():
    development = pd.DataFrame(
        {"x": [0.5, 2.0, 8.0, 1.0], "g": ["b", "a", "c", "a"]}, index=pd.Index(["P1", "P2", "P3", "P4"], name="id")
    )
    terms = ModelTerms.parse(["log(x)", "clip(x, 1, 4)", "factor(g)", 'factor(g, ref="c")']).fit(development, "dev.csv")
    assert terms.inputs == ["x", "g=b", "g=c", "g=a"]
    assert terms.columns == ["log(x)", "clip(x, 1, 4)", "g=b", "g=c", "g=a", "g=b"]
    design = terms.design(terms.encode(development, "dev.csv"))
    np.testing.assert_allclose(design["log(x)"], np.log([0.5, 2.0, 8.0, 1.0]), rtol=1e-15)
    np.testing.assert_array_equal(design["clip(x, 1, 4)"], [1.0, 2.0, 4.0, 1.0])
    np.testing.assert_array_equal(design["g=a"], [0.0, 1.0, 0.0, 1.0])  # reference c: a is a dummy
    np.testing.assert_array_equal(design["g=c"], [0.0, 0.0, 1.0, 0.0])
    assert ModelTerms.from_json(terms.to_json()) == terms


def test_numeric_levels_are_one_level_whatever_their_type():
    development = pd.DataFrame({"grade": [2, 3, 3, 10]})
    terms = ModelTerms.parse(["factor(grade)"]).fit(development, "dev.csv")
    assert terms.terms[0].levels == ("2", "3", "10")  # numeric order, not text order
    external = pd.DataFrame({"grade": [3.0, np.nan, 10.0]}, index=["E1", "E2", "E3"])
    encoded = terms.encode(external, "ext.csv")
    np.testing.assert_array_equal(encoded["grade=3"], [1.0, np.nan, 0.0])


def test_unseen_level_is_an_error_naming_it():
    terms = ModelTerms.parse(["factor(grade)"]).fit(pd.DataFrame({"grade": [2, 3, 3]}), "dev.csv")
    external = pd.DataFrame({"grade": [2, 1, 3, 1]}, index=pd.Index(["E1", "E2", "E3", "E4"], name="id"))
    with pytest.raises(InputError, match=r"file 'ext.csv', column 'grade', patients E2, E4: level '1' of term "):
        terms.encode(external, "ext.csv")


def test_missing_source_column_and_undefined_log_are_errors():
    terms = ModelTerms.parse(["rcs(age, 3)", "log(nodes)"])
    frame = pd.DataFrame({"age": np.arange(10.0)}, index=[f"P{i}" for i in range(10)])
    with pytest.raises(InputError, match=r"file 'ext.csv' has no column 'nodes' for the model term 'log\(nodes\)'"):
        terms.encode(frame, "ext.csv")
    frame["nodes"] = [1.0, 0.0, *range(1, 9)]
    with pytest.raises(InputError, match=r"column 'nodes', patient P1: term 'log\(nodes\)' is not defined"):
        terms.encode(frame, "ext.csv")


def test_a_factor_needs_two_levels_and_a_known_reference():
    with pytest.raises(InputError, match="has 1 level"):
        ModelTerms.parse(["factor(g)"]).fit(pd.DataFrame({"g": ["a", "a"]}), "dev.csv")
    with pytest.raises(InputError, match="reference level 'z'"):
        ModelTerms.parse(['factor(g, ref="z")']).fit(pd.DataFrame({"g": ["a", "b"]}), "dev.csv")
