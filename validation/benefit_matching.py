"""Matched-pair metrics of predicted treatment benefit: c-for-benefit by either matching, and E-for-benefit.

Both metrics pair treated with control patients on predicted benefit at a horizon t (the outcome is an event by t;
patients censored before t are left out, see :mod:`tmesurv.validation.benefit`). A pair's predicted benefit is the
mean of its two patients' predicted benefits, its observed benefit ``y_control - y_treated`` (-1, 0 or 1).

Two matchings (``BenefitMatching.method``):

* ``rank`` (deterministic, the default): the smaller arm's k-th of m patients by predicted benefit is paired with the
  larger arm's patient of rank ``floor((k + 1/2) M / m)`` (:func:`tmesurv.validation.benefit.rank_matched_pairs`).
* ``random`` (van Klaveren et al. 2018, J Clin Epidemiol 94:59, as in their code): m patients are drawn at random,
  without replacement, from the larger arm; both arms are sorted by predicted benefit with ties broken at random, and
  paired by rank. The estimate is the mean over ``repeats`` matchings (seeded, the same whatever the number of
  bootstrap replicates); a bootstrap replicate draws one matching, so its percentile interval holds the matching's
  variability as well as the sampling's.

Metrics of the pairs:

* **c-for-benefit**: the share of pairs of pairs with different observed benefit in which the pair with the larger
  observed benefit has the larger predicted benefit (ties in predicted benefit count one half), as
  ``Hmisc::rcorr.cens``.
* **E-for-benefit** (Maas, van Klaveren et al. 2023, BMC Med Res Methodol 23:74; the "ECE for benefit"): the pairs'
  observed benefit is smoothed on their predicted benefit by local quadratic regression (R's ``loess(observed ~
  predicted, span = 0.75, degree = 2)`` with ``surface = "direct"``, the exact local fit that R's default
  ``"interpolate"`` approximates on a k-d tree), and the absolute differences between smoothed observed and predicted
  pair benefit are summarised by their mean (``e_for_benefit``), median (``e50_for_benefit``) and 90th percentile
  (``e90_for_benefit``). Like the c-for-benefit, it is unbiased only under censoring independent of the outcome and
  of predicted benefit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from tmesurv.validation.benefit import check_arms, pair_concordance, rank_matched_pairs
from tmesurv.validation.bootstrap import counts_to_indices
from tmesurv.validation.ipcw import followed_to, survival_inputs

Matching = Literal["rank", "random"]
MATCHINGS: tuple[str, ...] = get_args(Matching)
LOESS_SPAN = 0.75  # R's loess default, as in Maas et al.
E_SUMMARIES = {"e_for_benefit": None, "e50_for_benefit": 0.5, "e90_for_benefit": 0.9}  # mean, median, 90th percentile
_ROWS_AT_ONCE = 64  # matchings handled together


@dataclass(frozen=True)
class BenefitMatching:
    """How treated and control patients are paired on predicted benefit.

    Attributes
    ----------
    method
        ``rank`` (deterministic) or ``random`` (van Klaveren's, averaged over ``repeats``).
    repeats
        Random matchings averaged for the estimate (``random`` only).
    seed
        Seed of the random matchings.
    """

    method: Matching = "rank"
    repeats: int = 50
    seed: int = 1

    def __post_init__(self) -> None:
        if self.method not in MATCHINGS:
            raise ValueError(f"benefit matching '{self.method}': use one of {', '.join(MATCHINGS)}")
        if self.repeats < 1:
            raise ValueError("the number of random matchings must be at least 1")


RANK_MATCHING = BenefitMatching()


@dataclass(frozen=True)
class MatchedPairs:
    """Pairs of N matchings: ``(N, K)`` pair predicted and observed benefit and validity; each matching's weight row."""

    predicted: np.ndarray
    observed: np.ndarray
    valid: np.ndarray
    row: np.ndarray

    def mean_by_row(self, values: np.ndarray, rows: int) -> np.ndarray:
        """``(rows,)`` mean of per-matching ``values`` over each weight row's matchings (NaN stays NaN)."""
        return np.bincount(self.row, weights=values, minlength=rows) / np.bincount(self.row, minlength=rows)


def matched_pairs(
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    benefit: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
    matching: BenefitMatching = RANK_MATCHING,
) -> MatchedPairs:
    """The matched pairs of every weight row: one matching each, ``repeats`` random ones for the first row.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and event indicators (1 = event).
    treated
        ``(n,)`` 1 for treatment, 0 for control.
    benefit
        ``(n,)`` predicted benefit at ``horizon`` (control risk minus treated risk).
    horizon
        The time t.
    weights
        ``(B, n)`` integer bootstrap counts (rows sum to n); None: the plain data.
    matching
        The matching.

    Returns
    -------
    MatchedPairs
        ``N = B`` matchings (rank), or ``repeats + B - 1`` (random: the first row's repeats, then one per row).
    """
    time, event, w, treated, benefit = survival_inputs(time, event, weights, treated, benefit)
    check_arms(treated)
    rows = counts_to_indices(w)
    at_end = (time == horizon) & ~(time > horizon).any()  # censored at an administrative horizon: event-free
    known = ((time > horizon) | (event == 1) | at_end)[rows]
    outcome = ((time <= horizon) & (event == 1)).astype(float)[rows]
    arm, benefit = treated[rows] == 1, benefit[rows]
    if matching.method == "rank":
        pairs = rank_matched_pairs(benefit, outcome, arm, known)
        return MatchedPairs(*pairs, np.arange(rows.shape[0]))
    estimate_rng, replicate_rng = (np.random.default_rng([matching.seed, stream]) for stream in (0, 1))
    row_of = np.concatenate([np.zeros(matching.repeats, dtype=int), np.arange(1, rows.shape[0])])
    parts = []
    for rng, chosen in ((estimate_rng, row_of[: matching.repeats]), (replicate_rng, row_of[matching.repeats :])):
        for start in range(0, chosen.size, _ROWS_AT_ONCE):
            chunk = chosen[start : start + _ROWS_AT_ONCE]
            parts.append(random_matched_pairs(benefit[chunk], outcome[chunk], arm[chunk], known[chunk], rng))
    return MatchedPairs(*(np.concatenate([part[k] for part in parts]) for k in range(3)), row_of)


def random_matched_pairs(
    benefit: np.ndarray, outcome: np.ndarray, arm: np.ndarray, known: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random matching as van Klaveren's, one per row: ``(R, n)`` in, ``(R, n)`` pair benefits and validity out.

    In each row the larger arm's eligible patients (``known``) are subsampled at random to the smaller arm's size,
    both arms sorted by ``benefit`` with ties broken at random, and paired by rank; pairs are left-aligned, the
    columns beyond the number of pairs invalid.
    """
    draws, n = benefit.shape
    sizes = np.stack([(known & ~arm).sum(axis=1), (known & arm).sum(axis=1)])
    pairs = sizes.min(axis=0)
    sorted_arms = []
    for in_arm in (~arm, arm):  # control, treated
        eligible = known & in_arm
        priority = np.where(eligible, rng.random((draws, n)), np.inf)
        kept = eligible & (np.argsort(np.argsort(priority, axis=1), axis=1) < pairs[:, None])
        tie_break = rng.random((draws, n))
        order = np.lexsort((tie_break, np.where(kept, benefit, np.inf)), axis=1)
        sorted_arms.append((np.take_along_axis(benefit, order, 1), np.take_along_axis(outcome, order, 1)))
    (ben_c, y_c), (ben_t, y_t) = sorted_arms
    valid = np.arange(n)[None, :] < pairs[:, None]
    predicted, observed = (ben_c + ben_t) / 2, y_c - y_t
    return np.where(valid, predicted, 0.0), np.where(valid, observed, 0.0), valid


def c_for_benefit(
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    risk_control: np.ndarray,
    risk_treated: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
    matching: BenefitMatching = RANK_MATCHING,
) -> float | np.ndarray:
    """c-for-benefit at ``horizon`` by the given matching (see the module docstring).

    Parameters
    ----------
    time, event, treated, risk_control, risk_treated, horizon
        As in :func:`tmesurv.validation.benefit.benefit_by_group`.
    weights
        ``(B, n)`` integer bootstrap counts (resample within arm); None: the plain estimate.
    matching
        The matching.

    Returns
    -------
    float or numpy.ndarray
        The c-for-benefit, or ``(B,)`` values; NaN without two pairs of different observed benefit or when nobody is
        followed beyond ``horizon``.
    """
    benefit = np.asarray(risk_control, dtype=float) - np.asarray(risk_treated, dtype=float)
    pairs = matched_pairs(time, event, treated, benefit, horizon, weights, matching)
    return _by_row(pairs, pair_concordance(pairs.predicted, pairs.observed, pairs.valid), time, weights, horizon)


def e_for_benefit(
    time: np.ndarray,
    event: np.ndarray,
    treated: np.ndarray,
    risk_control: np.ndarray,
    risk_treated: np.ndarray,
    horizon: float,
    weights: np.ndarray | None = None,
    matching: BenefitMatching = RANK_MATCHING,
) -> dict[str, float | np.ndarray]:
    """E-for-benefit, E50- and E90-for-benefit at ``horizon`` (see the module docstring).

    Parameters
    ----------
    time, event, treated, risk_control, risk_treated, horizon, weights, matching
        As in :func:`c_for_benefit`.

    Returns
    -------
    dict[str, float | numpy.ndarray]
        ``e_for_benefit``, ``e50_for_benefit``, ``e90_for_benefit``: each a float, or ``(B,)`` values; NaN with fewer
        than 5 pairs or when nobody is followed beyond ``horizon``.
    """
    benefit = np.asarray(risk_control, dtype=float) - np.asarray(risk_treated, dtype=float)
    pairs = matched_pairs(time, event, treated, benefit, horizon, weights, matching)
    errors = np.full((len(E_SUMMARIES), pairs.row.size), np.nan)
    for k in range(pairs.row.size):
        x, y = pairs.predicted[k, pairs.valid[k]], pairs.observed[k, pairs.valid[k]]
        if x.size >= 5 and np.ptp(x) > 0:
            errors[:, k] = _summaries(np.abs(loess_direct(x, y) - x))
    return {
        name: _by_row(pairs, values, time, weights, horizon) for name, values in zip(E_SUMMARIES, errors, strict=True)
    }


def loess_direct(x: np.ndarray, y: np.ndarray, span: float = LOESS_SPAN) -> np.ndarray:
    """Fitted values of R's ``loess(y ~ x, span = span, degree = 2, surface = "direct")`` (one predictor, span < 1).

    At each ``x_i`` a quadratic is fitted by weighted least squares with tricube weights
    ``(1 - (d / h)^3)^3`` of the distances d to the other points, h the distance to the ``floor(n * span)``-th
    nearest point.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    q = int(np.floor(x.size * span))
    if q < 3:
        raise ValueError(f"span {span} leaves {q} points in each neighbourhood: a local quadratic needs 3")
    offset = x[None, :] - x[:, None]  # the local quadratic in (x_j - x_i): its value at x_i is its intercept
    distance = np.abs(offset)
    bandwidth = np.partition(distance, q - 1, axis=1)[:, q - 1 : q]
    with np.errstate(divide="ignore", invalid="ignore"):
        scaled = np.where(bandwidth > 0, distance / bandwidth, np.where(distance > 0, 1.0, 0.0))
    weight = np.where(scaled < 1, (1 - scaled**3) ** 3, 0.0)
    moments, responses, power = [], [], weight
    for k in range(5):
        moments.append(power.sum(axis=1))
        if k < 3:
            responses.append(power @ y)
        power = power * offset
    gram = np.stack([np.stack(moments[i : i + 3], axis=-1) for i in range(3)], axis=-2)
    return np.linalg.solve(gram, np.stack(responses, axis=-1)[..., None])[:, 0, 0]


def _summaries(errors: np.ndarray) -> np.ndarray:
    """Mean, median and 90th percentile (type 7) of absolute errors."""
    return np.array([errors.mean(), *np.quantile(errors, [0.5, 0.9])])


def _by_row(
    pairs: MatchedPairs, values: np.ndarray, time: np.ndarray, weights: np.ndarray | None, horizon: float
) -> float | np.ndarray:
    """Per-matching values averaged per weight row; NaN where nobody is followed to ``horizon``."""
    time = np.asarray(time, dtype=float)
    w = np.ones((1, time.size)) if weights is None else np.asarray(weights, dtype=float)
    value = np.where(followed_to(time, w, horizon), pairs.mean_by_row(values, w.shape[0]), np.nan)
    return float(value[0]) if weights is None else value


RANK_NOTE, RANDOM_NOTE = "rank matching on predicted benefit", "random matching (van Klaveren)"


def matching_note(matching: BenefitMatching) -> str:
    """What the c- and E-for-benefit rows say about their matching."""
    if matching.method == "rank":
        return RANK_NOTE
    return f"{RANDOM_NOTE}, mean of {matching.repeats} matchings, seed {matching.seed}"


def matching_in_note(note: object) -> str | None:
    """The matching a c- or E-for-benefit row's note names (the part :func:`matching_note` wrote), or None."""
    parts = str(note).split("; ") if isinstance(note, str) else []
    return next((part for part in parts if part == RANK_NOTE or part.startswith(RANDOM_NOTE)), None)
