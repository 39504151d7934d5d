"""The files a validation-size study writes, staged and committed together with ``run.json``.

``validation_size.nc`` (the Dataset, h5netcdf), ``validation_size.csv`` (a row per setting and metric),
``validation_size_n.csv`` (the chosen n per calibration setting), ``validation_size_widths.png``/``.svg`` (mean CI
width against n per metric, targets dashed, the chosen n dotted) and ``study.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from tmesurv.outputs.atomic import write_atomically, write_text
from tmesurv.outputs.files import VALIDATION_SIZE, VALIDATION_SIZE_N, write_result
from tmesurv.outputs.netcdf import write_netcdf
from tmesurv.outputs.run_folder import RunPlan, staged
from tmesurv.simulations.validation_size.study import ValidationSizeStudy
from tmesurv.simulations.validation_size.summary import choice_table, size_table, width_figure

NETCDF = "validation_size.nc"
FIGURE = "validation_size_widths"
STUDY_RECORD = "study.json"
VALIDATION_SIZE_OUTPUTS = (
    NETCDF, VALIDATION_SIZE.name, VALIDATION_SIZE_N.name, f"{FIGURE}.png", f"{FIGURE}.svg", STUDY_RECORD,
)  # fmt: skip


def write_validation_size(
    study: ValidationSizeStudy, dataset: xr.Dataset, out_dir: Path, plan: RunPlan, figure: bool, record: dict
) -> list[Path]:
    """Stage every output and commit them together; return the paths written (``run.json`` last)."""
    from tmesurv.reports.graphics import save_figure

    table, choices = size_table(dataset), choice_table(dataset)
    with staged(out_dir, plan, seed=study.spec.seed) as run:
        write_atomically(run.path / NETCDF, lambda temporary: write_netcdf(dataset, temporary))
        write_result(run.path, VALIDATION_SIZE, table)
        write_result(run.path, VALIDATION_SIZE_N, choices)
        write_text(run.path / STUDY_RECORD, json.dumps(record, indent=2))
        if figure:
            title = f"Validation-size study {study.spec.name}: {study.spec.replicates} replicates per setting"
            save_figure(width_figure(table, choices, title), run.path / FIGURE)
        staged_files = sorted(path.relative_to(run.path) for path in run.path.rglob("*") if path.is_file())
    return [out_dir / name for name in staged_files] + [out_dir / "run.json"]
