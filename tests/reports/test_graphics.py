from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.reports.builders import assert_axes_labelled, pca_tables, screen_table
from tests.reports.conftest import ARM_NAMES, XSS
from tmesurv.outputs import atomic
from tmesurv.reports import graphics, km_plot
from tmesurv.reports.sections import clusters, forest_plot, screens


def test_save_figure_writes_png_and_svg_atomically(tmp_path: Path, km_curves: pd.DataFrame) -> None:
    figure = km_plot.km_arms_figure(km_curves, "efs", ARM_NAMES)
    paths = graphics.save_figure(figure, tmp_path / "figures" / "km_efs")
    assert [path.name for path in paths] == ["km_efs.png", "km_efs.svg"]
    assert all(path.stat().st_size > 1000 for path in paths)
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    svg = paths[1].read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml")
    assert "</svg>" in svg
    assert sorted(path.name for path in (tmp_path / "figures").iterdir()) == ["km_efs.png", "km_efs.svg"]


def test_save_figure_leaves_no_partial_file_when_writing_fails(
    tmp_path: Path, km_curves: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        graphics.save_figure(km_plot.km_arms_figure(km_curves, "efs"), tmp_path / "km")
    assert list(tmp_path.iterdir()) == []


def test_svg_escapes_user_text(tmp_path: Path, cox: pd.DataFrame) -> None:
    _, svg = graphics.save_figure(forest_plot.forest_figure(cox, "efs"), tmp_path / "forest")
    text = svg.read_text(encoding="utf-8")
    assert XSS not in text
    assert "&lt;script&gt;" in text  # matplotlib keeps the drawn strings as escaped comments


@pytest.mark.parametrize("name", ["forest", "volcano", "boxes", "pca"])
def test_every_figure_labels_its_axes(name: str, cox: pd.DataFrame) -> None:
    build = {
        "forest": lambda: forest_plot.forest_figure(cox, "efs"),
        "volcano": lambda: screens.volcano_figure(screen_table(), "t", n_labels=0),
        "boxes": lambda: screens.response_box_figure(
            pd.DataFrame({"a": [1.0, 2.0, 3.0], "response_group": ["x", "y", "x"]})
        ),
        "pca": lambda: clusters.pca_figure(*pca_tables()),
    }
    assert_axes_labelled(build[name]())
