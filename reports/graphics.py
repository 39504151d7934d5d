"""What every figure of the report shares: colours, hazard-ratio axes, and writing figures (PNG, SVG, data URIs)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullLocator

from tmesurv.arms import CONTROL, TREATED
from tmesurv.outputs.atomic import write_atomically

if TYPE_CHECKING:  # pandas and the report's formats: not needed to save a figure (a power study's helper process)
    import pandas as pd

ARM_ORDER = (TREATED, CONTROL)


ARM_COLOURS = {TREATED: "#0072B2", CONTROL: "#D55E00"}


OTHER_COLOURS = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9")


LEVEL_LINESTYLES = ("-", "--", ":", "-.")


DPI = 110  # PNGs embedded in the HTML report


FILE_DPI = 150  # PNG files next to the results


FILE_FORMATS = ("png", "svg")


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


DENSE_POINTS = 1_000  # a layer of more points (one per patient at scale) is an image inside the SVG files


def dense(points: int) -> bool:
    """Whether a layer of ``points`` markers is drawn as an image (rasterized) inside SVG files.

    Thousands of vector markers make SVG files of megabytes that are slow to write and to open; as an image at the
    files' resolution they look the same. Lines, text and axes stay vector; PNG files are unchanged.
    """
    return points > DENSE_POINTS


STYLE_COLOUR = "#555555"


@dataclass(frozen=True)
class FigureImage:
    """A rendered figure: a self-contained ``data:image/png;base64,...`` source and its alt text."""

    src: str
    alt: str


def ordered_arms(arms: pd.Series) -> list[str]:
    """Arms in display order: ``treated``, ``control``, then any others in order of appearance."""
    import pandas as pd

    from tmesurv.reports.format import in_order

    return in_order(list(pd.unique(arms)), ARM_ORDER)


def arm_colour(arm: str, index: int) -> str:
    """The colour of an arm: :data:`ARM_COLOURS`, else the other colour-blind safe colours by ``index``."""
    return ARM_COLOURS.get(arm, OTHER_COLOURS[index % len(OTHER_COLOURS)])


def save_figure(figure: Figure, path_stem: Path) -> list[Path]:
    """Write ``figure`` as ``<path_stem>.png`` (150 dpi) and ``<path_stem>.svg``, each atomically.

    Parameters
    ----------
    figure
        The figure; it is left as it was, so it can be saved again or embedded.
    path_stem
        Folder and file name without suffix, e.g. ``out/figures/forest_efs``; the folder is created if needed.

    Returns
    -------
    list[pathlib.Path]
        The PNG and SVG paths.
    """
    path_stem = Path(path_stem)
    return [
        write_atomically(path_stem.with_name(f"{path_stem.name}.{fmt}"), _figure_writer(figure, fmt))
        for fmt in FILE_FORMATS
    ]


def png_data_uri(figure: Figure) -> str:
    """Render ``figure`` to PNG and return it as a ``data:image/png;base64,`` URI (the figure is cleared)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    figure.clear()
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def png_file_uri(path: Path) -> str | None:
    """A PNG file as a ``data:image/png;base64,`` URI, or None if the file is not a PNG."""
    content = Path(path).read_bytes()
    if not content.startswith(PNG_SIGNATURE):
        return None
    return "data:image/png;base64," + base64.b64encode(content).decode("ascii")


def _figure_writer(figure: Figure, fmt: str) -> Callable[[Path], None]:
    metadata = {"Software": None} if fmt == "png" else {"Date": None}  # no timestamps: same figure, same bytes

    def write(temporary: Path) -> None:
        with mpl.rc_context({"svg.hashsalt": "tmesurv", "svg.fonttype": "path"}):
            figure.savefig(temporary, format=fmt, dpi=FILE_DPI, metadata=metadata)

    return write


HR_TICKS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)


MAX_HR_AXIS = 20.0  # the axis spans at most 1/20 to 20; longer intervals end in an arrow


COX_COLOUR = "black"


BAYES_COLOUR = "#0072B2"


BAND_COLOUR = f"{BAYES_COLOUR}33"  # the Bayesian colour, translucent: credible bands


def hr_axis_limit(values: npt.ArrayLike, margin: float = 1.1) -> float:
    """The upper limit of a symmetric log hazard-ratio axis around 1 that covers ``values``.

    Parameters
    ----------
    values
        Hazard ratios and bounds; missing, infinite and non-positive ones are ignored.
    margin
        The largest distance of a value from 1 on the log scale is widened by this factor.

    Returns
    -------
    float
        ``limit``: the axis runs from ``1 / limit`` to ``limit``, at least 1/2 to 2 and at most
        1/:data:`MAX_HR_AXIS` to :data:`MAX_HR_AXIS`.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    spread = float(np.max(np.abs(np.log(values)))) if values.size else 0.0
    return float(np.clip(np.exp(spread * margin), 2.0, MAX_HR_AXIS))


def log_hr_axis(ax: Axes, limit: float, axis: Literal["x", "y"] = "x") -> None:
    """Make one axis of ``ax`` a log hazard-ratio axis from ``1 / limit`` to ``limit``.

    Parameters
    ----------
    ax
        The axes.
    limit
        The upper limit, e.g. from :func:`hr_axis_limit`.
    axis
        Which axis: ``"x"`` or ``"y"``.

    Notes
    -----
    Ticks at the :data:`HR_TICKS` within the limits, labelled as plain numbers (``0.5``, ``2``), no minor ticks.
    The line at 1 is left to the caller.
    """
    if axis == "x":
        ax.set_xscale("log")
        ax.set_xlim(1 / limit, limit)
    else:
        ax.set_yscale("log")
        ax.set_ylim(1 / limit, limit)
    scale = ax.xaxis if axis == "x" else ax.yaxis
    scale.set_ticks([tick for tick in HR_TICKS if 1 / limit <= tick <= limit])
    scale.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    scale.set_minor_locator(NullLocator())


def safe_name(name: str) -> str:
    """A file-name-safe version of a name: runs of other characters become one underscore."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "unnamed"
