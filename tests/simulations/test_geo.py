"""A simulated GEO series (GSE248835 layout) gives the same analyses as the same cohort read from CSV."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tmesurv.cli import app
from tmesurv.cohort import Cohort
from tmesurv.readers.geo import read_series_matrix
from tmesurv.signatures import B_CELL_GENES
from tmesurv.simulations.biomarkers import SIGNATURE_NAMES
from tmesurv.simulations.geo import hscore_percentages, signature_title
from tmesurv.simulations.scenario import analysis_config, load_scenario
from tmesurv.simulations.trial import simulate_trial

SEED = 5
TINY_BAYES = {"intervals": 4, "draws": 20, "tune": 20, "chains": 1, "seed": 11, "biomarkers": ["b_cell_ges"]}
GENES = load_scenario("zuma7").biomarkers.model_copy(update={"genes": True})
PUBLISHED = Path(__file__).parents[1] / "reference" / "zuma7_published.yaml"  # copy of the shared published figures


def _run(arguments: list[str]) -> None:
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output


def _csv_reference(folder: Path) -> Path:
    """The simulated export restricted to the patients with expression (GEO has samples of those only), with the
    B cell signature centred at its mean over them by hand (the derived score is centred)."""
    export = simulate_trial(load_scenario("zuma7"), seed=SEED).to_frame()
    export = export[export["b_cell_ges"].notna()].copy()
    export["b_cell_ges"] -= export["b_cell_ges"].mean()
    export.to_csv(folder / "cohort.csv", index=False)
    config = analysis_config(load_scenario("zuma7"), "cohort.csv", seed=SEED)
    (folder / "analysis.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder / "analysis.yaml"


def _fast(path: Path) -> Path:
    """The config with one biomarker of each derived kind (score, H-score, index), no screens, tiny Bayes."""
    config = yaml.safe_load(path.read_text())
    config["data"]["biomarkers"] = ["b_cell_ges", "cd19_hscore", "sii"]
    config["analysis"] |= {"combined_subgroups": [], "subgroup_covariates": [], "cutpoints": {}}
    config.pop("screens")
    config["bayes"] = TINY_BAYES
    fast = path.with_name("fast.yaml")
    fast.write_text(yaml.safe_dump(config, sort_keys=False))
    return fast


@pytest.fixture(scope="module")
def configs(tmp_path_factory) -> tuple[Path, Path]:
    """The config of the simulated GEO series (as written by simulate) and of the CSV reference."""
    folder = tmp_path_factory.mktemp("geo")
    _run(["simulate", "zuma7", "--format", "geo", "--seed", str(SEED), "--out", str(folder / "geo")])
    (folder / "csv").mkdir()
    return folder / "geo" / "analysis.yaml", _csv_reference(folder / "csv")


@pytest.fixture(scope="module")
def runs(configs: tuple[Path, Path]) -> tuple[Path, Path]:
    """cox and bayes on the GEO series and on the CSV reference; the two result folders."""
    outs = tuple(config.parent / "out" for config in configs)
    for config, out in zip(configs, outs, strict=True):
        for command in ("cox", "bayes"):
            _run([command, str(_fast(config)), "--out", str(out)])
    return outs


def test_geo_cohort_is_the_csv_cohort(configs: tuple[Path, Path]):
    geo, csv = (Cohort.from_config(config) for config in configs)
    assert geo.features == csv.features
    assert geo.biomarkers == csv.biomarkers
    pd.testing.assert_frame_equal(geo.patients, csv.patients, rtol=1e-12, atol=1e-12)
    trial = simulate_trial(load_scenario("zuma7").model_copy(update={"biomarkers": GENES}), seed=SEED)
    genes = trial.genes.set_axis(trial.columns["subject_id"], axis=1).dropna(axis=1)
    pd.testing.assert_frame_equal(geo.expression, genes, check_names=False)


@pytest.mark.sampling
@pytest.mark.parametrize("table", ["cox.csv", "interactions.csv", "bayes.csv"])
def test_geo_series_gives_the_csv_results(runs: tuple[Path, Path], table: str):
    geo, csv = (pd.read_csv(folder / table) for folder in runs)
    pd.testing.assert_frame_equal(geo, csv, rtol=1e-7)


@pytest.mark.sampling
def test_geo_run_counts_the_samples_of_other_visits(runs: tuple[Path, Path]):
    exclusions = pd.read_csv(runs[0] / "exclusions.csv")
    visits = exclusions[exclusions["analysis"] == "GEO samples"]
    expressed = simulate_trial(load_scenario("zuma7"), seed=SEED).to_frame()["b_cell_ges"].notna().sum()
    assert list(visits["count"]) == [len(range(0, expressed, 10))]  # every tenth patient has a progression sample
    assert list(visits["unit"]) == ["samples"]


def test_series_matrix_has_the_gse248835_layout(tmp_path: Path):
    _run(["simulate", "zuma7", "--format", "geo", "--seed", str(SEED), "--out", str(tmp_path)])
    matrix = read_series_matrix(tmp_path / "series_matrix.txt.gz")
    for key in ("treatment arm", "event.free.survival.months", "event.free.survival.event", "cell of origin",
                "duration.of.response.months", "duration.of.response.event", "ongoing.response",
                "baseline tumor burden (spd)", "grade3_crs", "grade3_ne", "visit"):  # fmt: skip
        assert key in matrix.samples.columns
    platform = pd.read_csv(tmp_path / "platform.txt", sep="\t").set_index("ID")
    assert (platform.loc[matrix.table.index, "Analyte Type"] == "IO360 Signature").sum() == len(SIGNATURE_NAMES)
    assert set(platform.loc[platform["Analyte Type"] == "mRNA", "ORF"]) == set(B_CELL_GENES)


def test_b_cell_gene_set_is_the_published_one():
    published = yaml.safe_load(PUBLISHED.read_text())["biomarker_cohort"]["b_cell_signature_genes"]
    assert tuple(published) == B_CELL_GENES


@pytest.mark.parametrize("hscore", [0.0, 4.0, 100.0, 137.0, 200.0, 251.0, 300.0])
def test_hscore_percentages_give_the_hscore(hscore: float):
    first, second, third = hscore_percentages(np.array([hscore]))[:, 0]
    assert 1 * first + 2 * second + 3 * third == hscore
    assert min(first, second, third) >= 0
    assert first + second + third <= 100


def test_signature_titles_come_back_as_the_column_names():
    from tmesurv.readers.geo import snake_case

    assert all("sig_" + snake_case(signature_title(name)) == name for name in SIGNATURE_NAMES)


def test_geo_format_writes_into_a_folder(tmp_path: Path):
    result = CliRunner().invoke(app, ["simulate", "zuma7", "--format", "geo", "--out", str(tmp_path / "trial.csv")])
    assert result.exit_code == 2
    assert "a GEO series is written into a folder" in result.output
