"""NanoString RCC reader: parsing, nSolver normalisation against a hand computation, QC flags, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tmesurv import InputError
from tmesurv.readers.nanostring import SPRINT_BINDING_DENSITY, normalised_rcc_matrix, read_rcc

POSITIVE_NAMES = ["POS_A(128)", "POS_B(32)", "POS_C(8)", "POS_D(2)", "POS_E(0.5)", "POS_F(0.125)"]
NEGATIVE_NAMES = ["NEG_A(0)", "NEG_B(0)", "NEG_C(0)"]
HOUSEKEEPING_NAMES = ["ABCF1", "G6PD"]
ENDOGENOUS_NAMES = ["CD19", "MS4A1", "CD274"]

# Raw counts of the three well-behaved samples, in the name orders above.
BASE = {
    "S1": {
        "Positive": [12800, 3300, 790, 210, 48, 14],
        "Negative": [1, 2, 3],
        "Housekeeping": [900, 400],
        "Endogenous": [1500, 60, 0],
    },
    "S2": {
        "Positive": [9000, 2400, 600, 150, 40, 9],
        "Negative": [2, 2, 5],
        "Housekeeping": [1200, 700],
        "Endogenous": [3000, 10, 2],
    },
    "S3": {
        "Positive": [15000, 3900, 950, 260, 66, 16],
        "Negative": [0, 3, 3],
        "Housekeeping": [500, 300],
        "Endogenous": [800, 250, 1],
    },
}


def rcc_text(
    sample_id: str,
    counts: dict[str, list[int]],
    fov_count: int = 280,
    fov_counted: int = 278,
    binding_density: float = 0.85,
    newline: str = "\n",
) -> str:
    """An RCC file as the nCounter writes it (Endogenous rows first, controls last)."""
    names = {
        "Endogenous": ENDOGENOUS_NAMES,
        "Housekeeping": HOUSEKEEPING_NAMES,
        "Negative": NEGATIVE_NAMES,
        "Positive": POSITIVE_NAMES,
    }
    rows = [
        f"{code_class},{name},NM_{index:06d}.1,{count}"
        for code_class, class_names in names.items()
        for index, (name, count) in enumerate(zip(class_names, counts[code_class], strict=True))
    ]
    lines = [
        "<Header>",
        "FileVersion,1.7",
        "SoftwareVersion,4.0.0.3",
        "</Header>",
        "",
        "<Sample_Attributes>",
        f"ID,{sample_id}",
        "Owner,biomarker lab",
        "Comments,",
        "Date,20190412",
        "GeneRLF,NS_CancerImmune_IO360_C8848",
        "SystemAPF,n6_vDV1",
        "</Sample_Attributes>",
        "",
        "<Lane_Attributes>",
        "ID,1",
        f"FovCount,{fov_count}",
        f"FovCounted,{fov_counted}",
        "ScannerID,1209C0137",
        "StagePosition,1",
        f"BindingDensity,{binding_density}",
        "CartridgeID,DA0123",
        "</Lane_Attributes>",
        "",
        "<Code_Summary>",
        "CodeClass,Name,Accession,Count",
        *rows,
        "</Code_Summary>",
        "",
        "<Messages>",
        "</Messages>",
    ]
    return newline.join(lines) + newline


def write_rccs(folder: Path, samples: dict[str, dict[str, list[int]]], **lane) -> list[Path]:
    """Write one RCC per sample; ``lane`` maps a sample id to its Lane_Attributes overrides."""
    paths = []
    for sample_id, counts in samples.items():
        path = folder / f"{sample_id}.RCC"
        path.write_text(rcc_text(sample_id, counts, **lane.get(sample_id, {})))
        paths.append(path)
    return paths


def with_counts(sample_id: str, code_class: str, counts: list[int]) -> dict[str, dict[str, list[int]]]:
    """The base samples with one sample's counts of one code class replaced."""
    samples = {name: dict(classes) for name, classes in BASE.items()}
    samples[sample_id][code_class] = counts
    return samples


def hand_normalised(samples: dict[str, dict[str, list[int]]], background: bool) -> np.ndarray:
    """nSolver normalisation written out step by step (genes x samples)."""
    pos = np.array([s["Positive"][:5] for s in samples.values()], dtype=float).T  # POS_A..POS_E, no POS_F
    neg = np.array([s["Negative"] for s in samples.values()], dtype=float).T
    hk = np.array([s["Housekeeping"] for s in samples.values()], dtype=float).T
    endo = np.array([s["Endogenous"] for s in samples.values()], dtype=float).T
    # 1. positive scaling: geometric mean of POS_A..POS_E per sample; factor = mean of those / sample's
    pos_geomean = np.prod(pos, axis=0) ** (1 / 5)
    pos_factor = pos_geomean.mean() / pos_geomean
    # optional background: mean + 2 SD (n - 1) of the negatives, subtracted and floored at 0
    if background:
        threshold = neg.mean(axis=0) + 2 * np.sqrt(((neg - neg.mean(axis=0)) ** 2).sum(axis=0) / (3 - 1))
        endo = np.maximum(endo - threshold, 0)
        hk = np.maximum(hk - threshold, 0)
    # 2. housekeeping: geometric mean of the two housekeeping genes (floored at 1) on positive-scaled counts
    hk_geomean = np.sqrt(np.maximum(hk[0], 1) * np.maximum(hk[1], 1)) * pos_factor
    hk_factor = hk_geomean.mean() / hk_geomean
    # 3. scale, floor at 1, log2
    return np.log2(np.maximum(endo * pos_factor * hk_factor, 1))


def test_read_rcc_parses_sections_with_windows_line_endings(tmp_path: Path):
    path = tmp_path / "S1.RCC"
    path.write_bytes(rcc_text("S1", BASE["S1"], newline="\r\n").encode())
    sample = read_rcc(path)
    assert sample.sample_id == "S1"
    assert sample.header == {"FileVersion": "1.7", "SoftwareVersion": "4.0.0.3"}
    assert sample.sample_attributes["GeneRLF"] == "NS_CancerImmune_IO360_C8848"
    assert sample.sample_attributes["Comments"] == ""
    assert sample.lane_attributes["CartridgeID"] == "DA0123"
    assert (sample.fov_count, sample.fov_counted, sample.binding_density) == (280, 278, 0.85)
    assert sample.imaging_ratio == pytest.approx(278 / 280, abs=1e-15)
    summary = sample.code_summary
    assert list(summary.columns) == ["CodeClass", "Name", "Accession", "Count"]
    assert len(summary) == 3 + 2 + 3 + 6
    assert summary.iloc[0].tolist() == ["Endogenous", "CD19", "NM_000000.1", 1500]
    assert summary.iloc[-1].tolist() == ["Positive", "POS_F(0.125)", "NM_000005.1", 14]
    assert summary["Count"].dtype == np.int64


def test_normalised_matrix_matches_hand_computation(tmp_path: Path):
    expression, _ = normalised_rcc_matrix(write_rccs(tmp_path, BASE))
    assert list(expression.index) == ENDOGENOUS_NAMES
    assert list(expression.columns) == ["S1", "S2", "S3"]
    np.testing.assert_allclose(expression.to_numpy(), hand_normalised(BASE, background=False), rtol=0, atol=1e-9)
    assert expression.loc["CD274", "S1"] == 0.0  # a zero count floors at 1, log2 0


def test_background_subtraction_matches_hand_computation(tmp_path: Path):
    expression, _ = normalised_rcc_matrix(write_rccs(tmp_path, BASE), subtract_background=True)
    np.testing.assert_allclose(expression.to_numpy(), hand_normalised(BASE, background=True), rtol=0, atol=1e-9)


def test_factors_and_metrics_in_qc_table(tmp_path: Path):
    paths = write_rccs(tmp_path, BASE)
    _, qc = normalised_rcc_matrix(paths)
    pos_geomean = np.array([np.prod(s["Positive"][:5]) ** (1 / 5) for s in BASE.values()])
    np.testing.assert_allclose(qc["positive_factor"], pos_geomean.mean() / pos_geomean, rtol=1e-12)
    np.testing.assert_allclose(qc["negative_threshold"], [2 + 2 * 1, 3 + 2 * np.sqrt(3), 2 + 2 * np.sqrt(3)])
    assert qc["file"].tolist() == [str(path) for path in paths]
    assert qc["sample_id"].tolist() == ["S1", "S2", "S3"]
    assert not qc.filter(like="flag").to_numpy().any()


def test_imaging_flag(tmp_path: Path):
    _, qc = normalised_rcc_matrix(write_rccs(tmp_path, BASE, S2={"fov_count": 280, "fov_counted": 200}))
    assert qc["imaging_ratio"].iloc[1] == pytest.approx(200 / 280, abs=1e-15)
    assert qc["imaging_flag"].tolist() == [False, True, False]
    assert qc["any_flag"].tolist() == [False, True, False]


def test_binding_density_flag_and_sprint_range(tmp_path: Path):
    paths = write_rccs(tmp_path, BASE, S1={"binding_density": 2.4}, S3={"binding_density": 2.0})
    _, qc = normalised_rcc_matrix(paths)
    assert qc["binding_density_flag"].tolist() == [True, False, False]
    _, sprint = normalised_rcc_matrix(paths, binding_density_range=SPRINT_BINDING_DENSITY)
    assert sprint["binding_density_flag"].tolist() == [True, False, True]


def test_positive_linearity_flag(tmp_path: Path):
    flat = [3000, 2900, 3100, 200, 48, 14]
    _, qc = normalised_rcc_matrix(write_rccs(tmp_path, with_counts("S3", "Positive", flat)))
    x = np.log2([128, 32, 8, 2, 0.5, 0.125])
    y = np.log2(flat)
    r2 = (((x - x.mean()) * (y - y.mean())).sum()) ** 2 / (((x - x.mean()) ** 2).sum() * ((y - y.mean()) ** 2).sum())
    assert r2 < 0.95
    assert qc["positive_linearity_r2"].iloc[2] == pytest.approx(r2, rel=1e-12)
    assert qc["positive_linearity_flag"].tolist() == [False, False, True]


def test_limit_of_detection_flag(tmp_path: Path):
    # negatives 20, 30, 40: mean 30 + 2 SD (10) = 50, and S1's POS_E count of 48 is not above it
    _, qc = normalised_rcc_matrix(write_rccs(tmp_path, with_counts("S1", "Negative", [20, 30, 40])))
    assert qc["negative_threshold"].iloc[0] == pytest.approx(50.0, abs=1e-12)
    assert qc["pos_e_count"].iloc[0] == 48
    assert qc["limit_of_detection_flag"].tolist() == [True, False, False]


def test_positive_factor_flag(tmp_path: Path):
    # S2's positives a tenth of the others: its factor is about (1 + 0.1 + 1) / 3 / 0.1 = 7
    low = [1300, 330, 79, 21, 6, 2]
    _, qc = normalised_rcc_matrix(write_rccs(tmp_path, with_counts("S2", "Positive", low)))
    geomeans = np.array([np.prod(BASE["S1"]["Positive"][:5]), np.prod(low[:5]), np.prod(BASE["S3"]["Positive"][:5])])
    geomeans = geomeans ** (1 / 5)
    assert qc["positive_factor"].iloc[1] == pytest.approx(geomeans.mean() / geomeans[1], rel=1e-12)
    assert qc["positive_factor_flag"].tolist() == [False, True, False]
    assert qc["positive_linearity_flag"].tolist() == [False, False, False]


def test_housekeeping_factor_flag(tmp_path: Path):
    _, qc = normalised_rcc_matrix(write_rccs(tmp_path, with_counts("S3", "Housekeeping", [150000, 90000])))
    pos_geomean = np.array([np.prod(s["Positive"][:5]) ** (1 / 5) for s in BASE.values()])
    pos_factor = pos_geomean.mean() / pos_geomean
    hk_geomean = np.sqrt([900 * 400, 1200 * 700, 150000 * 90000]) * pos_factor
    np.testing.assert_allclose(qc["housekeeping_factor"], hk_geomean.mean() / hk_geomean, rtol=1e-12)
    assert qc["housekeeping_factor_flag"].tolist() == [True, True, False]
    assert qc["any_flag"].tolist() == [True, True, False]


def test_repeated_sample_id(tmp_path: Path):
    paths = write_rccs(tmp_path, BASE)
    (tmp_path / "copy.RCC").write_text(rcc_text("S2", BASE["S2"]))
    with pytest.raises(InputError, match=r"copy\.RCC', <Sample_Attributes> ID 'S2' is also the ID in '.*S2\.RCC'"):
        normalised_rcc_matrix([*paths, tmp_path / "copy.RCC"])


def test_file_without_code_summary(tmp_path: Path):
    text = rcc_text("S1", BASE["S1"])
    path = tmp_path / "S1.RCC"
    path.write_text(text[: text.index("<Code_Summary>")])
    with pytest.raises(InputError, match=r"S1\.RCC' has no <Code_Summary> section: export the full RCC"):
        read_rcc(path)


def test_non_numeric_count_names_the_line(tmp_path: Path):
    path = tmp_path / "S1.RCC"
    path.write_text(rcc_text("S1", BASE["S1"]).replace("CD19,NM_000000.1,1500", "CD19,NM_000000.1,1.5e3"))
    # line 27: the first Code_Summary row after 4 + 1 + 8 + 1 + 9 + 1 + 2 lines
    with pytest.raises(InputError, match=r"S1\.RCC', <Code_Summary> line 27: count '1\.5e3' of 'CD19' is not"):
        read_rcc(path)


def test_gene_set_differs_between_files(tmp_path: Path):
    paths = write_rccs(tmp_path, BASE)
    paths[2].write_text(paths[2].read_text().replace("MS4A1", "CD79A"))
    with pytest.raises(InputError, match=r"S3\.RCC', <Code_Summary>: its probes differ .*extra.*CD79A; missing: MS4A1"):
        normalised_rcc_matrix(paths)


def test_unclosed_section(tmp_path: Path):
    path = tmp_path / "S1.RCC"
    path.write_text(rcc_text("S1", BASE["S1"]).replace("</Messages>\n", ""))
    with pytest.raises(InputError, match=r"<Messages> opened at line 43 is never closed"):
        read_rcc(path)
