"""The table only a cure fit gives, ``bayes_cure.csv``, and its notes on unsupported plateaus.

``bayes_cure.csv`` holds cure fractions per arm and their difference (:func:`cure_table_rows`), for the treatment and
subgroup fits (subgroup as the fit's) and at the interaction model's biomarker values (``<biomarker>=<value>``). A cure
fit's ``bayes.csv`` rows (``cure:<term>``, ``latency:<term>`` and the ``treatment_at`` rows ``cure:arm`` and
``latency:arm``) are built with every other model's, by :mod:`tmesurv.models.pwe.rows`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tmesurv.models.pwe.cure.plateau import plateau_rule_text
from tmesurv.models.pwe.cure.summary import CURE_FRACTION_COLUMNS, cure_fraction_table
from tmesurv.models.pwe.rows import quartile_labels
from tmesurv.models.pwe.storage import PweFit
from tmesurv.models.pwe.survival import DIFFERENCE

CURE_COLUMNS = ["endpoint", "analysis", "subgroup", *CURE_FRACTION_COLUMNS]


def cure_table_rows(fit: PweFit, values: np.ndarray | None = None, chosen: Sequence[float] = ()) -> pd.DataFrame:
    """``bayes_cure.csv`` rows of a fit (columns ``CURE_COLUMNS``).

    A treatment or subgroup fit gives one set of rows with the fit's subgroup; an interaction fit (``values``, the
    biomarker's values among its patients) one set per quartile and chosen value, subgroup ``<biomarker>=<value>``.
    """
    if values is None:
        table = cure_fraction_table(fit.idata, {fit.subgroup: None})
    else:
        table = cure_fraction_table(fit.idata, quartile_labels(fit.subgroup, values, chosen))
    return table.assign(endpoint=fit.endpoint, analysis=fit.analysis)[CURE_COLUMNS]


def plateau_notes(table: pd.DataFrame) -> list[str]:
    """Per endpoint, one note naming the cure fits whose plateau the follow-up does not support, with their facts.

    An interaction model whose biomarker values all rest on the same patients' follow-up (a continuous biomarker) is
    named once; a two-level biomarker's levels are named each.
    """
    notes = []
    arms = table[(table["arm"] != DIFFERENCE) & ~table["plateau_supported"].astype(bool)]
    for endpoint, rows in arms.groupby("endpoint", sort=False):
        entries: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for (analysis, subgroup), fit in rows.groupby(["analysis", "subgroup"], sort=False):
            name = subgroup.split("=")[0] if analysis == "interaction" else subgroup
            entries.setdefault((analysis, name), []).append((subgroup, _follow_up_text(fit)))
        named = []
        for (analysis, name), values in entries.items():
            if len({facts for _, facts in values}) == 1:
                named.append(f"{analysis} {name} ({values[0][1]})")
            else:
                named += [f"{analysis} {subgroup} ({facts})" for subgroup, facts in values]
        notes.append(
            f"{endpoint}: the cure plateau is not supported by the follow-up, so the cure fraction is an "
            f"extrapolation, in these cure fits (bayes_cure.csv): {'; '.join(named)}; {plateau_rule_text()}"
        )
    return notes


def _follow_up_text(rows: pd.DataFrame) -> str:
    return "; ".join(
        f"{row.arm}: last event at {row.last_event:.1f} months, {row.at_risk_after_last_event} patients followed "
        f"beyond it (to {row.max_follow_up:.1f}), Maller-Zhou p = {row.maller_zhou_p:.2g}"
        for row in rows.itertuples()
    )
