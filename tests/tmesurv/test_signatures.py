"""Derived biomarkers: gene-set scores, H-scores and cluster indices against hand computations."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tmesurv.cohort import RawExport
from tmesurv.config import DeriveSpec, ExpressionSpec, GeoSpec, parse_config
from tmesurv.errors import InputError
from tmesurv.signatures import B_CELL_GENES, derive_columns, gene_set_score, gene_sets

EXPRESSION = pd.DataFrame(
    {"P1": [1.0, 4.0, 0.0], "P2": [3.0, 2.0, 9.0], "P3": [5.0, np.nan, 3.0]}, index=["BLK", "CD19", "MS4A1"]
)


def export(**columns: list) -> RawExport:
    frame = pd.DataFrame({"id": ["P1", "P2", "P3"], **columns})
    return RawExport(frame=frame, default_file="cohort.csv", default_rows=np.arange(3) + 2)


def test_score_is_the_mean_of_centred_genes():
    score, absent = gene_set_score(EXPRESSION, ["BLK", "MS4A1", "PAX5"])
    # BLK centred at 3: -2, 0, 2; MS4A1 at 4: -4, 5, -1
    assert list(score) == [-3.0, 2.5, 0.5]
    assert absent == ["PAX5"]


def test_patient_missing_a_gene_gets_no_score():
    score, _ = gene_set_score(EXPRESSION, ["BLK", "CD19"])
    assert list(score[:2]) == [(-2 + 1) / 2, (0 - 1) / 2]  # CD19 centred at its mean over P1, P2: 3
    assert np.isnan(score["P3"])


def test_no_gene_of_the_set_in_the_panel():
    with pytest.raises(InputError, match=r"none of the gene set's genes \(PAX5, CD79A\) is in the expression panel"):
        gene_set_score(EXPRESSION, ["PAX5", "CD79A"])


def test_shipped_b_cell_set():
    assert gene_sets(DeriveSpec(signatures={"b": "zuma7_b_cell"})) == {"b": B_CELL_GENES}
    with pytest.raises(InputError, match="'zuma7' is not a shipped gene set"):
        gene_sets(DeriveSpec(signatures={"b": "zuma7"}))


def test_gene_column_is_not_centred():
    spec = DeriveSpec(genes={"cd19_gene": "CD19"})
    derived, _ = derive_columns(export(), pd.Index(["P1", "P2", "P3"]), EXPRESSION, spec)
    assert derived.frame["cd19_gene"].tolist()[:2] == [4.0, 2.0]


def test_hscore_and_negative_flag():
    spec = DeriveSpec(hscores={"cd19_hscore": {"percent": ["p1", "p2", "p3"], "negative": "cd19_negative"}})
    raw = export(p1=[10, 4, None], p2=[20, 0, 0], p3=[30, 0, 0])
    derived, _ = derive_columns(raw, pd.Index(["P1", "P2", "P3"]), None, spec)
    assert derived.frame["cd19_hscore"].tolist()[:2] == [10 + 2 * 20 + 3 * 30, 4]
    assert derived.frame["cd19_negative"].tolist()[:2] == [0.0, 1.0]  # below 5
    assert derived.frame[["cd19_hscore", "cd19_negative"]].iloc[2].isna().all()


def test_percentages_over_100_name_file_column_and_row():
    spec = DeriveSpec(hscores={"h": {"percent": ["p1", "p2", "p3"]}})
    raw = export(p1=[10, 60, 0], p2=[20, 30, 0], p3=[30, 20, 0])
    with pytest.raises(InputError, match=r"file 'cohort.csv', column 'p1', row 3: .* add up to more than 100"):
        derive_columns(raw, pd.Index(["P1", "P2", "P3"]), None, spec)


def test_cluster_index_is_the_root_mean_square_of_members():
    spec = DeriveSpec(indices={"bpi": ["s1", "s2"]}, index_centre=1.0)
    derived, _ = derive_columns(
        export(s1=[3.0, 1.0, None], s2=[2.0, -2.0, 0.0]), pd.Index(["P1", "P2", "P3"]), None, spec
    )
    expected = [math.sqrt((2.0**2 + 1.0**2) / 2), math.sqrt((0.0 + 3.0**2) / 2)]
    assert derived.frame["bpi"].tolist()[:2] == pytest.approx(expected, rel=1e-15)
    assert np.isnan(derived.frame["bpi"][2])


def test_derived_column_must_be_new_and_expression_present():
    with pytest.raises(InputError, match=r"already has a column 's1', which data.derive.indices would compute"):
        derive_columns(export(s1=[1, 2, 3]), pd.Index(["P1", "P2", "P3"]), None, DeriveSpec(indices={"s1": ["s1"]}))
    with pytest.raises(InputError, match=r"need gene expression: add data.expression"):
        derive_columns(export(), pd.Index(["P1", "P2", "P3"]), None, DeriveSpec(signatures={"b": ["BLK"]}))


def test_config_takes_one_export_kind(config: dict):
    config["data"]["geo"] = {"series_matrix": "x.txt"}
    with pytest.raises(InputError, match=r"give exactly one of 'path' .*, 'adam' .* and 'geo'"):
        parse_config(config, "analysis.yaml")
    del config["data"]["geo"]
    config["data"]["expression"] = {"path": "genes.csv", "rcc": "rcc/"}
    with pytest.raises(InputError, match=r"give exactly one of 'path' .* and 'rcc'"):
        parse_config(config, "analysis.yaml")


def test_readme_expression_block_is_a_valid_config():
    """The documented keys of data.geo, data.expression and data.derive parse (no documented key that crashes)."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    start = readme.index("Gene expression and derived biomarkers")
    block = readme[
        readme.index("```yaml", start) + len("```yaml") : readme.index("```", readme.index("```yaml", start) + 7)
    ]
    data = yaml.safe_load(block)["data"]
    GeoSpec.model_validate(data["geo"])
    ExpressionSpec.model_validate(data["expression"])
    assert gene_sets(DeriveSpec.model_validate(data["derive"])) == {"b_cell_ges": B_CELL_GENES}
