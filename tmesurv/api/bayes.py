"""``fit_pwe``: the Bayesian piecewise-exponential analyses of a cohort, as one result object.

The treatment model, one arm x biomarker interaction model per biomarker and the treatment model in every subgroup
(the same terms and subgroups as :func:`tmesurv.fit_cox`), posterior survival per arm, and the optional extensions of
the config's ``bayes`` section. ``PweResult.write(folder)`` writes what ``tmesurv bayes`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tmesurv.api.display import html_table, posterior_line, result_lines
from tmesurv.api.settings import analysis_config, run_plan
from tmesurv.cohort import Cohort
from tmesurv.config import AnalysisConfig
from tmesurv.outputs.files import write_results
from tmesurv.outputs.run_folder import staged

SETTINGS_ATTR = "tmesurv_settings"  # InferenceData attribute: how the fit was made (JSON)
POSTERIOR_FILE = "posterior.nc"


@dataclass(frozen=True)
class PweResult:
    """What :func:`fit_pwe` computed: tidy tables by result-file stem, every posterior, notes.

    Attributes
    ----------
    tables
        Result-file stem -> table (``bayes``, ``bayes_curves``, ``bayes_survival``, ``bayes_fit_check``,
        ``bayes_loo``, the optional ``bayes_*`` tables, and the cohort's description ``cohort`` and ``biomarkers``,
        which :meth:`write` leaves as they are in a folder where an earlier command of the study wrote them); columns
        as in :mod:`tmesurv.outputs.files`. ``bayes``, ``bayes_curves``, ``bayes_survival``, ``bayes_fit_check`` and
        ``bayes_loo`` have rows of every compared model (column ``model``; those of ``bayes.model`` first but in
        ``bayes_loo``); :meth:`model_table` gives one model's rows of ``bayes``.
    fits
        The fitted models (endpoint, analysis, subgroup, ``idata``, model, main) in fitting order; with
        ``bayes.compare`` also the fits of the other models (``main`` False), each with its PSIS-LOO (group ``loo``).
    cohort, config
        The cohort analysed and the validated config the analysis followed.
    validation_posterior
        The posterior of the config's ``validation_model`` (saved for ``validate``), or None.
    notes
        Fits that were not estimable (too few events), re-run after divergences, failed the convergence rule (and what
        to do), or whose posterior survival misfits Kaplan-Meier; statistics beyond follow-up.
    """

    tables: Mapping[str, pd.DataFrame]
    fits: Sequence[Any]
    cohort: Cohort
    config: AnalysisConfig
    validation_posterior: Any = None
    notes: tuple[str, ...] = ()

    @property
    def table(self) -> pd.DataFrame:
        """``bayes.csv``: posterior summaries of the terms of every fitted model, with convergence diagnostics.

        One row per (endpoint, analysis, subgroup, term, model): the log hazard ratios of ``ph`` and ``time_varying``
        fits, the log odds ratios of cure (``cure:<term>``) and log HRs among the uncured (``latency:<term>``) of
        ``cure`` fits; ``bayes.model``'s rows first, then those of the other ``bayes.compare`` models in order.
        :meth:`model_table` selects one model.
        """
        return self.tables["bayes"]

    def model_table(self, model: str | None = None) -> pd.DataFrame:
        """The rows of ``bayes.csv`` of one model, e.g. ``model_table("cure")``; default ``bayes.model``.

        Raises
        ------
        KeyError
            If ``model`` was not fitted, naming the models that were.
        """
        from tmesurv.reports.results import of_model

        model = self.config.bayes.model if model is None else model
        rows = of_model(self.table, model)
        if rows is None:
            fitted = ", ".join(pd.unique(self.table["model"]))
            raise KeyError(f"no rows of model '{model}' in bayes.csv; the fitted models are: {fitted}")
        return rows

    @property
    def survival(self) -> pd.DataFrame:
        """``bayes_survival.csv``: posterior medians, landmark survival and RMST per model and arm, and differences."""
        return self.tables["bayes_survival"]

    @property
    def curves(self) -> pd.DataFrame:
        """``bayes_curves.csv``: posterior survival curves per model and arm with 95% bands."""
        return self.tables["bayes_curves"]

    @property
    def fit_check(self) -> pd.DataFrame:
        """``bayes_fit_check.csv``: posterior mean survival against Kaplan-Meier per fit (of every model) and arm."""
        return self.tables["bayes_fit_check"]

    @property
    def loo(self) -> pd.DataFrame:
        """``bayes_loo.csv``: PSIS-LOO of every fit; the models of an analysis compared (elpd difference, rank)."""
        return self.tables["bayes_loo"]

    @property
    def idata(self) -> Any:
        """The treatment model's posterior (an ``arviz.InferenceData``); every fit is in :attr:`fits`."""
        return self.fits[0].idata

    def posterior(self, analysis: str, subgroup: str = "all", model: str | None = None) -> Any:
        """The posterior of one fit, e.g. ``posterior("interaction", "b_cell_ges")``.

        ``model`` picks a model of ``bayes.compare``; by default the fit the tables come from (of ``bayes.model``; HR
        curves and the screen are proportional-hazards fits).

        Raises
        ------
        KeyError
            Naming the fits there are.
        """
        for fit in self.fits:
            chosen = fit.main if model is None else fit.model == model
            if chosen and (fit.analysis, fit.subgroup) == (analysis, subgroup):
                return fit.idata
        known = ", ".join(f"{fit.analysis}/{fit.subgroup} ({fit.model})" for fit in self.fits)
        raise KeyError(f"no fit {analysis}/{subgroup}{'' if model is None else f' of {model}'}; the fits are: {known}")

    def write(self, folder: Path | str, *, fresh: bool = False) -> Path:
        """Write ``posterior.nc``, the ``bayes*.csv`` tables, the validation posterior and ``run.json`` into ``folder``.

        Staged and committed together, as :meth:`tmesurv.api.cox.CoxResult.write`; ``cohort.csv`` and
        ``biomarkers.csv`` only if the folder does not hold them for this study yet.

        Returns
        -------
        pathlib.Path
            The folder; ``run.json`` lists the files written.
        """
        from tmesurv.models.prediction.storage import write_validation_posterior
        from tmesurv.models.pwe.storage import save_posteriors

        plan = run_plan("bayes", self.cohort, self.config, fresh)
        with staged(folder, plan, seed=self.config.bayes.seed) as run:
            save_posteriors(run.path / POSTERIOR_FILE, list(self.fits), plan.config)
            write_results(run.path, self.tables)
            if self.validation_posterior is not None:
                write_validation_posterior(self.validation_posterior, run.path)
        return Path(folder)

    def __repr__(self) -> str:
        return "\n".join(self._summary_lines())

    def _repr_html_(self) -> str:
        head = "<br>".join(self._summary_lines()[:2])
        columns = ["analysis", "subgroup", "term", "hr_mean", "hr_lower", "hr_upper", "prob_hr_below_1", "converged"]
        table = self.model_table()
        rows = table[table["analysis"].isin(["treatment", "interaction"])]
        return f"<p><b>{head}</b></p>" + html_table(rows, columns)

    def _summary_lines(self) -> list[str]:
        from tmesurv.models.pwe.compare import preference

        endpoint, table, bayes = self.config.analysis.endpoint, self.model_table(), self.config.bayes
        compared = f"; compared with {', '.join(bayes.compared_models[1:])} by LOO" if bayes.compare else ""
        lines = [
            f"PweResult: {endpoint}, {self.cohort.n} patients from {self.cohort.source}, {len(self.fits)} fits "
            f"(model {bayes.model}{compared})"
        ]
        loo = self.loo
        preferred = preference(loo[(loo["endpoint"] == endpoint) & (loo["analysis"] == "treatment")])
        if preferred is not None:
            verdict = preferred if preferred.startswith("no clear") else f"the data prefer {preferred}"
            lines.append(f"  LOO, treatment model: {verdict}; the tables are of {bayes.model} (bayes.model)")
        for row in table[table["analysis"].isin(["treatment", "interaction"])].itertuples():
            label = "treatment HR" if row.analysis == "treatment" else f"{row.term} ({row.subgroup} model)"
            lines.append(posterior_line(label, row))
        return lines + self._check_lines() + result_lines(self.tables, self.notes)

    def _check_lines(self) -> list[str]:
        """Which fits' posterior survival misfits Kaplan-Meier (``bayes_fit_check``): of bayes.model, then compared."""
        check, main = self.fit_check, self.config.bayes.model
        lines = [_misfit_line(check[check["model"] == main], "bayes.model")]
        compared = check[check["model"] != main]
        return lines + ([_misfit_line(compared, "compared models")] if len(compared) else [])


def _misfit_line(check: pd.DataFrame, fits: str) -> str:
    """``  MISFIT vs Kaplan-Meier, bayes.model: treatment all ph (treated)``, or that no arm checked misfits."""
    misfit = check[check["misfit"].astype(bool)]
    arms = misfit.groupby(["analysis", "subgroup", "model"], sort=False)["arm"].agg(", ".join)
    if not len(arms):
        return f"  posterior survival vs Kaplan-Meier, {fits}: no misfit ({len(check)} arms of fits checked)"
    listed = "; ".join(f"{' '.join(key)} ({names})" for key, names in arms.items())
    return f"  MISFIT vs Kaplan-Meier, {fits}: {listed}"


def fit_pwe(
    cohort: Cohort,
    *,
    endpoint: str | None = None,
    landmarks: Sequence[float] | None = None,
    validation_model: Mapping | None = None,
    progress: Callable[[str], object] | None = None,
    **bayes: Any,
) -> PweResult:
    """Bayesian piecewise-exponential models of a two-arm cohort: treatment, arm x biomarker, subgroups.

    Parameters
    ----------
    cohort
        A two-arm cohort; its config's ``analysis`` and ``bayes`` sections are the defaults.
    endpoint, landmarks
        As in the config's ``analysis`` section.
    validation_model
        The config's ``validation_model`` section: its posterior is fitted too, for ``validate``.
    progress
        Called with a line before each fit (e.g. ``print``); default silent.
    **bayes
        Keys of the config's ``bayes`` section, e.g. ``draws=1000, tune=1000, chains=4, seed=1``,
        ``intervals=8``, ``priors={"coef_sd": 10}``, ``model="time_varying"``, ``compare=["ph", "time_varying"]``,
        ``target_accept=0.95``.

    Returns
    -------
    PweResult
        The tables (``.table`` is ``bayes.csv``, ``.model_table(model)`` one model's rows of it), the posteriors
        (``.idata``, ``.posterior(...)``), and ``.write(folder)``. Each posterior's ``attrs["tmesurv_settings"]``
        records how it was made.

    Raises
    ------
    InputError
        For an unknown or invalid setting (naming it), or data the model cannot be fitted to.
    """
    from tmesurv.models.cox.km import cohort_table
    from tmesurv.models.cox.subgroups import biomarker_table
    from tmesurv.models.prediction.posterior import fit_validation_posterior
    from tmesurv.models.pwe.analyses import pwe_analyses
    from tmesurv.models.pwe.registry import PH

    analysis = {"endpoint": endpoint, "landmarks": landmarks}
    sections = {"analysis": analysis, "bayes": bayes or None, "validation_model": validation_model}
    config = analysis_config(cohort, "fit_pwe", **sections)
    say = progress or (lambda line: None)
    spec, bayes_settings = config.analysis, config.bayes
    results = pwe_analyses(cohort, spec.endpoint, spec, spec.landmarks, bayes_settings, progress=say)
    for fit in results.fits:
        _record_settings(fit, config)
    tables = {
        "bayes": results.table,
        "bayes_curves": results.curves,
        "bayes_survival": results.survival,
        "bayes_fit_check": results.fit_check,
        "bayes_loo": results.loo,
        **results.optional_tables(),
        "cohort": cohort_table(cohort, spec.endpoint),
        "biomarkers": biomarker_table(cohort),
    }
    posterior = None
    if config.validation_model is not None:
        say("  fit: validation model")
        plan = config.validation_model_plan()  # a proportional-hazards fit whatever bayes.model: validate scores it
        model, sampler = bayes_settings.model_settings(PH), bayes_settings.sampler_settings()
        posterior = fit_validation_posterior(cohort, plan, model, sampler)
    return PweResult(tables, tuple(results.fits), cohort, config, posterior, tuple(results.notes))


def _record_settings(fit: Any, config: AnalysisConfig) -> None:
    """Store how a fit was made in its ``attrs``: which model, on what, with which Bayesian settings."""
    fit.idata.attrs[SETTINGS_ATTR] = json.dumps(
        {
            "endpoint": fit.endpoint,
            "analysis": fit.analysis,
            "subgroup": fit.subgroup,
            "bayes": config.bayes.model_dump(mode="json"),
        }
    )
