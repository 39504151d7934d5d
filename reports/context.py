"""The report as one object: every section built from the result files it needs (None when they are absent).

Figures are drawn by the section modules (or read from ``figures/`` as PNG files) and embedded as ``data:`` URIs;
tables are rows of formatted text. Nothing here is HTML: the template escapes every string.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tmesurv.outputs.run_record import RunRecord
from tmesurv.reports.format import arm_names
from tmesurv.reports.results import Results
from tmesurv.reports.sections.bayes_screen import interaction_screen_section
from tmesurv.reports.sections.cohort import cohort_section
from tmesurv.reports.sections.cure import cure_section
from tmesurv.reports.sections.diagnostics import Diagnostics, diagnostics_section
from tmesurv.reports.sections.hazards import hazard_section
from tmesurv.reports.sections.interactions import interaction_section
from tmesurv.reports.sections.km import km_section
from tmesurv.reports.sections.methods import methods_section
from tmesurv.reports.sections.model_check import model_check_section
from tmesurv.reports.sections.ph import ph_section
from tmesurv.reports.sections.power import power_section
from tmesurv.reports.sections.prior_predictive import prior_predictive_section
from tmesurv.reports.sections.product import product_section
from tmesurv.reports.sections.screens import screen_section
from tmesurv.reports.sections.summary import summary_section
from tmesurv.reports.sections.time_varying import time_varying_section
from tmesurv.reports.sections.validation import validation_section
from tmesurv.reports.sections.validation_size import validation_size_section


@dataclass(frozen=True)
class ReportSection:
    """One section as the template shows it: its partial (``templates/sections/<template>.html``), anchor, title."""

    template: str
    anchor: str
    title: str
    data: object


Builder = Callable[[Results, dict[str, str]], object | None]
SECTIONS: tuple[tuple[str, str, str, Builder], ...] = (
    # (template, anchor, navigation title, builder): in report order; a builder returns None without its files
    ("cohort", "cohort", "Cohort", cohort_section),
    ("summary", "summary", "Summary: the model the data prefer", summary_section),
    ("km", "kaplan-meier", "Survival by arm and subgroup", km_section),
    ("hazards", "hazard-ratios", "Hazard ratios: Cox and Bayesian", hazard_section),
    ("ph", "proportional-hazards", "Proportional hazards", ph_section),
    ("interactions", "interactions", "Treatment-by-biomarker interactions", interaction_section),
    ("interaction_screen", "interaction-screen", "Interaction screen", lambda r, _: interaction_screen_section(r)),
    ("time_varying", "time-varying", "Treatment effect over time", time_varying_section),
    ("cure", "cure", "Cure model", cure_section),
    ("screens", "screens", "Screens", lambda r, _: screen_section(r)),
    ("product", "product", "CAR T product and expansion", lambda r, _: product_section(r)),
    ("prior_predictive", "prior-predictive", "Prior predictive check", prior_predictive_section),
    ("diagnostics", "diagnostics", "Diagnostics", lambda r, _: diagnostics_section(r)),
    ("model_check", "model-check", "Model check", model_check_section),
    ("validation", "validation", "Validation", lambda r, _: validation_section(r)),
    ("power", "power", "Power", lambda r, _: power_section(r)),
    ("validation_size", "validation-size", "Validation cohort size", lambda r, _: validation_size_section(r)),
    ("methods", "methods", "Methods", lambda r, _: methods_section(r)),
)


@dataclass(frozen=True)
class ReportContext:
    """Everything the template shows: the sections that have something to show, in order, and the run."""

    title: str
    notes: tuple[str, ...]
    sections: tuple[ReportSection, ...]
    run: RunRecord | None
    seeds: tuple[tuple[str, str], ...]

    def section(self, template: str) -> object | None:
        """The data of one section, or None when it is absent."""
        return next((section.data for section in self.sections if section.template == template), None)

    @property
    def diagnostics(self) -> Diagnostics | None:
        """The convergence table (for the banner of unconverged fits)."""
        return self.section("diagnostics")

    @property
    def empty(self) -> bool:
        """Whether no section but the methods has anything to show."""
        return all(section.template == "methods" for section in self.sections)


def report_context(results: Results) -> ReportContext:
    """Build every section of the report from ``results`` (figures included).

    Parameters
    ----------
    results
        The contents of a result folder.

    Returns
    -------
    ReportContext
        What the template shows.
    """
    names = arm_names(results.run)
    built = [(template, anchor, title, build(results, names)) for template, anchor, title, build in SECTIONS]
    sections = tuple(ReportSection(*row) for row in built if row[3] is not None)
    return ReportContext(results.name, results.notes, sections, results.run, seeds(results.run))


def seeds(run: RunRecord | None) -> tuple[tuple[str, str], ...]:
    """The seeds behind the results: each command's seed and the Bayesian sampler's."""
    if run is None:
        return ()
    found = [(f"{name} (run.json)", str(entry.seed)) for name, entry in run.runs.items() if entry.seed is not None]
    bayes = run.config.get("bayes")
    if isinstance(bayes, Mapping) and bayes.get("seed") is not None:
        found.append(("Bayesian sampler (bayes.seed)", str(bayes["seed"])))
    return tuple(found)
