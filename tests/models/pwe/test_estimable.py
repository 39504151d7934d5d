"""Which fits the data cannot inform: too few events in an arm, or in an arm x level of a two-level interaction."""

import numpy as np
import pandas as pd

from tmesurv.models.pwe.estimable import too_few_events


def test_an_arm_without_events_is_named():
    event = np.array([1, 0, 0, 0, 0])  # the n = 5 with 1 event
    design = pd.DataFrame({"arm": [1.0, 1.0, 0.0, 0.0, 0.0]})
    assert too_few_events(event, design, 1) == "0 events in the control arm (bayes.min_events: 1)"
    assert too_few_events(np.zeros(5), design, 1) == "no events"
    assert too_few_events(np.array([1, 0, 1, 0, 0]), design, 1) is None
    assert too_few_events(np.array([1, 0, 1, 0, 0]), design, 2) == "1 events in the treated arm (bayes.min_events: 2)"


def test_every_arm_by_level_cell_of_a_two_level_interaction_needs_events():
    arm = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    ldh = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    design = pd.DataFrame({"arm": arm, "ldh": ldh, "arm:ldh": arm * ldh})
    event = np.array([1, 0, 0, 0, 1, 0, 1, 0])  # no event among treated patients with ldh = 1
    assert too_few_events(event, design, 1) == "0 events in the treated arm at ldh = 1 (bayes.min_events: 1)"
    event[3] = 1
    assert too_few_events(event, design, 1) is None
    continuous = design.assign(ldh=np.linspace(0, 1, 8), **{"arm:ldh": arm * np.linspace(0, 1, 8)})
    assert too_few_events(np.array([1, 0, 0, 0, 1, 0, 1, 0]), continuous, 1) is None  # arms only
