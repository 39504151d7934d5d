"""Assemble a result folder into one self-contained HTML report, written atomically.

Each section appears only when its result files are there. All text reaches the page through a Jinja2 template
with autoescaping on, so names from the user's data (arms, biomarkers, subgroups, terms) are always escaped.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from tmesurv.outputs.atomic import write_text
from tmesurv.reports.context import report_context
from tmesurv.reports.results import Results, read_results

REPORT_NAME = "report.html"
TEMPLATE_NAME = "report.html"


def write_report(result_dir: Path) -> Path:
    """Write ``result_dir/report.html`` from the result files in ``result_dir``.

    The page is rendered in memory, then written to a temporary file in the same folder and moved into place
    with :func:`os.replace` (:func:`tmesurv.outputs.write_text`), so a failure never leaves a partial
    ``report.html``; an older report stays as it was.

    Parameters
    ----------
    result_dir
        A folder written by tmesurv runs: any of ``run.json``, ``cohort.csv``, ``exclusions.csv``,
        ``km_curves.csv``, ``km.csv``, ``cox.csv``, ``interactions.csv``, ``bayes.csv``, ``bayes_curves.csv``,
        ``bayes_survival.csv``, ``product_associations.csv``, ``product_subgroups.csv``, ``validation.csv``,
        ``power.csv`` and PNG figures in ``figures/``.

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


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("tmesurv.reports", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
