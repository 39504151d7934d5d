"""Reading an analysis config: YAML to a validated :class:`~tmesurv.config.analysis.AnalysisConfig`, paths resolved.

Unknown keys are errors, and every error names the key path and the file, so a typo never passes silently.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from tmesurv.config.analysis import AnalysisConfig
from tmesurv.config.data import AdamSpec
from tmesurv.errors import InputError
from tmesurv.schema import describe_validation_error


def load_config(path: Path | str) -> tuple[AnalysisConfig, Path]:
    """Read and validate an analysis config.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    tuple[AnalysisConfig, Path]
        The config with data paths made absolute (relative paths are relative to the config's folder),
        and the config's own resolved path.

    Raises
    ------
    InputError
        If the file is missing, is not YAML, or does not follow the schema.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file '{path}' does not exist: check the path")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise InputError(f"config file '{path}' is not valid YAML: {error}") from None
    config = parse_config(raw, source=str(path))
    return _resolve_paths(config, path.resolve().parent), path.resolve()


def parse_config(raw: object, source: str) -> AnalysisConfig:
    """Validate an already-parsed config mapping; errors name the key path and ``source``."""
    try:
        return AnalysisConfig.model_validate(raw)
    except ValidationError as error:
        raise InputError(describe_validation_error(error, f"config file '{source}'", AnalysisConfig)) from None


def _resolve_paths(config: AnalysisConfig, folder: Path) -> AnalysisConfig:
    data = config.data
    if data.path is not None:
        data = data.model_copy(update={"path": folder / data.path})
    if data.adam is not None:
        adam = AdamSpec(adsl=folder / data.adam.adsl, adtte=folder / data.adam.adtte)
        data = data.model_copy(update={"adam": adam})
    if data.geo is not None:
        platform = None if data.geo.platform is None else folder / data.geo.platform
        geo = data.geo.model_copy(update={"series_matrix": folder / data.geo.series_matrix, "platform": platform})
        data = data.model_copy(update={"geo": geo})
    if data.pk is not None:
        data = data.model_copy(update={"pk": data.pk.model_copy(update={"path": folder / data.pk.path})})
    if data.expression is not None:
        expression = data.expression
        located = {"path": None if expression.path is None else folder / expression.path}
        located["rcc"] = None if expression.rcc is None else str(folder / expression.rcc)
        data = data.model_copy(update={"expression": expression.model_copy(update=located)})
    return config.model_copy(update={"data": data})
