"""Ctrl-C (SIGINT) and SIGTERM stop any command cleanly, even when a library swallows the interrupt.

:func:`install` makes both signals raise (``KeyboardInterrupt``, or :class:`Terminated` for SIGTERM) and remembers
that they came; :func:`raise_if_interrupted` raises again after a call into a library (such as a sampler) that caught
the interrupt and returned partial results, so they are never summarised as if complete.
"""

from __future__ import annotations

import signal
from types import FrameType

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal number, as shells report them
_received: list[int] = []


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def install() -> None:
    """Make SIGINT raise ``KeyboardInterrupt`` and SIGTERM raise :class:`Terminated`, and remember each signal."""
    _received.clear()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def raise_if_interrupted() -> None:
    """Raise the interrupt that was received (if any) since :func:`install`: call it after a library returns."""
    if _received:
        raise Terminated() if _received[-1] == signal.SIGTERM else KeyboardInterrupt()


def exit_code(error: BaseException) -> int:
    """The exit code of an interrupt: 143 for :class:`Terminated`, 130 for Ctrl-C."""
    return EXIT_CODES[signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT]


def _on_signal(number: int, frame: FrameType | None) -> None:
    _received.append(number)
    if number == signal.SIGTERM:
        raise Terminated()
    raise KeyboardInterrupt()
