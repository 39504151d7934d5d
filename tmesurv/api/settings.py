"""Keyword arguments of the API functions applied to a cohort's config: one validated config per analysis."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tmesurv.cohort import Cohort
from tmesurv.config import IN_MEMORY, AnalysisConfig
from tmesurv.errors import InputError
from tmesurv.outputs.run_folder import RunPlan, input_files
from tmesurv.outputs.run_record import study_fingerprint
from tmesurv.schema import describe_validation_error


def analysis_config(cohort: Cohort, caller: str, **sections: Any) -> AnalysisConfig:
    """The cohort's config with some sections replaced or updated, validated as a config file is.

    Parameters
    ----------
    cohort
        A cohort from :meth:`Cohort.from_config` or :meth:`Cohort.from_frame` (it carries its config).
    caller
        The API function, named in error messages.
    **sections
        ``analysis`` and ``bayes``: a mapping of keys to update (None values are left as they are); ``screens``,
        ``product``, ``validation_model``: a whole section (mapping or settings object) replacing the config's.

    Returns
    -------
    AnalysisConfig
        The validated config.

    Raises
    ------
    InputError
        Naming the key of an unknown or invalid setting.
    """
    config = _config_of(cohort, caller)
    values = {name: getattr(config, name) for name in type(config).model_fields}
    for name, given in sections.items():
        if given is None:
            continue
        if name in ("analysis", "bayes"):
            updates = {key: value for key, value in given.items() if value is not None}
            values[name] = _dumped(values[name]) | updates
        else:
            values[name] = given
    in_memory = all(getattr(config.data, source) is None for source in ("path", "adam", "geo"))
    try:
        return AnalysisConfig.model_validate(values, context={IN_MEMORY: in_memory})
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"{caller}()", AnalysisConfig)) from None


def _config_of(cohort: Cohort, caller: str) -> AnalysisConfig:
    if cohort.config is None:
        raise InputError(
            f"{caller}(): this cohort carries no config; build it with Cohort.from_config(path) or "
            "Cohort.from_frame(frame, ...)"
        )
    return cohort.config


def _dumped(section: BaseModel) -> dict:
    """A section as a mapping of its set values (nested settings stay objects)."""
    return {name: getattr(section, name) for name in type(section).model_fields}


def config_data(config: AnalysisConfig) -> dict:
    """The config as plain data, as run records and saved fits store it."""
    return config.model_dump(mode="json")


def run_plan(
    command: str, cohort: Cohort, config: AnalysisConfig, fresh: bool, extra_inputs: tuple[Path, ...] = ()
) -> RunPlan:
    """What a command writes and reads, for :mod:`tmesurv.outputs.run_folder`: its config, study and input files."""
    config_path = cohort.config_path
    data = config.data
    sources = [config_path, data.path, data.pk.path if data.pk else None, *extra_inputs]
    if data.adam is not None:
        sources += [data.adam.adsl, data.adam.adtte]
    if data.geo is not None:
        sources += [data.geo.series_matrix, data.geo.platform]
    if data.expression is not None:
        sources += [data.expression.path, data.expression.rcc]
    plain = config_data(config)
    folder = config_path.parent if config_path is not None else None
    inputs = {str(source) for source in sources if source is not None}
    study = study_fingerprint(_relative_inputs(plain, inputs, folder), cohort.patients)
    return RunPlan(command, plain, config_path, study, input_files(sources), fresh)


def _relative_inputs(plain: object, inputs: set[str], folder: Path | None) -> object:
    """``plain`` with each input file's path relative to ``folder`` (the config's), for the study fingerprint.

    A study folder that is moved, or mounted elsewhere by a colleague, holds the same study: the patients' values
    fingerprint the data, the paths only say where it was read.
    """
    if folder is None:
        return plain
    if isinstance(plain, dict):
        return {key: _relative_inputs(value, inputs, folder) for key, value in plain.items()}
    if isinstance(plain, list):
        return [_relative_inputs(value, inputs, folder) for value in plain]
    if isinstance(plain, str) and plain in inputs:
        return os.path.relpath(plain, folder)
    return plain
