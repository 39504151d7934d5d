"""The Bayesian piecewise-exponential analyses of a cohort, and the one file that keeps their posteriors.

Per endpoint: the treatment model (``arm``) and, per biomarker, the interaction model (``arm``, ``<biomarker>``,
``arm:<biomarker>``) - the same terms as the Cox analyses, so the two answers can be put side by side.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import arviz as az
import pandas as pd
import xarray as xr

from tmesurv import __version__
from tmesurv.cohort import Cohort
from tmesurv.config import AnalysisConfig
from tmesurv.models.designs import interaction_design, treatment_design
from tmesurv.models.pwe import SUMMARY_COLUMNS, fit_pwe, summarize_pwe
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
    """The rows of ``bayes.csv``, the fits behind them, and fits that failed diagnostics."""

    table: pd.DataFrame
    fits: list[PweFit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def pwe_analyses(
    cohort: Cohort, config: AnalysisConfig, progress: Callable[[str], object] = lambda message: None
) -> PweResults:
    """Fit the treatment model and one interaction model per biomarker.

    Parameters
    ----------
    cohort
        The validated cohort.
    config
        The analysis config (endpoint, Bayesian settings and priors).
    progress
        Called with a one-line message before each fit.

    Returns
    -------
    PweResults
        ``table`` has columns ``BAYES_COLUMNS``; a fit that fails the convergence rule of
        :func:`~tmesurv.models.pwe.summarize_pwe` has ``converged`` False on its rows and a note.
    """
    endpoint = config.analysis.endpoint
    models = [("treatment", "all", cohort, treatment_design(cohort))]
    results = PweResults(table=pd.DataFrame(columns=BAYES_COLUMNS))
    biomarkers = cohort.biomarkers if config.bayes.biomarkers is None else config.bayes.biomarkers
    for biomarker in biomarkers:
        complete, _ = cohort.complete_cases([biomarker], analysis=f"biomarker {biomarker}")
        models.append(("interaction", biomarker, complete, interaction_design(complete, biomarker)))
    tables = []
    for number, (analysis, subgroup, patients, design) in enumerate(models, start=1):
        progress(f"  fit {number}/{len(models)}: {analysis} {subgroup} (n = {patients.n})")
        idata = fit_pwe(patients.time(endpoint), patients.event(endpoint), design, config.bayes)
        summary = summarize_pwe(idata)
        divergences = summary.attrs["divergences"]
        if not summary["converged"].all():
            results.notes.append(
                f"{endpoint} {analysis} {subgroup}: NOT CONVERGED (R-hat max {summary['r_hat'].max():.3f}, "
                f"bulk ESS min {summary['ess_bulk'].min():.0f}, {divergences} divergences); "
                "increase draws/tune or check the model before reading these numbers"
            )
        tables.append(summary.assign(endpoint=endpoint, analysis=analysis, subgroup=subgroup, divergences=divergences))
        results.fits.append(PweFit(endpoint, analysis, subgroup, idata))
    results.table = pd.concat(tables, ignore_index=True)[BAYES_COLUMNS]
    return results


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
