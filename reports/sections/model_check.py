"""Model check section: the Bayesian fits against Kaplan-Meier (``bayes_fit_check.csv``) and by PSIS-LOO.

Every compared model (``bayes.model`` and ``bayes.compare``) is checked: the fit check's table per fit, model and arm
with its misfits flagged, Kaplan-Meier with censor marks under every model's posterior median and band (a panel per
subgroup and arm, from ``km_curves.csv`` and ``bayes_curves.csv``), and the LOO table with the model the data prefer.
The banner names the misfits of ``bayes.model``, whose estimates the report shows; :func:`misfit_banner` gives the
other Bayesian sections theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tmesurv.models.cox.km import ALL_PATIENTS
from tmesurv.models.pwe.compare import CLEAR_ELPD_DIFFERENCE, CLEAR_SE_MULTIPLE, preference
from tmesurv.models.pwe.fit_check import misfit_power_text, misfit_rule_text
from tmesurv.reports.format import Column, Row, Table, arm_label, format_count, format_number
from tmesurv.reports.gallery import endpoints_of
from tmesurv.reports.graphics import FigureImage, png_data_uri
from tmesurv.reports.posterior_km_plot import km_models_figure
from tmesurv.reports.results import Results, bayes_model_name, of_bayes_model

FIT_KEYS = ["endpoint", "analysis", "subgroup"]
MISFIT = "misfit"
SUBGROUPS_PER_FIGURE = 3  # a row of panels (one per arm) each


@dataclass(frozen=True)
class MisfitBanner:
    """The fits of a section whose posterior survival misfits Kaplan-Meier, as ``endpoint analysis subgroup``."""

    fits: tuple[str, ...]


def misfit_banner(fit_check: pd.DataFrame | None, analyses: tuple[str, ...] | None = None) -> MisfitBanner | None:
    """The banner of a Bayesian section: its fits flagged by the fit check; None when none is.

    Parameters
    ----------
    fit_check
        ``bayes_fit_check.csv`` (None: no banner).
    analyses
        The analyses the section shows (``treatment``, ``interaction``, ``subgroup``); default every one.
    """
    if fit_check is None:
        return None
    rows = fit_check if analyses is None else fit_check[fit_check["analysis"].isin(analyses)]
    flagged = rows[rows["misfit"] == 1]
    fits = tuple(
        dict.fromkeys(" ".join(str(key) for key in keys) for keys in flagged[FIT_KEYS].itertuples(index=False))
    )
    return MisfitBanner(fits) if fits else None


def fit_check_table(
    fit_check: pd.DataFrame, arm_names: Mapping[str, str] | None = None, main: str | None = None
) -> Table:
    """One row per fit, model and arm: the distance of the posterior mean survival from Kaplan-Meier, and the flag.

    Parameters
    ----------
    fit_check
        ``bayes_fit_check.csv``: rows of every compared model.
    arm_names
        Display name per arm value.
    main
        ``bayes.model``, marked in the model column.

    Returns
    -------
    Table
        The models of one fit next to each other, in the file's order of fits and models.
    """
    rows = []
    for record in _by_fit(fit_check).to_dict("records"):
        flagged = record["misfit"] == 1
        largest = format_number(record["max_abs_difference"], 3)
        at = format_number(record["largest_at"], 1)
        cells = (
            str(record["endpoint"]),
            str(record["analysis"]),
            str(record["subgroup"]),
            _model_label(record["model"], main),
            arm_label(record["arm"], arm_names),
            format_count(record["n"]),
            format_count(record["events"]),
            format_number(record["follow_up"], 1),
            f"{largest} (at {at})" if largest else "",
            format_number(record["mean_abs_difference"], 3),
            "" if pd.isna(record["share_in_band"]) else f"{record['share_in_band']:.0%}",
            MISFIT if flagged else "",
        )
        rows.append(Row(cells, flagged=flagged))
    columns = (
        Column("Endpoint"),
        Column("Analysis"),
        Column("Subgroup"),
        Column("Model"),
        Column("Arm"),
        Column("N", numeric=True),
        Column("Events", numeric=True),
        Column("Follow-up (months)", numeric=True),
        Column("Max |S - KM| (at month)", numeric=True),
        Column("Mean |S - KM|", numeric=True),
        Column("KM event times in 95% band", numeric=True),
        Column("Check", badge=True),
    )
    caption = (
        "Posterior mean survival S of each arm (averaged over its patients) against its Kaplan-Meier curve KM over "
        "the arm's follow-up, for every compared model: the largest and the time-averaged absolute difference, and the "
        f"share of the arm's event times at which KM lies inside the 95% posterior band. Rule: {misfit_rule_text()}. "
        f"{misfit_power_text()}. "
        "The report's estimates come from bayes.model; a compared model's misfit does not concern them."
    )
    return Table(columns, tuple(rows), caption=caption)


def loo_table(loo: pd.DataFrame) -> Table:
    """PSIS-LOO per analysis and model (``bayes_loo.csv``), best model first, and which the data prefer."""
    rows = []
    for _, group in loo.groupby(FIT_KEYS, sort=False):
        verdict = preference(group)
        for record in group.sort_values("rank").to_dict("records"):
            best = record["rank"] == 0
            cells = (
                str(record["endpoint"]),
                str(record["analysis"]),
                str(record["subgroup"]),
                str(record["model"]),
                f"{format_number(record['elpd_loo'], 1)} ({format_number(record['se'], 1)})",
                format_number(record["p_loo"], 1),
                "" if best else f"{format_number(record['elpd_diff'], 1)} ({format_number(record['dse'], 1)})",
                format_count(record["n_pareto_k_high"]),
                (verdict or "") if best else "",
            )
            rows.append(Row(cells, flagged=bool(record["n_pareto_k_high"] > 0)))
    columns = (
        Column("Endpoint"),
        Column("Analysis"),
        Column("Subgroup"),
        Column("Model"),
        Column("elpd_loo (SE)", numeric=True),
        Column("p_loo", numeric=True),
        Column("elpd difference from best (SE)", numeric=True),
        Column("Pareto k high", numeric=True),
        Column("Preference"),
    )
    caption = (
        "PSIS-LOO expected log predictive density (higher is better) of each fitted model, its effective number of "
        "parameters, and the difference from the best model with its standard error. A model is clearly preferred when "
        f"it is ahead by at least {CLEAR_ELPD_DIFFERENCE:g} and by at least {CLEAR_SE_MULTIPLE:g} standard errors. "
        "Rows with patients whose Pareto k is high (LOO unreliable for them) are flagged."
    )
    return Table(columns, tuple(rows), caption=caption)


def loo_sentence(loo: pd.DataFrame) -> str | None:
    """Which model the data prefer for the treatment effect of all patients, in one sentence; None without a comparison.

    ``"Treatment effect of all patients by PSIS-LOO: for os the data clearly prefer time_varying (over ph by 12.3 (SE
    4.1))."``, or ``"... the data show no clear preference (...)"``, per endpoint whose treatment analysis compared
    models (see :func:`~tmesurv.models.pwe.compare.preference`).
    """
    sentences = []
    overall = loo[(loo["analysis"] == "treatment") & (loo["subgroup"] == ALL_PATIENTS)]
    for endpoint, rows in overall.groupby("endpoint", sort=False):
        verdict = preference(rows)
        if verdict is None:
            continue
        clear = not verdict.startswith("no clear preference")
        best, rest = verdict.removeprefix("no clear preference: ").split(" over ", 1)
        if clear:
            sentences.append(f"for {endpoint} the data clearly prefer {best} (over {rest})")
        else:
            sentences.append(f"for {endpoint} the data show no clear preference ({best} over {rest})")
    if not sentences:
        return None
    return "Treatment effect of all patients by PSIS-LOO: " + "; ".join(sentences) + "."


@dataclass(frozen=True)
class ModelCheckSection:
    """The fit check's banner, table and figures, and the LOO table with its sentence."""

    banner: MisfitBanner | None
    fit_check: Table | None
    images: tuple[FigureImage, ...]
    loo: Table | None
    loo_sentence: str | None


def model_check_section(results: Results, names: dict[str, str]) -> ModelCheckSection | None:
    """The fit check and PSIS-LOO of the Bayesian fits; None without ``bayes_fit_check.csv`` and ``bayes_loo.csv``."""
    checks, loo = results.bayes_fit_check, results.bayes_loo
    if checks is None and loo is None:
        return None
    main = bayes_model_name(results)
    images = ()
    if checks is not None and results.km_curves is not None and results.bayes_curves is not None:
        images = posterior_km_images(results.km_curves, results.bayes_curves, checks, names, main)
    return ModelCheckSection(
        banner=misfit_banner(of_bayes_model(checks, results)),
        fit_check=None if checks is None else fit_check_table(checks, names, main),
        images=images,
        loo=None if loo is None or loo.empty else loo_table(loo),
        loo_sentence=None if loo is None else loo_sentence(loo),
    )


def posterior_km_images(
    curves: pd.DataFrame,
    posterior: pd.DataFrame,
    checks: pd.DataFrame,
    names: Mapping[str, str],
    main: str | None = None,
) -> tuple[FigureImage, ...]:
    """Per endpoint, Kaplan-Meier with censor marks under every model's posterior: a panel per subgroup and arm.

    Each panel states every model's fit check (``checks``), misfits in capitals; the alt text names the misfits.
    """
    images = []
    for endpoint in endpoints_of(posterior):
        drawn = set(curves.loc[curves["endpoint"] == endpoint, "subgroup"].astype(str))
        fitted = pd.unique(posterior.loc[posterior["endpoint"] == endpoint, "subgroup"].astype(str))
        subgroups = [s for s in fitted if s in drawn]
        fits = checks[(checks["endpoint"] == endpoint) & (checks["analysis"] != "interaction")]
        titles = {s: "all patients" if s == ALL_PATIENTS else s for s in subgroups}
        annotations = {
            (str(subgroup), str(arm)): _panel_note(rows, main)
            for (subgroup, arm), rows in fits.groupby(["subgroup", "arm"], sort=False)
        }
        for start in range(0, len(subgroups), SUBGROUPS_PER_FIGURE):
            shown = subgroups[start : start + SUBGROUPS_PER_FIGURE]
            figure = km_models_figure(curves, posterior, endpoint, shown, titles, names, annotations, main)
            images.append(FigureImage(png_data_uri(figure), _alt_text(endpoint, shown, fits, names, main)))
    return tuple(images)


def _panel_note(rows: pd.DataFrame, main: str | None) -> str:
    """One line per model of a panel: ``ph: max |S - KM| 0.103, KM in band at 62%, MISFIT``."""
    lines = []
    for record in rows.to_dict("records"):
        model = _model_label(record["model"], main)
        if pd.isna(record["max_abs_difference"]):  # an arm without events
            lines.append(f"{model}: no events")
            continue
        text = f"max |S - KM| {record['max_abs_difference']:.3f}, KM in band at {record['share_in_band']:.0%}"
        lines.append(f"{model}: {text}" + (f", {MISFIT.upper()}" if record["misfit"] == 1 else ""))
    return "\n".join(lines)


def _alt_text(endpoint: str, shown: list[str], fits: pd.DataFrame, names: Mapping[str, str], main: str | None) -> str:
    rows = fits[fits["subgroup"].isin(shown)]
    models = ", ".join(pd.unique(rows["model"].astype(str)))
    flagged = [
        f"{record['subgroup']} {arm_label(record['arm'], names, role=False)} ({_model_label(record['model'], main)})"
        for record in rows[rows["misfit"] == 1].to_dict("records")
    ]
    return (
        f"{endpoint}: Kaplan-Meier curves with censor marks, a panel per arm, under the Bayesian posterior median and "
        f"95% band of {models}, for {', '.join(shown)}"
        + (f"; misfit: {', '.join(flagged)}" if flagged else "; no misfit flagged")
    )


def _model_label(model: str, main: str | None) -> str:
    """``ph (bayes.model)``, ``cure``."""
    return f"{model} (bayes.model)" if model == main else str(model)


def _by_fit(fit_check: pd.DataFrame) -> pd.DataFrame:
    """The rows of one fit (endpoint, analysis, subgroup) together, fits and models in the order they come."""
    fit = fit_check[FIT_KEYS].astype(str).agg("\x1f".join, axis=1)
    order = fit.map({key: position for position, key in enumerate(pd.unique(fit))})
    return fit_check.iloc[np.argsort(order.to_numpy(), kind="stable")]
