"""Writing results: every file is written atomically, so a failed run never leaves a half-written output."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


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
