"""A Cox proportional-hazards solver vectorised over replicate cohorts, for simulation (power) studies.

All replicates share the number of patients ``n`` and the covariates ``p``. Each Newton-Raphson iteration is a handful
of numpy operations on ``(R, n, ...)`` arrays: per replicate the patients are sorted by time once (events before
censorings at a shared time), risk-set sums are reverse cumulative sums read off at the first patient of each tie
group (patients sharing a time), a tie group's event sums are the difference of two such reads, and the Efron
correction uses each event's rank within its tie group. There is no Python loop over patients or replicates.

The iteration follows R's ``coxph`` (``coxfit6.c``): start at zero, take Newton steps, halve the step towards the
previous estimate when the partial log-likelihood decreases, and stop when the relative change in the
log-likelihood is at most ``tol`` (not straight after a halving). Covariates are centred per replicate, as in R, and
the linear predictor is shifted by its maximum per replicate so that ``exp`` cannot overflow; neither changes the
estimate or the log-likelihood.

Monotone likelihood (a covariate separates the events, e.g. all events in one level of a binary covariate, so its
coefficient diverges) is flagged by this rule, after the iterations stop:

* the Newton step still to be taken at the final estimate, ``I^{-1} U``, measured in linear-predictor units (times
  each covariate's mean absolute deviation, R's scaling), exceeds ``sqrt(tol)`` for some covariate. At a regular
  optimum Newton converges quadratically and this step is of order ``tol`` or smaller; when the likelihood is
  monotone the log-likelihood flattens geometrically while the coefficient keeps moving by about a constant step
  (about 1 per iteration for a separating binary covariate), which is what R's "coefficient may be infinite" check
  (step > ``sqrt(eps) * |coef|``) also detects; or
* the information matrix becomes singular after the first iteration (the diverging coefficient drove it to
  numerical zero).

A flagged replicate has ``monotone`` True and NaN coefficients and standard errors (its log-likelihood, the supremum
being approached, is kept). An information matrix singular already at zero (no events, a constant or collinear
covariate) is a design problem, not monotone likelihood: NaN coefficients, ``converged`` False, ``monotone`` False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

_SINGULAR = 1e-12  # smallest eigenvalue of the information, relative to the largest, treated as zero


@dataclass(frozen=True)
class BatchCoxFit:
    """Cox fits of R replicate cohorts with p covariates.

    Attributes
    ----------
    coef
        ``(R, p)`` log hazard ratios (NaN when not estimable or monotone).
    se
        ``(R, p)`` standard errors, the square roots of the diagonal of the inverse information at ``coef``.
    covariance
        ``(R, p, p)`` the inverse information at ``coef`` (NaN where ``coef`` is).
    loglik
        ``(R,)`` partial log-likelihood at ``coef``.
    iterations
        ``(R,)`` Newton iterations taken (as R's ``fit$iter``).
    converged
        ``(R,)`` whether the relative change in log-likelihood fell below ``tol`` within ``max_iter``.
    monotone
        ``(R,)`` monotone likelihood: a covariate separates the events and its coefficient diverges.
    """

    coef: np.ndarray
    se: np.ndarray
    covariance: np.ndarray
    loglik: np.ndarray
    iterations: np.ndarray
    converged: np.ndarray
    monotone: np.ndarray


@dataclass(frozen=True)
class _Sorted:
    """The beta-independent layout of a batch: per replicate, patients sorted by time, events first within a time."""

    x: np.ndarray  # (R, n, p) centred covariates
    one_x: np.ndarray  # (R, n, 1 + p) a column of ones, then x
    event: np.ndarray  # (R, n) 1.0 for an event
    start: np.ndarray  # (R, n) index of the first patient of the tie group
    events_stop: np.ndarray  # (R, n) one past the last event of the tie group
    efron: np.ndarray  # (R, n) k / m for the k-th (from 0) of m events in a tie group; 0 for Breslow
    stratum_start: np.ndarray  # (R, n) index of the first patient of the stratum (0 without strata)
    stratum_stop: np.ndarray  # (R, n) one past the last patient of the stratum (n without strata)

    def take(self, rows: np.ndarray) -> _Sorted:
        """The layout of a subset of replicates (itself when that is all of them)."""
        if rows.size == self.x.shape[0]:
            return self
        return _Sorted(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))


def fit_cox_batch(
    time: np.ndarray,
    event: np.ndarray,
    covariates: np.ndarray,
    ties: Literal["efron", "breslow"] = "efron",
    max_iter: int = 30,
    tol: float = 1e-10,
    strata: np.ndarray | None = None,
) -> BatchCoxFit:
    """Fit the same Cox model to R replicate cohorts at once.

    Parameters
    ----------
    time
        ``(R, n)`` follow-up times.
    event
        ``(R, n)`` event indicators (1 = event, 0 = censored).
    covariates
        ``(R, n, p)`` covariates (``(R, n)`` is read as ``p = 1``).
    ties
        ``"efron"`` (R's default) or ``"breslow"``.
    max_iter
        Most Newton iterations per replicate.
    tol
        Convergence: relative change in partial log-likelihood at most ``tol`` (R's ``eps``).
    strata
        ``(R, n)`` integer stratum codes: each stratum has its own baseline hazard (R's ``strata()``); None for one.

    Returns
    -------
    BatchCoxFit
        Per-replicate estimates; see the module docstring for the monotone-likelihood rule.

    Raises
    ------
    ValueError
        On mismatched shapes, non-finite values, events other than 0/1, an unknown ``ties``, ``max_iter < 1`` or
        ``tol <= 0``.
    """
    time, event, covariates = _validated(time, event, covariates, ties)
    if max_iter < 1 or not tol > 0:
        raise ValueError(f"max_iter must be at least 1 and tol positive; got {max_iter} and {tol}")
    strata = np.zeros(time.shape, dtype=np.int64) if strata is None else np.asarray(strata, dtype=np.int64)
    if strata.shape != time.shape:
        raise ValueError(f"expected strata of shape {time.shape}; got {strata.shape}")
    layout = _layout(time, event, covariates, ties, strata)
    n_rep, _, p = layout.x.shape
    beta = np.zeros((n_rep, p))
    loglik, score, info = _derivatives(layout, beta)
    step, singular = _newton_step(score, info)
    state = _State.start(beta, loglik, step, singular)
    for iteration in range(1, max_iter + 1):
        rows = np.flatnonzero(state.active)
        if rows.size == 0:
            break
        new_loglik, new_score, new_info = _derivatives(layout.take(rows), state.beta[rows])
        state.update(rows, iteration, new_loglik, new_score, new_info, tol, last=iteration == max_iter)
    return state.result(_scale(layout.x), tol)


def cox_information(time: np.ndarray, event: np.ndarray, covariates: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The Cox partial-likelihood information (Breslow ties) of one data set at ``beta``.

    Parameters
    ----------
    time, event
        ``(n,)`` follow-up times and 0/1 event indicators.
    covariates
        ``(n, p)`` design.
    beta
        ``(p,)`` coefficients.

    Returns
    -------
    numpy.ndarray
        ``(p, p)``; the same whatever the order of the rows.
    """
    time, event = time[None].astype(float), event[None].astype(float)
    layout = _layout(time, event, covariates[None].astype(float), "breslow", np.zeros(time.shape, dtype=np.int64))
    return _derivatives(layout, beta[None].astype(float))[2][0]


def _validated(
    time: np.ndarray, event: np.ndarray, covariates: np.ndarray, ties: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=float)
    covariates = np.asarray(covariates, dtype=float)
    if covariates.ndim == 2:
        covariates = covariates[..., None]
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    if time.ndim != 2 or event.shape != time.shape or covariates.ndim != 3 or covariates.shape[:2] != time.shape:
        raise ValueError(
            f"expected time and event (R, n) and covariates (R, n, p); got {time.shape}, {event.shape}, "
            f"{covariates.shape}"
        )
    if not (np.isfinite(time).all() and np.isfinite(covariates).all()):
        raise ValueError("time and covariates must be finite")
    if not np.isin(event, (0.0, 1.0)).all():
        raise ValueError("event must be 0 or 1")
    return time, event, covariates


def _layout(time: np.ndarray, event: np.ndarray, covariates: np.ndarray, ties: str, strata: np.ndarray) -> _Sorted:
    """Sort each replicate by stratum, then time (events before censorings at a tied time); find its tie groups."""
    order = np.lexsort((1.0 - event, time, strata), axis=1)
    t, d, s, x = (_gather(values, order) for values in (time, event, strata, covariates))
    x = x - x.mean(axis=1, keepdims=True)
    new_stratum = np.ones(t.shape, dtype=bool)
    new_stratum[:, 1:] = s[:, 1:] != s[:, :-1]
    new_time = new_stratum.copy()
    new_time[:, 1:] |= t[:, 1:] != t[:, :-1]
    start, stop = _block_bounds(new_time)
    stratum_start, stratum_stop = _block_bounds(new_stratum)
    n_rep, n = t.shape
    counts = np.zeros((n_rep, n + 1))
    np.cumsum(d, axis=1, out=counts[:, 1:])
    in_group = _gather(counts, stop) - _gather(counts, start)  # events in the tie group
    efron = np.zeros((n_rep, n))
    if ties == "efron":
        positions = np.broadcast_to(np.arange(n), (n_rep, n))
        efron = np.divide(positions - start, in_group, out=efron, where=d > 0)  # events come first in a group
    one_x = np.concatenate([np.ones((n_rep, n, 1)), x], axis=-1)
    return _Sorted(x, one_x, d, start, start + in_group.astype(int), efron, stratum_start, stratum_stop)


def _gather(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``values[r, index[r, i]]`` for every replicate ``r`` and position ``i`` (trailing axes of ``values`` kept).

    ``np.take_along_axis`` or ``values[rows, index]``, through one flat ``take`` (several times faster).
    """
    n_rep, length = values.shape[:2]
    flat = (np.arange(n_rep)[:, None] * length + index).ravel()
    gathered = values.reshape(n_rep * length, *values.shape[2:]).take(flat, axis=0)
    return gathered.reshape(*index.shape, *values.shape[2:])


def _block_bounds(first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per position, the index of its block's first position and one past its last; ``first`` marks block starts."""
    n_rep, n = first.shape
    positions = np.broadcast_to(np.arange(n), (n_rep, n))
    start = np.maximum.accumulate(np.where(first, positions, 0), axis=1)
    last = np.ones((n_rep, n), dtype=bool)
    last[:, :-1] = first[:, 1:]
    stop = np.minimum.accumulate(np.where(last, positions + 1, n)[:, ::-1], axis=1)[:, ::-1]
    return start, stop


def _reverse_cumsum(values: np.ndarray) -> np.ndarray:
    """Sums over positions ``i..n-1`` along axis 1, with a trailing zero at position ``n``."""
    out = np.zeros((values.shape[0], values.shape[1] + 1, *values.shape[2:]))
    np.cumsum(values[:, ::-1], axis=1, out=out[:, -2::-1])
    return out


def _derivatives(layout: _Sorted, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial log-likelihood, score and information at ``beta`` for every replicate in ``layout``.

    The risk-set sums of ``w`` and ``w x`` (``w = exp(eta)``) at each event, less the Efron share of the tie group's
    event sums, come from one reverse cumulative sum read at the group's first patient and one past its last event.
    With ``c_i = d_i / D_i`` (``D_i`` the corrected risk-set sum of event ``i``), the information's first term
    ``sum_i c_i (S2(t_i) - f_i E2(group_i))`` is rewritten as ``sum_j h_j w_j x_j x_j'``, where ``h_j`` collects the
    ``c_i`` of the events whose risk set contains ``j`` less the Efron shares of ``j``'s own tie group: one weighted
    cross-product per replicate instead of p x p risk-set sums per patient.
    """
    x, d, f, start, events_stop = layout.x, layout.event, layout.efron, layout.start, layout.events_stop
    stratum_start, stratum_stop = layout.stratum_start, layout.stratum_stop
    eta = np.einsum("rnp,rp->rn", x, beta)
    eta -= eta.max(axis=1, keepdims=True)
    efron, stratified = bool(f.any()), bool(stratum_start.any())
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        w = np.exp(eta)
        risk = _reverse_cumsum(w[..., None] * layout.one_x)
        from_group = _gather(risk, start)
        sums = from_group - _gather(risk, stratum_stop) if stratified else from_group  # from the tie group on
        if efron:
            sums -= f[..., None] * (from_group - _gather(risk, events_stop))
        denom = np.where(d > 0, sums[..., 0], 1.0)
        mean = sums[..., 1:] / denom[..., None]
        loglik = np.sum(d * (eta - np.log(denom)), axis=1)
        score = np.einsum("rn,rnp->rp", d, x - mean)
        c = d / denom
        first_in_stratum = stratum_start if stratified else None
        weight = w * _risk_weights(c, d, f if efron else None, start, events_stop, first_in_stratum)
        info = np.matmul(np.swapaxes(x, 1, 2), weight[..., None] * x)
        info -= np.matmul(np.swapaxes(mean, 1, 2), d[..., None] * mean)
    return loglik, score, info


def _risk_weights(
    c: np.ndarray,
    d: np.ndarray,
    f: np.ndarray | None,
    start: np.ndarray,
    events_stop: np.ndarray,
    stratum_start: np.ndarray | None,
) -> np.ndarray:
    """``h_j``: the ``c_i`` of its stratum's events up to its tie group, less ``d_j`` times its group's ``c_i f_i``.

    ``f`` is None for Breslow ties, ``stratum_start`` None for one stratum.
    """
    cumulative = np.zeros((c.shape[0], c.shape[1] + 1))
    np.cumsum(c, axis=1, out=cumulative[:, 1:])
    h = _gather(cumulative, events_stop)
    if stratum_start is not None:
        h -= _gather(cumulative, stratum_start)
    if f is not None:
        np.cumsum(c * f, axis=1, out=cumulative[:, 1:])
        h -= d * (_gather(cumulative, events_stop) - _gather(cumulative, start))
    return h


def _newton_step(score: np.ndarray, info: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``I^{-1} U`` per replicate, and which information matrices are singular (their step is NaN)."""
    inverse, singular = _inverse(info)
    return np.einsum("rpq,rq->rp", inverse, score), singular


def _inverse(info: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses of symmetric information matrices via eigendecomposition; NaN where singular or non-finite."""
    finite = np.isfinite(info).all(axis=(1, 2))
    values, vectors = np.linalg.eigh(np.where(finite[:, None, None], info, 0.0))
    top = values[:, -1]
    singular = ~finite | (top <= 0) | (values[:, 0] <= _SINGULAR * np.abs(top))
    safe = np.where(singular[:, None], 1.0, values)
    inverse = np.einsum("rpk,rk,rqk->rpq", vectors, 1.0 / safe, vectors)
    inverse[singular] = np.nan
    return inverse, singular


def _scale(x: np.ndarray) -> np.ndarray:
    """Mean absolute deviation per replicate and covariate (x is already centred), as R scales covariates."""
    return np.abs(x).mean(axis=1)


@dataclass
class _State:
    """Per-replicate Newton-Raphson state, updated in place for the replicates still iterating."""

    beta: np.ndarray  # the estimate being evaluated next (R's newbeta)
    old_beta: np.ndarray  # the last accepted estimate
    loglik: np.ndarray  # log-likelihood at old_beta
    step: np.ndarray  # Newton step at the last evaluated estimate
    inverse: np.ndarray  # inverse information at the last evaluated estimate
    iterations: np.ndarray
    halving: np.ndarray
    active: np.ndarray
    converged: np.ndarray
    singular: np.ndarray  # information singular after the first iteration
    inestimable: np.ndarray  # information singular at zero

    @classmethod
    def start(cls, beta: np.ndarray, loglik: np.ndarray, step: np.ndarray, singular: np.ndarray) -> _State:
        """The state after evaluating the starting value (zero) and planning the first Newton step."""
        n_rep, p = beta.shape
        false = np.zeros(n_rep, dtype=bool)
        return cls(
            beta=np.where(singular[:, None], np.nan, beta + np.nan_to_num(step)),
            old_beta=beta.copy(),
            loglik=loglik.copy(),
            step=step,
            inverse=np.full((n_rep, p, p), np.nan),
            iterations=np.zeros(n_rep, dtype=int),
            halving=false.copy(),
            active=~singular,
            converged=false.copy(),
            singular=false.copy(),
            inestimable=singular.copy(),
        )

    def update(
        self,
        rows: np.ndarray,
        iteration: int,
        new_loglik: np.ndarray,
        score: np.ndarray,
        info: np.ndarray,
        tol: float,
        last: bool,
    ) -> None:
        """One iteration of R's coxfit6 for the replicates ``rows`` after evaluating them at ``beta[rows]``."""
        self.iterations[rows] = iteration
        inverse, singular = _inverse(info)
        self.inverse[rows] = inverse
        self.step[rows] = np.einsum("rpq,rq->rp", inverse, score)
        old = self.loglik[rows]
        done = ~self.halving[rows] & (np.abs(new_loglik - old) <= tol * np.abs(new_loglik))
        self.converged[rows[done]] = True
        self.loglik[rows[done]] = new_loglik[done]
        stop = done | singular | last
        self.singular[rows[singular & ~done]] = True
        self.loglik[rows[stop & ~done]] = new_loglik[stop & ~done]
        self.active[rows[stop]] = False
        going = ~stop
        worse = going & ~(new_loglik >= old)  # a NaN log-likelihood counts as worse
        halve, accept = rows[worse], rows[going & ~worse]
        self.halving[halve] = True
        self.beta[halve] = (self.old_beta[halve] + self.beta[halve]) / 2
        self.halving[accept] = False
        self.loglik[accept] = new_loglik[going & ~worse]
        self.old_beta[accept] = self.beta[accept]
        self.beta[accept] = self.beta[accept] + self.step[accept]

    def result(self, scale: np.ndarray, tol: float) -> BatchCoxFit:
        """Estimates, flagging monotone likelihood (see the module docstring) and blanking unusable rows."""
        with np.errstate(invalid="ignore"):
            diverging = (np.abs(self.step) * scale > np.sqrt(tol)).any(axis=1)
        monotone = ~self.inestimable & (self.singular | diverging)
        unusable = monotone | self.inestimable
        coef = np.where(unusable[:, None], np.nan, self.beta)
        covariance = np.where(unusable[:, None, None], np.nan, self.inverse)
        se = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2))
        return BatchCoxFit(
            coef, se, covariance, self.loglik.copy(), self.iterations.copy(), self.converged.copy(), monotone
        )
