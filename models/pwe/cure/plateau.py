"""Is a cure plateau supported by the follow-up? The follow-up facts the cure fraction rests on, per group of patients.

A cure fraction is identified only by follow-up beyond the uncured's events: where the Kaplan-Meier curve still falls
at the last follow-up, the model's plateau is an extrapolation. Per group (an arm of a fit's patients):

* ``last_event``, ``max_follow_up`` (months) and the reverse Kaplan-Meier ``median_follow_up``;
* ``at_risk_after_last_event``: patients followed beyond the last event (the plateau's support);
* ``km_at_last_event``: the Kaplan-Meier survival at the last event, the height of the observed plateau;
* ``maller_zhou_p``: Maller and Zhou's test of sufficient follow-up (Maller & Zhou, *Survival Analysis with Long-Term
  Survivors*, 1996, section 4.3): ``q = N / n`` with ``N`` the events in ``(2 t_e - t_max, t_e]`` (``t_e`` the last
  event, ``t_max`` the last follow-up), and the approximate p-value ``(1 - q)^n`` of the null hypothesis that the
  follow-up is insufficient (small: the events stopped well before the end of follow-up).

The plateau is *supported* (:func:`plateau_rule_text`) when at least :data:`MIN_AT_RISK_AFTER_LAST_EVENT` patients were
followed beyond the last event and Maller and Zhou's p-value is below :data:`MAX_MALLER_ZHOU_P`.
"""

from __future__ import annotations

import numpy as np

from tmesurv.models.cox.km import curve_at, fit_km, median_follow_up

MIN_AT_RISK_AFTER_LAST_EVENT = 10
MAX_MALLER_ZHOU_P = 0.05
FOLLOW_UP_COLUMNS = [
    "n",
    "events",
    "last_event",
    "max_follow_up",
    "median_follow_up",
    "at_risk_after_last_event",
    "km_at_last_event",
    "maller_zhou_p",
    "plateau_supported",
]


def plateau_rule_text() -> str:
    """When :func:`follow_up_facts` calls a plateau supported, in words (for the report's methods and notes)."""
    return (
        f"a cure plateau is supported by the follow-up when at least {MIN_AT_RISK_AFTER_LAST_EVENT} patients were "
        f"followed beyond the last event and Maller and Zhou's test rejects insufficient follow-up (p < "
        f"{MAX_MALLER_ZHOU_P:g}); otherwise the cure fraction is an extrapolation of the curve beyond its last events"
    )


def follow_up_facts(time: np.ndarray, event: np.ndarray) -> dict[str, float | int | bool]:
    """The follow-up facts of one group of patients (see the module docstring); keys :data:`FOLLOW_UP_COLUMNS`.

    A group without events has NaN event facts and an unsupported plateau.
    """
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    n, events = time.size, int(event.sum())
    facts = {"n": n, "events": events, "max_follow_up": float(time.max()) if n else np.nan}
    facts["median_follow_up"] = median_follow_up(time, event) if events < n else np.nan
    if events == 0:
        return facts | {
            "last_event": np.nan,
            "at_risk_after_last_event": n,
            "km_at_last_event": np.nan,
            "maller_zhou_p": np.nan,
            "plateau_supported": False,
        }
    last_event = float(time[event == 1].max())
    after = int((time > last_event).sum())
    window = (time > 2 * last_event - facts["max_follow_up"]) & (time <= last_event) & (event == 1)
    p_value = float((1.0 - window.sum() / n) ** n)
    return facts | {
        "last_event": last_event,
        "at_risk_after_last_event": after,
        "km_at_last_event": float(curve_at(fit_km(time, event), last_event)["survival"]),
        "maller_zhou_p": p_value,
        "plateau_supported": bool(after >= MIN_AT_RISK_AFTER_LAST_EVENT and p_value < MAX_MALLER_ZHOU_P),
    }
