"""Best overall response and duration of response, derived from (and consistent with) simulated event-free survival.

In ZUMA-7 an EFS event is progression, new lymphoma therapy or death, so response and EFS are tied:

* a patient without an EFS event has an ongoing response (``"ongoing"``, a responder);
* a patient with an EFS event inside an early window (default 3 months) failed to respond with a per-arm
  probability (``"no_response"``, best response SD or PD), and otherwise relapsed after a response;
* any later EFS event is a relapse after a response (``"relapsed"``).

Responders are complete (CR) or partial (PR) responders, with a per-arm P(CR) that is higher for ongoing than for
relapsed responses. Response starts at a per-arm onset time (lognormal around a median, never later than half the
EFS time), the duration of response runs from onset to the EFS time, and its event indicator is the EFS one.

Calibration of the defaults
---------------------------
Targets (``zuma7_published.yaml``): ORR 0.83 treated / 0.50 control and CR 0.65 / 0.32 (``response``, ITT), and the
response groups of the biomarker cohort (``biomarker_cohort.response_groups``): treated ongoing / relapsed / none
58 / 54 / 16 of 128 = 0.453 / 0.422 / 0.125, control 18 / 28 / 52 of 98 = 0.184 / 0.286 / 0.531.

EFS assumed close to ZUMA-7: a cure mixture ``S(t) = p + (1 - p) exp(-lambda t)`` per arm through the published
median and 24-month EFS gives treated p = 0.402, lambda = 0.218 / month and control p = 0.163, lambda = 0.455 /
month; uniform accrual over 20 months with the cutoff 17.5 months after the last patient (potential follow-up
uniform on 17.5-37.5 months). Then, per arm, the share without an EFS event (= ongoing) is E[S(C)] = 0.405 / 0.163,
and the share with an EFS event within 3 months is 1 - S(3) = 0.287 / 0.623.

With q the no-response probability given an early event, the non-responder share is NR = q (1 - S(3)), so
ORR = 1 - NR, no_response = NR and relapsed = 1 - ongoing - NR. The two sources disagree (ORR implies NR = 0.17
treated, the response groups 0.125; they come from different populations and data cuts), so NR is put where the
largest of the three errors is smallest:

* treated: NR = 0.149 (q = 0.52): ORR 0.851 (+0.021), no_response 0.149 (+0.024), relapsed 0.446 (+0.024);
* control: NR = 0.525 (q = 0.843): ORR 0.475 (-0.025), no_response 0.525 (-0.006), relapsed 0.312 (+0.026).

The ongoing share is fixed by EFS alone (no EFS event means an ongoing response): control 0.163 is within 0.03 of
0.184, but treated 0.405 is 0.048 below the biomarker cohort's 0.453 -- a 24-month EFS of 40.5% leaves no room for
45% ongoing responses, so that one target cannot be met under these rules.

CR: overall CR = ongoing x P(CR | ongoing) + relapsed x P(CR | relapsed). Treated 0.405 x 0.90 + 0.446 x 0.64 =
0.650; control 0.163 x 0.85 + 0.312 x 0.58 = 0.320.

SD vs PD among non-responders and the onset times are not in the reference file: P(SD | no response) 0.35 treated
/ 0.45 control, onset median 1.0 / 1.5 months with a log-scale SD of 0.2, are assumptions.

Randomness: :data:`UNIFORM_ROWS` uniforms and :data:`NORMAL_ROWS` normal per patient; :func:`generate_response` draws
them for one cohort, :func:`response_from_draws` transforms pre-drawn ones for many cohorts at once.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field

from tmesurv.schema import StrictModel

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
BEST_RESPONSES = np.array(["CR", "PR", "SD", "PD"], dtype=object)
RESPONSE_GROUPS = np.array(["ongoing", "relapsed", "no_response"], dtype=object)
UNIFORM_ROWS = 3
"""Uniforms per patient the response takes (no response, CR vs PR, SD vs PD)."""
NORMAL_ROWS = 1
"""Standard normals per patient the response takes (onset time)."""


class ArmProbability(StrictModel):
    """A probability per arm."""

    treated: Probability
    control: Probability


class ArmMonths(StrictModel):
    """A positive time in months per arm."""

    treated: Annotated[float, Field(gt=0.0)]
    control: Annotated[float, Field(gt=0.0)]


class ResponseSpec(StrictModel):
    """The ``response:`` section of a scenario: how response and its duration follow from EFS.

    Defaults are calibrated to ZUMA-7 (see the module docstring for the derivation).
    """

    early_window: Annotated[float, Field(gt=0.0)] = 3.0
    """Months: an EFS event up to this time may be a failure to respond."""
    no_response_if_early_event: ArmProbability = ArmProbability(treated=0.52, control=0.843)
    """P(no response | EFS event within the early window)."""
    complete_response_if_ongoing: ArmProbability = ArmProbability(treated=0.90, control=0.85)
    """P(CR | responder whose response is ongoing)."""
    complete_response_if_relapsed: ArmProbability = ArmProbability(treated=0.64, control=0.58)
    """P(CR | responder who relapsed)."""
    stable_disease_if_no_response: ArmProbability = ArmProbability(treated=0.35, control=0.45)
    """P(SD | no response); the others are PD."""
    onset_median: ArmMonths = ArmMonths(treated=1.0, control=1.5)
    """Median months from randomization to response."""
    onset_log_sd: Annotated[float, Field(ge=0.0)] = 0.2
    """Log-scale SD of the onset time (0: everyone at the median)."""


def _per_arm(values: ArmProbability | ArmMonths, in_treated: np.ndarray) -> np.ndarray:
    """The per-patient value of a per-arm setting (``in_treated``: True in the treated arm)."""
    return np.where(in_treated, values.treated, values.control)


def _check_inputs(treated: np.ndarray, efs_time: np.ndarray, efs_event: np.ndarray) -> None:
    """Raise ValueError unless the arrays are one-dimensional and of the same length."""
    if not (treated.ndim == efs_time.ndim == efs_event.ndim == 1 and treated.size == efs_time.size == efs_event.size):
        raise ValueError("treated, efs_time and efs_event must be one-dimensional arrays of the same length")


def generate_response(
    rng: np.random.Generator,
    treated: np.ndarray,
    efs_time: np.ndarray,
    efs_event: np.ndarray,
    spec: ResponseSpec,
) -> dict[str, np.ndarray]:
    """Draw best response, response group and duration of response consistent with EFS.

    Parameters
    ----------
    rng
        Source of all randomness: one ``random`` and one ``standard_normal`` call.
    treated
        0/1 per patient (1 = treated arm).
    efs_time
        EFS time in months (positive).
    efs_event
        0/1 per patient (1 = EFS event, 0 = censored).
    spec
        Response settings.

    Returns
    -------
    dict of str to numpy.ndarray
        ``best_response`` (object: "CR", "PR", "SD", "PD"), ``responder`` (int 0/1), ``response_group`` (object:
        "ongoing", "relapsed", "no_response"), ``dor_time`` (months, NaN for non-responders) and ``dor_event``
        (0.0/1.0, NaN for non-responders).
    """
    treated, efs_time, efs_event = np.asarray(treated), np.asarray(efs_time, dtype=float), np.asarray(efs_event)
    _check_inputs(treated, efs_time, efs_event)
    uniforms = rng.random((UNIFORM_ROWS, treated.size))
    normals = rng.standard_normal((NORMAL_ROWS, treated.size))
    columns = response_from_draws(uniforms, normals, treated == 1, efs_time, efs_event == 1, spec)
    best, group = columns["best_response"], columns["response_group"]
    return columns | {"best_response": BEST_RESPONSES[best], "response_group": RESPONSE_GROUPS[group]}


def response_from_draws(
    uniforms: np.ndarray,
    normals: np.ndarray,
    treated: np.ndarray,
    efs_time: np.ndarray,
    event: np.ndarray,
    spec: ResponseSpec,
) -> dict[str, np.ndarray]:
    """Turn pre-drawn variates into response columns, element by element (any shape of patients, e.g. cohorts x n).

    Parameters
    ----------
    uniforms
        ``(UNIFORM_ROWS, ...)`` uniforms on [0, 1).
    normals
        ``(NORMAL_ROWS, ...)`` standard normals.
    treated
        Booleans, True in the treated arm.
    efs_time
        EFS time in months (positive).
    event
        Booleans, True for an EFS event.
    spec
        Response settings.

    Returns
    -------
    dict of str to numpy.ndarray
        As :func:`generate_response`, but ``best_response`` and ``response_group`` are integer codes into
        :data:`BEST_RESPONSES` and :data:`RESPONSE_GROUPS`.
    """
    no_response = event & (efs_time <= spec.early_window)
    no_response &= uniforms[0] < _per_arm(spec.no_response_if_early_event, treated)
    responder = ~no_response
    p_cr = np.where(
        event,
        _per_arm(spec.complete_response_if_relapsed, treated),
        _per_arm(spec.complete_response_if_ongoing, treated),
    )
    partial = uniforms[1] >= p_cr
    progressive = uniforms[2] >= _per_arm(spec.stable_disease_if_no_response, treated)
    best = np.where(responder, partial.astype(np.int8), 2 + progressive.astype(np.int8))
    group = np.where(no_response, 2, event.astype(np.int8))
    onset = _per_arm(spec.onset_median, treated) * np.exp(spec.onset_log_sd * normals[0])
    onset = np.minimum(onset, efs_time / 2)
    return {
        "best_response": best,
        "responder": responder.astype(int),
        "response_group": group,
        "dor_time": np.where(responder, efs_time - onset, np.nan),
        "dor_event": np.where(responder, event.astype(float), np.nan),
    }
