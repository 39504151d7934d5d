"""Saving and reading the fits of the validation model: ``validation_model.json`` and its posterior file.

The Cox fit is ``validation_model.json``, the Bayesian fit ``validation_model_posterior.nc``, both in the result folder
of the development analyses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tmesurv.cohort import Cohort, Exclusion
from tmesurv.errors import InputError
from tmesurv.models.prediction.cox import CoxModel, fit_validation_model
from tmesurv.models.prediction.info import DEVELOPMENT_ATTR, METADATA_ATTR, Development, ModelInfo
from tmesurv.models.prediction.posterior import PosteriorModel
from tmesurv.models.prediction.settings import ValidationModelPlan, ValidationModelSpec
from tmesurv.models.prediction.transforms import ModelTerms, parse_term
from tmesurv.models.pwe.storage import netcdf_attrs
from tmesurv.outputs.atomic import write_atomically, write_text

if TYPE_CHECKING:  # arviz is imported where needed: tmesurv cox does not need it
    import arviz as az

MODEL_FILE = "validation_model.json"
POSTERIOR_FILE = "validation_model_posterior.nc"
FORMAT = "tmesurv-validation-model"
FORMAT_VERSION = 1

ValidationFit = CoxModel | PosteriorModel


def save_validation_model(
    cohort: Cohort, plan: ValidationModelPlan | None, out_dir: Path, notes: list[str]
) -> list[Exclusion]:
    """Fit the validation model (if any) and write ``out_dir/validation_model.json``.

    The one call of ``tmesurv cox``: a model that cannot be estimated is not saved and gets a note.

    Parameters
    ----------
    cohort
        The development cohort.
    plan
        The model (the config's ``AnalysisConfig.validation_model_plan()``); None: nothing to do.
    out_dir
        The result folder.
    notes
        Where to append a note when the model cannot be fitted.

    Returns
    -------
    list[Exclusion]
        The patients the model leaves out, and why (for ``exclusions.csv``).
    """
    if plan is None:
        return []
    model, exclusions, problem = fit_validation_model(cohort, plan)
    if model is None:
        notes.append(problem)
    else:
        write_validation_model(model, out_dir / MODEL_FILE)
    return exclusions


def write_validation_model(model: CoxModel, path: Path) -> Path:
    """Write a Cox validation model as JSON, one top-level key a line (atomically; floats round-trip exactly)."""
    content = {"format": FORMAT, "format_version": FORMAT_VERSION, **model.to_json()}
    items = (f"{json.dumps(key)}: {json.dumps(value, allow_nan=False)}" for key, value in content.items())
    return write_text(path, "{\n" + ",\n".join(items) + "\n}\n")


def write_validation_posterior(idata: az.InferenceData, out_dir: Path) -> Path:
    """Write a fit of :func:`fit_validation_posterior` as ``out_dir/validation_model_posterior.nc`` (atomically)."""
    idata.attrs = netcdf_attrs(getattr(idata, "attrs", {}) or {})
    for group in idata.groups():
        dataset = getattr(idata, group)
        dataset.attrs.update(netcdf_attrs(dataset.attrs))
    return write_atomically(out_dir / POSTERIOR_FILE, lambda temporary: idata.to_netcdf(str(temporary)))


def load_validation_fits(model_dir: Path) -> list[ValidationFit]:
    """Read the saved fits of the validation model in a result folder: Cox first, then Bayesian.

    Parameters
    ----------
    model_dir
        A result folder of ``tmesurv cox`` (``validation_model.json``) and/or ``tmesurv bayes``
        (``validation_model_posterior.nc``).

    Returns
    -------
    list[ValidationFit]
        One or two fits, of the same model.

    Raises
    ------
    InputError
        If the folder or both files are missing, a file is unreadable, or the two fits are of different models.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(
            f"model folder '{model_dir}' does not exist: give the result folder of 'tmesurv cox' (or 'tmesurv bayes') "
            "run with a validation_model section in its config"
        )
    cox_path, posterior_path = model_dir / MODEL_FILE, model_dir / POSTERIOR_FILE
    if not cox_path.is_file() and not posterior_path.is_file():
        raise InputError(
            f"model folder '{model_dir}' has neither {MODEL_FILE} nor {POSTERIOR_FILE}: add a validation_model "
            "section (terms, and optionally interaction and arm) to the development config and rerun 'tmesurv cox'"
        )
    fits: list[ValidationFit] = []
    if cox_path.is_file():
        fits.append(read_validation_model(cox_path))
    if posterior_path.is_file():
        fits.append(read_validation_posterior(posterior_path, fits[0].info if fits else None))
    return fits


def read_validation_model(path: Path) -> CoxModel:
    """Read a ``validation_model.json`` written by :func:`write_validation_model`.

    Raises
    ------
    InputError
        If the file is not JSON, not a tmesurv validation model, or inconsistent.
    """
    data = _read_json(path)
    try:
        info = _info(data, Development.from_json(data["development"]), path)
        terms = list(data["design_terms"])
        coef, covariance = np.asarray(data["coef"], dtype=float), np.asarray(data["covariance"], dtype=float)
        centre = np.asarray(data["design_mean"], dtype=float)
        baseline = data["baseline"]
        times = np.asarray(baseline["time"], dtype=float)
        hazard = np.asarray(baseline["cumulative_hazard"], dtype=float)
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"file '{path}' is not a complete validation model ({error!r}): rerun 'tmesurv cox'") from None
    p = len(terms)
    if terms != info.design_terms or coef.shape != (p,) or covariance.shape != (p, p) or centre.shape != (p,):
        raise InputError(f"file '{path}': its coefficients do not match its terms; rerun 'tmesurv cox' to rewrite it")
    if times.shape != hazard.shape:
        raise InputError(f"file '{path}': baseline times and hazards differ in length; rerun 'tmesurv cox'")
    return CoxModel(info, coef, covariance, centre, times, hazard)


def read_validation_posterior(path: Path, reference: ModelInfo | None = None) -> PosteriorModel:
    """Read a ``validation_model_posterior.nc``: an InferenceData of :func:`tmesurv.models.pwe.fit.fit_pwe`.

    Parameters
    ----------
    path
        The NetCDF file.
    reference
        The Cox fit's metadata from the same folder: used when the posterior carries none, and otherwise checked
        to be the same model.

    Raises
    ------
    InputError
        If the file cannot be read, lacks the fit's variables, has no metadata (and no reference), or is of another
        model than ``reference``.
    """
    import arviz as az

    try:
        idata = az.from_netcdf(str(path))
        posterior, constant = idata.posterior, idata.constant_data
        terms = [str(term) for term in posterior["term"].to_numpy()]
        coef = posterior["coef"].transpose("chain", "draw", "term").to_numpy().reshape(-1, len(terms))
        log_baseline = posterior["log_baseline"].transpose("chain", "draw", "interval").to_numpy()
        design = pd.DataFrame(constant["design"].to_numpy(), columns=[str(t) for t in constant["term"].to_numpy()])
        time, event, cuts = (constant[name].to_numpy() for name in ("time", "event", "cuts"))
        metadata = posterior.attrs.get(METADATA_ATTR)
        saved_development = posterior.attrs.get(DEVELOPMENT_ATTR)
    except (OSError, ValueError, KeyError, AttributeError) as error:
        raise InputError(
            f"file '{path}' is not a posterior of the PWE model ({error!r}): save the InferenceData of "
            "fit_validation_posterior (or fit_pwe) there"
        ) from None
    if metadata is None and reference is None:
        raise InputError(
            f"file '{path}' says nothing of the model it fits (no '{METADATA_ATTR}' attribute) and there is no "
            f"{MODEL_FILE} next to it: save it with fit_validation_posterior, or keep the Cox model's file with it"
        )
    header = json.loads(metadata) if metadata is not None else reference.header()
    if saved_development is not None:
        development = Development.from_json(json.loads(saved_development))
    elif reference is not None and metadata is None:
        development = reference.development
    else:  # a posterior saved before the development inputs were: its terms are plain columns of the design
        development = Development.of(time, event.astype(int), design[list(_spec(header).terms)])
    info = _info(header, development, path)
    _require_same_model(path, info, terms, reference)
    order = [terms.index(term) for term in info.design_terms]
    return PosteriorModel(info, coef[:, order], log_baseline.reshape(coef.shape[0], -1), np.asarray(cuts, float))


def _require_same_model(path: Path, info: ModelInfo, terms: list[str], reference: ModelInfo | None) -> None:
    """The posterior's terms are the model's design, and (with a Cox fit next to it) the same model as the Cox's."""
    if sorted(terms) != sorted(info.design_terms):
        raise InputError(
            f"file '{path}': its terms ({', '.join(terms)}) are not those of the validation model "
            f"({', '.join(info.design_terms)}); refit it with fit_validation_posterior"
        )
    if reference is not None and (reference.spec != info.spec or reference.endpoint != info.endpoint):
        raise InputError(
            f"file '{path}' is a fit of another model than {MODEL_FILE} next to it (terms {info.design_terms} for "
            f"{info.endpoint} against {reference.design_terms} for {reference.endpoint}); keep fits of one model "
            "in a folder"
        )


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"file '{path}' cannot be read as JSON ({error}): rerun 'tmesurv cox' to rewrite it") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f'file \'{path}\' is not a tmesurv validation model (no "format": "{FORMAT}")')
    if data.get("format_version") != FORMAT_VERSION:
        raise InputError(
            f"file '{path}' has format version {data.get('format_version')}, this tmesurv reads {FORMAT_VERSION}: "
            "rerun 'tmesurv cox' with this version"
        )
    return data


def _spec(header: Mapping) -> ValidationModelSpec:
    """The saved spec; one saved before ``baseline`` existed had the Breslow baseline."""
    return ValidationModelSpec.model_validate({"baseline": "breslow", **header["spec"]})


def _info(header: Mapping, development: Development, path: Path) -> ModelInfo:
    spec = _spec(header)
    terms = ModelTerms.from_json(header["terms"]) if "terms" in header else None
    if terms is not None and [term.text for term in terms.terms] != [parse_term(text).text for text in spec.terms]:
        raise InputError(f"file '{path}': its fitted terms are not those of its spec; rerun 'tmesurv cox'")
    try:
        return ModelInfo(
            spec=spec,
            endpoint=str(header["endpoint"]),
            horizons=tuple(float(h) for h in header["horizons"]),
            development=development,
            config=dict(header["config"]),
            version=str(header["tmesurv_version"]),
            gene_sets={term: tuple(genes) for term, genes in header.get("gene_sets", {}).items()},
            terms=terms,
        )
    except ValueError as error:
        raise InputError(f"file '{path}': {error}; rerun 'tmesurv cox' with this version") from None
