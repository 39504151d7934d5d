"""Drawing a power study's figure in a helper process, while the study writes its other outputs.

For a small study the figure is a third of ``tmesurv power``'s wall time: importing matplotlib (about 0.3 s) and
drawing the PNG and the SVG (about 0.2 s). So while the study computes, a :class:`FigureProcess` (a second Python
process, started when two cores are usable and matplotlib is not imported yet; ``tmesurv.power``, and so the CLI,
starts it even before the study's own imports, :func:`start_ahead`) imports matplotlib; it then receives
the :class:`PowerCurve` and writes the two files into the staged result folder while the study's own process writes
``power.nc`` and the tables. It draws with the same functions (:func:`draw_power_curve`,
:func:`~tmesurv.reports.graphics.save_figure`) on the same numbers, so the files are the same bytes either way; its
import needs neither xarray nor pandas.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from tmesurv.simulations.power.figure import FIGURE_STEM, PowerCurve, draw_power_curve

_SERVE = "from tmesurv.simulations.power.figure_process import serve; serve()"


def in_helper_process(usable_cores: int) -> bool:
    """Whether a study draws its figure in a :class:`FigureProcess`: two cores usable, matplotlib not imported yet.

    (Once this process has imported matplotlib, drawing here costs only the drawing.)
    """
    return usable_cores >= 2 and "matplotlib.figure" not in sys.modules


_ahead: list[subprocess.Popen] = []
"""A helper process started by :func:`start_ahead`, for the next :class:`FigureProcess`."""


def start_ahead() -> None:
    """Start the next study's helper process now, before the study's own imports.

    Those take about 0.7 s of one core, and leave the other free for the helper's matplotlib import. The next
    :class:`FigureProcess` takes it; one that is never taken ends when this process does (its input closes).
    """
    from tmesurv.simulations.power.cores import default_workers

    if not _ahead and in_helper_process(default_workers()):
        _ahead.append(_start())


def _start() -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


class FigureProcess:
    """A helper process that imports matplotlib at once and then draws one :class:`PowerCurve` into a folder.

    Use as a context manager: :meth:`submit` sends the curve, :meth:`wait` waits for the files; leaving the block
    stops a process that was given nothing (or is still drawing, after an error or Ctrl-C).
    """

    def __init__(self) -> None:
        ahead = _ahead.pop() if _ahead else None
        self._process = ahead if ahead is not None and ahead.poll() is None else _start()

    def __enter__(self) -> FigureProcess:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._process.returncode is None:  # not waited for: an error or Ctrl-C in the study
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stderr):
            if stream is not None:
                stream.close()

    def submit(self, curve: PowerCurve, folder: Path) -> None:
        """Send the curve; the process writes ``folder/power_curve.png`` and ``.svg``."""
        assert self._process.stdin is not None
        with self._process.stdin:
            self._process.stdin.write(pickle.dumps((curve, Path(folder) / FIGURE_STEM)))

    def wait(self) -> None:
        """Wait until the files are written.

        Raises
        ------
        RuntimeError
            If the process failed (its last error line is in the message).
        """
        assert self._process.stderr is not None
        errors = self._process.stderr.read()  # until the process ends (its stdin is closed: it has all it needs)
        if self._process.wait() != 0:
            lines = errors.decode(errors="replace").strip().splitlines() or [f"exit code {self._process.returncode}"]
            raise RuntimeError(f"drawing the power curve failed in its helper process: {lines[-1]}")


def serve() -> None:
    """The helper process: import matplotlib, read a pickled (curve, path stem) from stdin, write PNG and SVG.

    Once the files are written (each closed and renamed into place), the process ends at once (:func:`os._exit`, as
    multiprocessing's children do): the study waits for its end, and the interpreter's teardown of matplotlib would
    add about 0.1 s. An error ends it as usual, with its traceback on stderr.
    """
    from tmesurv.reports.graphics import save_figure  # matplotlib, while the study computes

    request = sys.stdin.buffer.read()
    if request:  # nothing: the study stopped before its figure
        curve, path_stem = pickle.loads(request)  # from the study's own process, through a pipe
        save_figure(draw_power_curve(curve), path_stem)
    sys.stderr.flush()
    os._exit(0)
