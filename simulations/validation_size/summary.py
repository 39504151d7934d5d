"""The precision each validation-cohort size gives, as an xarray Dataset; the chosen n; the CI-width figure.

Per setting (n, true calibration slope, true O/E) and metric, over the ``R`` replicates (``R_ok`` with an estimate):

* ``mean_estimate``, ``sd_estimate`` (the SD across replicates, ``ddof = 1``; MCSE ``sd / sqrt(2 (R_ok - 1))``);
* ``mean_ci_width``: mean width of the ``1 - alpha`` interval (NaN for a metric without one);
* ``p_target``: share of all ``R`` replicates whose interval is no wider than the metric's target (a replicate
  without an interval does not meet it), MCSE ``sqrt(p (1 - p) / R)``; NaN for a metric without a target;
* ``p_detect``: share of all ``R`` replicates whose interval excludes the value of a perfect model (calibration
  slope 1, O/E 1, C 0.5, IPA 0): what a cohort of that size detects (at a true slope of 1 the type I error);
* ``failed_share``: share of replicates without an estimate.

Per setting: ``mean_events`` and ``mean_events_at_horizon``. Per (calibration slope, O/E): ``chosen_n``, the smallest
n of the grid at which every targeted metric has ``p_target >= target_probability`` (NaN: none does).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr

from tmesurv import __version__
from tmesurv.simulations.validation_size.study import DIMS, ValidationSizeStudy

if TYPE_CHECKING:  # matplotlib is imported when the figure is drawn (it would slow every `tmesurv power` start-up)
    from matplotlib.figure import Figure

NULL_VALUES = {"calibration_slope": 1.0, "oe_ratio": 1.0, "harrell_c": 0.5, "uno_c": 0.5, "time_auc": 0.5}
NULL_VALUES |= {"c_for_benefit": 0.5, "ipa": 0.0}
"""The value of a perfect (calibration) or useless (discrimination) model, which ``p_detect`` tests against."""
METRIC_VARIABLES = (
    "mean_estimate",
    "sd_estimate",
    "sd_estimate_mcse",
    "mean_ci_width",
    "target_width",
    "p_target",
    "p_target_mcse",
    "p_detect",
    "p_detect_mcse",
    "failed_share",
)
TABLE_COLUMNS = [*DIMS, "metric", *METRIC_VARIABLES, "mean_events", "mean_events_at_horizon"]
CHOICE_COLUMNS = ["calibration_slope", "oe", "chosen_n", "target_probability", "targets", "population"]
DESCRIPTIONS = {
    "mean_estimate": "mean of the metric over replicates",
    "sd_estimate": "SD of the metric across replicates",
    "mean_ci_width": "mean width of the 1 - alpha interval",
    "target_width": "the largest acceptable interval width (NaN: no target)",
    "p_target": "share of replicates whose interval is no wider than target_width",
    "p_detect": "share of replicates whose interval excludes the perfect (or null) value",
    "failed_share": "share of replicates without an estimate",
    "mean_events": "mean events per cohort",
    "mean_events_at_horizon": "mean events by the horizon per cohort",
    "chosen_n": "smallest n at which every targeted metric meets its target with target_probability",
}


def metric_summary(estimate: np.ndarray, lower: np.ndarray, upper: np.ndarray, target: float, null: float) -> dict:
    """The variables of :data:`METRIC_VARIABLES` for one metric and setting (see the module docstring)."""
    replicates = estimate.size
    ok = np.isfinite(estimate)
    values = estimate[ok]
    width = upper - lower
    count = int(ok.sum())
    sd = float(values.std(ddof=1)) if count >= 2 else math.nan
    out = {
        "mean_estimate": float(values.mean()) if count else math.nan,
        "sd_estimate": sd,
        "sd_estimate_mcse": sd / math.sqrt(2 * (count - 1)) if count >= 2 else math.nan,
        "mean_ci_width": float(np.nanmean(width)) if np.isfinite(width).any() else math.nan,
        "target_width": target,
        "failed_share": float(1 - ok.mean()),
    }
    has_interval = np.isfinite(width)
    shares = {"p_target": math.nan, "p_detect": math.nan}
    if math.isfinite(target):
        shares["p_target"] = float(np.mean(has_interval & (width <= target)))
    if math.isfinite(null) and has_interval.any():
        shares["p_detect"] = float(np.mean(has_interval & ((lower > null) | (upper < null))))
    for name, share in shares.items():
        out[name] = share
        out[f"{name}_mcse"] = math.sqrt(share * (1 - share) / replicates) if math.isfinite(share) else math.nan
    return out


def summarize_validation_size(study: ValidationSizeStudy, results: dict[int, dict[str, np.ndarray]]) -> xr.Dataset:
    """The study's precision over (n, calibration_slope, oe, metric) and the chosen n.

    Parameters
    ----------
    study
        The study.
    results
        Per setting index: ``events``, ``events_at_horizon`` and ``<metric>.estimate/.lower/.upper`` arrays over all
        its replicates (what :func:`~tmesurv.simulations.validation_size.chunks.run_validation_chunk` returns).

    Returns
    -------
    xarray.Dataset
        See the module docstring.
    """
    coords, spec = study.coords, study.spec
    shape = tuple(len(values) for values in coords.values())
    metrics = list(spec.metrics)
    per_metric = {name: np.full((*shape, len(metrics)), np.nan) for name in METRIC_VARIABLES}
    per_setting = {name: np.full(shape, np.nan) for name in ("mean_events", "mean_events_at_horizon")}
    for setting in study.settings():
        where = np.unravel_index(setting.index, shape)
        arrays = results[setting.index]
        per_setting["mean_events"][where] = arrays["events"].mean()
        per_setting["mean_events_at_horizon"][where] = arrays["events_at_horizon"].mean()
        for position, metric in enumerate(metrics):
            values = (arrays[f"{metric}.{field}"] for field in ("estimate", "lower", "upper"))
            target, null = spec.targets.get(metric, math.nan), NULL_VALUES.get(metric, math.nan)
            for name, value in metric_summary(*values, target, null).items():
                per_metric[name][(*where, position)] = value
    variables = {name: ((*DIMS, "metric"), values) for name, values in per_metric.items()}
    variables |= {name: (DIMS, values) for name, values in per_setting.items()}
    dataset = xr.Dataset(variables, coords={**coords, "metric": metrics})
    dataset["chosen_n"] = chosen_n(dataset, spec.target_probability)
    for name, variable in dataset.data_vars.items():
        base = name.removesuffix("_mcse")
        variable.attrs["description"] = DESCRIPTIONS[base] + (" (Monte Carlo standard error)" if base != name else "")
    dataset.attrs = _attributes(study)
    return dataset


def chosen_n(dataset: xr.Dataset, probability: float) -> xr.DataArray:
    """Per (calibration_slope, oe): the smallest n at which every targeted metric has ``p_target >= probability``."""
    targeted = np.isfinite(dataset["target_width"]).any(dim=list(DIMS))
    if not bool(targeted.any()):
        return xr.full_like(dataset["mean_events"].isel(n=0, drop=True), np.nan)
    met = ((dataset["p_target"] >= probability) | ~targeted).all(dim="metric")
    return dataset["n"].where(met).min(dim="n", skipna=True)


def _attributes(study: ValidationSizeStudy) -> dict[str, object]:
    from tmesurv.simulations.validation_size.chunks import prepared  # lifelines: not imported for power studies

    spec = study.spec
    return {
        "kind": study.kind,
        "study": spec.name,
        "study_hash": study.digest,
        "scenario": study.scenario.name,
        "model": spec.model.file or f"fitted on the scenario: {', '.join(spec.model.terms or [])}",
        "population": prepared(study)[1].description,
        "seed": spec.seed,
        "replicates": spec.replicates,
        "alpha": spec.alpha,
        "horizon": spec.horizon,
        "target_probability": spec.target_probability,
        "targets": "; ".join(f"{metric} width <= {width:g}" for metric, width in spec.targets.items()),
        "tmesurv_version": __version__,
    }


def size_table(dataset: xr.Dataset) -> pd.DataFrame:
    """One row per (setting, metric): ``validation_size.csv``."""
    table = dataset.drop_vars("chosen_n").to_dataframe().reset_index()
    return table[TABLE_COLUMNS]


def choice_table(dataset: xr.Dataset) -> pd.DataFrame:
    """One row per (calibration slope, O/E): the chosen n (``validation_size_n.csv``)."""
    table = dataset["chosen_n"].to_dataframe().reset_index()
    table["target_probability"] = dataset.attrs["target_probability"]
    table["targets"] = dataset.attrs["targets"]
    table["population"] = dataset.attrs["population"]
    return table[CHOICE_COLUMNS]


def width_figure(table: pd.DataFrame, choices: pd.DataFrame, title: str) -> Figure:
    """Mean CI width against n, a panel per metric with an interval: the target dashed, the chosen n dotted.

    A line per (calibration slope, O/E) setting.

    Parameters
    ----------
    table
        ``validation_size.csv`` rows.
    choices
        ``validation_size_n.csv`` rows.
    title
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    metrics = [m for m in pd.unique(table["metric"]) if table.loc[table["metric"] == m, "mean_ci_width"].notna().any()]
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.3 * max(len(metrics), 1) + 0.6, 3.2), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, max(len(metrics), 1), squeeze=False)[0])
    combos = choices[["calibration_slope", "oe"]].drop_duplicates().itertuples(index=False)
    combos = list(combos)
    for ax, metric in zip(axes, metrics, strict=False):
        rows = table[table["metric"] == metric]
        for number, (slope, oe) in enumerate(combos):
            line = rows[(rows["calibration_slope"] == slope) & (rows["oe"] == oe)].sort_values("n")
            ax.plot(line["n"], line["mean_ci_width"], marker="os^Dv"[number % 5], label=f"slope {slope:g}, O/E {oe:g}")
        target = rows["target_width"].dropna()
        if not target.empty:
            ax.axhline(float(target.iloc[0]), color="black", linestyle="--", linewidth=1, label="target width")
        for chosen in choices["chosen_n"].dropna().unique():
            ax.axvline(float(chosen), color="grey", linestyle=":", linewidth=1, label=f"chosen n = {chosen:g}")
        ax.set_xscale("log")
        sizes = sorted(rows["n"].unique())
        ax.set_xticks(sizes, [f"{n:g}" for n in sizes], rotation=45, fontsize=7)
        ax.minorticks_off()
        ax.set_title(metric, fontsize=9)
        ax.set_xlabel("Validation cohort size n")
    axes[0].set_ylabel("Mean CI width")
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    figure.legend(unique.values(), unique.keys(), loc="outside right center", fontsize=7, frameon=False)
    figure.suptitle(title, fontsize=10)
    return figure
