"""The Bayesian piecewise-exponential analyses of a cohort, and the one file that keeps their posteriors.

Per endpoint: the treatment model (``arm``), per biomarker the interaction model (``arm``, ``<biomarker>``,
``arm:<biomarker>``), and the treatment model within every subgroup -- the same terms and subgroups as the Cox
analyses, so the two answers can be put side by side (forest plot).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from tmesurv import __version__
from tmesurv.cohort import Cohort
from tmesurv.config import AnalysisConfig
from tmesurv.models.designs import interaction_design, treatment_design
from tmesurv.models.pwe import CI_PROB, SUMMARY_COLUMNS, fit_pwe, summarize_pwe
from tmesurv.models.pwe_survival import CURVE_COLUMNS, SURVIVAL_COLUMNS, posterior_survival, survival_statistics
from tmesurv.models.subgroups import analysis_groupings
from tmesurv.outputs import write_atomically

BAYES_COLUMNS = ["endpoint", "analysis", "subgroup", *SUMMARY_COLUMNS, "divergences"]


@dataclass(frozen=True)
class PweFit:
    """One fitted model and what it answers."""

    endpoint: str
    analysis: str
    subgroup: str
    idata: az.InferenceData


@dataclass
class PweResults:
    """The rows of ``bayes.csv``, ``bayes_curves.csv`` and ``bayes_survival.csv``, the fits, and diagnostics notes."""

    table: pd.DataFrame
    curves: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=CURVE_COLUMNS))
    survival: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SURVIVAL_COLUMNS))
    fits: list[PweFit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pwe_analyses(
    cohort: Cohort, config: AnalysisConfig, progress: Callable[[str], object] = lambda message: None
) -> PweResults:
    """Fit the treatment model, one interaction model per biomarker, and the treatment model in every subgroup.

    Parameters
    ----------
    cohort
        The validated cohort.
    config
        The analysis config (endpoint, subgroups, Bayesian settings and priors; ``bayes.biomarkers`` limits the
        interaction models and the biomarker subgroups).
    progress
        Called with a one-line message before each fit.

    Returns
    -------
    PweResults
        ``table`` has columns ``BAYES_COLUMNS`` -- the fits' terms, and per biomarker the treatment effect at its
        quartiles from the interaction model (analysis ``treatment_at``); ``curves`` and ``survival`` hold the
        posterior survival per arm (overall and per subgroup) with 95% bands, and its medians, landmark survival and
        RMST difference. A fit that fails the convergence rule of :func:`~tmesurv.models.pwe.summarize_pwe` has
        ``converged`` False on its rows and a note.
    """
    endpoint = config.analysis.endpoint
    biomarkers = cohort.biomarkers if config.bayes.biomarkers is None else tuple(config.bayes.biomarkers)
    models = [("treatment", "all", cohort, treatment_design(cohort))]
    for biomarker in biomarkers:
        complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
        models.append(("interaction", biomarker, complete, interaction_design(complete, biomarker)))
    for grouping in analysis_groupings(cohort, config.analysis):
        if grouping.kind == "biomarker" and grouping.name not in biomarkers:
            continue
        for level in grouping.levels:
            members = grouping.cohort.subset(grouping.labels == level)
            models.append(("subgroup", grouping.subgroup(level), members, treatment_design(members)))
    results = PweResults(table=pd.DataFrame(columns=BAYES_COLUMNS))
    tables, curves, survival = [], [], []
    for number, (analysis, subgroup, patients, design) in enumerate(models, start=1):
        progress(f"  fit {number}/{len(models)}: {analysis} {subgroup} (n = {patients.n})")
        fit = PweFit(
            endpoint,
            analysis,
            subgroup,
            fit_pwe(patients.time(endpoint), patients.event(endpoint), design, config.bayes),
        )
        summary = _summary_rows(fit, results.notes)
        tables.append(summary)
        if analysis == "interaction":
            tables.append(_treatment_at_quartiles(fit, patients.patients[subgroup].to_numpy(dtype=float), summary))
        else:
            arm_curves = posterior_survival(fit.idata, _curve_times(cohort, endpoint))
            curves.append(arm_curves.assign(endpoint=endpoint, subgroup=subgroup))
            statistics = survival_statistics(fit.idata, config.analysis.landmarks)
            survival.append(statistics.assign(endpoint=endpoint, subgroup=subgroup))
        results.fits.append(fit)
    results.table = pd.concat(tables, ignore_index=True)[BAYES_COLUMNS]
    results.curves = pd.concat(curves, ignore_index=True)[CURVE_COLUMNS]
    results.survival = pd.concat(survival, ignore_index=True)[SURVIVAL_COLUMNS]
    return results


def _summary_rows(fit: PweFit, notes: list[str]) -> pd.DataFrame:
    summary = summarize_pwe(fit.idata)
    divergences = summary.attrs["divergences"]
    if not summary["converged"].all():
        notes.append(
            f"{fit.endpoint} {fit.analysis} {fit.subgroup}: NOT CONVERGED (R-hat max {summary['r_hat'].max():.3f}, "
            f"ESS min {summary[['ess_bulk', 'ess_tail']].min().min():.0f}, {divergences} divergences, "
            f"BFMI min {summary['bfmi_min'].min():.2f}); increase draws/tune or check the model before reading these "
            "numbers"
        )
    return summary.assign(endpoint=fit.endpoint, analysis=fit.analysis, subgroup=fit.subgroup, divergences=divergences)


def _treatment_at_quartiles(fit: PweFit, values: np.ndarray, summary: pd.DataFrame) -> pd.DataFrame:
    """Treatment log HR ``b_arm + b_arm:x * x`` at the biomarker's quartiles, one row each (analysis ``treatment_at``).

    The convergence columns are those of the interaction model's ``arm:x`` term (the least precise of the two).
    """
    biomarker = fit.subgroup
    posterior = fit.idata.posterior["coef"]
    arm, interaction = posterior.sel(term="arm"), posterior.sel(term=f"arm:{biomarker}")
    quartiles = np.unique(np.quantile(values, [0.25, 0.5, 0.75]))
    diagnostics = summary.set_index("term").loc[f"arm:{biomarker}"]
    rows = []
    for value in quartiles:
        draws = (arm + interaction * value).to_numpy().reshape(-1)
        rows.append(_draw_summary(draws) | {"subgroup": f"{biomarker}={value:.4g}"})
    frame = pd.DataFrame(rows).assign(endpoint=fit.endpoint, analysis="treatment_at", term="arm")
    for column in ["r_hat", "ess_bulk", "ess_tail", "bfmi_min", "converged", "divergences"]:
        frame[column] = diagnostics[column]
    return frame


def _draw_summary(draws: np.ndarray) -> dict:
    """Mean, sd and HR summaries of log-HR draws, as in :func:`~tmesurv.models.pwe.summarize_pwe`."""
    hr = np.exp(draws)
    tail = (1 - CI_PROB) / 2
    return {
        "mean": draws.mean(),
        "sd": draws.std(ddof=1),
        "hr_mean": hr.mean(),
        "hr_lower": np.quantile(hr, tail),
        "hr_upper": np.quantile(hr, 1 - tail),
        "prob_hr_below_1": (draws < 0).mean(),
    }


def _curve_times(cohort: Cohort, endpoint: str, points: int = 121) -> np.ndarray:
    """A grid from 0 to the last follow-up time."""
    return np.linspace(0.0, float(cohort.time(endpoint).max()), points)


def save_posteriors(path: Path, fits: list[PweFit], config: dict) -> Path:
    """Write every fit into one NetCDF tree: node ``fit_<i>`` per model, config and version at the root.

    Parameters
    ----------
    path
        The ``posterior.nc`` file (written atomically).
    fits
        The fitted models.
    config
        The analysis config as plain data; stored as JSON in the root's ``config`` attribute.

    Returns
    -------
    Path
        ``path``.
    """
    children = {}
    for number, fit in enumerate(fits):
        node = fit.idata.to_datatree()
        node.attrs.update({"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup})
        children[f"fit_{number}"] = node
    tree = xr.DataTree(children=children)
    tree.attrs.update({"config": json.dumps(config), "tmesurv_version": __version__, "model": "piecewise-exponential"})
    return write_atomically(path, lambda temporary: tree.to_netcdf(temporary, engine="h5netcdf"))


def load_posteriors(path: Path) -> tuple[dict, list[PweFit]]:
    """Read a ``posterior.nc`` written by :func:`save_posteriors`.

    Returns
    -------
    tuple[dict, list[PweFit]]
        The config it was fitted with, and the fits in their original order.
    """
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        tree = tree.load()
    fits = []
    for name in sorted(tree.children, key=lambda child: int(child.split("_")[1])):
        node = tree[name]
        idata = az.InferenceData.from_datatree(node)
        fits.append(PweFit(node.attrs["endpoint"], node.attrs["analysis"], node.attrs["subgroup"], idata))
    return json.loads(tree.attrs["config"]), fits
