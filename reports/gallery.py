"""Figure galleries: figures drawn for a section or read from the result folder, and the sections made of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from tmesurv.reports.format import Table
from tmesurv.reports.graphics import FigureImage, png_file_uri
from tmesurv.reports.results import Results


@dataclass(frozen=True)
class Gallery:
    """Figures shown together; ``wide`` figures take the page's width."""

    title: str
    images: tuple[FigureImage, ...]
    wide: bool = False


@dataclass(frozen=True)
class FigureSection:
    """A table (optional) and galleries of figures read from the result folder."""

    table: Table | None
    galleries: tuple[Gallery, ...]


def figure_section(
    results: Results,
    make_table: Callable[[pd.DataFrame], Table],
    frame: pd.DataFrame | None,
    prefixes: tuple[str, ...],
    title: str,
) -> FigureSection | None:
    """A table of ``frame`` (when present) and the gallery of the result folder's figures named ``prefixes*``."""
    images = file_images(results, prefixes, title)
    if frame is None and not images:
        return None
    galleries = (Gallery(title, images),) if images else ()
    return FigureSection(None if frame is None else make_table(frame), galleries)


def file_images(results: Results, prefixes: tuple[str, ...], title: str) -> tuple[FigureImage, ...]:
    """The PNG figures whose names start with one of ``prefixes``, captioned with ``title`` and the file name."""
    images = []
    for stem, path in results.figures.items():
        if stem.startswith(prefixes):
            source = png_file_uri(path)
            if source is not None:
                images.append(FigureImage(source, f"{title}: {path.name}"))
    return tuple(images)


def endpoints_of(*frames: pd.DataFrame) -> list[str]:
    """The endpoints of result frames, in order of appearance."""
    found = [endpoint for frame in frames for endpoint in pd.unique(frame["endpoint"].dropna())]
    return [str(endpoint) for endpoint in dict.fromkeys(found)]
