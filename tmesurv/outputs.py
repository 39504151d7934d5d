"""Writing results: every file is written atomically, so a failed run never leaves a half-written output."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from tmesurv import __version__

RUN_RECORD = "run.json"


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(temporary_path)`` then move the result onto ``path`` in one step.

    Parameters
    ----------
    path
        The final file.
    write
        Writes the whole file to the temporary path it is given (same folder, so the move is atomic).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return path


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> Path:
    """Write a text file atomically."""
    return write_atomically(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_table(path: Path, table: pd.DataFrame) -> Path:
    """Write a tidy table as CSV atomically (no index; floats at full precision)."""
    return write_atomically(path, lambda temporary: table.to_csv(temporary, index=False))


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (first 16 hex digits), to tie results to the exact config that made them."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def record_run(out_dir: Path, command: str, config: dict, config_path: Path, seed: int | None = None) -> Path:
    """Add this command to ``out_dir/run.json``: config, its hash, seed and tmesurv version.

    Parameters
    ----------
    out_dir
        The result folder.
    command
        The subcommand that ran (``cox``, ``bayes``, ...).
    config
        The validated config as plain data.
    config_path
        The config file, hashed so a report can say exactly which config made it.
    seed
        The seed of a random result, if any.

    Returns
    -------
    Path
        The record's path.
    """
    path = Path(out_dir) / RUN_RECORD
    record = json.loads(path.read_text()) if path.is_file() else {"commands": []}
    record.update({"tmesurv_version": __version__, "config_hash": file_hash(config_path), "config": config})
    if seed is not None:
        record["seed"] = seed
    record["commands"] = [*[c for c in record["commands"] if c != command], command]
    return write_text(path, json.dumps(record, indent=2, default=str))
