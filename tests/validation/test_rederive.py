"""Re-deriving a gene-set term on an external cohort (``--harmonise TERM=rederive``) on a hand-written matrix.

Expression (log2), genes x patients; P6 has no sample, P5 no value for B:

    gene  P1 P2 P3 P4 P5    mean   centred
    A      1  2  3  4  5    3      -2 -1  0  1  2
    B      2  2  4  4  -    3      -1 -1  1  1  -
    C      0  3  3  6  3    3      -3  0  0  3  0

The development set is A, B, C, D (D is not in the external panel), so the re-derived score is the mean of the
centred A, B, C: P1 -2, P2 -2/3, P3 1/3, P4 5/3; P5 and P6 have none.
"""

import numpy as np
import pandas as pd
import pytest

from tmesurv.cohort import Cohort
from tmesurv.errors import InputError
from tmesurv.models.prediction.terms import TermDistribution
from tmesurv.validation.harmonise import harmonisation_notes, harmonise
from tmesurv.validation.rederive import rederive_terms

IDS = ["P1", "P2", "P3", "P4", "P5", "P6"]
EXPRESSION = pd.DataFrame(
    [[1, 2, 3, 4, 5], [2, 2, 4, 4, np.nan], [0, 3, 3, 6, 3]], index=["A", "B", "C"], columns=IDS[:5], dtype=float
)
BY_HAND = pd.Series([-2.0, -2 / 3, 1 / 3, 5 / 3], index=IDS[:4])
GENE_SETS = {"sig": ("A", "B", "C", "D")}
MEASURED = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0]


def cohort(expression: pd.DataFrame | None = EXPRESSION, measured: bool = True) -> Cohort:
    patients = pd.DataFrame(
        {
            "arm": ["treated", "control"] * 3,
            "efs.time": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            "efs.event": [1.0, 0.0, 1.0, 1.0, 0.0, 1.0],
            "age": [50.0, 60.0, 70.0, 55.0, 65.0, 75.0],
        },
        index=pd.Index(IDS, name="id"),
    )
    if measured:
        patients["sig"] = MEASURED
    return Cohort(patients, ("efs",), biomarkers=("sig",), source="external.csv", expression=expression)


def test_rederived_score_equals_the_hand_computation():
    result = rederive_terms(cohort(), GENE_SETS, {"sig": "rederive", "age": "none"})
    pd.testing.assert_series_equal(result.cohort.patients["sig"], BY_HAND, check_names=False, rtol=1e-14)
    assert result.cohort.patients["age"].tolist() == [50.0, 60.0, 70.0, 55.0]
    pd.testing.assert_series_equal(result.measured["sig"], pd.Series(MEASURED, index=IDS), check_names=False)


def test_patients_without_a_score_are_counted_with_the_reason():
    result = rederive_terms(cohort(), GENE_SETS, {"sig": "rederive"})
    assert [(e.analysis, e.reason, e.ids) for e in result.exclusions] == [
        ("validation", "no expression sample, needed to re-derive sig", ("P6",)),
        ("validation", "a gene of sig's set has no value, so sig cannot be re-derived", ("P5",)),
    ]


def test_note_names_the_missing_genes_and_what_was_done():
    note = rederive_terms(cohort(), GENE_SETS, {"sig": "rederive"}).notes["sig"]
    assert note == (
        "re-derived from 3 of its 4 development genes, each centred over the 5 external patients with expression; "
        "not in the external panel (scored without): D; 2 patients without a re-derived value excluded; "
        "replaces the external column 'sig'"
    )


def test_harmonisation_row_describes_measured_and_rederived_values():
    result = rederive_terms(cohort(), GENE_SETS, {"sig": "rederive"})
    patients = result.cohort.patients
    development = {"sig": TermDistribution.of(np.array([-1.0, 0.0, 1.0]))}
    values, table = harmonise(
        patients[["sig"]], development, {"sig": "rederive"}, result.measured.reindex(patients.index), result.notes
    )
    pd.testing.assert_frame_equal(values, patients[["sig"]])  # kept as re-derived, not rescaled
    row = table.iloc[0]
    assert row["method"] == "rederive"
    # before: the measured column of the 4 patients scored (10..13); after: the re-derived scores
    assert (row["external_mean_before"], row["external_sd_before"]) == pytest.approx((11.5, np.sqrt(5 / 3)))
    assert row["external_mean_after"] == pytest.approx(-1 / 6, rel=1e-12)
    assert row["external_sd_after"] == pytest.approx(BY_HAND.std(ddof=1), rel=1e-12)
    assert row["note"].startswith("re-derived from 3 of its 4 development genes")
    assert harmonisation_notes(table)[0].startswith("sig: rederive (development mean 0, sd 1; external 11.5, 1.29 ->")


def test_unmeasured_term_is_described_as_not_measured():
    result = rederive_terms(cohort(measured=False), GENE_SETS, {"sig": "rederive"})
    patients = result.cohort.patients
    development = {"sig": TermDistribution.of(np.array([-1.0, 0.0, 1.0]))}
    _, table = harmonise(patients[["sig"]], development, {"sig": "rederive"}, result.measured.reindex(patients.index))
    assert np.isnan(table["external_mean_before"].iloc[0])
    assert "external not measured -> -0.167" in harmonisation_notes(table)[0]
    assert "replaces" not in result.notes["sig"]


def test_none_of_the_genes_in_the_panel_is_an_error_naming_term_and_genes():
    with pytest.raises(InputError, match=r"'sig' cannot be re-derived \(rederive\): none of its development genes "
                       r"\(X, Y\) is in the external expression panel"):  # fmt: skip
        rederive_terms(cohort(), {"sig": ("X", "Y")}, {"sig": "rederive"})


def test_term_not_derived_from_genes_cannot_be_rederived():
    with pytest.raises(InputError, match=r"--harmonise age=rederive: the model term 'age' was not derived from a gene"):
        rederive_terms(cohort(), GENE_SETS, {"sig": "none", "age": "rederive"})


def test_cohort_without_expression_cannot_rederive():
    with pytest.raises(InputError, match=r"file 'external.csv': --harmonise sig=rederive needs the external cohort's"):
        rederive_terms(cohort(expression=None), GENE_SETS, {"sig": "rederive"})


def test_default_stays_none_with_a_suggestion():
    result = rederive_terms(cohort(), GENE_SETS, {"sig": "none"})
    assert result.cohort.patients["sig"].tolist() == MEASURED
    assert result.exclusions == []
    assert result.notes == {"sig": "derived from a gene set in development and the external cohort has expression: "
                            "--harmonise sig=rederive recomputes it from the genes"}  # fmt: skip
    assert rederive_terms(cohort(expression=None), GENE_SETS, {"sig": "none"}).notes == {}


def test_missing_column_that_could_be_rederived_says_so():
    with pytest.raises(InputError, match=r"no column for the model term 'sig'.*--harmonise sig=rederive"):
        rederive_terms(cohort(measured=False), GENE_SETS, {"sig": "zscore"})
