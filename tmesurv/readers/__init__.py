"""Readers for trial exports. Each one returns a :class:`~tmesurv.cohort.RawExport`; all end in one validator."""

from __future__ import annotations

from tmesurv.cohort import Cohort, build_cohort
from tmesurv.config import DataSpec
from tmesurv.readers.adam import read_adam
from tmesurv.readers.tabular import read_table


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
    export = read_adam(spec) if spec.adam is not None else read_table(spec)
    return build_cohort(export, spec)


__all__ = ["read_adam", "read_cohort", "read_table"]
