"""Design matrices of the treatment and treatment-by-biomarker models, shared by the Cox and Bayesian fits.

Terms are named once for the whole project: ``arm`` (1 = treated), ``<biomarker>`` and ``arm:<biomarker>``.
"""

from __future__ import annotations

import pandas as pd

from tmesurv.cohort import Cohort

ARM = "arm"


def interaction_term(biomarker: str) -> str:
    """Name of the treatment-by-biomarker interaction term."""
    return f"{ARM}:{biomarker}"


def treatment_design(cohort: Cohort) -> pd.DataFrame:
    """The arm alone: one column ``arm`` (1 = treated, 0 = control)."""
    return pd.DataFrame({ARM: cohort.treated.astype(float)})


def interaction_design(cohort: Cohort, biomarker: str) -> pd.DataFrame:
    """Arm, biomarker (as given; 0/1 for a two-level biomarker) and their product.

    Parameters
    ----------
    cohort
        Patients with no missing value of ``biomarker``.
    biomarker
        The biomarker column.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm``, ``<biomarker>``, ``arm:<biomarker>``.
    """
    values = cohort.patients[biomarker].to_numpy(dtype=float)
    design = treatment_design(cohort)
    design[biomarker] = values
    design[interaction_term(biomarker)] = design[ARM] * values
    return design
