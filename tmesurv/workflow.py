"""What each subcommand does, from config file to result folder; the CLI only parses arguments and prints.

All inputs are read and validated before the first output is written, and every output is written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
import yaml

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.config import AnalysisConfig, load_config
from tmesurv.errors import InputError
from tmesurv.models.cox.analyses import cox_analyses
from tmesurv.models.cox.km import cohort_table, km_by_arm, logrank_table
from tmesurv.models.cox.subgroups import analysis_groupings, biomarker_table
from tmesurv.models.prediction.model import save_validation_model
from tmesurv.models.product.analyses import ProductResults, product_analyses
from tmesurv.models.screens.analyses import ScreenResults, screen_analyses
from tmesurv.outputs import record_run, write_atomically, write_table, write_text
from tmesurv.readers import read_cohort
from tmesurv.reports.figure_set import AnalysisTables, write_figure_set
from tmesurv.reports.product_figures import write_product_figures

if TYPE_CHECKING:
    from tmesurv.simulations.scenario import Scenario
    from tmesurv.validation.external import ValidationResults, ValidationSettings

EXCLUSION_COLUMNS = ["analysis", "reason", "count", "unit", "ids"]


@dataclass(frozen=True)
class LoadedStudy:
    """A validated config with its cohort."""

    config: AnalysisConfig
    config_path: Path
    cohort: Cohort

    def config_data(self) -> dict:
        """The config as plain data (for run records and saved fits)."""
        return self.config.model_dump(mode="json")


def load_study(config_path: Path, two_arms: bool = True) -> LoadedStudy:
    """Read and validate the config and the cohort it names.

    Parameters
    ----------
    config_path
        The analysis config.
    two_arms
        Refuse a single-arm cohort (``data.single_arm``): every analysis but external validation compares arms.
    """
    config, resolved = load_config(config_path)
    if two_arms and config.data.single_arm is not None:
        raise InputError(
            f"config file '{resolved}' describes a single-arm cohort (data.single_arm), but this command compares "
            "two randomized arms; a single-arm cohort is an external cohort for 'tmesurv validate'"
        )
    return LoadedStudy(config=config, config_path=resolved, cohort=read_cohort(config.data))


def exclusion_table(exclusions: list[Exclusion]) -> pd.DataFrame:
    """Exclusions as the rows of ``exclusions.csv`` (ids joined by ``;``)."""
    rows = [[e.analysis, e.reason, e.count, e.unit, ";".join(e.ids)] for e in exclusions]
    return pd.DataFrame(rows, columns=EXCLUSION_COLUMNS)


def run_cox(study: LoadedStudy, out_dir: Path) -> list[str]:
    """Kaplan-Meier, log-rank and Cox analyses, and the association screens when the config has ``screens``.

    Writes cohort, exclusions, km, km_curves, logrank, cox and interactions tables, one table per screen
    (see :func:`tmesurv.models.screens.analyses.screen_analyses`) and per product analysis (config ``product``, see
    :func:`tmesurv.models.product.analyses.product_analyses`), and the figures (PNG and SVG) into ``figures/``.

    Returns
    -------
    list[str]
        What the reader noticed (``Cohort.notes``) and notes on fits that could not be estimated (for the console).
    """
    cohort, analysis = study.cohort, study.config.analysis
    groupings = analysis_groupings(cohort, analysis)
    summary, curves = km_by_arm(cohort, analysis.endpoint, analysis.landmarks, analysis.km_ci, groupings)
    results = cox_analyses(cohort, analysis)
    screens = screen_analyses(cohort, study.config.screens) if study.config.screens else ScreenResults()
    exclusions = cohort.analysis_exclusions(analysis) + screens.exclusions
    exclusions += save_validation_model(cohort, study.config, out_dir, results.notes)  # config validation_model
    product = product_analyses(cohort, study.config) if study.config.product else ProductResults()
    exclusions += product.exclusions
    write_table(out_dir / "cohort.csv", cohort_table(cohort, analysis.endpoint))
    write_table(out_dir / "biomarkers.csv", biomarker_table(cohort))
    write_table(out_dir / "exclusions.csv", exclusion_table(exclusions))
    write_table(out_dir / "km.csv", summary)
    write_table(out_dir / "km_curves.csv", curves)
    write_table(out_dir / "logrank.csv", logrank_table(cohort, analysis.endpoint, groupings))
    write_table(out_dir / "cox.csv", results.table)
    write_table(out_dir / "interactions.csv", results.interactions)
    write_table(out_dir / "ph_test.csv", results.ph_test)
    write_table(out_dir / "ph_residuals.csv", results.ph_residuals)
    for name, table in [*screens.tables.items(), *product.tables.items()]:
        write_table(out_dir / f"{name}.csv", table)
    tables = {"cox": results.table, "interactions": results.interactions, "km_curves": curves, **screens.tables}
    linkage = None if screens.clusters is None else screens.clusters.linkage
    figure_tables = AnalysisTables(tables, tuple(grouping.name for grouping in groupings), linkage)
    write_figure_set(out_dir, cohort, study.config, figure_tables)
    treated_name = study.config.data.arm.treated if study.config.data.arm else "treated"
    write_product_figures(out_dir, product.curves, analysis.endpoint, treated_name)
    record_run(out_dir, "cox", study.config_data(), study.config_path)
    return [*cohort.notes, *results.notes, *screens.notes, *product.notes]


def run_bayes(study: LoadedStudy, out_dir: Path, progress: Callable[[str], object] = print) -> list[str]:
    """Bayesian piecewise-exponential fits (treatment, arm x biomarker, subgroups): posterior.nc and bayes*.csv.

    Returns
    -------
    list[str]
        Warnings for fits that failed the convergence diagnostics (also flagged in bayes.csv).
    """
    from tmesurv.models.pwe.analyses import pwe_analyses, save_posteriors

    results = pwe_analyses(study.cohort, study.config, progress=progress)
    save_posteriors(out_dir / "posterior.nc", results.fits, study.config_data())
    write_table(out_dir / "bayes.csv", results.table)
    write_table(out_dir / "bayes_curves.csv", results.curves)
    write_table(out_dir / "bayes_survival.csv", results.survival)
    for name, table in results.optional_tables().items():
        write_table(out_dir / f"{name}.csv", table)
    write_table(out_dir / "biomarkers.csv", biomarker_table(study.cohort))
    if study.config.validation_model is not None:
        from tmesurv.models.prediction.model import fit_validation_posterior, write_validation_posterior

        progress("  fit: validation model")
        write_validation_posterior(fit_validation_posterior(study.cohort, study.config), out_dir)
    record_run(out_dir, "bayes", study.config_data(), study.config_path, seed=study.config.bayes.seed)
    return results.notes


def run_demo(out_dir: Path, seed: int, progress: Callable[[str], object] = print) -> Path:
    """Simulate the ZUMA-7-like trial into ``out_dir/data``, then run cox, bayes and report on it.

    Returns
    -------
    Path
        The report.
    """
    from tmesurv.reports.html import write_report

    progress(f"[1/4] simulating the ZUMA-7-like trial (scenario zuma7, seed {seed})")
    _, config_path = run_simulate(Path("zuma7"), seed, out_dir / "data" / "zuma7_trial.csv")
    study = load_study(config_path)
    progress("[2/4] Kaplan-Meier and Cox analyses")
    for note in run_cox(study, out_dir):
        progress(f"note: {note}")
    progress("[3/4] Bayesian piecewise-exponential models")
    for note in run_bayes(study, out_dir, progress=progress):
        progress(f"note: {note}")
    progress("[4/4] report")
    return write_report(out_dir)


def run_simulate(
    scenario_path: Path, seed: int, out_csv: Path, export_format: Literal["csv", "geo"] = "csv"
) -> tuple[Path, Path]:
    """Write one simulated trial export and the analysis config that reads it.

    With ``export_format="geo"``, ``out_csv`` is a folder that receives a GEO series in the layout of GSE248835
    (``series_matrix.txt.gz``, ``platform.txt``) and ``analysis.yaml`` (see :mod:`tmesurv.simulations.geo`).

    Returns
    -------
    tuple[Path, Path]
        The CSV export and the config (same name, ``.yaml``); a gene matrix, when the scenario makes one, goes to
        ``<name>.genes.csv``; the treated arm's CAR T levels over time to ``<name>_pk.csv`` (the config's data.pk).
        For GEO: the series matrix and the config.
    """
    from tmesurv.simulations.pk_series import trial_pk_series
    from tmesurv.simulations.scenario import load_scenario
    from tmesurv.simulations.trial import analysis_config, simulate_trial

    scenario = load_scenario(scenario_path)
    if export_format == "geo":
        return _simulate_geo(scenario, seed, out_csv)
    trial = simulate_trial(scenario, seed)
    write_table(out_csv, trial.to_frame())
    if trial.genes is not None:
        genes_path = out_csv.with_suffix(".genes.csv")
        write_atomically(genes_path, lambda temporary: trial.genes.to_csv(temporary))
    pk = trial_pk_series(trial.columns, scenario.product.time_to_peak_days)
    pk_path = write_table(out_csv.with_name(f"{out_csv.stem}_pk.csv"), pk.samples)
    config = analysis_config(scenario, out_csv.name, seed, pk_file=pk_path.name)
    config_path = write_text(out_csv.with_suffix(".yaml"), yaml.safe_dump(config, sort_keys=False))
    return out_csv, config_path


def _simulate_geo(scenario: Scenario, seed: int, folder: Path) -> tuple[Path, Path]:
    from tmesurv.simulations.geo import write_geo_series

    if folder.suffix:
        raise InputError(f"--out '{folder}': a GEO series is written into a folder; give a folder name")
    series_matrix, _, config = write_geo_series(scenario, seed, folder)
    return series_matrix, write_text(folder / "analysis.yaml", yaml.safe_dump(config, sort_keys=False))


def run_calibrate(scenario_path: Path, replicates: int, seed: int, out_dir: Path) -> pd.DataFrame:
    """Simulate ``replicates`` cohorts and write ``out_dir/calibration.csv`` (target vs simulated mean)."""
    from tmesurv.simulations.calibration import calibrate
    from tmesurv.simulations.scenario import load_scenario

    table = calibrate(load_scenario(scenario_path), replicates, seed)
    write_table(out_dir / "calibration.csv", table)
    return table


def run_validate(
    model_dir: Path, external_config: Path, out_dir: Path, settings: ValidationSettings
) -> ValidationResults:
    """Score the validation model saved in ``model_dir`` on the external cohort of ``external_config``.

    Writes validation, benefit (two arms), case_mix, harmonisation, calibration_curves, survival_curves and
    exclusions tables, validation_settings.json, the figures and run.json (see
    :func:`tmesurv.validation.external.write_validation`).
    """
    from tmesurv.models.prediction.model import load_validation_fits
    from tmesurv.validation.external import validate_external, write_validation

    if Path(out_dir).resolve() == Path(model_dir).resolve():
        raise InputError(f"--out '{out_dir}' is the model folder: write the validation into a folder of its own")
    fits = load_validation_fits(model_dir)
    study = load_study(external_config, two_arms=False)
    results = validate_external(fits, study.cohort, study.config.analysis.endpoint, settings)
    write_validation(out_dir, results, model_dir, settings)
    write_table(out_dir / "exclusions.csv", exclusion_table(results.exclusions))
    record_run(out_dir, "validate", study.config_data(), study.config_path, seed=settings.seed)
    return results
