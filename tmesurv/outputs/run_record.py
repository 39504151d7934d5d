"""The run record ``run.json``: which study a result folder holds, and how each command made its files.

A folder holds the results of one *study*: one cohort analysed with one plan (the validated patients, and the config's
``data``, ``analysis`` and ``validation_model`` sections, fingerprinted together as ``study_hash``; a power study's
fingerprint is its content hash). Each command that wrote into it (``cox``, ``bayes``,
``validate``, ``power``) has its own entry: its whole config, the config's hash, its seed and the files it wrote.
So ``tmesurv bayes`` rerun with other priors replaces only the Bayesian files, and a report describes each command's
results with that command's own settings. The files that describe the study's cohort (``cohort.csv``,
``biomarkers.csv``: the registry's ``study`` files) belong to the study, not to a command: the first command writes
them, ``study_files`` lists them once, and a later command of the same study keeps them. It is a typed model
(:class:`RunRecord`), written by :func:`record_run` and read back by :func:`read_run_record`: every reader sees the
same fields, no ``.get`` defaults.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tmesurv import __version__
from tmesurv.errors import InputError
from tmesurv.outputs.atomic import file_hash, write_text

RUN_RECORD = "run.json"
STUDY_SECTIONS = ("data", "analysis", "validation_model")  # what every command of a folder shares
OWN_SECTIONS = {"cox": ("screens", "product"), "bayes": ("bayes",)}  # sections only one command reads


class CommandRun(BaseModel):
    """How one command made its files."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: dict[str, Any] = Field(description="the validated config as plain data")
    config_hash: str = Field(description="SHA-256 (16 hex digits) of the config file, or of its canonical JSON")
    seed: int | None = Field(None, description="the seed of a random result")
    files: tuple[str, ...] = Field((), description="the files the command wrote, relative to the folder")


class RunRecord(BaseModel):
    """What ``run.json`` says about how the results of a folder were made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tmesurv_version: str = Field(description="the tmesurv version of the last command")
    study_hash: str = Field(description="fingerprint of the study the folder holds (see the module docstring)")
    runs: dict[str, CommandRun] = Field(description="command -> how it made its files, in the order they ran")
    study_files: tuple[str, ...] = Field(
        (),
        description="the files that describe the study's cohort, written by the first command (records of earlier "
        "versions list them under each command that wrote them)",
    )

    @property
    def commands(self) -> tuple[str, ...]:
        """The commands that wrote into the folder, the latest last."""
        return tuple(self.runs)

    @property
    def latest(self) -> CommandRun:
        """The last command's entry."""
        return self.runs[self.commands[-1]]

    @property
    def config(self) -> dict[str, Any]:
        """The study's config as its results were made: the shared sections, and each command's own sections from it.

        The last command's config, with ``bayes`` from the ``bayes`` run and ``screens``/``product`` from the ``cox``
        run where they ran (the shared sections are the same in every run of a study).
        """
        combined = dict(self.latest.config)
        for command, sections in OWN_SECTIONS.items():
            own = self.config_of(command)
            if own is not None:
                combined |= {section: own.get(section) for section in sections}
        return combined

    @property
    def files(self) -> dict[str, tuple[str, ...]]:
        """Command -> the files it wrote (the study files are in :attr:`study_files`)."""
        return {command: run.files for command, run in self.runs.items()}

    @property
    def listed(self) -> frozenset[str]:
        """Every file the record lists: the study's and every command's."""
        return frozenset(self.study_files).union(*self.files.values())

    def config_of(self, command: str) -> dict[str, Any] | None:
        """The config a command ran with, or None if it did not write into this folder."""
        run = self.runs.get(command)
        return None if run is None else run.config

    @property
    def arm_names(self) -> dict[str, str]:
        """Display names of the arms (``treated``/``control`` -> the data's labels) from ``data.arm``; may be empty."""
        from tmesurv.config import arm_names  # the config imports the models' settings: not needed to read a record

        return arm_names((self.config.get("data") or {}).get("arm"))

    @property
    def config_json(self) -> str:
        """:attr:`config` as indented JSON (keys sorted), for display."""
        return json.dumps(self.config, indent=2, sort_keys=True, ensure_ascii=False)


def record_run(
    out_dir: Path,
    command: str,
    config: dict,
    config_path: Path | None,
    study: str,
    seed: int | None = None,
    files: list[Path] | tuple[Path, ...] = (),
    study_files: list[Path] | tuple[Path, ...] = (),
) -> Path:
    """Record this command in ``out_dir/run.json``: its config, the config's hash, its seed and the files it wrote.

    An earlier record of another study is replaced (its files are not this study's); one of the same study keeps its
    other commands and its study files. A study file is listed once, as the study's: never under a command (an earlier
    version's record that lists it under commands loses those entries).

    Parameters
    ----------
    out_dir
        The result folder.
    command
        The subcommand that ran (``cox``, ``bayes``, ...).
    config
        The validated config as plain data.
    config_path
        The config file, hashed so a report can say exactly which config made it; None for an analysis set up in
        Python (a cohort from a DataFrame): the config's canonical JSON is hashed instead.
    study
        The study's fingerprint (:func:`study_fingerprint`).
    seed
        The seed of a random result, if any.
    files
        The files the command wrote (inside ``out_dir``).
    study_files
        The files that describe the study (inside ``out_dir``), written by this command or by an earlier one.

    Returns
    -------
    Path
        The record's path.
    """
    out_dir = Path(out_dir)
    path = out_dir / RUN_RECORD
    earlier = read_run_record(path)
    same_study = earlier is not None and earlier.study_hash == study
    owned = set(_relative(study_files, out_dir)) | set(earlier.study_files if same_study else ())
    runs = {
        other: run.model_copy(update={"files": tuple(name for name in run.files if name not in owned)})
        for other, run in (earlier.runs.items() if same_study else ())
        if other != command
    }
    runs[command] = CommandRun(
        config=config,
        config_hash=config_fingerprint(config, config_path),
        seed=seed,
        files=tuple(sorted(set(_relative(files, out_dir)) - owned)),
    )
    record = RunRecord(tmesurv_version=__version__, study_hash=study, runs=runs, study_files=tuple(sorted(owned)))
    return write_text(path, record.model_dump_json(indent=2))


def _relative(files: list[Path] | tuple[Path, ...], out_dir: Path) -> list[str]:
    return [str(Path(f).resolve().relative_to(out_dir.resolve())) for f in files]


def config_fingerprint(config: dict, config_path: Path | None) -> str:
    """SHA-256 (16 hex digits) of the config file, or of the config's canonical JSON when there is no file."""
    if config_path is not None:
        return file_hash(config_path)
    return _json_hash(config)


def study_fingerprint(config: dict, patients: pd.DataFrame) -> str:
    """Fingerprint of a study: the config's :data:`STUDY_SECTIONS` and the validated patients' values."""
    content = hashlib.sha256(pd.util.hash_pandas_object(patients, index=True).to_numpy().tobytes()).hexdigest()
    return _json_hash({name: config.get(name) for name in STUDY_SECTIONS} | {"patients": content})


def _json_hash(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def read_run_record(path: Path) -> RunRecord | None:
    """Read ``run.json``; None if absent.

    Raises
    ------
    InputError
        If the file is not JSON or does not follow :class:`RunRecord` (the message names the field).
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return RunRecord.model_validate_json(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(f"file '{path}' is not valid JSON ({error}); rerun the analysis to rewrite it.") from None
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, problem['loc'])) or 'the file'}: {problem['msg']}" for problem in error.errors()
        )
        raise InputError(f"file '{path}' is not a tmesurv run record ({problems}); rerun the analysis.") from None
