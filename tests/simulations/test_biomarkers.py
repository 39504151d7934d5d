from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError
from scipy.stats import spearmanr

from tmesurv.signatures import B_CELL_GENES
from tmesurv.simulations.biomarkers import (
    CLUSTERS,
    COLUMNS,
    EXPRESSION_COLUMNS,
    LATENT_KEYS,
    SIGNATURE_NAMES,
    SIGNATURES,
    BiomarkerSpec,
    generate_biomarkers,
    latent_correlation_matrix,
)

N_LARGE = 50_000
ZUMA7_ARMS = np.r_[np.ones(180, dtype=int), np.zeros(179, dtype=int)]


@pytest.fixture(scope="module")
def spec() -> BiomarkerSpec:
    return BiomarkerSpec(genes=True)


@pytest.fixture(scope="module")
def large(spec):
    treated = np.random.default_rng(1).integers(0, 2, N_LARGE)
    return generate_biomarkers(np.random.default_rng(20180125), treated, spec)


def _share(values: np.ndarray, label: str) -> float:
    known = values[values != None]  # noqa: E711 - object arrays hold None for missing
    return float(np.mean(known == label))


def test_same_seed_same_cohort(spec):
    first = generate_biomarkers(np.random.default_rng(7), ZUMA7_ARMS, spec)
    second = generate_biomarkers(np.random.default_rng(7), ZUMA7_ARMS, spec)
    for name in COLUMNS:
        np.testing.assert_array_equal(first.columns[name], second.columns[name])
    for key in LATENT_KEYS:
        np.testing.assert_array_equal(first.latent[key], second.latent[key])
    assert first.genes.equals(second.genes)


def test_different_seed_different_cohort(spec):
    first = generate_biomarkers(np.random.default_rng(7), ZUMA7_ARMS, spec)
    second = generate_biomarkers(np.random.default_rng(8), ZUMA7_ARMS, spec)
    assert not np.array_equal(first.latent["bpi"], second.latent["bpi"])


def test_gene_matrix_does_not_change_the_cohort():
    with_genes = generate_biomarkers(np.random.default_rng(3), ZUMA7_ARMS, BiomarkerSpec(genes=True))
    without = generate_biomarkers(np.random.default_rng(3), ZUMA7_ARMS, BiomarkerSpec())
    assert without.genes is None
    for name in COLUMNS:
        np.testing.assert_array_equal(with_genes.columns[name], without.columns[name])


def test_keys_shapes_and_types(spec):
    draw = generate_biomarkers(np.random.default_rng(5), ZUMA7_ARMS, spec)
    assert tuple(draw.columns) == COLUMNS
    assert set(draw.latent) == set(LATENT_KEYS)
    assert len(SIGNATURE_NAMES) == 46
    assert all(values.shape == (359,) for values in [*draw.columns.values(), *draw.latent.values()])
    assert draw.genes.shape == (len(B_CELL_GENES), 359)
    for name in ("cell_of_origin", "hgbl", "biopsy_timing", "biopsy_line"):
        assert draw.columns[name].dtype == object
    assert draw.columns["b_cell_ges"].dtype == np.float64


def test_latent_never_missing_columns_missing_with_expression(large):
    assert all(np.isfinite(values).all() for values in large.latent.values())
    missing = np.isnan(large.columns["b_cell_ges"])
    for name in EXPRESSION_COLUMNS:
        np.testing.assert_array_equal(np.isnan(large.columns[name]), missing)
    np.testing.assert_array_equal(large.genes.isna().all(axis=0).to_numpy(), missing)
    assert not large.genes.loc[:, ~missing].isna().any().any()
    for name in ("cell_of_origin", "hgbl", "biopsy_timing", "biopsy_line"):
        assert np.all(large.columns[name][missing] == None)  # noqa: E711


def test_spd_ldh_spearman(large, spec):
    both = ~np.isnan(large.columns["spd_mm2"]) & ~np.isnan(large.columns["ldh_ul"])
    rho = spearmanr(large.columns["spd_mm2"][both], large.columns["ldh_ul"][both]).statistic
    assert abs(rho - spec.spd_ldh_spearman) < 0.02


def test_shares_match_settings(large, spec):
    columns = large.columns
    assert abs(np.mean(~np.isnan(columns["b_cell_ges"])) - spec.expression.available) < 0.01
    assert abs(_share(columns["cell_of_origin"], "GCB") - spec.cell_of_origin.gcb_share) < 0.01
    assert abs(_share(columns["hgbl"], "yes") - spec.hgbl.yes_share) < 0.01
    timing = _share(columns["biopsy_timing"], "initial_diagnosis")
    assert abs(timing - spec.biopsy_timing.initial_diagnosis_share) < 0.01
    assert abs(_share(columns["biopsy_line"], "first") - spec.biopsy_line.first_share) < 0.01
    assert abs(_share(columns["biopsy_line"], "second") - spec.biopsy_line.second_share) < 0.01
    assert abs(np.nanmean(columns["ldh_elevated"]) - spec.ldh.elevated_share) < 0.01
    assert abs(np.nanmean(columns["cd19_negative"]) - spec.cd19.negative_share) < 0.01
    assert abs(np.mean(~np.isnan(columns["spd_mm2"])) - spec.spd.measured) < 0.01
    assert abs(np.mean(~np.isnan(columns["ldh_ul"])) - spec.ldh.measured) < 0.01
    assert abs(np.mean(~np.isnan(columns["cd19_hscore"])) - spec.cd19.hscore_available) < 0.01
    with_expression = ~np.isnan(columns["b_cell_ges"])
    coo_known = np.mean(columns["cell_of_origin"][with_expression] != None)  # noqa: E711
    assert abs(coo_known - spec.cell_of_origin.known) < 0.01


def test_marginals(large, spec):
    columns = large.columns
    assert abs(np.nanmedian(columns["spd_mm2"]) / spec.spd.median_mm2 - 1) < 0.03
    hscore = columns["cd19_hscore"][~np.isnan(columns["cd19_hscore"])]
    assert hscore.min() >= 0
    assert hscore.max() <= 300
    np.testing.assert_array_equal(hscore, np.round(hscore))
    np.testing.assert_array_equal(
        columns["cd19_negative"], np.where(np.isnan(columns["cd19_hscore"]), np.nan, columns["cd19_hscore"] < 5)
    )
    elevated = np.where(np.isnan(columns["ldh_ul"]), np.nan, columns["ldh_ul"] > spec.ldh.upper_limit_of_normal)
    np.testing.assert_array_equal(columns["ldh_elevated"], elevated)


def test_within_cluster_correlation_exceeds_between(large):
    expressed = ~np.isnan(large.columns["b_cell_ges"])
    scores = np.vstack([large.columns[name][expressed] for name in SIGNATURE_NAMES])
    correlation = np.corrcoef(scores)
    membership = np.repeat(np.arange(len(CLUSTERS)), [len(SIGNATURES[cluster]) for cluster in CLUSTERS])
    same = membership[:, None] == membership[None, :]
    off_diagonal = ~np.eye(len(SIGNATURE_NAMES), dtype=bool)
    within = correlation[same & off_diagonal]
    between = correlation[~same]
    assert within.min() > between.max()
    assert abs(within.mean() - 0.65) < 0.02
    bpi, sii = (membership == 0), (membership == 1)
    assert correlation[np.ix_(bpi, sii)].mean() < -0.1


def test_latent_correlations(large, spec):
    empirical = np.corrcoef(np.vstack([large.latent[key] for key in LATENT_KEYS]))
    np.testing.assert_allclose(empirical, latent_correlation_matrix(spec).to_numpy(), atol=0.03)
    assert abs(np.corrcoef(large.latent["bpi"], large.latent["sii"])[0, 1] - (-0.3)) < 0.02
    assert abs(np.corrcoef(large.latent["b_cell_ges"], large.latent["cd19_gene"])[0, 1] - 0.6) < 0.02
    for key in LATENT_KEYS:
        assert abs(np.mean(large.latent[key])) < 0.03
        assert abs(np.std(large.latent[key]) - 1) < 0.03


def test_indices_are_root_mean_square_of_members(large, spec):
    for cluster in CLUSTERS:
        members = np.vstack([large.columns[name] for name in SIGNATURES[cluster]])
        expected = np.sqrt(np.mean(members**2, axis=0))
        np.testing.assert_allclose(large.columns[cluster], expected, rtol=0, atol=1e-12)


def test_indices_rise_with_their_cluster_factor(large):
    for cluster in CLUSTERS:
        present = ~np.isnan(large.columns[cluster])
        correlation = np.corrcoef(large.columns[cluster][present], large.latent[cluster][present])[0, 1]
        assert correlation > 0.9, (cluster, correlation)


def test_index_reference_setting():
    spec = BiomarkerSpec.model_validate({"expression": {"index_reference": 7.0}})
    draw = generate_biomarkers(np.random.default_rng(2), ZUMA7_ARMS, spec)
    members = np.vstack([draw.columns[name] for name in SIGNATURES["bpi"]])
    np.testing.assert_allclose(draw.columns["bpi"], np.sqrt(np.mean((members - 7) ** 2, axis=0)), rtol=0, atol=1e-12)


def test_b_cell_ges_is_mean_of_centred_genes(large, spec):
    centres = np.array([spec.gene_centres[gene] for gene in large.genes.index])[:, None]
    expected = (large.genes.to_numpy() - centres).mean(axis=0)
    np.testing.assert_allclose(large.columns["b_cell_ges"], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(large.genes.loc["CD19"].to_numpy(), large.columns["cd19_gene"], rtol=0, atol=1e-12)


def test_arm_specific_availability():
    spec = BiomarkerSpec.model_validate({"spd": {"measured": 1.0, "measured_control": 0.0}})
    draw = generate_biomarkers(np.random.default_rng(4), ZUMA7_ARMS, spec)
    np.testing.assert_array_equal(np.isnan(draw.columns["spd_mm2"]), ZUMA7_ARMS == 0)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"expression": {"available": 1.5}}, "expression.available"),
        ({"cell_of_origin": {"gcb_share": -0.1}}, "cell_of_origin.gcb_share"),
        ({"spd_ldh_spearman": 1.0}, "spd_ldh_spearman"),
        ({"biopsy_line": {"first_share": 0.6, "second_share": 0.6}}, "biopsy_line"),
        ({"expression": {"unknown_knob": 1}}, "expression.unknown_knob"),
        (
            {
                "expression": {
                    "between_clusters": {"bpi_sii": 0.9, "bpi_cluster3": 0.9, "sii_cluster3": -0.9},
                }
            },
            "expression.between_clusters",
        ),
    ],
)
def test_bad_spec_names_the_field(raw, field):
    with pytest.raises(ValidationError, match=field.replace(".", r"\.")):
        BiomarkerSpec.model_validate(raw)


def test_non_positive_definite_message():
    raw = {"expression": {"between_clusters": {"bpi_sii": 0.9, "bpi_cluster3": 0.9, "sii_cluster3": -0.9}}}
    with pytest.raises(ValidationError, match="positive definite"):
        BiomarkerSpec.model_validate(raw)


@pytest.mark.parametrize("treated", [np.array([0, 1, 2]), np.zeros((2, 2), dtype=int)])
def test_bad_treated(treated):
    with pytest.raises(ValueError, match="treated"):
        generate_biomarkers(np.random.default_rng(0), treated, BiomarkerSpec())
