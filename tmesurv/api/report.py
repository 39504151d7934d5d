"""``report``: the HTML report of a result folder."""

from __future__ import annotations

from pathlib import Path

from tmesurv.errors import InputError


def report(result_dir: Path | str) -> Path:
    """Write ``result_dir/report.html``: one self-contained page with the Cox and Bayesian answers side by side.

    Parameters
    ----------
    result_dir
        A folder that ``CoxResult.write``/``PweResult.write`` (or ``tmesurv cox``/``bayes``/``validate``/``power``)
        wrote into.

    Returns
    -------
    pathlib.Path
        The report.

    Raises
    ------
    InputError
        If the folder does not exist or holds a malformed result file (naming it).
    """
    from tmesurv.reports.html import write_report

    result_dir = Path(result_dir)
    if not result_dir.is_dir():
        raise InputError(f"result folder '{result_dir}' does not exist: run 'tmesurv cox CONFIG --out DIR' first")
    return write_report(result_dir)
