"""Kaplan-Meier figures of the CAR T product attribute x biomarker groups (treated arm), one per pair."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from tmesurv.cohort import TREATED
from tmesurv.models.product.analyses import LEVELS
from tmesurv.reports.figure_set import safe_name
from tmesurv.reports.figures import km_subgroup_figure, save_figure

FIGURE_PREFIX = "km_product_"


def figure_stem(name: str) -> str:
    """The file stem of the figure of grouping ``name`` (``attribute/biomarker``): ``km_product_<safe name>``.

    A name with characters beyond letters, digits, ``_`` and the ``/`` between the two columns gets 8 hex digits of
    its SHA-1 appended, so that columns such as ``CCR7+CD45RA-`` and ``CCR7-CD45RA+`` keep figures of their own.
    """
    stem = FIGURE_PREFIX + safe_name(name)
    if re.fullmatch(r"[A-Za-z0-9_]+/[A-Za-z0-9_]+", name):
        return stem
    return f"{stem}_{hashlib.sha1(name.encode('utf-8')).hexdigest()[:8]}"


def write_product_figures(
    out_dir: Path, curves: Mapping[str, pd.DataFrame], endpoint: str, arm_name: str = TREATED
) -> list[Path]:
    """Draw ``figures/km_product_<attribute>_<biomarker>`` (PNG and SVG) for every product subgroup pair.

    Parameters
    ----------
    out_dir
        The result folder.
    curves
        Grouping name (``attribute/biomarker``) -> step curves with ``endpoint, arm, subgroup, time, survival,
        lower, upper, at_risk`` (:attr:`tmesurv.models.product.analyses.ProductResults.curves`).
    endpoint
        The endpoint drawn.
    arm_name
        Display name of the treated arm (data.arm.treated).

    Returns
    -------
    list[pathlib.Path]
        The files written.
    """
    written: list[Path] = []
    levels = [f"{a}/{b}" for a in LEVELS for b in LEVELS]
    for name, rows in curves.items():
        figure = km_subgroup_figure(rows, endpoint, name, {TREATED: arm_name}, levels=levels)
        written += save_figure(figure, out_dir / "figures" / figure_stem(name))
    return written
