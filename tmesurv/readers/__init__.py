"""Readers for trial exports. Each one returns a :class:`~tmesurv.cohort.RawExport`; all end in one validator."""

from __future__ import annotations

from dataclasses import replace

from tmesurv.cohort import Cohort
from tmesurv.config import DataSpec
from tmesurv.contract import build_cohort, patient_ids
from tmesurv.readers.adam import read_adam
from tmesurv.readers.expression import align_samples, read_expression, sample_patients
from tmesurv.readers.geo import read_geo
from tmesurv.readers.pk import join_pk
from tmesurv.readers.tabular import read_table
from tmesurv.signatures import derive_columns


def read_cohort(spec: DataSpec) -> Cohort:
    """Read the export that ``spec`` describes and validate it into a :class:`Cohort`.

    Parameters
    ----------
    spec
        The ``data`` section of the config, with absolute paths.

    Returns
    -------
    Cohort
        The validated cohort.
    """
    cohort = _cohort_with_expression(spec)
    return cohort if spec.pk is None else join_pk(cohort, spec.pk, spec.id)


def _cohort_with_expression(spec: DataSpec) -> Cohort:
    """The export, its expression matched to patients and the derived columns, validated into one cohort."""
    exclusions, notes, expression = [], [], None
    if spec.geo is not None:
        geo = read_geo(spec)
        export, exclusions, expression, samples = geo.export, geo.exclusions, geo.expression, "sample"
    else:
        export = read_adam(spec) if spec.adam is not None else read_table(spec)
        if spec.expression is not None:
            expression, notes = read_expression(spec.expression)
            samples = spec.expression.samples
    ids = patient_ids(export, spec.id)
    if expression is not None:
        source = export.default_file if spec.geo is not None else _expression_source(spec)
        pairs = sample_patients(samples, export, ids, expression)
        expression, unmatched = align_samples(expression, pairs, ids, source)
        exclusions += unmatched
    export, derive_notes = derive_columns(export, ids, expression, spec.derive)
    cohort = build_cohort(export, spec)
    notes = (*cohort.notes, *notes, *derive_notes)
    return replace(cohort, expression=expression, data_exclusions=tuple(exclusions), notes=notes)


def _expression_source(spec: DataSpec) -> str:
    expression = spec.expression
    return expression.rcc if expression.path is None else expression.path.name


__all__ = ["read_adam", "read_cohort", "read_geo", "read_table"]
