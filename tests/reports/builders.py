"""Test data of the report tests: result tables as the commands write them, and figure probes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.text import Text
from scipy.cluster import hierarchy

from tests.reports.conftest import XSS
from tmesurv.reports import format
from tmesurv.reports.sections import bayes_screen, forest, hazards, time_varying
from tmesurv.reports.sections import interactions as interaction_section

MATH = "$x^{"  # unbalanced mathtext: must be drawn literally


COX_COLUMNS = [
    "endpoint",
    "analysis",
    "subgroup",
    "term",
    "n",
    "events",
    "n_treated",
    "events_treated",
    "n_control",
    "events_control",
    "coef",
    "se",
    "hr",
    "hr_lower",
    "hr_upper",
    "p",
]


def step_curve(arm: str, subgroup: str, hazard: float, endpoint: str = "efs") -> pd.DataFrame:
    time = np.arange(0.0, 40.0, 4.0)
    survival = np.exp(-hazard * time)
    return pd.DataFrame(
        {
            "endpoint": endpoint,
            "arm": arm,
            "subgroup": subgroup,
            "time": time,
            "survival": survival,
            "lower": survival * 0.85,
            "upper": np.minimum(1.0, survival * 1.1),
            "at_risk": np.linspace(50, 5, time.size).astype(int),
        }
    )


def cox_row(analysis: str, subgroup: str, hr: float, term: str = "arm") -> dict:
    counts = {"n": 100, "events": 60, "n_treated": 50, "events_treated": 25, "n_control": 50, "events_control": 35}
    coef = np.log(hr) if np.isfinite(hr) else np.nan
    bounds = (hr * 0.6, hr * 1.6) if np.isfinite(hr) else (np.nan, np.nan)
    label = {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term}
    return label | counts | {"coef": coef, "se": 0.2, "hr": hr, "hr_lower": bounds[0], "hr_upper": bounds[1], "p": 0.04}


def interactions(groupings: dict[str, float]) -> pd.DataFrame:
    rows = [
        {"endpoint": "efs", "grouping": grouping, "scale": scale, "n": 100, "events": 60, "df": 1}
        | {"wald_chisq": 4.0, "wald_p": p, "lrt_chisq": 4.1, "lrt_p": p if scale == "groups" else 0.5, "rule": ""}
        for grouping, p in groupings.items()
        for scale in ("continuous", "groups")
    ]
    return pd.DataFrame(rows)


def texts(figure: Figure) -> list[str]:
    figure.draw_without_rendering()
    return [artist.get_text() for artist in figure.findobj(Text)]


def assert_axes_labelled(figure: Figure) -> None:
    """Every axes that shows an axis names it: an axis label or, for a table of rows, row labels."""
    for ax in figure.get_axes():
        if ax.axison:
            row_labels = [label.get_text() for label in ax.get_yticklabels() if label.get_text()]
            assert ax.get_xlabel() or ax.get_ylabel() or row_labels, ax


def screen_table(n: int = 46, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    coef = rng.normal(0.0, 0.4, n)
    p = np.clip(np.exp(-np.abs(coef) * rng.uniform(5, 25, n)), 0.0, 1.0)
    p[:3] = [0.0, np.nan, 1e-12]
    q = np.minimum(1.0, p * n / (np.argsort(np.argsort(p)) + 1))
    features = [f"SIGNATURE_{i:02d}_INTERFERON_GAMMA" for i in range(n)]
    features[3], features[4] = XSS, MATH
    return pd.DataFrame({"feature": features, "coef": coef, "hr": np.exp(coef), "p": p, "q": q})


def correlation_inputs(n: int = 46, seed: int = 11) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((60, 4)) @ rng.uniform(0.0, 1.0, (4, n)) + 0.5 * rng.standard_normal((60, n))
    names = [f"HALLMARK_SIGNATURE_NUMBER_{i:02d}" for i in range(n)]
    names[0] = XSS
    correlation = pd.DataFrame(np.corrcoef(scores.T), index=names, columns=names)
    linkage = hierarchy.linkage(correlation.to_numpy(), method="average", metric="euclidean")
    membership = pd.DataFrame({"feature": names, "cluster": hierarchy.fcluster(linkage, 5, criterion="maxclust")})
    return correlation, linkage, membership


def pca_tables(n_patients: int = 40, n_features: int = 12) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    ids = [f"P{i:02d}" for i in range(n_patients)]
    features = [f"feature_{j}" for j in range(n_features)]
    features[0] = MATH
    components = ["PC1", "PC2", "PC3"]
    scores = pd.DataFrame(
        [(i, c, rng.normal(0, 3 - k)) for i in ids for k, c in enumerate(components)],
        columns=["id", "component", "score"],
    )
    loadings = pd.DataFrame(
        [(f, c, rng.uniform(-0.5, 0.5)) for f in features for c in components],
        columns=["feature", "component", "loading"],
    )
    explained = pd.DataFrame(
        {"component": components, "variance": [5.0, 3.0, 1.0], "proportion": [0.41, 0.25, 0.08]}
    ).assign(cumulative=lambda t: t["proportion"].cumsum())
    return scores, loadings, explained


def bayes_rows(cox: pd.DataFrame) -> pd.DataFrame:
    """Bayesian estimates of the same treatment and subgroup rows, one fit not converged."""
    rows = cox[cox["term"] == "arm"].copy()
    rows = rows.assign(mean=np.log(rows["hr"] * 1.05), hr_mean=rows["hr"] * 1.3, converged=1.0)
    rows.loc[rows["subgroup"] == "b_cell_ges=high", "converged"] = 0.0
    return rows[["endpoint", "analysis", "subgroup", "term", "mean", "hr_mean", "hr_lower", "hr_upper", "converged"]]


def treatment_at(biomarker: str, converged: float = 1.0) -> pd.DataFrame:
    values, hrs = (-0.6, 0.0, 0.5), (0.8, 0.5, 0.3)
    return pd.DataFrame(
        {
            "endpoint": "efs",
            "analysis": "treatment_at",
            "subgroup": [f"{biomarker}={value:g}" for value in values],
            "term": "arm",
            "mean": np.log(hrs),
            "hr_mean": [hr * 1.2 for hr in hrs],  # the posterior mean of the HR: not what is drawn
            "hr_lower": [hr * 0.7 for hr in hrs],
            "hr_upper": [hr * 1.4 for hr in hrs],
            "converged": converged,
        }
    )


POINT_COLUMN = "at posterior mean log HR"  # every Bayesian HR column header says what its point estimate is


def lognormal_row(mean: float, sd: float = 0.5) -> dict:
    """Posterior summaries of a normal log HR: ``hr_mean`` = exp(mean + sd^2 / 2) is well above exp(mean)."""
    return {
        "mean": mean,
        "sd": sd,
        "hr_mean": np.exp(mean + sd**2 / 2),
        "hr_lower": np.exp(mean - 1.96 * sd),
        "hr_upper": np.exp(mean + 1.96 * sd),
        "prob_hr_below_1": 0.8,
        "r_hat": 1.002,
        "ess_bulk": 1500.0,
        "converged": 1.0,
    }


def bayes_frame() -> pd.DataFrame:
    """``bayes.csv`` rows of every analysis whose hazard ratio a table shows."""
    keys = [
        ("treatment", "all", "arm", -0.5),
        ("subgroup", "b_cell_ges=high", "arm", -0.9),
        ("interaction", "b_cell_ges", "arm:b_cell_ges", -0.3),
        ("treatment_at", "b_cell_ges=0.5", "arm", -0.7),
    ]
    return pd.DataFrame(
        [
            {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term, "model": "ph"}
            | lognormal_row(mean)
            for analysis, subgroup, term, mean in keys
        ]
    )


def screen_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"endpoint": "efs", "biomarker": name, "shrinkage": "horseshoe", "kappa": 0.4, "biomarker_sd": 1.2}
            | lognormal_row(mean)
            | {"divergences": 0}
            for name, mean in (("b_cell_ges", -0.6), ("sig_ifng", 0.1))
        ]
    )


def time_varying_frame() -> pd.DataFrame:
    intervals = ((0, 0.0, 3.0, -0.8), (1, 3.0, np.inf, -0.2))
    return pd.DataFrame(
        [
            {"endpoint": "efs", "analysis": "treatment", "subgroup": "all", "interval": k, "start": start, "end": end}
            | {"events": 30}
            | lognormal_row(mean)
            for k, start, end, mean in intervals
        ]
    )


def expected_cell(row: pd.Series) -> str:
    """exp(posterior mean log HR) with the credible interval, formatted as the report does, from the input row."""
    return f"{np.exp(row['mean']):.2f} ({row['hr_lower']:.2f}\u2013{row['hr_upper']:.2f})"


def point_cells(table: format.Table) -> list[str]:
    (index,) = [i for i, column in enumerate(table.columns) if POINT_COLUMN in column.label]
    return [row.cells[index] for row in table.rows if not row.header]


BUILDERS = {
    "treatment at values": (lambda: interaction_section.treatment_at_table(bayes_frame()), "treatment_at", None),
    "time-varying": (lambda: time_varying.time_varying_table(time_varying_frame()), None, None),
    "interaction": (lambda: interaction_section.interaction_table(bayes_frame()), "interaction", None),
    "screen": (lambda: bayes_screen.screen_table(screen_frame()), None, "mean"),
    "forest": (lambda: forest.forest_table(None, bayes_frame(), "efs"), ("treatment", "subgroup"), None),
    "cox vs bayes": (lambda: hazards.comparison(None, bayes_frame()).table, None, None),
}


INPUTS = {"time-varying": time_varying_frame, "screen": screen_frame}
