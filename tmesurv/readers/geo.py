"""GEO series matrix files (such as GSE248835, the ZUMA-7 NanoString IO360 data), plain or gzipped.

The layout: ``!Series_*`` lines, ``!Sample_title``, ``!Sample_geo_accession``, one or more
``!Sample_characteristics_ch1`` lines whose cells read ``key: value``, then ``!series_matrix_table_begin``, a
tab-separated table ``"ID_REF" GSM...`` with one row per analyte, and ``!series_matrix_table_end``; cells may be
quoted, ``NA`` and empty cells are missing.

Each sample is a row of the export: columns ``sample`` (GEO accession) and ``title``, one column per mapped
characteristic (``data.geo.characteristics``: cohort column -> characteristic key), and one numeric column per
signature row of the table. The table's rows split into signatures and genes by the platform annotation (analyte type
``data.geo.signature_type``) or, without one, by ``data.geo.signature_rows`` (ID_REF patterns); the gene rows become
the expression matrix (genes x samples, index the gene symbol). With several samples per patient, ``data.geo.visit``
picks the analysed visit and the other samples are counted as exclusions.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tmesurv.cohort import Exclusion, RawExport
from tmesurv.config import DataSpec, GeoSpec, PlatformColumns
from tmesurv.errors import InputError
from tmesurv.readers.expression import numeric_matrix, to_log2

MISSING = ("NA", "", "null", "NaN")
TABLE_BEGIN, TABLE_END = "!series_matrix_table_begin", "!series_matrix_table_end"
SAMPLE_COLUMNS = ("sample", "title")
GEO_SAMPLES = "GEO samples"


@dataclass(frozen=True)
class SeriesMatrix:
    """A parsed series matrix: sample annotations and the data table.

    Attributes
    ----------
    samples
        One row per sample (index: GEO accession), column ``title`` and one text column per characteristic key.
    table
        Analytes (index: ID_REF) x samples (GEO accessions), floats.
    name
        The file's name, for messages.
    """

    samples: pd.DataFrame
    table: pd.DataFrame
    name: str


@dataclass(frozen=True)
class GeoExport:
    """What a series matrix gives the cohort: the export, its expression (genes x samples) and the samples not used."""

    export: RawExport
    expression: pd.DataFrame
    exclusions: list[Exclusion]


def read_geo(spec: DataSpec) -> GeoExport:
    """Read the series matrix of ``spec.geo`` into one export row per analysed sample.

    Parameters
    ----------
    spec
        The ``data`` section; ``spec.geo`` has absolute paths.

    Returns
    -------
    GeoExport
        The export (column ``sample`` holds each row's accession, which labels the expression columns).

    Raises
    ------
    InputError
        For a malformed file, an unknown characteristic, a platform that does not describe the table, or several
        samples of one patient without ``data.geo.visit``.
    """
    geo = spec.geo
    matrix = read_series_matrix(Path(geo.series_matrix))
    frame = _characteristic_columns(matrix, geo)
    used, exclusions = _visit_samples(matrix, geo.visit)
    _require_one_sample_per_patient(frame.loc[used], spec.id, matrix.name, geo.visit)
    kinds = _row_kinds(matrix, geo)
    signatures = _signature_columns(matrix.table[kinds["signature"]].loc[:, used], kinds, geo, matrix.name)
    clash = [column for column in signatures.columns if column in frame.columns]
    if clash:
        raise InputError(
            f"series matrix '{matrix.name}': signature column '{clash[0]}' is also a characteristic column; rename one "
            "(data.geo.signature_names or data.geo.characteristics)."
        )
    genes = matrix.table[~kinds["signature"]].loc[:, used].set_axis(pd.Index(kinds["gene"][~kinds["signature"]]))
    _require_unique_genes(genes.index, matrix.name)
    frame = pd.concat([frame.loc[used], signatures], axis=1).reset_index(drop=True)
    files = {column: f"{matrix.name} (characteristic '{key}')" for column, key in geo.characteristics.items()}
    export = RawExport(frame, matrix.name, np.asarray(used, dtype=object), column_files=files)
    return GeoExport(export, to_log2(genes.rename_axis("gene"), geo.scale, matrix.name), exclusions)


def read_series_matrix(path: Path) -> SeriesMatrix:
    """Parse a series matrix file (gzip detected from its first bytes).

    Raises
    ------
    InputError
        Naming the file and line (and sample) of a malformed characteristic, table or missing section.
    """
    lines = _lines(path)
    accessions = _sample_line(lines, "!Sample_geo_accession", path.name)
    titles = _sample_line(lines, "!Sample_title", path.name) if _has(lines, "!Sample_title") else accessions
    samples = pd.DataFrame({"title": titles}, index=pd.Index(accessions, name="sample"))
    characteristics = _characteristics(lines, accessions, path.name)
    samples = pd.concat([samples, characteristics], axis=1)
    return SeriesMatrix(samples, _table(lines, accessions, path.name), path.name)


def read_platform(path: Path, columns: PlatformColumns) -> pd.DataFrame:
    """A GEO platform annotation table (tab-separated; ``#`` comment lines and GEO ``!`` lines skipped).

    Returns
    -------
    pandas.DataFrame
        Index the row id, columns ``name`` and ``type`` (text).
    """
    if not path.is_file():
        raise InputError(f"platform file '{path}' does not exist: check data.geo.platform in the config")
    lines = [line for _, line in _lines(path)]
    if "!platform_table_begin" in lines:
        if "!platform_table_end" not in lines:
            raise InputError(f"platform file '{path.name}': '!platform_table_begin' without '!platform_table_end'.")
        lines = lines[lines.index("!platform_table_begin") + 1 : lines.index("!platform_table_end")]
    text = "\n".join(line for line in lines if line and line[0] not in "#!^")
    table = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
    wanted = {"id": columns.id, "name": columns.name, "type": columns.type}
    absent = [column for column in wanted.values() if column not in table.columns]
    if absent:
        raise InputError(
            f"platform file '{path.name}' has no column '{absent[0]}'; its columns are: {', '.join(table.columns)}. "
            "Name the id, gene/name and analyte type columns in data.geo.platform_columns."
        )
    renamed = table[list(wanted.values())].set_axis(list(wanted), axis=1)
    return renamed.assign(id=renamed["id"].str.strip()).set_index("id")


def snake_case(name: str) -> str:
    """``"TGF-Beta"`` -> ``"tgf_beta"``: lower case, every run of other characters one underscore."""
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def _lines(path: Path) -> list[tuple[int, str]]:
    if not path.is_file():
        raise InputError(f"GEO file '{path}' does not exist: check data.geo in the config")
    raw = path.read_bytes()
    try:
        text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise InputError(f"GEO file '{path.name}' could not be read as (gzipped) UTF-8 text: {error}") from None
    return list(enumerate(text.splitlines(), start=1))


def _cells(line: str) -> list[str]:
    return [_unquote(cell) for cell in line.split("\t")[1:]]


def _unquote(cell: str) -> str:
    cell = cell.strip()
    return cell[1:-1] if len(cell) >= 2 and cell[0] == cell[-1] == '"' else cell


def _has(lines: list[tuple[int, str]], key: str) -> bool:
    return any(line.split("\t", 1)[0] == key for _, line in lines)


def _sample_line(lines: list[tuple[int, str]], key: str, file: str) -> list[str]:
    for _, line in lines:
        if line.split("\t", 1)[0] == key:
            return _cells(line)
    raise InputError(f"series matrix '{file}' has no '{key}' line; is it a GEO series matrix file?")


def _characteristics(lines: list[tuple[int, str]], accessions: list[str], file: str) -> pd.DataFrame:
    values: list[dict[str, str | None]] = [{} for _ in accessions]
    for number, line in lines:
        if line.split("\t", 1)[0] != "!Sample_characteristics_ch1":
            continue
        cells = _cells(line)
        if len(cells) != len(accessions):
            raise InputError(
                f"series matrix '{file}', line {number}: {len(cells)} cells for {len(accessions)} samples. "
                "Every !Sample_ line has one cell per sample."
            )
        for sample, cell, found in zip(accessions, cells, values, strict=True):
            _add_characteristic(found, cell, f"series matrix '{file}', line {number}, sample {sample}")
    return pd.DataFrame(values, index=pd.Index(accessions, name="sample"), dtype=object)


def _add_characteristic(found: dict[str, str | None], cell: str, where: str) -> None:
    if cell in MISSING:
        return
    key, colon, value = cell.partition(":")
    key, value = key.strip(), value.strip()
    if not colon or not key:
        raise InputError(f"{where}: characteristic '{cell}' is not 'key: value'. Fix the cell (or leave it empty).")
    if key in found:
        raise InputError(f"{where}: characteristic '{key}' appears twice for this sample. Keep one.")
    found[key] = None if value in MISSING else value


def _table(lines: list[tuple[int, str]], accessions: list[str], file: str) -> pd.DataFrame:
    texts = [line for _, line in lines]
    if TABLE_BEGIN not in texts or TABLE_END not in texts:
        raise InputError(f"series matrix '{file}': no '{TABLE_BEGIN}' ... '{TABLE_END}' table; is the file complete?")
    begin, end = texts.index(TABLE_BEGIN), texts.index(TABLE_END)
    raw = pd.read_csv(
        io.StringIO("\n".join(texts[begin + 1 : end])), sep="\t", dtype=str, keep_default_na=False, quotechar='"'
    )
    raw = raw.set_index(raw.columns[0])
    raw.index = raw.index.str.strip()
    if list(raw.columns) != accessions:
        raise InputError(
            f"series matrix '{file}', line {lines[begin + 1][0]}: the table's columns are not the samples of "
            "!Sample_geo_accession, in that order."
        )
    repeated = raw.index[raw.index.duplicated()]
    if len(repeated):
        raise InputError(f"series matrix '{file}': ID_REF '{repeated[0]}' appears twice in the table; keep one row.")
    return numeric_matrix(raw.replace(list(MISSING), np.nan), file, first_row=lines[begin + 1][0] + 1)


def _characteristic_columns(matrix: SeriesMatrix, geo: GeoSpec) -> pd.DataFrame:
    frame = pd.DataFrame({"sample": matrix.samples.index, "title": matrix.samples["title"]}, index=matrix.samples.index)
    known = [str(key) for key in matrix.samples.columns if key != "title"]
    for column, key in geo.characteristics.items():
        if column in SAMPLE_COLUMNS:
            raise InputError(f"data.geo.characteristics: '{column}' is a column the reader fills; choose another name.")
        if key not in known:
            raise InputError(
                f"series matrix '{matrix.name}' has no sample characteristic '{key}' (data.geo.characteristics."
                f"{column}); its characteristics are: {', '.join(known)}."
            )
        values = matrix.samples[key]
        frame[column] = values.where(values.notna(), np.nan)  # missing as NaN, as the CSV reader gives it
    return frame


def _visit_samples(matrix: SeriesMatrix, visit) -> tuple[list[str], list[Exclusion]]:
    if visit is None:
        return list(matrix.samples.index), []
    if visit.key not in matrix.samples.columns:
        raise InputError(f"series matrix '{matrix.name}' has no sample characteristic '{visit.key}' (data.geo.visit).")
    visits = matrix.samples[visit.key].fillna("<missing>")
    exclusions = [
        Exclusion(
            GEO_SAMPLES, f"visit '{other}', not the analysed visit '{visit.value}'", tuple(group.index), "samples"
        )
        for other, group in visits[visits != visit.value].groupby(visits, sort=True)
    ]
    used = list(visits.index[visits == visit.value])
    if not used:
        found = ", ".join(sorted(visits.unique()))
        raise InputError(f"series matrix '{matrix.name}': no sample has {visit.key} '{visit.value}'; found {found}.")
    return used, exclusions


def _require_one_sample_per_patient(frame: pd.DataFrame, id_column: str, file: str, visit) -> None:
    if id_column not in frame.columns or visit is not None:
        return  # the validator reports a missing id column, and repeats within the chosen visit
    ids = frame[id_column].astype(str).str.strip()
    repeated = ids[ids.duplicated(keep=False)]
    if not repeated.empty:
        raise InputError(
            f"series matrix '{file}', column '{id_column}': patient {repeated.iloc[0]} has several samples "
            f"({', '.join(repeated.index[repeated == repeated.iloc[0]])}). Pick one visit with data.geo.visit "
            "(key: the visit characteristic, value: the visit analysed)."
        )


def _row_kinds(matrix: SeriesMatrix, geo: GeoSpec) -> pd.DataFrame:
    """Per table row: is it a signature, and its gene symbol or signature name."""
    ids = matrix.table.index
    if geo.platform is None:
        signature = [any(fnmatch.fnmatchcase(row, p) for p in geo.signature_rows) for row in ids]
        return pd.DataFrame({"signature": signature, "gene": ids}, index=ids)
    platform = read_platform(Path(geo.platform), geo.platform_columns)
    undescribed = ids[~ids.isin(platform.index)]
    if len(undescribed):
        raise InputError(
            f"platform file '{Path(geo.platform).name}' does not describe ID_REF {', '.join(undescribed[:5])} of "
            f"series matrix '{matrix.name}'; is it the series' platform?"
        )
    rows = platform.loc[ids]
    name = rows["name"].str.strip().where(rows["name"].str.strip() != "", ids.to_series(index=ids))
    return pd.DataFrame({"signature": rows["type"].str.strip() == geo.signature_type, "gene": name}, index=ids)


def _signature_columns(table: pd.DataFrame, kinds: pd.DataFrame, geo: GeoSpec, file: str) -> pd.DataFrame:
    names = kinds.loc[table.index, "gene"]
    columns = [geo.signature_names.get(name, geo.signature_prefix + snake_case(name)) for name in names]
    unknown = [name for name in geo.signature_names if name not in set(names)]
    if unknown:
        raise InputError(f"data.geo.signature_names: '{unknown[0]}' is not a signature of series matrix '{file}'.")
    repeated = pd.Index(columns)[pd.Index(columns).duplicated()]
    if len(repeated):
        raise InputError(
            f"series matrix '{file}': two signatures become column '{repeated[0]}'; rename one in "
            "data.geo.signature_names."
        )
    return table.set_axis(columns).T


def _require_unique_genes(genes: pd.Index, file: str) -> None:
    repeated = genes[genes.duplicated()]
    if len(repeated):
        raise InputError(
            f"series matrix '{file}': gene '{repeated[0]}' has several rows; the expression matrix needs one row per "
            "gene (average the probes first, or give a platform whose name column is unique)."
        )
