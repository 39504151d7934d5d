"""``tmesurv validate --harmonise b_cell_ges=rederive`` end to end, on simulated trials with B cell genes.

Development derives ``b_cell_ges`` from the ZUMA-7 B cell set (``data.derive.signatures``) on a panel without PNOC;
the external cohort measures it on another scale, has a panel without FAM30A and no sample for 12 patients. The
re-derived validation must equal a validation of the same patients whose ``b_cell_ges`` is computed by hand with
numpy (the seven genes both panels have, each centred over the external patients with a sample).
"""

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.signatures import B_CELL_GENES

WITHOUT_SAMPLE = 12


def invoke(*arguments) -> object:
    return CliRunner().invoke(app, [str(argument) for argument in arguments])


def genes(export: pd.DataFrame, seed: int, absent: str) -> pd.DataFrame:
    """log2 B cell genes (genes x patients) whose mean follows ``b_cell_ges``, each gene at its own level."""
    rng = np.random.default_rng(seed)
    ges = export["b_cell_ges"].to_numpy()
    levels = 6.0 + 0.5 * np.arange(len(B_CELL_GENES))[:, None]
    values = np.round(levels + ges + 0.3 * rng.standard_normal((len(B_CELL_GENES), ges.size)), 4)
    matrix = pd.DataFrame(values, index=pd.Index(B_CELL_GENES, name="gene"), columns=export["subject_id"])
    return matrix.drop(index=absent)


def write_with_genes(folder: Path, name: str, export: pd.DataFrame, matrix: pd.DataFrame, config: dict) -> Path:
    export.to_csv(folder / f"{name}.csv", index=False)
    matrix.to_csv(folder / f"{name}_genes.csv")
    config["data"]["expression"] = {"path": f"{name}_genes.csv"}
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(config))
    return folder / f"{name}.yaml"


@pytest.fixture(scope="module")
def studies(synthetic, tmp_path_factory) -> SimpleNamespace:
    """The development model, the external cohort with genes, and the hand-computed reference cohort."""
    folder = tmp_path_factory.mktemp("rederive")
    development = synthetic.trial(300, 1)
    config = synthetic.config("development.csv", validation_model=synthetic.interaction_model)
    config["data"]["derive"] = {"signatures": {"b_cell_ges": "zuma7_b_cell"}}
    dev_genes = genes(development, 11, absent="PNOC")
    write_with_genes(folder, "development", development.drop(columns="b_cell_ges"), dev_genes, config)
    result = invoke("cox", folder / "development.yaml", "--out", folder / "model")
    assert result.exit_code == 0, result.output

    external = synthetic.trial(240, 2, shift=3.0, scale=2.0)  # the measured score, on another scale
    matrix = genes(external.assign(b_cell_ges=(external["b_cell_ges"] - 3.0) / 2.0), 12, absent="FAM30A")
    matrix = matrix.iloc[:, WITHOUT_SAMPLE:]  # the first 12 patients have no sample
    external_config = write_with_genes(folder, "external", external, matrix, synthetic.config("external.csv"))

    used = matrix.drop(index="PNOC")  # the development set is the eight genes without PNOC; FAM30A is absent here
    by_hand = (used.sub(used.mean(axis=1), axis=0)).mean(axis=0)
    reference = external.iloc[WITHOUT_SAMPLE:].assign(b_cell_ges=by_hand.to_numpy())
    return SimpleNamespace(
        folder=folder,
        model=folder / "model",
        external=external_config,
        reference=synthetic.write(folder, "reference", reference),
        by_hand=by_hand,
        measured=external["b_cell_ges"].iloc[WITHOUT_SAMPLE:],
    )


@pytest.fixture(scope="module")
def rederived(studies) -> tuple[Path, object]:
    out = studies.folder / "rederived"
    options = ("--harmonise", "b_cell_ges=rederive", "--bootstrap", "0")
    return out, invoke("validate", studies.model, studies.external, "--out", out, *options)


def test_saved_model_carries_the_development_genes(studies):
    model = json.loads((studies.model / "validation_model.json").read_text())
    assert model["gene_sets"] == {"b_cell_ges": [gene for gene in B_CELL_GENES if gene != "PNOC"]}
    assert model["config"]["data"]["derive"]["signatures"] == {"b_cell_ges": "zuma7_b_cell"}


def test_rederived_validation_equals_the_hand_computed_score(studies, rederived):
    out, result = rederived
    assert result.exit_code == 0, result.output
    reference_out = studies.folder / "reference_out"
    reference = invoke("validate", studies.model, studies.reference, "--out", reference_out, "--bootstrap", "0")
    assert reference.exit_code == 0, reference.output
    table, expected = (pd.read_csv(folder / "validation.csv") for folder in (out, reference_out))
    pd.testing.assert_frame_equal(table, expected, rtol=1e-9)
    assert table["n"].iloc[0] == 240 - WITHOUT_SAMPLE


def test_harmonisation_says_what_was_done(studies, rederived):
    out, result = rederived
    row = pd.read_csv(out / "harmonisation.csv", keep_default_na=False).set_index("term").loc["b_cell_ges"]
    assert row["method"] == "rederive"
    assert row["note"] == (
        f"re-derived from 7 of its 8 development genes, each centred over the {240 - WITHOUT_SAMPLE} external "
        f"patients with expression; not in the external panel (scored without): FAM30A; {WITHOUT_SAMPLE} patients "
        "without a re-derived value excluded; replaces the external column 'b_cell_ges'"
    )
    assert row["external_mean_before"] == pytest.approx(studies.measured.mean(), rel=1e-12)
    assert row["external_mean_after"] == pytest.approx(studies.by_hand.mean(), abs=1e-12)
    assert row["external_sd_after"] == pytest.approx(studies.by_hand.std(ddof=1), rel=1e-12)
    assert "harmonised b_cell_ges: rederive (development mean" in result.output
    assert "not in the external panel (scored without): FAM30A" in result.output
    settings = json.loads((out / "validation_settings.json").read_text())
    assert settings["harmonise"]["b_cell_ges"] == "rederive"


def test_patients_without_expression_are_counted(rederived):
    out, result = rederived
    exclusions = pd.read_csv(out / "exclusions.csv")
    assert exclusions[["analysis", "reason", "count"]].to_dict("records") == [
        {"analysis": "validation", "reason": "no expression sample, needed to re-derive b_cell_ges", "count": 12}
    ]
    assert exclusions["ids"].iloc[0] == ";".join(f"P2-{i:04d}" for i in range(WITHOUT_SAMPLE))
    assert (
        f"excluded: {WITHOUT_SAMPLE} patients (no expression sample, needed to re-derive b_cell_ges)" in result.output
    )


def test_default_keeps_the_measured_score_and_suggests_rederive(studies):
    out = studies.folder / "default"
    result = invoke("validate", studies.model, studies.external, "--out", out, "--bootstrap", "0")
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out / "harmonisation.csv", keep_default_na=False).set_index("term").loc["b_cell_ges"]
    assert row["method"] == "none"
    assert row["note"].startswith(
        "derived from a gene set in development and the external cohort has expression: "
        "--harmonise b_cell_ges=rederive recomputes it from the genes; external mean is"
    )
    assert pd.read_csv(out / "validation.csv")["n"].iloc[0] == 240
