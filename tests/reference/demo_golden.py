"""Fingerprints of the demo's CSV outputs, to show that a refactoring leaves every result unchanged.

``python tests/reference/demo_golden.py DIR`` (DIR written by ``tmesurv demo --out DIR``) writes
``tests/reference/demo_golden.json``; ``tests/test_demo_golden.py`` runs the demo and compares. Regenerate it only in a
commit that changes results on purpose, and say why in that commit.

A fingerprint per file: its columns, its row count, and per column either the sum, the sum of absolute values and
the count of missing values (numbers; compared to a relative 1e-9, so last-bit differences between machines pass and
any real change fails) or a SHA-256 of the values (text).

The Bayesian files (``bayes*.csv``) are Monte Carlo results: numba compiles the sampler's density for the machine's
instruction set, so on another CPU the chains part after a few iterations. They repeat to the last bit on one machine,
and agree within Monte Carlo error across machines: their sums are compared to a relative ``MONTE_CARLO_RTOL``, and
the columns that record the sampler's path (a rerun, a note about it, divergences and the convergence flag they
decide, the count of high Pareto k, the time of the largest gap to Kaplan-Meier) only by name and missing count.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd

GOLDEN = Path(__file__).with_name("demo_golden.json")
MONTE_CARLO_RTOL = 0.02  # sums of posterior summaries moved by at most 0.5% between two CPUs
SAMPLER_PATH_COLUMNS = frozenset(
    {"reruns", "target_accept", "note", "n_pareto_k_high", "largest_at", "converged", "divergences"}
)


def is_monte_carlo(file_name: str) -> bool:
    """Whether a demo file holds posterior (Monte Carlo) results."""
    return file_name.startswith("bayes")


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
