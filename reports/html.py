"""Assemble a result folder into one self-contained HTML report, written atomically.

Each section appears only when its result files are there. All text reaches the page through a Jinja2 template
with autoescaping on, so names from the user's data (arms, biomarkers, subgroups, terms) are always escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from tmesurv.models.km import ALL_PATIENTS
from tmesurv.outputs import write_text
from tmesurv.reports import figures, tables
from tmesurv.reports.results import Results, RunInfo, read_results

REPORT_NAME = "report.html"
TEMPLATE_NAME = "report.html"


@dataclass(frozen=True)
class CohortSection:
    """Counts per arm and exclusions; either may be absent."""

    counts: tables.Table | None
    exclusions: tables.Table | None


@dataclass(frozen=True)
class KmSection:
    """One Kaplan-Meier figure per endpoint, and the table of medians and landmark survival."""

    images: tuple[figures.FigureImage, ...]
    summary: tables.Table | None


@dataclass(frozen=True)
class ReportContext:
    """Everything the template shows; None for each section whose files are absent."""

    title: str
    cohort: CohortSection | None
    km: KmSection | None
    comparison: tables.Comparison | None
    run: RunInfo | None


def write_report(result_dir: Path) -> Path:
    """Write ``result_dir/report.html`` from the result files in ``result_dir``.

    The page is rendered in memory, then written to a temporary file in the same folder and moved into place
    with :func:`os.replace` (:func:`tmesurv.outputs.write_text`), so a failure never leaves a partial
    ``report.html``; an older report stays as it was.

    Parameters
    ----------
    result_dir
        A folder written by a tmesurv run: any of ``run.json``, ``cohort.csv``, ``exclusions.csv``,
        ``km_curves.csv``, ``km.csv``, ``cox.csv``, ``bayes.csv``.

    Returns
    -------
    pathlib.Path
        The path of the report.

    Raises
    ------
    InputError
        If the folder does not exist or a result file is malformed.
    """
    result_dir = Path(result_dir)
    page = render_report(read_results(result_dir))
    return write_text(result_dir / REPORT_NAME, page)


def render_report(results: Results) -> str:
    """Render the report page for ``results`` as an HTML string.

    Parameters
    ----------
    results
        The contents of a result folder.

    Returns
    -------
    str
        A complete, self-contained HTML document.
    """
    return _environment().get_template(TEMPLATE_NAME).render(report=report_context(results))


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
    has_terms = results.cox is not None or results.bayes is not None
    return ReportContext(
        title=results.name,
        cohort=_cohort_section(results),
        km=_km_section(results),
        comparison=tables.comparison(results.cox, results.bayes) if has_terms else None,
        run=results.run,
    )


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tmesurv.reports", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _cohort_section(results: Results) -> CohortSection | None:
    if results.cohort is None and results.exclusions is None:
        return None
    return CohortSection(
        counts=None if results.cohort is None else tables.cohort_table(results.cohort),
        exclusions=None if results.exclusions is None else tables.exclusions_table(results.exclusions),
    )


def _km_section(results: Results) -> KmSection | None:
    if results.km_curves is None and results.km is None:
        return None
    curves, summary = (_all_patients(frame) for frame in (results.km_curves, results.km))
    return KmSection(
        images=_km_figures(curves),
        summary=None if summary is None else tables.km_summary_table(summary),
    )


def _all_patients(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    """The rows about all patients of each arm (not a subgroup)."""
    return None if frame is None else frame[frame["subgroup"] == ALL_PATIENTS]


def _km_figures(curves: pd.DataFrame | None) -> tuple[figures.FigureImage, ...]:
    if curves is None:
        return ()
    return tuple(
        figures.km_figure(curves[curves["endpoint"] == endpoint], str(endpoint))
        for endpoint in pd.unique(curves["endpoint"].dropna())
    )
