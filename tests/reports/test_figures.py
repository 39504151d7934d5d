"""The paper's figures: each function on small synthetic tables, saved as PNG and SVG atomically."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from scipy.cluster import hierarchy

from tmesurv.outputs import atomic
from tmesurv.reports import effect_figures, figures, forest, screen_figures

XSS = "<script>alert(1)</script>"
MATH = "$x^{"  # unbalanced mathtext: must be drawn literally
ARM_NAMES = {"treated": "axi-cel", "control": "SOC"}
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


@pytest.fixture(scope="module")
def km_curves() -> pd.DataFrame:
    parts = []
    for arm, hazard in (("treated", 0.03), ("control", 0.08)):
        parts.append(step_curve(arm, "all", hazard))
        parts += [step_curve(arm, f"b_cell_ges={level}", hazard * m) for level, m in (("low", 1.4), ("high", 0.7))]
        parts += [step_curve(arm, f"diagtime=Q{q}", hazard * (0.6 + 0.2 * q)) for q in range(1, 5)]
        parts.append(step_curve(arm, "not (cd19_hscore=low & sii=high)", hazard))
        parts.append(step_curve(arm, "cd19_hscore=low & sii=high", hazard * 2))
        parts.append(step_curve(arm, f"{MATH}={XSS}", hazard))
    return pd.concat(parts, ignore_index=True)


def cox_row(analysis: str, subgroup: str, hr: float, term: str = "arm") -> dict:
    counts = {"n": 100, "events": 60, "n_treated": 50, "events_treated": 25, "n_control": 50, "events_control": 35}
    coef = np.log(hr) if np.isfinite(hr) else np.nan
    bounds = (hr * 0.6, hr * 1.6) if np.isfinite(hr) else (np.nan, np.nan)
    label = {"endpoint": "efs", "analysis": analysis, "subgroup": subgroup, "term": term}
    return label | counts | {"coef": coef, "se": 0.2, "hr": hr, "hr_lower": bounds[0], "hr_upper": bounds[1], "p": 0.04}


@pytest.fixture(scope="module")
def cox() -> pd.DataFrame:
    rows = [cox_row("treatment", "all", 0.5), cox_row("interaction", "", 1.2, term="arm:b_cell_ges")]
    rows += [cox_row("subgroup", f"b_cell_ges={level}", hr) for level, hr in (("low", 0.8), ("high", 0.35))]
    rows += [cox_row("subgroup", f"diagtime=Q{q}", hr) for q, hr in ((1, 0.5), (2, np.nan), (3, 0.7), (4, 0.4))]
    rows += [cox_row("subgroup", "cd19_hscore=low & sii=high", 1.1), cox_row("subgroup", f"{MATH}={XSS}", 0.6)]
    rows.append(cox_row("subgroup", "not (cd19_hscore=low & sii=high)", 0.45))
    table = pd.DataFrame(rows, columns=COX_COLUMNS)
    table.loc[table["subgroup"] == "diagtime=Q1", ["hr_lower", "hr_upper"]] = [0.0, np.inf]  # monotone likelihood
    return table


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


def test_save_figure_writes_png_and_svg_atomically(tmp_path: Path, km_curves: pd.DataFrame) -> None:
    figure = figures.km_arms_figure(km_curves, "efs", ARM_NAMES)
    paths = figures.save_figure(figure, tmp_path / "figures" / "km_efs")
    assert [path.name for path in paths] == ["km_efs.png", "km_efs.svg"]
    assert all(path.stat().st_size > 1000 for path in paths)
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    svg = paths[1].read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml")
    assert "</svg>" in svg
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == ["km_efs.png", "km_efs.svg"]


def test_save_figure_leaves_no_partial_file_when_writing_fails(
    tmp_path: Path, km_curves: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        figures.save_figure(figures.km_arms_figure(km_curves, "efs"), tmp_path / "km")
    assert list(tmp_path.iterdir()) == []


def test_svg_escapes_user_text(tmp_path: Path, cox: pd.DataFrame) -> None:
    _, svg = figures.save_figure(forest.forest_figure(cox, "efs"), tmp_path / "forest")
    text = svg.read_text(encoding="utf-8")
    assert XSS not in text
    assert "&lt;script&gt;" in text  # matplotlib keeps the drawn strings as escaped comments


def test_km_arms_figure_labels_and_arm_names(km_curves: pd.DataFrame) -> None:
    figure = figures.km_arms_figure(km_curves, "efs", ARM_NAMES)
    curves_ax, risk_ax = figure.get_axes()
    assert curves_ax.get_ylabel() == figures.Y_LABEL
    assert risk_ax.get_xlabel() == figures.X_LABEL
    assert [t.get_text() for t in risk_ax.get_yticklabels()] == ["axi-cel", "SOC"]
    assert len(curves_ax.get_lines()) == 2  # all patients only, not the subgroups


def test_km_subgroup_figure_draws_arm_by_level(km_curves: pd.DataFrame) -> None:
    figure = figures.km_subgroup_figure(km_curves, "efs", "b_cell_ges", ARM_NAMES, levels=["high", "low"])
    curves_ax, risk_ax = figure.get_axes()
    rows = [t.get_text() for t in risk_ax.get_yticklabels()]
    assert rows == ["axi-cel high", "axi-cel low", "SOC high", "SOC low"]
    assert len(curves_ax.get_lines()) == 4
    assert curves_ax.get_ylabel()
    assert risk_ax.get_xlabel()


def test_km_subgroup_figure_quartiles_and_combined(km_curves: pd.DataFrame) -> None:
    quartiles = figures.km_subgroup_figure(km_curves, "efs", "diagtime")
    assert len(quartiles.get_axes()[0].get_lines()) == 8
    combined = figures.km_subgroup_figure(km_curves, "efs", "cd19_hscore=low & sii=high", ARM_NAMES)
    rows = [t.get_text() for t in combined.get_axes()[1].get_yticklabels()]
    assert rows == ["axi-cel not in subgroup", "axi-cel in subgroup", "SOC not in subgroup", "SOC in subgroup"]
    odd = figures.km_subgroup_figure(km_curves, "efs", MATH)  # a grouping named like mathtext, a level like HTML
    assert f"treated {XSS}" in texts(odd)


def test_km_subgroup_figure_unknown_grouping_says_what_exists(km_curves: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"grouping 'sii'.*b_cell_ges=high"):
        figures.km_subgroup_figure(km_curves, "efs", "sii")


@pytest.mark.parametrize(
    ("subgroup", "grouping", "level"),
    [
        ("b_cell_ges=high", "b_cell_ges", "high"),
        ("biopsy_timing=after_first_line", "biopsy_timing", "after_first_line"),
        ("cd19_hscore=low & sii=high", "cd19_hscore=low & sii=high", figures.IN_SUBGROUP),
        ("not (cd19_hscore=low & sii=high)", "cd19_hscore=low & sii=high", figures.NOT_IN_SUBGROUP),
        ("cd19_hscore=low & sii=high", "cd19_hscore", None),
        ("all", "b_cell_ges", None),
    ],
)
def test_subgroup_level(subgroup: str, grouping: str, level: str | None) -> None:
    assert figures.subgroup_level(subgroup, grouping) == level


def test_km_figure_for_html_still_a_data_uri(km_curves: pd.DataFrame) -> None:
    image = figures.km_figure(km_curves[km_curves["endpoint"] == "efs"], "efs")
    assert image.src.startswith("data:image/png;base64,")
    assert "(treated, control)" in image.alt


def test_forest_rows_columns_and_not_estimable(cox: pd.DataFrame) -> None:
    figure = forest.forest_figure(cox, "efs", interactions({"b_cell_ges": 0.012, "diagtime": 0.0004}), ARM_NAMES)
    drawn = texts(figure)
    for expected in ("All patients", "b_cell_ges", "   high", "HR (95% CI)", "axi-cel\nevents/N", "SOC\nevents/N"):
        assert expected in drawn
    assert "25/50" in drawn
    assert "35/50" in drawn
    assert "0.35 (0.21\u20130.56)" in drawn
    assert drawn.count(forest.NOT_ESTIMABLE) == 1  # diagtime=Q2
    assert "0.50 (0\u2013\u221e)" in drawn  # the monotone-likelihood interval, drawn as arrows
    assert "0.012" in drawn
    assert "<0.001" in drawn
    assert "P interaction" in drawn
    assert f"   {XSS}" in drawn
    assert MATH in drawn
    plot = figure.get_axes()[3]
    assert plot.get_xscale() == "log"
    assert plot.get_xlabel() == "Hazard ratio (log scale)"


def test_forest_groups_combined_subgroups_under_one_header(cox: pd.DataFrame) -> None:
    drawn = texts(forest.forest_figure(cox, "efs"))
    header = drawn.index("cd19_hscore=low & sii=high")
    assert drawn[header + 1 : header + 3] == ["   in subgroup", "   not in subgroup"]
    assert "P interaction" not in drawn


def test_forest_without_rows_names_the_endpoint(cox: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="endpoint 'os'"):
        forest.forest_figure(cox, "os")


@pytest.mark.parametrize(
    ("subgroup", "expected"),
    [
        ("b_cell_ges=high", ("b_cell_ges", "high")),
        ("not (cd19_hscore=low & sii=high)", ("cd19_hscore=low & sii=high", figures.NOT_IN_SUBGROUP)),
        ("sii=high", ("sii", "high")),
        ("level=with=equals", ("level", "with=equals")),
    ],
)
def test_split_subgroup(subgroup: str, expected: tuple[str, str]) -> None:
    assert forest.split_subgroup(subgroup) == expected


def test_split_subgroup_uses_known_groupings_for_one_condition() -> None:
    assert forest.split_subgroup("sii=high", groupings={"sii=high"}) == ("sii=high", figures.IN_SUBGROUP)


def test_volcano_cox_screen_highlights_and_names_without_overlap() -> None:
    screen = screen_table()
    figure = screen_figures.volcano_figure(screen, f"Cox screen {XSS} {MATH}", n_labels=12)
    ax = figure.get_axes()[0]
    assert ax.get_xlabel() == "log2 hazard ratio"
    assert "log" in ax.get_ylabel()
    figure.draw_without_rendering()
    names = [child for child in ax.get_children() if isinstance(child, Annotation)]
    assert 0 < len(names) <= 12
    boxes = [Text.get_window_extent(name) for name in names]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    frame = ax.get_window_extent()
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    note = figure.get_supxlabel()
    assert f"of {int((screen['q'] < 0.05).sum())} highlighted" in note
    assert "{named}" not in note
    assert "1 of 46 features" in note  # the NaN P
    assert "P = 0" in note


def test_volcano_rank_sum_screen_uses_median_difference() -> None:
    screen = screen_table().drop(columns=["coef", "hr"]).assign(median_difference=np.linspace(-1, 1, 46))
    figure = screen_figures.volcano_figure(screen, "rank-sum", q_threshold=0.0)
    assert figure.get_axes()[0].get_xlabel() == screen_figures.MEDIAN_DIFFERENCE_LABEL
    assert not [c for c in figure.get_axes()[0].get_children() if isinstance(c, Annotation)]


def test_volcano_without_an_effect_column_says_which_are_needed() -> None:
    with pytest.raises(ValueError, match="'hr', 'coef' or 'median_difference'"):
        screen_figures.volcano_figure(pd.DataFrame({"feature": ["a"], "p": [0.1], "q": [0.1]}), "x")


def test_response_boxes_order_counts_and_seeded_jitter() -> None:
    rng = np.random.default_rng(5)
    values = pd.DataFrame(
        {
            "b_cell_ges": rng.normal(size=30),
            MATH: rng.normal(size=30),
            "response_group": ["relapsed", "ongoing", "no_response"] * 9 + [None, "relapsed", "ongoing"],
        }
    )
    values.loc[0, "b_cell_ges"] = np.nan
    order = ["ongoing", "relapsed", "no_response"]
    figure = screen_figures.response_box_figure(values, order, kruskal_p={"b_cell_ges": 0.0004}, value_label="log2")
    first, second = figure.get_axes()
    assert [t.get_text() for t in first.get_xticklabels()] == [
        "ongoing\n(n=10)",
        "relapsed\n(n=9)",
        "no_response\n(n=9)",
    ]
    assert first.get_title() == "b_cell_ges\nKruskal-Wallis P < 0.001"
    assert second.get_title() == MATH
    assert all(ax.get_xlabel() == "Response group" and ax.get_ylabel() == "log2" for ax in (first, second))
    assert "1 of 30 patients" in figure.get_supxlabel()
    again = screen_figures.response_box_figure(values, order, kruskal_p={"b_cell_ges": 0.0004}, value_label="log2")
    offsets = [ax.collections[0].get_offsets() for ax in (first, again.get_axes()[0])]
    np.testing.assert_array_equal(*offsets)
    texts(figure)


def test_response_boxes_missing_column_is_named() -> None:
    with pytest.raises(ValueError, match="sii"):
        screen_figures.response_box_figure(pd.DataFrame({"response_group": ["ongoing"]}), features=["sii"])


def test_heatmap_46_features_renders_with_legible_labels() -> None:
    correlation, linkage, membership = correlation_inputs()
    figure = screen_figures.correlation_heatmap_figure(correlation, linkage, membership)
    figure.savefig(io.BytesIO(), format="png", dpi=40)  # renders (low resolution: fast)
    heat = figure.get_axes()[2]
    labels = heat.get_yticklabels()
    assert len(labels) == 46
    assert labels[0].get_fontsize() >= 6
    assert labels[0].get_text() == correlation.index[hierarchy.leaves_list(linkage)[0]]
    boxes = [label.get_window_extent() for label in labels]
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    assert heat.get_xlabel()
    assert heat.get_ylabel()
    assert figure.get_axes()[0].get_ylabel() == "Linkage distance"
    assert any(ax.get_ylabel() == "Spearman correlation" for ax in figure.get_axes())


def test_heatmap_omits_names_beyond_the_limit_with_a_note() -> None:
    figure = screen_figures.correlation_heatmap_figure(*correlation_inputs(n=12), max_labels=10)
    heat = figure.get_axes()[2]
    assert not heat.get_yticklabels()
    assert "names left out" in heat.get_xlabel()


def test_heatmap_checks_its_inputs_agree() -> None:
    correlation, linkage, membership = correlation_inputs(n=6)
    with pytest.raises(ValueError, match="no cluster"):
        screen_figures.correlation_heatmap_figure(correlation, linkage, membership.iloc[1:])
    with pytest.raises(ValueError, match="linkage matrix must have 5 rows"):
        screen_figures.correlation_heatmap_figure(correlation, linkage[1:], membership)


def test_pca_axes_name_the_variance_and_groups_match_on_id() -> None:
    scores, loadings, explained = pca_tables()
    groups = pd.Series(["ongoing", "relapsed"] * 19, index=[f"P{i:02d}" for i in range(2, 40)])
    figure = screen_figures.pca_figure(scores, loadings, explained, groups, group_label=XSS, n_loadings=5)
    score_ax, loading_ax = figure.get_axes()
    assert score_ax.get_xlabel() == "PC1 (41.0% of variance)"
    assert score_ax.get_ylabel() == "PC2 (25.0% of variance)"
    legend = [t.get_text() for t in score_ax.get_legend().get_texts()]
    assert legend == ["ongoing (n=19)", "relapsed (n=19)", "not recorded (n=2)"]
    assert len(loading_ax.get_yticklabels()) == 5
    assert loading_ax.get_xlabel()
    assert loading_ax.get_ylabel()
    texts(figure)


def test_pca_without_groups_and_other_components() -> None:
    figure = screen_figures.pca_figure(*pca_tables(), components=("PC2", "PC3"))
    assert figure.get_axes()[0].get_xlabel() == "PC2 (25.0% of variance)"
    assert figure.get_axes()[0].get_legend() is None
    with pytest.raises(ValueError, match="PC9"):
        screen_figures.pca_figure(*pca_tables(), components=("PC1", "PC9"))


@pytest.mark.parametrize("name", ["forest", "volcano", "boxes", "pca"])
def test_every_figure_labels_its_axes(name: str, cox: pd.DataFrame) -> None:
    build = {
        "forest": lambda: forest.forest_figure(cox, "efs"),
        "volcano": lambda: screen_figures.volcano_figure(screen_table(), "t", n_labels=0),
        "boxes": lambda: screen_figures.response_box_figure(
            pd.DataFrame({"a": [1.0, 2.0, 3.0], "response_group": ["x", "y", "x"]})
        ),
        "pca": lambda: screen_figures.pca_figure(*pca_tables()),
    }
    assert_axes_labelled(build[name]())


def bayes_rows(cox: pd.DataFrame) -> pd.DataFrame:
    """Bayesian estimates of the same treatment and subgroup rows, one fit not converged."""
    rows = cox[cox["term"] == "arm"].copy()
    rows = rows.assign(mean=np.log(rows["hr"] * 1.05), hr_mean=rows["hr"] * 1.3, converged=1.0)
    rows.loc[rows["subgroup"] == "b_cell_ges=high", "converged"] = 0.0
    return rows[["endpoint", "analysis", "subgroup", "term", "mean", "hr_mean", "hr_lower", "hr_upper", "converged"]]


def test_forest_with_bayes_draws_a_dodged_pair_on_one_axis(cox: pd.DataFrame) -> None:
    figure = forest.forest_figure(cox, "efs", arm_names=ARM_NAMES, bayes=bayes_rows(cox))
    drawn = texts(figure)
    assert "Cox HR\n(95% CI)" in drawn
    assert "Bayesian HR\n(95% CrI)" in drawn
    assert "0.37 (0.21\u20130.56) \u2020" in drawn  # b_cell_ges=high: exp(mean) = 0.35 x 1.05, not converged
    assert "0.35 (0.21\u20130.56)" in drawn  # its Cox estimate
    assert forest.COX_LABEL in drawn
    assert forest.BAYES_LABEL in drawn
    assert forest.UNCONVERGED_LABEL in drawn
    plot = figure.get_axes()[3]
    heights = {round(line.get_ydata()[0], 2) for line in plot.get_lines() if len(line.get_ydata()) == 1}
    assert {-forest.DODGE, forest.DODGE} <= {round(h, 2) for h in heights}  # overall row: Cox above, Bayes below
    hollow = [line for line in plot.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1
    assert hollow[0].get_xdata()[0] == pytest.approx(0.35 * 1.05)  # exp(posterior mean log HR), not hr_mean
    assert plot.get_xlabel() == "Hazard ratio (log scale)"


def test_forest_with_bayes_only(cox: pd.DataFrame) -> None:
    drawn = texts(forest.forest_figure(None, "efs", bayes=bayes_rows(cox)))
    assert "Bayesian HR\n(95% CrI)" in drawn
    assert "HR (95% CI)" not in drawn
    assert "Cox HR\n(95% CI)" not in drawn


def test_km_levels_figure_panels_with_posterior_bands(km_curves: pd.DataFrame) -> None:
    posterior = km_curves[km_curves["subgroup"] == "b_cell_ges=high"].drop(columns="at_risk")
    figure = figures.km_levels_figure(km_curves, "efs", "b_cell_ges", posterior, ARM_NAMES)
    panels = figure.subfigs[0].subfigs
    assert [panel.get_axes()[0].get_title() for panel in panels] == ["b_cell_ges=low", "b_cell_ges=high"]
    low, high = (panel.get_axes()[0] for panel in panels)
    assert len(low.get_lines()) == 2  # the Kaplan-Meier steps only
    assert len(high.get_lines()) == 4  # and a dashed posterior median per arm
    assert [line.get_linestyle() for line in high.get_lines()].count("--") == 2
    for panel in panels:
        curves_ax, risk_ax = panel.get_axes()
        assert curves_ax.get_ylabel() == figures.Y_LABEL
        assert risk_ax.get_xlabel() == figures.X_LABEL
    legend = [t.get_text() for t in figure.subfigs[1].legends[0].get_texts()]
    assert legend == ["axi-cel", "SOC", figures.KM_STYLE_LABEL, figures.POSTERIOR_STYLE_LABEL]


def test_km_levels_figure_quartiles_and_odd_names(km_curves: pd.DataFrame) -> None:
    quartiles = figures.km_levels_figure(km_curves, "efs", "diagtime")
    assert len(quartiles.subfigs[0].subfigs) == 4
    combined = figures.km_levels_figure(km_curves, "efs", "cd19_hscore=low & sii=high")
    titles = [panel.get_axes()[0].get_title() for panel in combined.subfigs[0].subfigs]
    assert titles == ["cd19_hscore=low & sii=high", "not (cd19_hscore=low & sii=high)"]
    odd = figures.km_levels_figure(km_curves, "efs", MATH)
    assert f"{MATH}={XSS}" in texts(odd)
    with pytest.raises(ValueError, match="grouping 'sii'"):
        figures.km_levels_figure(km_curves, "efs", "sii")


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


def test_treatment_effect_figure_labels_axes_and_overlays_cox(cox: pd.DataFrame) -> None:
    bayes = pd.concat([treatment_at("b_cell_ges"), treatment_at(XSS, converged=0.0)], ignore_index=True)
    interaction = cox[cox["analysis"] == "interaction"].assign(subgroup="b_cell_ges")
    arm = interaction.assign(term="arm", coef=-0.5)
    effect_figure = effect_figures.treatment_effect_figure(bayes, "efs", pd.concat([interaction, arm]), ARM_NAMES)
    first, second = effect_figure.get_axes()
    assert first.get_yscale() == "log"
    assert first.get_xlabel() == "b_cell_ges (value in the data's units)"
    assert first.get_ylabel() == "Treatment HR, axi-cel vs SOC\n(log scale)"
    assert second.get_title() == XSS
    points = next(line for line in first.get_lines() if line.get_marker() == "o" and len(line.get_ydata()))
    np.testing.assert_allclose(points.get_ydata(), np.exp(treatment_at("b_cell_ges")["mean"]))
    assert any(line.get_linestyle() == "--" for line in first.get_lines())  # the Cox point estimate
    assert not any(line.get_linestyle() == "--" for line in second.get_lines())
    legend = [t.get_text() for t in effect_figure.legends[0].get_texts()]
    assert legend[1] == "Cox interaction model: point estimate"
    assert "not converged" in legend[2]
    assert_axes_labelled(effect_figure)
    with pytest.raises(ValueError, match="no treatment_at rows or curves for endpoint 'os'"):
        effect_figures.treatment_effect_figure(bayes, "os")
