"""A simulated trial written as a GEO series in the layout of GSE248835 (ZUMA-7 NanoString IO360), with its config.

Only patients with expression have samples, as in GEO. Each gets a ``baseline`` sample; every
:data:`LATER_VISIT_EVERY`-th of them also a ``progression`` sample (expression shifted by
:data:`LATER_VISIT_SHIFT`), so the config has to pick the visit. The sample characteristics are the export's columns
(the GSE248835 names where it has one: "treatment arm", "event.free.survival.months", ...); the CD19 H-score is
written as the percentages of cells at 1+, 2+ and 3+ that give it (:func:`hscore_percentages`). The table has the
IO360-like signature scores (platform analyte type "IO360 Signature") and the B cell signature genes (mRNA): the
simulation's log2 genes, whose mean over the nine genes is the simulated B cell signature plus a constant, so the
centred score the config derives is the simulated ``b_cell_ges`` centred at its mean over these patients. CD19 is
the ``cd19_gene`` column, the cluster indices are derived from the signatures as in the simulation (root mean square
minus ``index_reference``).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.outputs.atomic import write_atomically
from tmesurv.simulations.biomarkers import CLUSTERS, EXPRESSION_COLUMNS, SIGNATURE_NAMES, SIGNATURES
from tmesurv.simulations.scenario import Scenario, analysis_config
from tmesurv.simulations.trial import SimulatedTrial, simulate_trial

SERIES_MATRIX, PLATFORM = "series_matrix.txt.gz", "platform.txt"
SIGNATURE_TYPE, GENE_TYPE = "IO360 Signature", "mRNA"
BASELINE, LATER_VISIT = "baseline", "progression"
LATER_VISIT_EVERY = 10
LATER_VISIT_SHIFT = 0.25
HSCORE_PERCENT_KEYS = ("cd19 ihc 1+ (%)", "cd19 ihc 2+ (%)", "cd19 ihc 3+ (%)")
GSE248835_KEYS = {
    "subject_id": "patient id",
    "arm": "treatment arm",
    "efs_time": "event.free.survival.months",
    "efs_event": "event.free.survival.event",
    "dor_time": "duration.of.response.months",
    "dor_event": "duration.of.response.event",
    "cell_of_origin": "cell of origin",
    "spd_mm2": "baseline tumor burden (spd)",
    "grade3_crs": "grade3_crs",
    "grade3_ne": "grade3_ne",
}
"""Export column -> characteristic key of GSE248835; other columns get their name with spaces."""
NOT_CHARACTERISTICS = (*EXPRESSION_COLUMNS, "cd19_hscore", "cd19_negative")


def write_geo_series(scenario: Scenario, seed: int, folder: Path) -> tuple[Path, Path, dict]:
    """Simulate one trial and write ``folder/series_matrix.txt.gz`` and ``folder/platform.txt``.

    Returns
    -------
    tuple[Path, Path, dict]
        The two files and the analysis config (YAML-ready) that reads them, relative to ``folder``.
    """
    with_genes = scenario.biomarkers.model_copy(update={"genes": True})  # the same draws, plus the gene matrix
    trial = simulate_trial(scenario.model_copy(update={"biomarkers": with_genes}), seed)
    samples = _samples(trial)
    matrix = gzip.compress(series_matrix_text(samples, _table(trial, samples)).encode(), mtime=0)  # same bytes per seed
    matrix_path = write_atomically(folder / SERIES_MATRIX, lambda temporary: temporary.write_bytes(matrix))
    platform = platform_table(trial)
    platform_path = write_atomically(
        folder / PLATFORM, lambda temporary: platform.to_csv(temporary, sep="\t", index=False)
    )
    return matrix_path, platform_path, geo_config(scenario, seed, samples)


def hscore_percentages(hscore: np.ndarray) -> np.ndarray:
    """Percentages of cells at 1+, 2+ and 3+ (rows) giving each H-score: all at one intensity or two adjacent ones.

    Up to 100 all cells are 1+; up to 200 they are 1+ and 2+ (``2 x p2 + (100 - p2) = H``); above, 2+ and 3+.
    """
    h = np.asarray(hscore, dtype=float)
    first = np.where(h <= 100, h, np.where(h <= 200, 200 - h, 0.0))
    second = np.where(h <= 100, 0.0, np.where(h <= 200, h - 100, 300 - h))
    third = np.where(h <= 200, 0.0, h - 200)
    return np.vstack([first, second, third])


def signature_title(column: str) -> str:
    """The platform name of a simulated signature column: ``sig_tgf_beta`` -> ``Tgf Beta`` (snake_case inverts it)."""
    return column.removeprefix("sig_").replace("_", " ").title()


def platform_table(trial: SimulatedTrial) -> pd.DataFrame:
    """The platform annotation: ``ID``, ``ORF`` (gene symbol or signature name) and ``Analyte Type``."""
    genes = list(trial.genes.index)
    signatures = [signature_title(name) for name in SIGNATURE_NAMES]
    return pd.DataFrame(
        {
            "ID": genes + [f"IO360_SIG_{number:02d}" for number in range(1, len(signatures) + 1)],
            "ORF": genes + signatures,
            "Analyte Type": [GENE_TYPE] * len(genes) + [SIGNATURE_TYPE] * len(signatures),
        }
    )


def _samples(trial: SimulatedTrial) -> pd.DataFrame:
    """One row per sample: the patient's export row, its visit and its accession (baseline samples first)."""
    frame = trial.to_frame()
    expressed = frame[~np.isnan(frame["b_cell_ges"].to_numpy(dtype=float))]
    later = expressed.iloc[::LATER_VISIT_EVERY]
    samples = pd.concat([expressed.assign(visit=BASELINE), later.assign(visit=LATER_VISIT)])
    samples["patient_row"] = np.concatenate([expressed.index, later.index])
    return samples.assign(accession=[f"GSM9{number:06d}" for number in range(1, len(samples) + 1)])


def _table(trial: SimulatedTrial, samples: pd.DataFrame) -> pd.DataFrame:
    """Analytes (platform IDs) x samples: genes then signatures, later visits shifted."""
    rows = samples["patient_row"].to_numpy()
    genes = trial.genes.to_numpy()[:, rows]
    signatures = np.vstack([np.asarray(trial.columns[name], dtype=float)[rows] for name in SIGNATURE_NAMES])
    values = np.vstack([genes, signatures]) + np.where(samples["visit"] == LATER_VISIT, LATER_VISIT_SHIFT, 0.0)
    return pd.DataFrame(values, index=platform_table(trial)["ID"], columns=samples["accession"])


def _characteristics(samples: pd.DataFrame) -> dict[str, list[object]]:
    keys = {column: GSE248835_KEYS.get(column, column.replace("_", " ")) for column in samples.columns}
    found = {keys[c]: samples[c].tolist() for c in samples.columns if c not in (*NOT_CHARACTERISTICS, "accession")}
    found.pop("patient row")
    percentages = hscore_percentages(samples["cd19_hscore"].to_numpy(dtype=float))
    groups = samples["response_group"]
    found["ongoing.response"] = [None if group is None else ("yes" if group == "ongoing" else "no") for group in groups]
    return found | dict(zip(HSCORE_PERCENT_KEYS, (row.tolist() for row in percentages), strict=True))


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "NA"
    return repr(float(value)) if isinstance(value, float | np.floating) else str(value)


def series_matrix_text(samples: pd.DataFrame, table: pd.DataFrame) -> str:
    """The series matrix: series lines, titles, accessions, one characteristics line per key, the table."""

    def line(key: str, cells: list[str]) -> str:
        return "\t".join([key, *(f'"{cell}"' for cell in cells)])

    lines = [
        '!Series_title\t"Simulated ZUMA-7-like NanoString IO360 series (tmesurv)"',
        '!Series_platform_id\t"GPL-SIMULATED"',
        line("!Sample_title", [f"{s} {v}" for s, v in zip(samples["subject_id"], samples["visit"], strict=True)]),
        line("!Sample_geo_accession", list(samples["accession"])),
    ]
    for key, values in _characteristics(samples).items():
        lines.append(line("!Sample_characteristics_ch1", [f"{key}: {_cell(value)}" for value in values]))
    lines += ["!series_matrix_table_begin", line('"ID_REF"', list(table.columns))]
    for analyte, values in table.iterrows():
        lines.append("\t".join([f'"{analyte}"', *(_cell(value) for value in values)]))
    return "\n".join([*lines, "!series_matrix_table_end", ""])


def geo_config(scenario: Scenario, seed: int, samples: pd.DataFrame) -> dict:
    """The analysis config that reads the series: the CSV export's config with ``data.geo`` and ``data.derive``."""
    config = analysis_config(scenario, SERIES_MATRIX, seed)
    data = config["data"]
    data.pop("path")
    keys = {column: GSE248835_KEYS.get(column, column.replace("_", " ")) for column in samples.columns}
    characteristics = {c: keys[c] for c in samples.columns if c not in (*NOT_CHARACTERISTICS, "accession", "visit")}
    characteristics.pop("patient_row")
    percent_columns = [f"cd19_ihc_{level}_percent" for level in (1, 2, 3)]
    characteristics |= dict(zip(percent_columns, HSCORE_PERCENT_KEYS, strict=True))
    data["geo"] = {
        "series_matrix": SERIES_MATRIX,
        "platform": PLATFORM,
        "characteristics": characteristics,
        "visit": {"key": "visit", "value": BASELINE},
    }
    data["derive"] = {
        "signatures": {"b_cell_ges": "zuma7_b_cell"},
        "genes": {"cd19_gene": "CD19"},
        "indices": {cluster: list(SIGNATURES[cluster]) for cluster in CLUSTERS},
        "index_centre": scenario.biomarkers.expression.index_reference,
        "hscores": {"cd19_hscore": {"percent": percent_columns, "negative": "cd19_negative"}},
    }
    config["data"] = {key: data[key] for key in ("geo", *[k for k in data if k != "geo"])}
    return config
