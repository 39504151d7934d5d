"""The report as one object: every section built from the result files it needs (None when they are absent).

Figures are drawn by the section modules (or read from ``figures/`` as PNG files) and embedded as ``data:`` URIs;
tables are rows of formatted text. Nothing here is HTML: the template escapes every string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tmesurv.outputs.run_record import RunRecord
from tmesurv.reports.format import arm_names
from tmesurv.reports.gallery import FigureSection
from tmesurv.reports.results import Results
from tmesurv.reports.sections.bayes_screen import interaction_screen_section
from tmesurv.reports.sections.cohort import CohortSection, cohort_section
from tmesurv.reports.sections.diagnostics import Diagnostics, diagnostics_table
from tmesurv.reports.sections.hazards import HazardSection, hazard_section
from tmesurv.reports.sections.interactions import InteractionSection, interaction_section
from tmesurv.reports.sections.km import KmSection, km_section
from tmesurv.reports.sections.methods import MethodsText, methods_section
from tmesurv.reports.sections.power import power_section
from tmesurv.reports.sections.prior_predictive import prior_predictive_section
from tmesurv.reports.sections.product import ProductSection, product_section
from tmesurv.reports.sections.screens import screen_section
from tmesurv.reports.sections.time_varying import time_varying_section
from tmesurv.reports.sections.validation import validation_section


@dataclass(frozen=True)
class ReportContext:
    """Everything the template shows; None for each section whose files are absent."""

    title: str
    notes: tuple[str, ...]
    cohort: CohortSection | None
    km: KmSection | None
    hazards: HazardSection | None
    interactions: InteractionSection | None
    screens: FigureSection | None
    product: ProductSection | None
    interaction_screen: FigureSection | None
    time_varying: FigureSection | None
    prior_predictive: FigureSection | None
    diagnostics: Diagnostics | None
    validation: FigureSection | None
    power: FigureSection | None
    methods: MethodsText | None
    run: RunRecord | None
    seeds: tuple[tuple[str, str], ...]

    @property
    def empty(self) -> bool:
        """Whether no section has anything to show."""
        sections = (self.cohort, self.km, self.hazards, self.interactions, self.screens, self.diagnostics)
        optional = (self.interaction_screen, self.time_varying, self.prior_predictive, self.validation, self.power)
        return all(section is None for section in (*sections, *optional, self.product))


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
    return ReportContext(
        title=results.name,
        notes=results.notes,
        cohort=cohort_section(results, names),
        km=km_section(results, names),
        hazards=hazard_section(results, names),
        interactions=interaction_section(results, names),
        screens=screen_section(results),
        product=product_section(results),
        interaction_screen=interaction_screen_section(results),
        time_varying=time_varying_section(results, names),
        prior_predictive=prior_predictive_section(results, names),
        diagnostics=None if results.bayes is None else diagnostics_table(results.bayes),
        validation=validation_section(results),
        power=power_section(results),
        methods=methods_section(results),
        run=results.run,
        seeds=seeds(results.run),
    )


def seeds(run: RunRecord | None) -> tuple[tuple[str, str], ...]:
    """The seeds behind the results: each command's seed and the Bayesian sampler's."""
    if run is None:
        return ()
    found = [(f"{name} (run.json)", str(entry.seed)) for name, entry in run.runs.items() if entry.seed is not None]
    bayes = run.config.get("bayes")
    if isinstance(bayes, Mapping) and bayes.get("seed") is not None:
        found.append(("Bayesian sampler (bayes.seed)", str(bayes["seed"])))
    return tuple(found)
