"""NanoString nCounter RCC files: parsing, nSolver-style normalisation and lane QC.

An RCC file is text in tagged sections (``<Header>``, ``<Sample_Attributes>``, ``<Lane_Attributes>``,
``<Code_Summary>``, each closed by ``</...>``). The attribute sections hold ``key,value`` lines; ``<Code_Summary>``
is CSV with the header ``CodeClass,Name,Accession,Count``. Sections this reader does not use (``<Messages>``,
``<Lane_Attributes>`` keys beyond the QC ones) are kept or ignored, never an error.

Normalisation follows nSolver's standard two steps (NanoString, *nCounter Gene Expression Data Analysis
Guidelines*), on counts floored at 1 wherever a geometric mean or a log is taken:

1. positive-control scaling: per sample the geometric mean of the positive controls POS_A to POS_E; the factor is
   the arithmetic mean of these geometric means across samples divided by the sample's. POS_F (0.125 fM) is left
   out because its counts sit near background in many lanes, so it adds noise rather than scale
   (nSolver lets the user choose the controls; the NACHO package also leaves POS_F out). It still enters the
   linearity QC, which uses all six.
2. CodeSet content (housekeeping) scaling: per sample the geometric mean of the ``Housekeeping`` genes on the
   positive-scaled counts; the factor is the mean of these across samples divided by the sample's.

The normalised count is ``count x positive factor x housekeeping factor``; expression is ``log2`` of it after
flooring at 1 (so counts below 1 become 0). Optional background subtraction (off by default) subtracts each
sample's mean + 2 SD of its negative controls from the endogenous and housekeeping counts, flooring at 0, before
the housekeeping step; positive factors always come from the raw positive controls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.errors import InputError

CODE_SUMMARY_HEADER = ("CodeClass", "Name", "Accession", "Count")
POSITIVE_NAME = re.compile(r"^POS_([A-Z])\(([0-9.]+)\)$")
SCALING_EXCLUDED_POSITIVE = "F"
LOD_POSITIVE = "E"

MIN_IMAGING_RATIO = 0.75
MAX_FLEX_BINDING_DENSITY = (0.1, 2.25)
"""Binding density range for nCounter MAX and FLEX; the default."""
SPRINT_BINDING_DENSITY = (0.1, 1.8)
"""Binding density range for nCounter SPRINT: pass as ``binding_density_range`` for SPRINT lanes."""
MIN_LINEARITY_R2 = 0.95
POSITIVE_FACTOR_RANGE = (0.3, 3.0)
HOUSEKEEPING_FACTOR_RANGE = (0.1, 10.0)


@dataclass(frozen=True)
class RccSample:
    """One RCC file: its attributes as text and its code summary.

    Attributes
    ----------
    path
        The file read.
    header, sample_attributes, lane_attributes
        ``key -> value`` of the three attribute sections, as written.
    code_summary
        Columns ``CodeClass``, ``Name``, ``Accession`` (text) and ``Count`` (int64), in file order.
    sample_id, fov_count, fov_counted, binding_density
        ``Sample_Attributes`` ID and the lane values the QC uses, parsed.
    """

    path: Path
    header: dict[str, str]
    sample_attributes: dict[str, str]
    lane_attributes: dict[str, str]
    code_summary: pd.DataFrame
    sample_id: str
    fov_count: int
    fov_counted: int
    binding_density: float

    @property
    def imaging_ratio(self) -> float:
        """Fields of view counted over fields of view attempted."""
        return self.fov_counted / self.fov_count


@dataclass(frozen=True)
class NormalisedCounts:
    """Result of :func:`normalise_counts`.

    Attributes
    ----------
    log2_expression
        Genes x samples, ``log2(max(normalised count, 1))``.
    positive_factor, housekeeping_factor
        One factor per sample.
    """

    log2_expression: np.ndarray
    positive_factor: np.ndarray
    housekeeping_factor: np.ndarray


def read_rcc(path: Path) -> RccSample:
    """Read one RCC file.

    Parameters
    ----------
    path
        The ``.RCC`` file.

    Returns
    -------
    RccSample
        Attributes and code summary.

    Raises
    ------
    InputError
        If a required section, key or the code summary header is missing, a count is not a non-negative whole
        number, or a gene name appears twice.
    """
    path = Path(path)
    sections = _sections(path, _lines(path))
    for required in ("Sample_Attributes", "Lane_Attributes", "Code_Summary"):
        if required not in sections:
            raise InputError(
                f"RCC file '{path}' has no <{required}> section: export the full RCC from the nCounter instrument "
                "(not a summary or a CSV) or remove this file from the list."
            )
    sample_attributes = _key_values(path, "Sample_Attributes", sections["Sample_Attributes"])
    lane_attributes = _key_values(path, "Lane_Attributes", sections["Lane_Attributes"])
    sample_id = _required_value(path, "Sample_Attributes", sample_attributes, "ID")
    fov_count = _lane_number(path, lane_attributes, "FovCount", int)
    if fov_count <= 0:
        raise InputError(f"RCC file '{path}', <Lane_Attributes> FovCount is {fov_count}: it must be positive.")
    return RccSample(
        path=path,
        header=_key_values(path, "Header", sections.get("Header", [])),
        sample_attributes=sample_attributes,
        lane_attributes=lane_attributes,
        code_summary=_code_summary(path, sections["Code_Summary"]),
        sample_id=sample_id,
        fov_count=fov_count,
        fov_counted=_lane_number(path, lane_attributes, "FovCounted", int),
        binding_density=_lane_number(path, lane_attributes, "BindingDensity", float),
    )


def normalised_rcc_matrix(
    paths: list[Path],
    *,
    subtract_background: bool = False,
    binding_density_range: tuple[float, float] = MAX_FLEX_BINDING_DENSITY,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read RCC files, normalise the endogenous genes as nSolver does and report lane QC.

    See the module docstring for the normalisation. Flagged samples stay in the matrix; the QC table says why
    they are flagged.

    Parameters
    ----------
    paths
        One RCC file per sample, all from the same CodeSet.
    subtract_background
        Subtract each sample's mean + 2 SD of negative controls before housekeeping scaling.
    binding_density_range
        Acceptable binding density; the MAX/FLEX default is ``(0.1, 2.25)``, use :data:`SPRINT_BINDING_DENSITY`
        ``(0.1, 1.8)`` for SPRINT.

    Returns
    -------
    expression : pandas.DataFrame
        ``log2`` normalised endogenous expression, genes (``Name``) x samples (``Sample_Attributes`` ID).
    qc : pandas.DataFrame
        One row per sample: ``file``, ``sample_id``, ``imaging_ratio``, ``binding_density``,
        ``positive_linearity_r2``, ``pos_e_count``, ``negative_threshold`` (mean + 2 SD of negatives),
        ``positive_factor``, ``housekeeping_factor``; flags (True = fails) ``imaging_flag`` (ratio < 0.75),
        ``binding_density_flag`` (outside ``binding_density_range``), ``positive_linearity_flag`` (R^2 < 0.95),
        ``limit_of_detection_flag`` (POS_E not above the threshold), ``positive_factor_flag`` (outside 0.3-3),
        ``housekeeping_factor_flag`` (outside 0.1-10) and ``any_flag``.

    Raises
    ------
    InputError
        If no file is given, a sample ID repeats, gene sets differ between files, or a file lacks positive,
        negative or housekeeping controls (and every error of :func:`read_rcc`).
    """
    if not paths:
        raise InputError("no RCC files given: list at least one .RCC file.")
    samples = [read_rcc(path) for path in paths]
    _require_unique_ids(samples)
    _require_same_genes(samples)
    counts = _count_matrix(samples)
    classes = samples[0].code_summary.set_index("Name")["CodeClass"]
    _require_controls(samples[0], classes)
    positive = _positive_controls(samples[0], classes)
    scaling = positive.index[positive["letter"] != SCALING_EXCLUDED_POSITIVE]
    endogenous = classes.index[classes == "Endogenous"]
    threshold = background_threshold(counts.loc[classes == "Negative"].to_numpy(float))
    result = normalise_counts(
        endogenous=counts.loc[endogenous].to_numpy(float),
        positive=counts.loc[scaling].to_numpy(float),
        housekeeping=counts.loc[classes == "Housekeeping"].to_numpy(float),
        background=threshold if subtract_background else None,
    )
    expression = pd.DataFrame(
        result.log2_expression,
        index=pd.Index(endogenous, name="Name"),
        columns=pd.Index(counts.columns, name="sample_id"),
    )
    qc = _qc_table(samples, counts.loc[positive.index], positive, threshold, result)
    return expression, _flag(qc, binding_density_range)


def normalise_counts(
    endogenous: np.ndarray,
    positive: np.ndarray,
    housekeeping: np.ndarray,
    background: np.ndarray | None = None,
) -> NormalisedCounts:
    """Positive-control then housekeeping scaling of raw counts, and ``log2``.

    Parameters
    ----------
    endogenous, positive, housekeeping
        Raw counts, probes x samples (same samples, same order). ``positive`` holds the controls used for scaling
        (POS_A to POS_E in :func:`normalised_rcc_matrix`).
    background
        Per-sample count to subtract from endogenous and housekeeping counts (floored at 0); ``None`` for none.

    Returns
    -------
    NormalisedCounts
        ``log2(max(endogenous x positive factor x housekeeping factor, 1))`` and the two factors.
    """
    positive_geomean = _geometric_mean(positive)
    positive_factor = positive_geomean.mean() / positive_geomean
    if background is not None:
        endogenous = np.maximum(endogenous - background, 0.0)
        housekeeping = np.maximum(housekeeping - background, 0.0)
    housekeeping_geomean = _geometric_mean(housekeeping) * positive_factor
    housekeeping_factor = housekeeping_geomean.mean() / housekeeping_geomean
    normalised = endogenous * positive_factor * housekeeping_factor
    return NormalisedCounts(np.log2(np.maximum(normalised, 1.0)), positive_factor, housekeeping_factor)


def background_threshold(negative: np.ndarray) -> np.ndarray:
    """Per-sample mean + 2 SD (``ddof=1``, as R's ``sd``) of the negative controls, probes x samples."""
    return negative.mean(axis=0) + 2 * negative.std(axis=0, ddof=1)


def positive_linearity_r2(counts: np.ndarray, concentrations: np.ndarray) -> np.ndarray:
    """R^2 of ``log2(max(count, 1))`` on ``log2(concentration)`` per sample (positive controls x samples)."""
    x = np.log2(concentrations)
    y = np.log2(np.maximum(counts, 1.0))
    return np.array([np.corrcoef(x, column)[0, 1] ** 2 for column in y.T])


def _geometric_mean(counts: np.ndarray) -> np.ndarray:
    """Per-sample geometric mean of counts floored at 1 (a zero count would make a factor infinite)."""
    return np.exp(np.log(np.maximum(counts, 1.0)).mean(axis=0))


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"RCC file '{path}' does not exist: check the list of RCC files.")
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"RCC file '{path}' is not a text file: give the .RCC text files, not a ZIP.") from None


def _sections(path: Path, lines: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Lines of each ``<Section>`` with their 1-based line numbers."""
    sections: dict[str, list[tuple[int, str]]] = {}
    current, opened_at = None, 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        tag = re.fullmatch(r"<(/?)(\w+)>", line)
        if tag is None:
            if current is not None and line:
                sections[current].append((number, line))
            continue
        closing, name = tag.groups()
        if not closing and current is None:
            current, opened_at = name, number
            sections[name] = []
        elif closing and name == current:
            current = None
        else:
            raise InputError(
                f"RCC file '{path}', line {number}: unexpected '{line}' inside <{current}> opened at line "
                f"{opened_at}. The file is damaged: export it again from the instrument."
            )
    if current is not None:
        raise InputError(
            f"RCC file '{path}': <{current}> opened at line {opened_at} is never closed by </{current}>. "
            "The file is truncated: copy or export it again."
        )
    return sections


def _key_values(path: Path, section: str, lines: list[tuple[int, str]]) -> dict[str, str]:
    values = {}
    for number, line in lines:
        key, comma, value = line.partition(",")
        if not comma:
            raise InputError(
                f"RCC file '{path}', <{section}> line {number}: '{line}' is not 'key,value'. "
                "The file is damaged: export it again."
            )
        values[key.strip()] = value.strip()
    return values


def _required_value(path: Path, section: str, values: dict[str, str], key: str) -> str:
    if not values.get(key):
        raise InputError(f"RCC file '{path}', <{section}>: '{key}' is missing or empty; set it in the RCC file.")
    return values[key]


def _lane_number(path: Path, lane: dict[str, str], key: str, kind: type) -> int | float:
    text = _required_value(path, "Lane_Attributes", lane, key)
    try:
        return kind(text)
    except ValueError:
        raise InputError(
            f"RCC file '{path}', <Lane_Attributes> {key}: '{text}' is not a {kind.__name__}. "
            "The file is damaged: export it again."
        ) from None


def _code_summary(path: Path, lines: list[tuple[int, str]]) -> pd.DataFrame:
    if not lines or tuple(field.strip() for field in lines[0][1].split(",")) != CODE_SUMMARY_HEADER:
        found = f"'{lines[0][1]}'" if lines else "nothing"
        raise InputError(
            f"RCC file '{path}', <Code_Summary>: the first line must be '{','.join(CODE_SUMMARY_HEADER)}', "
            f"found {found}. The file is damaged: export it again."
        )
    rows = [_code_row(path, number, line) for number, line in lines[1:]]
    frame = pd.DataFrame(rows, columns=list(CODE_SUMMARY_HEADER)).astype({"Count": "int64"})
    repeated = frame["Name"][frame["Name"].duplicated()].unique()
    if len(repeated):
        raise InputError(
            f"RCC file '{path}', <Code_Summary>: gene name(s) {', '.join(repeated)} appear more than once. "
            "Each probe must have one row: export the RCC again."
        )
    return frame


def _code_row(path: Path, number: int, line: str) -> tuple[str, str, str, int]:
    fields = [field.strip() for field in line.split(",")]
    if len(fields) < len(CODE_SUMMARY_HEADER):
        raise InputError(
            f"RCC file '{path}', <Code_Summary> line {number}: '{line}' has {len(fields)} fields, "
            "expected CodeClass,Name,Accession,Count."
        )
    code_class, name, *accession, count = fields
    if not count.isdigit():
        raise InputError(
            f"RCC file '{path}', <Code_Summary> line {number}: count '{count}' of '{name}' is not a "
            "non-negative whole number. Fix the count or export the RCC again."
        )
    return code_class, name, ",".join(accession), int(count)


def _require_unique_ids(samples: list[RccSample]) -> None:
    first_file: dict[str, Path] = {}
    for sample in samples:
        if sample.sample_id in first_file:
            raise InputError(
                f"RCC file '{sample.path}', <Sample_Attributes> ID '{sample.sample_id}' is also the ID in "
                f"'{first_file[sample.sample_id]}'. Sample IDs become column names: remove the duplicate file "
                "or give each sample its own ID."
            )
        first_file[sample.sample_id] = sample.path


def _require_same_genes(samples: list[RccSample]) -> None:
    reference = samples[0]
    expected = set(zip(reference.code_summary["CodeClass"], reference.code_summary["Name"], strict=True))
    for sample in samples[1:]:
        genes = set(zip(sample.code_summary["CodeClass"], sample.code_summary["Name"], strict=True))
        if genes != expected:
            extra = sorted(name for _, name in genes - expected)
            missing = sorted(name for _, name in expected - genes)
            raise InputError(
                f"RCC file '{sample.path}', <Code_Summary>: its probes differ from '{reference.path}' "
                f"(extra or other class: {', '.join(extra) or 'none'}; missing: {', '.join(missing) or 'none'}). "
                "Normalise files from one CodeSet (GeneRLF) together: remove files from another panel."
            )


def _count_matrix(samples: list[RccSample]) -> pd.DataFrame:
    """Raw counts, probes (first file's order) x samples."""
    order = samples[0].code_summary["Name"]
    columns = {sample.sample_id: sample.code_summary.set_index("Name")["Count"] for sample in samples}
    return pd.DataFrame(columns).loc[order]


def _require_controls(sample: RccSample, classes: pd.Series) -> None:
    for code_class in ("Positive", "Negative", "Housekeeping", "Endogenous"):
        if (classes == code_class).sum() < (2 if code_class == "Negative" else 1):
            raise InputError(
                f"RCC file '{sample.path}', <Code_Summary>: too few '{code_class}' probes to normalise "
                "(need positive controls, at least two negative controls, housekeeping and endogenous genes). "
                "Use RCC files of a gene-expression CodeSet with controls."
            )


def _positive_controls(sample: RccSample, classes: pd.Series) -> pd.DataFrame:
    """Letter and concentration (fM) of each positive control, from names like ``POS_A(128)``, indexed by name."""
    rows = {}
    for name in classes.index[classes == "Positive"]:
        match = POSITIVE_NAME.fullmatch(name)
        if match is None:
            raise InputError(
                f"RCC file '{sample.path}', <Code_Summary>: positive control '{name}' does not look like "
                "'POS_A(128)'; the concentration in brackets is needed for the linearity QC. Use the RCC as exported."
            )
        rows[name] = {"letter": match.group(1), "concentration": float(match.group(2))}
    positive = pd.DataFrame.from_dict(rows, orient="index")
    letters = set(positive["letter"])
    if LOD_POSITIVE not in letters or len(letters - {SCALING_EXCLUDED_POSITIVE}) < 2:
        raise InputError(
            f"RCC file '{sample.path}', <Code_Summary>: positive controls {', '.join(positive.index)} lack POS_E "
            "or the POS_A to POS_E scaling set; use the complete RCC file."
        )
    return positive


def _qc_table(
    samples: list[RccSample],
    positive_counts: pd.DataFrame,
    positive: pd.DataFrame,
    threshold: np.ndarray,
    result: NormalisedCounts,
) -> pd.DataFrame:
    pos_e = positive.index[positive["letter"] == LOD_POSITIVE][0]
    return pd.DataFrame(
        {
            "file": [str(sample.path) for sample in samples],
            "sample_id": [sample.sample_id for sample in samples],
            "imaging_ratio": [sample.imaging_ratio for sample in samples],
            "binding_density": [sample.binding_density for sample in samples],
            "positive_linearity_r2": positive_linearity_r2(
                positive_counts.to_numpy(float), positive["concentration"].to_numpy()
            ),
            "pos_e_count": positive_counts.loc[pos_e].to_numpy(float),
            "negative_threshold": threshold,
            "positive_factor": result.positive_factor,
            "housekeeping_factor": result.housekeeping_factor,
        }
    )


def _flag(qc: pd.DataFrame, binding_density_range: tuple[float, float]) -> pd.DataFrame:
    """Add a flag per QC metric (True = fails NanoString's threshold) and ``any_flag``."""
    low_density, high_density = binding_density_range
    flags = {
        "imaging_flag": qc["imaging_ratio"] < MIN_IMAGING_RATIO,
        "binding_density_flag": ~qc["binding_density"].between(low_density, high_density),
        "positive_linearity_flag": qc["positive_linearity_r2"] < MIN_LINEARITY_R2,
        "limit_of_detection_flag": qc["pos_e_count"] <= qc["negative_threshold"],
        "positive_factor_flag": ~qc["positive_factor"].between(*POSITIVE_FACTOR_RANGE),
        "housekeeping_factor_flag": ~qc["housekeeping_factor"].between(*HOUSEKEEPING_FACTOR_RANGE),
    }
    qc = qc.assign(**flags)
    return qc.assign(any_flag=qc[list(flags)].any(axis=1))
