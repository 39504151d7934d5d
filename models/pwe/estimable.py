"""Whether the data can inform a PWE fit at all: enough events in each arm (and each arm x level of an interaction).

An arm without events leaves its hazard ratio to the prior alone: the posterior then looks confident (an HR near 0
with P(HR < 1) near 1) while the data say nothing. Such a fit is not run; it is reported as not estimable with the
reason, as a Cox model that cannot be estimated is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tmesurv.models.designs import ARM, interaction_term


def too_few_events(event: np.ndarray, design: pd.DataFrame, min_events: int) -> str | None:
    """Why a fit of ``design`` cannot be estimated from ``event``; None when every group has enough events.

    Parameters
    ----------
    event
        Event indicators (1 = event), one per row of ``design``.
    design
        The fit's design: ``arm`` (0/1) first; an interaction model also has ``<biomarker>`` and
        ``arm:<biomarker>``.
    min_events
        The fewest events each arm must have; with a two-level biomarker (two distinct values) in an interaction
        model, each arm x level cell.

    Returns
    -------
    str | None
        E.g. ``"0 events in the control arm (bayes.min_events: 1)"``, naming the first group short of events.
    """
    event = np.asarray(event, dtype=float)
    if event.sum() == 0:
        return "no events"
    arm = design[ARM].to_numpy()
    groups = {"treated arm": arm == 1, "control arm": arm == 0}
    for biomarker in (column for column in design.columns if interaction_term(column) in design.columns):
        values = design[biomarker].to_numpy()
        levels = np.unique(values)
        if levels.size == 2:
            groups = {
                f"{name} at {biomarker} = {level:g}": members & (values == level)
                for name, members in groups.items()
                for level in levels
            }
    for name, members in groups.items():
        count = int(event[members].sum())
        if count < min_events:
            return f"{count} events in the {name} (bayes.min_events: {min_events})"
    return None
