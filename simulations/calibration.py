"""Does a scenario reproduce the published trial? Simulate replicates and compare each statistic with its target.

Each target in the scenario names a statistic below, computed on every replicate export exactly as the published
analysis computed it (Kaplan-Meier medians and landmarks, a Cox model stratified by the randomisation factors,
response rates, Spearman correlation, quartiles). The simulated mean and its Monte Carlo standard error are compared
with the published value and the target's tolerance. Hazard ratios are averaged on the log scale (exp of the mean
log HR).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
from scipy import stats

from tmesurv.errors import InputError
from tmesurv.models.cox.batched import fit_cox_batch
from tmesurv.models.cox.fitting import fit_cox
from tmesurv.models.cox.km import curve_at, curve_quantile, fit_km, median_follow_up
from tmesurv.simulations.scenario import Scenario
from tmesurv.simulations.trial import simulate_trials

BATCH = 256  # replicates simulated together (bounds the memory the batch holds)
CALIBRATION_COLUMNS = ["target", "published", "simulated_mean", "mc_se", "tolerance", "ok", "source"]
SPD_CUT_MM2 = 3721.0  # the ZUMA-1 median SPD the biomarker paper split at
LDH_ULN = 390.0
LOG_SCALE_TARGETS = {
    "efs_hr",
    "spd_high_hr_treated",
    "spd_high_hr_control",
    "ldh_elevated_hr_treated",
    "ldh_elevated_hr_control",
    "treated_vs_control_hr_spd_high",
    "treated_vs_control_hr_ldh_elevated",
}


def _arm(frame: pd.DataFrame, scenario: Scenario, arm: str) -> pd.DataFrame:
    label = scenario.arms.treated_label if arm == "treated" else scenario.arms.control_label
    return frame[frame["arm"] == label]


def _efs_log_hr(frame: pd.DataFrame, scenario: Scenario) -> float:
    """Log HR treated vs control, Cox stratified by the randomisation factors (the primary analysis)."""
    design = pd.DataFrame({"arm": (frame["arm"] == scenario.arms.treated_label).to_numpy(dtype=float)})
    strata = frame[list(scenario.strata)] if scenario.strata else None
    fitted = fit_cox(frame["efs_time"].to_numpy(), frame["efs_event"].to_numpy(), design, strata=strata)
    return float(fitted.loc["arm", "coef"])


def _split_log_hr(column: str, cut: float, arm: str | None) -> Callable[[pd.DataFrame, Scenario], float]:
    """Log HR of EFS, unstratified Cox as in the biomarker paper.

    Within ``arm``: ``column > cut`` vs the rest. With ``arm=None``: treated vs control among ``column > cut``.
    """

    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        measured = frame[frame[column].notna()]
        high = (measured[column] > cut).astype(float)
        if arm is not None:
            patients = _arm(measured, scenario, arm)
            covariate = high.loc[patients.index]
        else:
            patients = measured[high == 1]
            covariate = (patients["arm"] == scenario.arms.treated_label).astype(float)
        fit = fit_cox_batch(
            patients["efs_time"].to_numpy()[None, :],
            patients["efs_event"].to_numpy()[None, :],
            covariate.to_numpy(dtype=float)[None, :, None],
        )
        return float(fit.coef[0, 0])

    return statistic


def _km_median(arm: str) -> Callable[[pd.DataFrame, Scenario], float]:
    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        patients = _arm(frame, scenario, arm)
        curve = fit_km(patients["efs_time"].to_numpy(), patients["efs_event"].to_numpy())
        return curve_quantile(curve["time"].to_numpy(), curve["survival"].to_numpy())

    return statistic


def _km_landmark(arm: str, months: float) -> Callable[[pd.DataFrame, Scenario], float]:
    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        patients = _arm(frame, scenario, arm)
        curve = fit_km(patients["efs_time"].to_numpy(), patients["efs_event"].to_numpy())
        return float(curve_at(curve, months)["survival"])

    return statistic


def _follow_up(frame: pd.DataFrame, scenario: Scenario) -> float:
    return median_follow_up(frame["efs_time"].to_numpy(), frame["efs_event"].to_numpy())


def _share(column: str, values: tuple[str, ...], arm: str | None = None) -> Callable[[pd.DataFrame, Scenario], float]:
    """Share of patients (with a known value of ``column``, optionally in one arm) whose value is in ``values``."""

    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        patients = frame if arm is None else _arm(frame, scenario, arm)
        known = patients[column].dropna()
        return float(known.isin(values).mean())

    return statistic


def _count_present(column: str) -> Callable[[pd.DataFrame, Scenario], float]:
    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        return float(frame[column].notna().sum())

    return statistic


def _spearman(first: str, second: str) -> Callable[[pd.DataFrame, Scenario], float]:
    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        both = frame[[first, second]].dropna()
        return float(stats.spearmanr(both[first], both[second]).statistic)

    return statistic


def _quantile(column: str, probability: float) -> Callable[[pd.DataFrame, Scenario], float]:
    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        return float(np.nanquantile(_arm(frame, scenario, "treated")[column].to_numpy(dtype=float), probability))

    return statistic


def _rate_by_median_split(outcome: str, split_on: str, above: bool) -> Callable[[pd.DataFrame, Scenario], float]:
    def statistic(frame: pd.DataFrame, scenario: Scenario) -> float:
        patients = _arm(frame, scenario, "treated")[[outcome, split_on]].dropna()
        high = patients[split_on] > patients[split_on].median()
        return float(patients.loc[high if above else ~high, outcome].mean())

    return statistic


STATISTICS: dict[str, Callable[[pd.DataFrame, Scenario], float]] = {
    "efs_hr": _efs_log_hr,
    "median_follow_up": _follow_up,
    "expression_available": _count_present("b_cell_ges"),
    "spd_ldh_spearman": _spearman("spd_mm2", "ldh_ul"),
    "hgbl_share": _share("hgbl", ("yes",)),
    "gcb_share": _share("cell_of_origin", ("GCB",)),
    # a CCR7-negative fraction above its median is a CCR7+CD45RA+ fraction below its median
    "grade3_ne_ccr7_negative_above_median": _rate_by_median_split("grade3_ne", "ccr7_cd45ra_fraction", above=False),
    "grade3_ne_ccr7_negative_below_median": _rate_by_median_split("grade3_ne", "ccr7_cd45ra_fraction", above=True),
    "spd_high_hr_treated": _split_log_hr("spd_mm2", SPD_CUT_MM2, "treated"),
    "spd_high_hr_control": _split_log_hr("spd_mm2", SPD_CUT_MM2, "control"),
    "ldh_elevated_hr_treated": _split_log_hr("ldh_ul", LDH_ULN, "treated"),
    "ldh_elevated_hr_control": _split_log_hr("ldh_ul", LDH_ULN, "control"),
    "treated_vs_control_hr_spd_high": _split_log_hr("spd_mm2", SPD_CUT_MM2, None),
    "treated_vs_control_hr_ldh_elevated": _split_log_hr("ldh_ul", LDH_ULN, None),
}
for _arm_name in ("treated", "control"):
    STATISTICS[f"efs_median_{_arm_name}"] = _km_median(_arm_name)
    for _months in (6, 12, 18, 24):
        STATISTICS[f"efs_at_{_months}_{_arm_name}"] = _km_landmark(_arm_name, _months)
    STATISTICS[f"orr_{_arm_name}"] = _share("best_response", ("CR", "PR"), _arm_name)
    STATISTICS[f"cr_{_arm_name}"] = _share("best_response", ("CR",), _arm_name)
    for _group in ("ongoing", "relapsed", "no_response"):
        STATISTICS[f"{_group}_share_{_arm_name}"] = _share("response_group", (_group,), _arm_name)
for _column in ("peak_car_t", "auc_0_28", "time_to_peak_days"):
    for _label, _probability in (("q1", 0.25), ("median", 0.5), ("q3", 0.75)):
        STATISTICS[f"{_column}_{_label}"] = _quantile(_column, _probability)


def calibrate(scenario: Scenario, replicates: int, seed: int) -> pd.DataFrame:
    """Simulate ``replicates`` cohorts and compare every target's simulated mean with its published value.

    Parameters
    ----------
    scenario
        A scenario with ``targets``.
    replicates
        Number of simulated cohorts.
    seed
        Seed of the run (replicate ``r`` is cohort ``r`` of this seed).

    Returns
    -------
    pandas.DataFrame
        Columns ``CALIBRATION_COLUMNS``; ``ok`` is True when ``|simulated_mean - published| <= tolerance``
        (tolerance relative to the published value when the target says so).
    """
    _require_known_targets(scenario)
    values = np.array(
        [
            [STATISTICS[t.target](frame, scenario) for t in scenario.targets]
            for frame in _exports(scenario, seed, replicates)
        ]
    )
    rows = [_compare(target, values[:, j]) for j, target in enumerate(scenario.targets)]
    return pd.DataFrame(rows, columns=CALIBRATION_COLUMNS)


def _exports(scenario: Scenario, seed: int, replicates: int) -> Iterator[pd.DataFrame]:
    """Replicates 0, 1, ... of ``seed`` as export data frames, simulated :data:`BATCH` at a time."""
    for start in range(0, replicates, BATCH):
        batch = simulate_trials(scenario, seed, range(start, min(start + BATCH, replicates)))
        yield from (trial.to_frame() for trial in batch)


def _compare(target, draws: np.ndarray) -> dict:
    mean, se = np.nanmean(draws), np.nanstd(draws, ddof=1) / np.sqrt(np.isfinite(draws).sum())
    if target.target in LOG_SCALE_TARGETS:
        mean, se = np.exp(mean), np.exp(mean) * se  # delta method on the HR scale
    tolerance = target.tolerance * abs(target.published) if target.relative else target.tolerance
    return {
        "target": target.target,
        "published": target.published,
        "simulated_mean": mean,
        "mc_se": se,
        "tolerance": tolerance,
        "ok": bool(abs(mean - target.published) <= tolerance),
        "source": target.source,
    }


def _require_known_targets(scenario: Scenario) -> None:
    unknown = [t.target for t in scenario.targets if t.target not in STATISTICS]
    if unknown:
        raise InputError(
            f"scenario '{scenario.name}': unknown calibration target(s) {', '.join(unknown)}; "
            f"known targets: {', '.join(sorted(STATISTICS))}"
        )
