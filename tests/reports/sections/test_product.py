"""The CAR T product section of the report: from the product outputs of ``tmesurv cox``, escaped, else absent."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.conftest import small_config, small_export
from tests.reports.conftest import row_with, section
from tmesurv.api.cox import fit_cox
from tmesurv.cohort import Cohort
from tmesurv.reports import html
from tmesurv.reports.format import format_p
from tmesurv.reports.sections.product import figure_stem

ATTRIBUTE = "<b>x</b>"  # a product column named like HTML
ESCAPED = "&lt;b&gt;x&lt;/b&gt;"
PAIR = f"{ATTRIBUTE}/cd19_hscore"


def interval(estimate: float, lower: float, upper: float) -> str:
    return f"{estimate:.2f} ({lower:.2f}\u2013{upper:.2f})"


@pytest.fixture(scope="module")
def product_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The result folder of ``tmesurv cox`` with a product section (an odd attribute name), and its report."""
    folder = tmp_path_factory.mktemp("product")
    export = small_export(n_per_arm=40)
    treated = export["arm"] == "axi-cel"
    rng = np.random.default_rng(11)
    value = rng.lognormal(3.0, 0.8, len(export))
    export[ATTRIBUTE] = np.where(treated, np.round(value, 2), np.nan)
    export["grade3_ne"] = np.where(treated, value + rng.normal(0.0, 30.0, len(export)) > 30.0, np.nan)
    config = small_config()
    config["data"]["product"] = [ATTRIBUTE, "grade3_ne"]
    config["product"] = {
        "attributes": [ATTRIBUTE],
        "outcomes": {"grade3_ne": "grade3_ne"},
        "subgroups": [{"attribute": ATTRIBUTE, "biomarker": "cd19_hscore"}],
    }
    export.to_csv(folder / "cohort.csv", index=False)
    (folder / "analysis.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    out = folder / "out"
    fit_cox(Cohort.from_config(folder / "analysis.yaml")).write(out)
    html.write_report(out)
    return out


@pytest.fixture(scope="module")
def product(product_run: Path) -> str:
    """The product section of the report."""
    return section((product_run / "report.html").read_text(encoding="utf-8"), "product")


def test_product_section_is_listed_and_placed(product_run: Path) -> None:
    page = (product_run / "report.html").read_text(encoding="utf-8")
    assert '<a href="#product">CAR T product and expansion</a>' in page
    assert "<h2>CAR T product and expansion</h2>" in section(page, "product")
    order = [page.index(f'<section id="{name}"') for name in ("hazard-ratios", "product", "methods")]
    assert order == sorted(order)


def test_associations_row_matches_the_csv(product_run: Path, product: str) -> None:
    csv = pd.read_csv(product_run / "product_associations.csv").iloc[0]
    row = row_with(product, ESCAPED, "grade3_ne")
    assert interval(csv["or_per_iqr"], csv["or_per_iqr_lower"], csv["or_per_iqr_upper"]) in row
    assert f">{csv['n']}</td>" in row
    assert f">{csv['events']}</td>" in row
    assert f">{csv['median_with']:.2f}</td>" in row
    assert f">{format_p(csv['logistic_p'])}</td>" in row
    assert "Wilcoxon rank-sum test" in product
    assert "Benjamini-Hochberg" in product


def test_subgroup_table_matches_the_csv(product_run: Path, product: str) -> None:
    csv = pd.read_csv(product_run / "product_subgroups.csv")
    hr = csv[(csv["group"] == "high/high") & (csv["statistic"] == "hr_vs_low/low")].iloc[0]
    row = row_with(product, "high/high")
    assert interval(hr["estimate"], hr["lower"], hr["upper"]) in row
    assert f">{format_p(hr['p'])}</td>" in row
    assert "reference" in row_with(product, "low/low")
    logrank = csv[csv["statistic"] == "logrank"].iloc[0]
    assert f">{format_p(logrank['p'])}</td>" in row_with(product, "All")
    assert "Survival at 12 months (95% CI)" in product
    assert "high above median" in product  # the cut rule


def test_product_figure_is_embedded(product_run: Path, product: str) -> None:
    assert (product_run / "figures" / f"{figure_stem(PAIR)}.png").is_file()
    sources = re.findall(r'<img src="([^"]*)" alt="([^"]*)"', product)
    assert len(sources) == 1
    assert sources[0][0].startswith("data:image/png;base64,")
    assert f"by {ESCAPED} and cd19_hscore group" in sources[0][1]


def test_methods_describe_the_product_analyses(product_run: Path) -> None:
    methods = section((product_run / "report.html").read_text(encoding="utf-8"), "methods")
    assert "CAR T product and expansion" in methods
    assert f"Each of {ESCAPED} was compared between patients with and without grade3_ne" in methods
    assert f"Subgroups {ESCAPED} x cd19_hscore" in methods


def test_attribute_name_is_escaped(product_run: Path, product: str) -> None:
    assert ESCAPED in product
    assert ATTRIBUTE not in (product_run / "report.html").read_text(encoding="utf-8")


def test_product_section_absent_without_product_files(tmp_path: Path, writers: SimpleNamespace) -> None:
    writers.cox(tmp_path)
    writers.run(tmp_path)
    page = html.write_report(tmp_path).read_text(encoding="utf-8")
    assert 'id="product"' not in page
    assert "#product" not in page


def test_associations_alone_give_the_section_without_figures(product_run: Path, tmp_path: Path) -> None:
    shutil.copy(product_run / "product_associations.csv", tmp_path)
    page = html.write_report(tmp_path).read_text(encoding="utf-8")
    product = section(page, "product")
    assert row_with(product, ESCAPED, "grade3_ne")
    assert "<img" not in product


def test_attributes_differing_only_in_punctuation_get_figures_of_their_own() -> None:
    stems = {figure_stem(f"{attribute}/cd19_hscore") for attribute in ("CCR7+CD45RA-", "CCR7-CD45RA+", "ccr7_cd45ra")}
    assert len(stems) == 3
    assert figure_stem("ccr7_cd45ra/cd19_hscore") == "km_product_ccr7_cd45ra_cd19_hscore"  # plain names stay plain
