"""Proportional-hazards section: R's ``cox.zph`` tests of every Cox model and the scaled Schoenfeld residual plots.

The tests are ``ph_test.csv`` (per model a row per term and ``GLOBAL``), the residuals ``ph_residuals.csv`` (per event
of the treatment and interaction models), both written by ``tmesurv cox`` and equal to R's ``cox.zph``. A term whose
test rejects proportional hazards (P < :data:`PH_ALPHA`) is marked :data:`PH_MARK` wherever its hazard ratio is shown,
with a pointer to the models that do not assume it (:data:`PH_POINTER`).

The smooth through the residuals is the one R's ``plot.cox.zph`` draws (``df = 4``, 40 points): least squares on a
natural cubic spline basis of the transformed time, with interior knots at the 1/3 and 2/3 quantiles (R's type 7) of
the 40-point grid and the event times together and boundary knots at their range; the band is the fit
``+/- 2 sqrt(v s(x))``, with ``s(x)`` the diagonal of ``P (X'X)^-1 P'`` (``X`` the basis at the event times, ``P`` at
the grid) and ``v`` the variance of a scaled residual, the Cox model's ``se^2`` times its number of events (R's
``cox.zph(fit)$var``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tmesurv.reports.format import Column, Row, Table, format_count, format_number, format_p
from tmesurv.reports.gallery import endpoints_of
from tmesurv.reports.graphics import BAND_COLOUR, COX_COLOUR, STYLE_COLOUR, FigureImage, dense, png_data_uri
from tmesurv.reports.results import Results

PH_ALPHA = 0.05


PH_MARK = "\u2021"  # double dagger after a hazard ratio whose proportional-hazards test rejects


PH_POINTER = (
    f"{PH_MARK} proportional hazards rejected (cox.zph P < {PH_ALPHA:g}): the hazard ratio averages an effect that "
    "changes over time; see the time-varying (bayes.model: time_varying) and cure (bayes.model: cure) models."
)


DEFAULT_TRANSFORM = "km"


GLOBAL = "GLOBAL"


SMOOTH_DF, SMOOTH_POINTS = 4, 40  # R's plot.cox.zph defaults


RESIDUAL_PANELS = {"treatment": "arm", "treatment_stratified": "arm", "interaction": "arm:"}  # analysis -> term


GID_POINTS, GID_SMOOTH, GID_BAND, GID_COEF = "zph-residuals", "zph-smooth", "zph-band", "zph-coef"  # artist ids


Key = tuple[str, str, str, str]  # endpoint, analysis, subgroup, term


def default_transform(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the ``km`` transform (R's default), else of the file's first transform."""
    transforms = list(pd.unique(frame["transform"].dropna()))
    chosen = DEFAULT_TRANSFORM if DEFAULT_TRANSFORM in transforms or not transforms else transforms[0]
    return frame[frame["transform"] == chosen]


def ph_p_values(ph_test: pd.DataFrame | None) -> dict[Key, float]:
    """``(endpoint, analysis, subgroup, term)`` -> the ``cox.zph`` P of that term (``GLOBAL`` rows left out).

    Parameters
    ----------
    ph_test
        ``ph_test.csv``, or None.

    Returns
    -------
    dict
        The P of the default transform (:func:`default_transform`); empty without the file.
    """
    if ph_test is None:
        return {}
    rows = default_transform(ph_test[ph_test["term"] != GLOBAL])
    columns = [rows[column].fillna("").astype(str) for column in ("endpoint", "analysis", "subgroup", "term")]
    keys = zip(*columns, strict=True)
    return dict(zip(keys, rows["p"].astype(float), strict=True))


def ph_rejected(p_values: Mapping[Key, float], key: Key) -> bool:
    """Whether the proportional-hazards test of one term rejects (P < :data:`PH_ALPHA`); False when not tested."""
    return bool(p_values.get(key, np.nan) < PH_ALPHA)


def ph_table(ph_test: pd.DataFrame) -> Table:
    """The proportional-hazards tests: per model a row per term and its ``GLOBAL`` test.

    Parameters
    ----------
    ph_test
        ``ph_test.csv``: ``endpoint, analysis, subgroup, model, term, transform, chisq, df, p``.

    Returns
    -------
    Table
        One row per test in file order; a row with P < :data:`PH_ALPHA` is flagged. The transform is a column when
        the file has several.
    """
    several = len(pd.unique(ph_test["transform"].dropna())) > 1
    rows = []
    for record in ph_test.to_dict("records"):
        rejected = bool(record["p"] < PH_ALPHA)
        keys = tuple(str(record[column]) for column in ("endpoint", "analysis", "subgroup", "model", "term"))
        numbers = (format_number(record["chisq"], 2), format_count(record["df"]), format_p(record["p"]))
        cells = (*keys, *((str(record["transform"]),) if several else ()), *numbers, "rejected" if rejected else "")
        rows.append(Row(cells, flagged=rejected))
    columns = (
        Column("Endpoint"),
        Column("Analysis"),
        Column("Subgroup"),
        Column("Model"),
        Column("Term"),
        *((Column("Transform"),) if several else ()),
        Column("Chi-square", numeric=True),
        Column("df", numeric=True),
        Column("P", numeric=True),
        Column("Proportional hazards", badge=True),
    )
    caption = (
        "Grambsch-Therneau tests of proportional hazards as R's cox.zph (survival >= 3.0) computes them, at the "
        "fitted coefficients: per term (1 df) and GLOBAL (all terms of the model). Time transform: km (1 - the "
        "Kaplan-Meier estimate of all patients) unless a column says otherwise. Rows with P < "
        f"{PH_ALPHA:g} are flagged. {PH_POINTER}"
    )
    return Table(columns, tuple(rows), caption=caption)


@dataclass(frozen=True)
class Smooth:
    """A smooth through scaled residuals: at ``x`` (the grid), its fit and, when the variance is known, its band."""

    x: np.ndarray
    fit: np.ndarray
    lower: np.ndarray | None
    upper: np.ndarray | None


def natural_spline_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """A basis of the natural cubic splines with ``knots`` (boundary knots first and last), intercept included.

    The truncated-power form (Hastie, Tibshirani and Friedman, eq. 5.4-5.5): ``1, x`` and ``d_k - d_{K-1}`` with
    ``d_k = ((x - xi_k)_+^3 - (x - xi_K)_+^3) / (xi_K - xi_k)``; it spans the same space as R's
    ``ns(x, knots, Boundary.knots, intercept = TRUE)``, so least-squares fits equal R's.
    """
    x = np.asarray(x, dtype=float)
    last = knots[-1]

    def d(knot: float) -> np.ndarray:
        return (np.clip(x - knot, 0.0, None) ** 3 - np.clip(x - last, 0.0, None) ** 3) / (last - knot)

    columns = [np.ones_like(x), x] + [d(knot) - d(knots[-2]) for knot in knots[:-2]]
    return np.column_stack(columns)


def zph_smooth(x: np.ndarray, y: np.ndarray, variance: float | None = None, df: int = SMOOTH_DF) -> Smooth | None:
    """The smooth (and band) that R's ``plot.cox.zph`` draws through one term's scaled residuals.

    Parameters
    ----------
    x
        ``(d,)`` transformed event times.
    y
        ``(d,)`` scaled Schoenfeld residuals (NaN where the term has none; those are left out of the fit).
    variance
        Variance of a scaled residual (``se^2 x events`` of the Cox model); None draws no band.
    df
        Degrees of freedom of the natural spline (intercept included).

    Returns
    -------
    Smooth or None
        At :data:`SMOOTH_POINTS` equally spaced points over the range of ``x``; None when the spline cannot be fitted
        (fewer distinct times than ``df``), as R skips the term.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    grid = np.linspace(x.min(), x.max(), SMOOTH_POINTS)
    pooled = np.concatenate([grid, x])
    knots = np.quantile(pooled, np.linspace(0.0, 1.0, df))  # boundary knots and df - 2 interior knots
    if np.unique(knots).size < df:
        return None
    keep = ~np.isnan(y)
    basis, at_grid = natural_spline_basis(x[keep], knots), natural_spline_basis(grid, knots)
    q, r = np.linalg.qr(basis)
    if np.linalg.matrix_rank(basis) < df:
        return None
    coef = np.linalg.solve(r, q.T @ y[keep])
    fit = at_grid @ coef
    if variance is None or not np.isfinite(variance):
        return Smooth(grid, fit, None, None)
    spread = np.sum(np.linalg.solve(r.T, at_grid.T) ** 2, axis=0)  # diag(P (X'X)^-1 P')
    half = 2.0 * np.sqrt(variance * spread)
    return Smooth(grid, fit, fit - half, fit + half)


def schoenfeld_figure(
    residuals: pd.DataFrame, endpoint: str, cox: pd.DataFrame | None = None, ph_test: pd.DataFrame | None = None
) -> Figure:
    """Scaled Schoenfeld residuals of the treatment and interaction terms against time, with R's smooth.

    Parameters
    ----------
    residuals
        ``ph_residuals.csv``: ``endpoint, analysis, subgroup, term, transform, time, transformed_time, residual``.
    endpoint
        The endpoint.
    cox
        ``cox.csv``, optional: the coefficient (dashed line) and ``se`` (the band, see the module docstring).
    ph_test
        ``ph_test.csv``, optional: each panel's title gives its term's test, marked when it rejects.

    Returns
    -------
    matplotlib.figure.Figure
        A panel per term: the treatment term of the (stratified) treatment model and the ``arm:<biomarker>`` term of
        each interaction model, in file order; the residuals against the transformed time (axis labelled in months).

    Raises
    ------
    ValueError
        If ``residuals`` has no such term for ``endpoint``.
    """
    panels = residual_panels(residuals, endpoint)
    if not panels:
        raise ValueError(f"ph_residuals has no treatment or interaction terms for endpoint '{endpoint}'")
    ncols = min(len(panels), 3)
    nrows = math.ceil(len(panels) / ncols)
    figure = Figure(figsize=(4.3 * ncols, 3.4 * nrows + 0.5), layout="constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    p_values = ph_p_values(ph_test)
    for ax, (key, rows) in zip(axes, panels.items(), strict=False):
        _residual_panel(ax, key, rows, _cox_row(cox, key))
        if key in p_values:
            mark = f" {PH_MARK}" if ph_rejected(p_values, key) else ""
            ax.set_title(f"{ax.get_title()}\nPH test P {_p_words(p_values[key])}{mark}", parse_math=False, fontsize=9)
    for ax in axes[len(panels) :]:
        ax.remove()
    figure.suptitle(f"{endpoint}: scaled Schoenfeld residuals (proportional hazards: a flat smooth)", parse_math=False)
    return figure


def residual_panels(residuals: pd.DataFrame, endpoint: str) -> dict[Key, pd.DataFrame]:
    """The rows of each panel (:data:`RESIDUAL_PANELS` terms, default transform), keyed like :func:`ph_p_values`."""
    rows = default_transform(residuals[residuals["endpoint"] == endpoint])
    shown = [_is_panel(str(a), str(t)) for a, t in zip(rows["analysis"], rows["term"], strict=True)]
    grouped = rows[shown].groupby(["endpoint", "analysis", "subgroup", "term"], sort=False)
    return {tuple(map(str, key)): group for key, group in grouped}


def _p_words(p: float) -> str:
    text = format_p(p)
    return f"< {text[1:]}" if text.startswith("<") else f"= {text}"


def _is_panel(analysis: str, term: str) -> bool:
    """The treatment term of a treatment model, or an interaction model's ``arm:<biomarker>`` term."""
    return analysis in RESIDUAL_PANELS and term.startswith(RESIDUAL_PANELS[analysis])


def _cox_row(cox: pd.DataFrame | None, key: Key) -> pd.Series | None:
    if cox is None:
        return None
    match = cox[(cox["endpoint"] == key[0]) & (cox["analysis"] == key[1]) & (cox["subgroup"] == key[2])]
    match = match[match["term"] == key[3]]
    return None if match.empty else match.iloc[0]


def _residual_panel(ax: Axes, key: Key, rows: pd.DataFrame, cox: pd.Series | None) -> None:
    x, y = rows["transformed_time"].to_numpy(dtype=float), rows["residual"].to_numpy(dtype=float)
    (points,) = ax.plot(x, y, "o", color=STYLE_COLOUR, markersize=2.5, alpha=0.45, linestyle="")
    points.set_gid(GID_POINTS)
    points.set_rasterized(dense(x.size))
    variance = None if cox is None else float(cox["se"]) ** 2 * len(rows)
    smooth = zph_smooth(x, y, variance)
    if smooth is not None:
        if smooth.lower is not None:
            band = ax.fill_between(smooth.x, smooth.lower, smooth.upper, color=BAND_COLOUR, alpha=0.35, linewidth=0)
            band.set_gid(GID_BAND)
        (line,) = ax.plot(smooth.x, smooth.fit, color="#0072B2", linewidth=1.8)
        line.set_gid(GID_SMOOTH)
    if cox is not None and np.isfinite(cox["coef"]):
        coef_line = ax.axhline(float(cox["coef"]), color=COX_COLOUR, linestyle="--", linewidth=1.0)
        coef_line.set_gid(GID_COEF)
    ax.axhline(0.0, color="#999999", linewidth=0.7)
    _time_axis(ax, rows)
    label = "all patients" if key[2] == "all" else key[2]
    ax.set_title(f"{key[1].replace('_', ' ')}, {label}", parse_math=False, fontsize=9)
    ax.set_ylabel(f"Beta(t) for {key[3]}", parse_math=False)
    ax.grid(color="#eeeeee", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)


def _time_axis(ax: Axes, rows: pd.DataFrame) -> None:
    """Label the transformed-time axis in months, as R's ``plot.cox.zph`` does.

    Eight ticks evenly spaced on the transformed scale, each labelled with the time there rounded to 2 significant
    digits and placed where that rounded time falls (linear interpolation between event times).
    """
    transform = str(rows["transform"].iloc[0])
    ax.set_xlabel(f"Time (months; {transform} scale)", fontsize=8)
    if transform == "identity":
        return
    time, transformed = rows["time"].to_numpy(dtype=float), rows["transformed_time"].to_numpy(dtype=float)
    transformed, first = np.unique(transformed, return_index=True)
    time = time[first]
    if transformed.size < 2:
        return
    at = np.linspace(transformed[0], transformed[-1], 17)[1::2]
    rounded = np.array([float(f"{value:.2g}") for value in np.interp(at, transformed, time)])
    positions, keep = np.unique(np.interp(rounded, time, transformed), return_index=True)
    ax.set_xticks(positions, labels=[f"{value:g}" for value in rounded[keep]])


@dataclass(frozen=True)
class PhSection:
    """The proportional-hazards tests (treatment and interaction models, then the others) and residual plots."""

    table: Table | None
    others: Table | None
    images: tuple[FigureImage, ...]
    n_rejected: int
    n_terms: int
    time_varying: bool


def ph_section(results: Results, names: dict[str, str]) -> PhSection | None:
    """The tests of ``ph_test.csv`` and the residual plots of ``ph_residuals.csv``; None without either."""
    del names  # the section names terms, not arms
    tests, residuals = results.ph_test, results.ph_residuals
    if tests is None and residuals is None:
        return None
    images: tuple[FigureImage, ...] = ()
    if residuals is not None:
        images = tuple(
            FigureImage(
                png_data_uri(schoenfeld_figure(residuals, endpoint, results.cox, tests)), _alt(endpoint, results.cox)
            )
            for endpoint in endpoints_of(residuals)
            if residual_panels(residuals, endpoint)
        )
    main, others, p_values = None, None, ph_p_values(tests)
    if tests is not None:
        first = tests["analysis"].isin(list(RESIDUAL_PANELS))
        main = ph_table(tests[first]) if first.any() else None
        others = ph_table(tests[~first]) if (~first).any() else None
    rejected = sum(p < PH_ALPHA for p in p_values.values())
    return PhSection(main, others, images, rejected, len(p_values), results.bayes_time_varying is not None)


def _alt(endpoint: str, cox: pd.DataFrame | None) -> str:
    extra = " and its band of +/- 2 standard errors, the Cox coefficient dashed" if cox is not None else ""
    return (
        f"Scaled Schoenfeld residuals of {endpoint} for the treatment term and each treatment-by-biomarker "
        f"interaction term against time (on the Kaplan-Meier scale, labelled in months), with R's plot.cox.zph "
        f"smooth (natural cubic spline, {SMOOTH_DF} df){extra}. Under proportional hazards the smooth is flat."
    )
