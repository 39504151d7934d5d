"""Write an external validation: its tables, ``validation_settings.json`` and figures; its console lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tmesurv.models.prediction.storage import MODEL_FILE, POSTERIOR_FILE
from tmesurv.outputs.atomic import file_hash, write_text
from tmesurv.outputs.files import write_results
from tmesurv.validation.figures import write_validation_figures
from tmesurv.validation.harmonise import harmonisation_notes

if TYPE_CHECKING:
    from tmesurv.validation.external import ValidationResults, ValidationSettings


def write_validation(
    out_dir: Path, results: ValidationResults, model_dir: Path | None, settings: ValidationSettings
) -> list[Path]:
    """Write the tables and figures of a validation into ``out_dir`` (each file atomically).

    Returns
    -------
    list[pathlib.Path]
        The files written: ``validation.csv``, ``benefit.csv`` (two arms and an interaction model),
        ``case_mix.csv``, ``harmonisation.csv``, ``calibration_curves.csv``, ``survival_curves.csv``,
        ``decision_curve.csv``, ``predictions.csv`` (each through the registry of :mod:`tmesurv.outputs.files`),
        ``validation_settings.json`` and the figures in ``figures/``.
    """
    written = write_results(out_dir, results.tables)
    written.append(write_text(out_dir / "validation_settings.json", _settings_record(model_dir, results, settings)))
    return written + write_validation_figures(out_dir / "figures", results)


def _settings_record(model_dir: Path | None, results: ValidationResults, settings: ValidationSettings) -> str:
    """The options and the exact model files behind the results, as JSON."""
    saved = [] if model_dir is None else [model_dir / name for name in (MODEL_FILE, POSTERIOR_FILE)]
    files = {path.name: file_hash(path) for path in saved if path.is_file()}
    record = {
        "model_dir": None if model_dir is None else str(Path(model_dir).resolve()),
        "model_files": files,
        "horizons": list(results.horizons),
        "harmonise": dict(zip(results.harmonisation["term"], results.harmonisation["method"], strict=True)),
        "bootstrap": settings.n_boot,
        "seed": settings.seed,
        "benefit_groups": settings.n_groups,
        "benefit_matching": settings.benefit_matching,
        "matching_repeats": settings.matching_repeats,
        "alpha": settings.alpha,
    }
    return json.dumps(record, indent=2)


def console_lines(results: ValidationResults) -> list[str]:
    """What ``tmesurv validate`` prints before the table: harmonisation, exclusions and notes."""
    lines = [f"harmonised {line}" for line in harmonisation_notes(results.harmonisation)]
    lines += [f"excluded: {e.count} patients ({e.reason})" for e in results.exclusions]
    return lines + [f"note: {note}" for note in results.notes]
