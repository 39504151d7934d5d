"""The cores a power study may use (a module of its own: the study's first step imports it before numpy's users)."""

from __future__ import annotations

import os


def default_workers() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
