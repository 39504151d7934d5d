"""How the external cohort's case-mix differs from the development cohort's.

* **Standardised mean difference** per covariate (Austin 2009, Stat Med 28:3083; Debray et al. 2015, J Clin
  Epidemiol 68:279): ``(mean_external - mean_development) / sqrt((var_external + var_development) / 2)``, sample
  variances (n - 1). A binary covariate (0/1) uses the same formula on its 0/1 values; a text or categorical column
  becomes one 0/1 column per level (``covariate=level``).
* **Membership model** (Debray et al. 2015): an unpenalised logistic regression of "external patient" on the
  covariates, fitted on both cohorts together (scikit-learn, covariates standardised); its in-sample AUC
  (``sklearn.metrics.roc_auc_score``; a categorical covariate enters as indicators of all but its first level) is
  0.5 when the cohorts cannot be told apart and near 1 when the external cohort is a different population
  (validation then tests transportability rather than reproducibility).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from tmesurv.validation.bootstrap import metric_row

SMD_COLUMNS = ["covariate", "mean_development", "mean_external", "pooled_sd", "smd"]


def standardized_differences(development: pd.DataFrame, external: pd.DataFrame) -> pd.DataFrame:
    """Standardised mean differences (external minus development, pooled SD) of the shared covariates.

    Parameters
    ----------
    development, external
        One row per patient, the same covariate columns (numbers, 0/1, or text/categorical levels).

    Returns
    -------
    pandas.DataFrame
        Columns ``SMD_COLUMNS``, one row per numeric covariate or categorical level; ``smd`` is NaN where both
        cohorts are constant.
    """
    dev, ext = _numeric_design(development, external)
    mean_dev, mean_ext = dev.mean(), ext.mean()
    pooled = np.sqrt((dev.var(ddof=1) + ext.var(ddof=1)) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        smd = (mean_ext - mean_dev) / pooled.where(pooled > 0)
    return pd.DataFrame(
        {
            "covariate": dev.columns,
            "mean_development": mean_dev.to_numpy(),
            "mean_external": mean_ext.to_numpy(),
            "pooled_sd": pooled.to_numpy(),
            "smd": smd.to_numpy(),
        }
    )


def membership_auc(development: pd.DataFrame, external: pd.DataFrame) -> float:
    """In-sample AUC of a logistic model telling external from development patients by their covariates.

    Parameters
    ----------
    development, external
        One row per patient, the same covariate columns (as in :func:`standardized_differences`).

    Returns
    -------
    float
        The AUC (0.5: indistinguishable case-mix).
    """
    dev, ext = _numeric_design(development, external, drop_first=True)
    x = StandardScaler().fit_transform(pd.concat([dev, ext]).to_numpy(dtype=float))
    y = np.r_[np.zeros(len(dev)), np.ones(len(ext))]
    model = LogisticRegression(C=np.inf, max_iter=10_000, tol=1e-10).fit(x, y)
    return float(roc_auc_score(y, model.predict_proba(x)[:, 1]))


def case_mix_rows(development: pd.DataFrame, external: pd.DataFrame) -> list[dict]:
    """Rows of ``validation.csv``: one ``smd`` row per covariate (``group``) and the ``membership_auc``.

    Parameters
    ----------
    development, external
        One row per patient, the same covariate columns (as in :func:`standardized_differences`).

    Returns
    -------
    list[dict]
        Rows with columns ``VALIDATION_COLUMNS``; ``n`` counts both cohorts, no intervals (the membership model is
        not refitted per bootstrap replicate).
    """
    n = len(development) + len(external)
    rows = [
        metric_row("smd", smd, n=n, events=0, group=covariate)
        for covariate, smd in standardized_differences(development, external)[["covariate", "smd"]].itertuples(
            index=False
        )
    ]
    rows.append(metric_row("membership_auc", membership_auc(development, external), n=n, events=0))
    return rows


def _numeric_design(
    development: pd.DataFrame, external: pd.DataFrame, drop_first: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both cohorts as the same numeric columns; categorical levels one-hot (``covariate=level``)."""
    missing = set(development.columns) ^ set(external.columns)
    if missing:
        raise ValueError(f"development and external cohorts must have the same covariates; differ in {sorted(missing)}")
    both = pd.concat([development, external[development.columns]], ignore_index=True)
    if both.isna().any().any():
        raise ValueError(f"covariates have missing values: {both.columns[both.isna().any()].tolist()}; impute first")
    design = pd.get_dummies(both, prefix_sep="=", drop_first=drop_first, dtype=float).astype(float)
    return design.iloc[: len(development)], design.iloc[len(development) :]
