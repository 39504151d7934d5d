"""The run record ``run.json``: which config made a result folder, with which tmesurv, seed and commands.

It is a typed model (:class:`RunRecord`) written by :func:`record_run` and read back by :func:`read_run_record`, so
every reader sees the same fields: no ``.get`` defaults.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tmesurv import __version__
from tmesurv.errors import InputError
from tmesurv.outputs.atomic import file_hash, write_text

RUN_RECORD = "run.json"


class RunRecord(BaseModel):
    """What ``run.json`` says about how the results of a folder were made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tmesurv_version: str = Field(description="the tmesurv version of the last command")
    config_hash: str = Field(description="SHA-256 (first 16 hex digits) of the config file's bytes")
    config: dict[str, Any] = Field(description="the validated config as plain data")
    seed: int | None = Field(None, description="the seed of the last command with a random result")
    commands: tuple[str, ...] = Field((), description="the commands that wrote into the folder, in order")
    files: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="command -> the files it wrote, relative to the folder"
    )

    @property
    def config_json(self) -> str:
        """The config as indented JSON (keys sorted), for display."""
        return json.dumps(self.config, indent=2, sort_keys=True, ensure_ascii=False)

    @property
    def arm_names(self) -> dict[str, str]:
        """Display names of the arms (``treated``/``control`` -> the data's labels) from ``data.arm``; may be empty."""
        arm = self.config.get("data", {}).get("arm") or {}
        return {key: str(arm[key]) for key in ("treated", "control") if arm.get(key) is not None}


def record_run(
    out_dir: Path,
    command: str,
    config: dict,
    config_path: Path | None,
    seed: int | None = None,
    files: list[Path] | tuple[Path, ...] = (),
) -> Path:
    """Add this command to ``out_dir/run.json``: config, its hash, seed, tmesurv version and the files written.

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
    seed
        The seed of a random result, if any.
    files
        The files the command wrote (inside ``out_dir``).

    Returns
    -------
    Path
        The record's path.
    """
    path = Path(out_dir) / RUN_RECORD
    earlier = read_run_record(path)
    commands = [] if earlier is None else [c for c in earlier.commands if c != command]
    written = {} if earlier is None else dict(earlier.files)
    written[command] = tuple(sorted(str(Path(f).resolve().relative_to(Path(out_dir).resolve())) for f in files))
    record = RunRecord(
        tmesurv_version=__version__,
        config_hash=config_fingerprint(config, config_path),
        config=config,
        seed=seed if seed is not None or earlier is None else earlier.seed,
        commands=(*commands, command),
        files=written,
    )
    return write_text(path, record.model_dump_json(indent=2))


def config_fingerprint(config: dict, config_path: Path | None) -> str:
    """SHA-256 (16 hex digits) of the config file, or of the config's canonical JSON when there is no file."""
    if config_path is not None:
        return file_hash(config_path)
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
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
