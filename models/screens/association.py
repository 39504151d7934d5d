"""Association screens: one test per feature (or per pair of features), each with its raw P and BH q.

Every screen returns a tidy table, one row per feature, with the raw P of the test (``p``) and the Benjamini-Hochberg
q over the screen's rows (``q``, R's ``p.adjust(p, "BH")``; a NaN P stays NaN and is not counted). A patient with a
missing value of a feature is left out of that feature's test only, and ``n`` (or ``n_group``, ``n_rest``) says how
many were used. The tests and the R calls they equal (checked by ``tests/reference/screens.R``):

* :func:`cox_screen` -- univariable Cox per feature, Efron ties, Wald P and interval (``coxph``).
* :func:`rank_sum_screen` -- Wilcoxon rank-sum of a group against the rest (``wilcox.test(x ~ g)`` with R's defaults).
* :func:`kruskal_screen` -- Kruskal-Wallis across groups (``kruskal.test``).
* :func:`spearman_pairs` -- Spearman's rho for every pair of columns (``cor.test(method = "spearman")``, default P).
* :func:`logistic_screen` -- univariable logistic regression per feature, Wald P and interval (``glm(family =
  binomial)``, ``confint.default``).

A feature whose estimate does not exist (monotone Cox likelihood, separated logistic outcome, no events, a constant
feature) gets NaN estimates and P, and a ``note`` saying why; it never stops the screen.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from functools import cache

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.discrete.discrete_model import Logit
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationWarning

from tmesurv.models.cox.batched import fit_cox_batch

COX_SCREEN_COLUMNS = ["feature", "n", "events", "coef", "se", "hr", "hr_lower", "hr_upper", "p", "q", "note"]
RANK_SUM_COLUMNS = [
    "feature",
    "n_group",
    "n_rest",
    "statistic",
    "median_group",
    "median_rest",
    "median_difference",
    "log2_fold_change",
    "p",
    "q",
    "method",
]
KRUSKAL_COLUMNS = ["feature", "n", "groups", "statistic", "df", "p", "q"]  # then median_<level> per level
SPEARMAN_COLUMNS = ["x", "y", "n", "rho", "statistic", "p", "q", "method"]
LOGISTIC_COLUMNS = ["feature", "n", "events", "coef", "se", "odds_ratio", "or_lower", "or_upper", "p", "q", "note"]

EXACT_RANK_SUM_LIMIT = 50  # R's wilcox.test: exact P when both groups are smaller than this and there are no ties
EXACT_SPEARMAN_LIMIT = 1290  # R's cor.test: AS 89 P up to this many pairs without ties
_ENUMERATED_SPEARMAN = 9  # AS 89 (as R runs it) enumerates all permutations up to this n, Edgeworth series above
_EDGEWORTH = (0.2274, 0.2531, 0.1745, 0.0758, 0.1033, 0.3932, 0.0879, 0.0151, 0.0072, 0.0831, 0.0131, 4.6e-4)

NO_PATIENTS = "not estimable: no patients with a value"
INESTIMABLE = "not estimable: no events, or the feature takes one value"
MONOTONE = "monotone likelihood: the feature separates the events, the hazard ratio is infinite"
NOT_CONVERGED = "did not converge"
ONE_OUTCOME = "not estimable: every patient has the same outcome"
CONSTANT = "not estimable: the feature takes one value"
SEPARATED = "perfect separation: the feature separates the outcomes, the odds ratio is infinite"


def bh_qvalues(p: np.ndarray | Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg q-values, as R's ``p.adjust(p, "BH")``.

    Parameters
    ----------
    p
        P values in [0, 1]; NaN allowed.

    Returns
    -------
    numpy.ndarray
        q-values in the shape of ``p``; NaN where ``p`` is NaN, and NaN P values do not count in the number of
        tests.
    """
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    known = ~np.isnan(p)
    if known.any():
        q[known] = stats.false_discovery_control(p[known], method="bh")
    return q


def cox_screen(features: pd.DataFrame, time: np.ndarray, event: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Univariable Cox model per feature (Efron ties, Wald test), as R's ``coxph(Surv(time, event) ~ x)``.

    The features are fitted together by :func:`tmesurv.models.cox.batched.fit_cox_batch`, one batch per pattern of
    missing values (features missing for the same patients share their patients).

    Parameters
    ----------
    features
        One numeric column per feature, one row per patient.
    time, event
        Follow-up time and event indicator (1 = event, 0 = censored) in the row order of ``features``. A patient
        without a time or event (e.g. a non-responder for duration of response) is left out of every fit.
    alpha
        One minus the confidence level of the hazard-ratio interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``COX_SCREEN_COLUMNS``: per feature the patients and events used, the log hazard ratio per unit of
        the feature (``coef``) and its standard error, the hazard ratio with its Wald interval, the Wald P, the BH
        q, and a ``note`` (empty when the fit is fine, otherwise why the row is NaN).
    """
    values = _feature_values(features)
    time, event = _column(time, len(features), "time"), _column(event, len(features), "event")
    has_outcome = ~(np.isnan(time) | np.isnan(event))
    _check_binary(event[has_outcome], "event")
    observed = ~np.isnan(values) & has_outcome[:, None]
    coef, se = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
    note = np.full(values.shape[1], "", dtype=object)
    patterns, which = np.unique(observed, axis=1, return_inverse=True)
    for k, rows in enumerate(patterns.T):
        columns = np.flatnonzero(which.ravel() == k)
        coef[columns], se[columns], note[columns] = _cox_batch(time[rows], event[rows], values[rows][:, columns])
    counts = {"n": observed.sum(axis=0), "events": (observed & (event == 1)[:, None]).sum(axis=0)}
    wald = wald_ratio(coef, se, alpha, ("hr", "hr_lower", "hr_upper"))
    table = pd.DataFrame({"feature": features.columns, **counts, "coef": coef, "se": se, **wald, "note": note})
    return table.assign(q=bh_qvalues(table["p"]))[COX_SCREEN_COLUMNS]


def _cox_batch(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coefficients, standard errors and notes of the features ``x`` (patients x features) on the same patients."""
    n_features = x.shape[1]
    if time.size == 0:
        return np.full(n_features, np.nan), np.full(n_features, np.nan), np.full(n_features, NO_PATIENTS)
    shape = (n_features, time.size)
    fit = fit_cox_batch(np.broadcast_to(time, shape), np.broadcast_to(event, shape), x.T)
    coef, se = fit.coef[:, 0], fit.se[:, 0]
    note = np.select([fit.monotone, np.isnan(coef), ~fit.converged], [MONOTONE, INESTIMABLE, NOT_CONVERGED], "")
    usable = note == ""
    return np.where(usable, coef, np.nan), np.where(usable, se, np.nan), note


def rank_sum_screen(features: pd.DataFrame, in_group: np.ndarray) -> pd.DataFrame:
    """Wilcoxon rank-sum (Mann-Whitney) test of a group against the rest, per feature.

    The P value is R's ``wilcox.test(x ~ g)`` default: exact when both groups have fewer than 50 patients and there
    are no ties, otherwise the normal approximation with continuity and tie corrections (scipy's ``mannwhitneyu``
    with ``method`` chosen by that rule).

    Parameters
    ----------
    features
        One numeric column per feature, one row per patient.
    in_group
        True for the group's patients (e.g. ongoing response), False for the rest; in the row order of ``features``.

    Returns
    -------
    pandas.DataFrame
        Columns ``RANK_SUM_COLUMNS``: ``statistic`` is R's W, the Mann-Whitney U of the group (the number of
        (group, rest) pairs in which the group's value is larger, ties counting one half); ``median_group`` and
        ``median_rest`` are the feature's medians in the two groups; ``median_difference`` is their difference
        (group minus rest), which for log2-scale features such as signature scores is the log2 fold change of the
        medians; ``log2_fold_change`` is ``log2(median_group / median_rest)``, for positive linear-scale features
        (NaN when either median is not positive); ``method`` is ``exact`` or ``normal``.
    """
    values = _feature_values(features)
    group = _flags(in_group, len(features), "in_group")
    rows = [_rank_sum(values[:, j], group) for j in range(values.shape[1])]
    table = pd.DataFrame(rows, columns=RANK_SUM_COLUMNS).assign(feature=features.columns)
    table["median_difference"] = table["median_group"] - table["median_rest"]
    positive = (table["median_group"] > 0) & (table["median_rest"] > 0)
    ratio = table["median_group"].where(positive) / table["median_rest"].where(positive)
    table["log2_fold_change"] = np.log2(ratio)
    return table.assign(q=bh_qvalues(table["p"]))[RANK_SUM_COLUMNS]


def _rank_sum(x: np.ndarray, group: np.ndarray) -> dict:
    known = ~np.isnan(x)
    inside, rest = x[known & group], x[known & ~group]
    row = {"n_group": inside.size, "n_rest": rest.size, "median_group": _median(inside), "median_rest": _median(rest)}
    if inside.size == 0 or rest.size == 0:
        return {**row, "statistic": np.nan, "p": np.nan, "method": ""}
    pooled = np.concatenate([inside, rest])
    ties = np.unique(pooled).size < pooled.size
    exact = inside.size < EXACT_RANK_SUM_LIMIT and rest.size < EXACT_RANK_SUM_LIMIT and not ties
    method = "exact" if exact else "normal"
    if np.ptp(pooled) == 0:  # all values tied: no spread to test, R's P is NaN
        return {**row, "statistic": inside.size * rest.size / 2, "p": np.nan, "method": method}
    result = stats.mannwhitneyu(inside, rest, method="exact" if exact else "asymptotic", use_continuity=True)
    return {**row, "statistic": float(result.statistic), "p": float(result.pvalue), "method": method}


def kruskal_screen(features: pd.DataFrame, groups: np.ndarray | Sequence) -> pd.DataFrame:
    """Kruskal-Wallis test across groups per feature, as R's ``kruskal.test(x, g)`` (tie-corrected chi-square).

    Parameters
    ----------
    features
        One numeric column per feature, one row per patient.
    groups
        Group label per patient (e.g. ongoing / relapsed / no_response), in the row order of ``features``; a
        missing label leaves the patient out.

    Returns
    -------
    pandas.DataFrame
        Columns ``KRUSKAL_COLUMNS`` then ``median_<level>`` per group level (sorted): ``groups`` is the number of
        groups with a value of the feature, ``statistic`` the tie-corrected Kruskal-Wallis H and ``df`` its
        chi-square degrees of freedom (``groups - 1``).
    """
    values = _feature_values(features)
    labels = pd.Series(np.asarray(groups, dtype=object))
    if len(labels) != len(features):
        raise ValueError(f"groups has {len(labels)} labels but features has {len(features)} rows; give one per row")
    levels = pd.Index(labels.dropna().unique()).sort_values()
    members = [(labels == level).to_numpy() for level in levels]
    rows = [_kruskal(values[:, j], members) for j in range(values.shape[1])]
    medians = [f"median_{level}" for level in levels]
    table = pd.DataFrame([row[0] for row in rows], columns=KRUSKAL_COLUMNS).assign(feature=features.columns)
    table[medians] = np.array([row[1] for row in rows]).reshape(len(rows), len(levels))
    return table.assign(q=bh_qvalues(table["p"]))[KRUSKAL_COLUMNS + medians]


def _kruskal(x: np.ndarray, members: list[np.ndarray]) -> tuple[dict, list[float]]:
    samples = [x[member & ~np.isnan(x)] for member in members]
    used = [sample for sample in samples if sample.size]
    n = sum(sample.size for sample in used)
    row = {"n": n, "groups": len(used), "df": len(used) - 1 if used else np.nan, "statistic": np.nan, "p": np.nan}
    if len(used) > 1 and np.ptp(np.concatenate(used)) > 0:
        result = stats.kruskal(*used)
        row.update(statistic=float(result.statistic), p=float(result.pvalue))
    return row, [_median(sample) for sample in samples]


def spearman_pairs(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Spearman's rank correlation for every pair of ``columns`` (pairwise complete observations).

    The P value is R's ``cor.test(x, y, method = "spearman")`` default: without ties and for at most 1290 pairs,
    AS 89 on the statistic ``S = (n^3 - n)(1 - rho) / 6`` -- all permutations enumerated for ``n <= 9``, its
    Edgeworth series above (which, like R, can return exactly 0 for a very strong correlation); with ties or more
    pairs, the t approximation ``rho sqrt((n - 2) / (1 - rho^2))`` on ``n - 2`` degrees of freedom.

    Parameters
    ----------
    frame
        One row per patient.
    columns
        The numeric columns (analytes) to correlate.

    Returns
    -------
    pandas.DataFrame
        Columns ``SPEARMAN_COLUMNS``, one row per pair in the order of ``columns``: ``rho`` (Pearson correlation of
        average ranks), ``statistic`` (R's S), and ``method`` (``exact``, ``edgeworth`` or ``t``).
    """
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the frame; choose from {list(frame.columns)}")
    values = _feature_values(frame[list(columns)])
    rows = [
        {"x": columns[i], "y": columns[j], **_spearman(values[:, i], values[:, j])}
        for i, j in itertools.combinations(range(len(columns)), 2)
    ]
    table = pd.DataFrame(rows, columns=[c for c in SPEARMAN_COLUMNS if c != "q"])
    return table.assign(q=bh_qvalues(table["p"]))[SPEARMAN_COLUMNS]


def _spearman(x: np.ndarray, y: np.ndarray) -> dict:
    both = ~(np.isnan(x) | np.isnan(y))
    x, y, n = x[both], y[both], int(both.sum())
    ties = min(np.unique(x).size, np.unique(y).size) < n
    method = "t" if ties or n > EXACT_SPEARMAN_LIMIT else ("exact" if n <= _ENUMERATED_SPEARMAN else "edgeworth")
    if n < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "rho": np.nan, "statistic": np.nan, "p": np.nan, "method": method}
    rx, ry = stats.rankdata(x), stats.rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rho = float(np.sum(rx * ry) / np.sqrt(np.sum(rx**2) * np.sum(ry**2)))
    s = (n**3 - n) * (1 - rho) / 6
    return {"n": n, "rho": rho, "statistic": s, "p": _spearman_p(s, n, method), "method": method}


def _spearman_p(s: float, n: int, method: str) -> float:
    """Two-sided P of Spearman's S, as R's ``cor.test``: twice the tail on the side of the observed S, at most 1."""
    upper = s > (n**3 - n) / 6  # negative correlation: the upper tail of S
    if method == "t":
        if n < 3:
            return np.nan
        r = 1 - s / (n * (n**2 - 1) / 6)
        with np.errstate(divide="ignore"):
            t = r / np.sqrt((1 - r**2) / (n - 2))
        tail = stats.t.cdf(t, n - 2) if upper else stats.t.sf(t, n - 2)
    elif upper:
        tail = _as89(n, round(s), lower=False)
    else:
        tail = _as89(n, round(s) + 2, lower=True)
    return float(min(2 * tail, 1.0))


def _as89(n: int, s: float, lower: bool) -> float:
    """AS 89 (Best & Roberts 1975): ``P[S >= s]``, or ``P[S < s]`` when ``lower``, for independent rankings."""
    if s <= 0:
        return 0.0 if lower else 1.0
    if s > (n**3 - n) / 3:  # beyond the largest possible S
        return 1.0 if lower else 0.0
    if n <= _ENUMERATED_SPEARMAN:
        at_least = float(np.mean(_permutation_s(n) >= s))
        return 1 - at_least if lower else at_least
    c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12 = _EDGEWORTH
    b = 1 / n
    x = (6 * (s - 1) * b / (n * n - 1) - 1) * np.sqrt(n - 1)
    y = x * x
    inner = c7 + c8 * b - y * (c9 - c10 * b + y * b * (c11 - c12 * y))
    u = x * b * (c1 + b * (c2 + c3 * b) + y * (-c4 + b * (c5 + c6 * b) - y * b * inner))
    correction = u / np.exp(y / 2)
    p = stats.norm.cdf(x) - correction if lower else stats.norm.sf(x) + correction
    return float(np.clip(p, 0.0, 1.0))


@cache
def _permutation_s(n: int) -> np.ndarray:
    """S = sum of squared rank differences over all ``n!`` permutations of ``n`` ranks."""
    permutations = np.array(list(itertools.permutations(range(n))), dtype=np.int64)
    return np.sum((permutations - np.arange(n)) ** 2, axis=1)


def logistic_screen(features: pd.DataFrame, outcome: np.ndarray, alpha: float = 0.05) -> pd.DataFrame:
    """Univariable logistic regression per feature, as R's ``glm(y ~ x, family = binomial)``.

    Fitted by statsmodels' ``Logit`` (Newton-Raphson). Wald z P (R's ``summary``) and Wald interval (R's
    ``confint.default``, not the profile-likelihood ``confint``).

    Parameters
    ----------
    features
        One numeric column per feature, one row per patient.
    outcome
        1 for the outcome (e.g. complete response), 0 otherwise, in the row order of ``features``; a missing
        outcome leaves the patient out.
    alpha
        One minus the confidence level of the odds-ratio interval.

    Returns
    -------
    pandas.DataFrame
        Columns ``LOGISTIC_COLUMNS``: per feature the patients used and how many had the outcome (``events``), the
        log odds ratio per unit of the feature (``coef``) and its standard error, the odds ratio with its Wald
        interval, the Wald P, the BH q, and a ``note`` (empty when the fit is fine; otherwise why the row is NaN,
        e.g. perfect separation).
    """
    values = _feature_values(features)
    y = _column(outcome, len(features), "outcome")
    _check_binary(y[~np.isnan(y)], "outcome")
    rows = []
    for j in range(values.shape[1]):
        keep = ~(np.isnan(values[:, j]) | np.isnan(y))
        coef, se, note = _logistic(values[keep, j], y[keep])
        rows.append({"n": int(keep.sum()), "events": int(y[keep].sum()), "coef": coef, "se": se, "note": note})
    table = pd.DataFrame(rows, columns=LOGISTIC_COLUMNS).assign(feature=features.columns)
    coef, se = table["coef"].to_numpy(float), table["se"].to_numpy(float)
    table = table.assign(**wald_ratio(coef, se, alpha, ("odds_ratio", "or_lower", "or_upper")))
    return table.assign(q=bh_qvalues(table["p"]))[LOGISTIC_COLUMNS]


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float, str]:
    problem = _logistic_problem(x, y)
    if problem:
        return np.nan, np.nan, problem
    design = np.column_stack([np.ones_like(x), x])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("error", PerfectSeparationWarning)
        try:
            fit = Logit(y, design).fit(disp=0, method="newton", maxiter=100, tol=1e-10)
        except (ConvergenceWarning, PerfectSeparationWarning, np.linalg.LinAlgError):
            return np.nan, np.nan, NOT_CONVERGED
    return float(fit.params[1]), float(fit.bse[1]), ""


def _logistic_problem(x: np.ndarray, y: np.ndarray) -> str:
    """Why the maximum-likelihood estimate does not exist, or "" when it does.

    With one feature and an intercept the estimate is infinite exactly when a threshold splits the outcomes:
    complete or quasi-complete separation, i.e. the feature's ranges in the two outcome groups overlap in at most
    one point.
    """
    if x.size == 0:
        return NO_PATIENTS
    events = y == 1
    if events.all() or not events.any():
        return ONE_OUTCOME
    if np.ptp(x) == 0:
        return CONSTANT
    with_event, without = x[events], x[~events]
    if with_event.min() >= without.max() or with_event.max() <= without.min():
        return SEPARATED
    return ""


def wald_ratio(coef: np.ndarray, se: np.ndarray, alpha: float, names: tuple[str, str, str]) -> dict[str, np.ndarray]:
    """Exponentiated estimate and Wald interval under ``names``, and the two-sided Wald P under ``p``."""
    z = stats.norm.ppf(1 - alpha / 2)
    ratio, lower, upper = names
    return {
        ratio: np.exp(coef),
        lower: np.exp(coef - z * se),
        upper: np.exp(coef + z * se),
        "p": 2 * stats.norm.sf(np.abs(coef / se)),
    }


def _feature_values(features: pd.DataFrame) -> np.ndarray:
    """The features as a float matrix (patients x features), NaN for missing values."""
    if not isinstance(features, pd.DataFrame):
        raise TypeError(f"features must be a pandas DataFrame (one column per feature), not {type(features).__name__}")
    text = [column for column in features.columns if not pd.api.types.is_numeric_dtype(features[column])]
    if text:
        raise ValueError(f"features {text} are not numeric; convert them or leave them out of the screen")
    values = features.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError("features contain infinite values; replace them with NaN (missing) or finite values")
    return values


def _column(values: np.ndarray, n: int, name: str) -> np.ndarray:
    """A per-patient vector as floats (NaN for missing), checked to have one value per row of the features."""
    array = np.asarray(values, dtype=float)
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape} but features has {n} rows; give one value per row")
    return array


def _flags(values: np.ndarray, n: int, name: str) -> np.ndarray:
    """A per-patient boolean vector without missing values."""
    array = np.asarray(values)
    if array.shape != (n,):
        raise ValueError(f"{name} has shape {array.shape} but features has {n} rows; give one value per row")
    if array.dtype != bool:
        raise ValueError(f"{name} must be boolean (True for the group); got dtype {array.dtype}")
    return array


def _check_binary(values: np.ndarray, name: str) -> None:
    if not np.isin(values, (0.0, 1.0)).all():
        raise ValueError(f"{name} must be 0 or 1 (NaN for missing); found {sorted(set(values) - {0.0, 1.0})[:5]}")


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else np.nan
