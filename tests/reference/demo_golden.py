"""Fingerprints of the demo's CSV outputs, to show that a refactoring leaves every result unchanged.

``python tests/reference/demo_golden.py DIR`` (DIR written by ``tmesurv demo --out DIR``) writes
``tests/reference/demo_golden.json``; ``tests/test_demo_golden.py`` runs the demo and compares. Regenerate it only in a
commit that changes results on purpose, and say why in that commit.

A fingerprint per file: its columns, its row count, and per column either the sum, the sum of absolute values and
the count of missing values (numbers; compared to a relative 1e-9, so last-bit differences between machines pass and
any real change fails) or a SHA-256 of the values (text).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).with_name("demo_golden.json")


def fingerprint(folder: Path) -> dict[str, dict]:
    """The fingerprint of every CSV directly in ``folder``, by file name."""
    return {path.name: _file_print(path) for path in sorted(Path(folder).glob("*.csv"))}


def _file_print(path: Path) -> dict:
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""])
    columns = {}
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            columns[name] = {
                "sum": float(values.sum()),
                "abs_sum": float(values.abs().sum()),
                "missing": int(values.isna().sum()),
            }
        else:
            text = "\x1f".join(values.astype(str))
            columns[name] = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
    return {"rows": len(frame), "columns": columns}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(fingerprint(Path(sys.argv[1])), indent=1) + "\n")
