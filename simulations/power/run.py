"""Power studies for validation cohorts: ``tmesurv power STUDY.yaml --out DIR``, in process or on Dask distributed.

How large must an independent validation cohort be to confirm that a biomarker is predictive, and what does the
paper's median-split approach lose against a proper interaction model? A study file
(:mod:`~tmesurv.simulations.power.study`) crosses cohort settings (size, interaction HR, prevalence, follow-up,
dropout, randomized or single-arm); every setting's replicate cohorts
(:mod:`~tmesurv.simulations.power.cohorts`) are analysed by every method
(:mod:`~tmesurv.simulations.power.methods`) and summarised with Monte Carlo standard errors
(:mod:`~tmesurv.simulations.power.summary`).

Execution. A task is one (setting, chunk of ``chunk_size`` consecutive replicates,
:mod:`~tmesurv.simulations.power.chunks`); a small study runs its tasks in process, a large one on a Dask cluster
(the rule is in :mod:`~tmesurv.simulations.power.execution`). Each finished chunk is saved at once as
``DIR/chunks/<study hash>-s<setting>-c<chunk>.npz``. Every replicate draws from its own stream, so the results do not
depend on where the chunks ran or the order they finished in. A replicate whose analysis raises is counted as failed
with its message (``error_share``, ``power_errors.csv``), never stops or hangs the study.

The folder. Before any work the folder is checked and locked (:func:`~tmesurv.outputs.run_folder.reserve`): it must
be a writable folder, hold no results of another study (unless ``fresh``) and no other run may be writing into it;
the outputs are staged and committed together at the end, with ``run.json``. ``DIR/study.json`` records the study's
hash (of its parsed content and its scenario's) and content: a rerun of the same study computes only the chunks that
are not saved yet; a rerun with a study that changed is refused (naming the changed keys) unless ``fresh`` is given,
which deletes the chunk files tmesurv wrote in ``DIR/chunks`` (and nothing else there) before starting over.

A validation-size study (``kind: validation_size``, :mod:`tmesurv.simulations.validation_size`) runs through the
same harness and writes ``DIR/validation_size.nc``, ``validation_size.csv``, ``validation_size_n.csv`` and
``validation_size_widths.png``/``.svg`` instead (:mod:`~tmesurv.simulations.validation_size.outputs`).

Outputs: ``DIR/power.nc`` (the Dataset, h5netcdf), ``DIR/power.csv`` (flat: a row per setting and method),
``DIR/power_errors.csv`` (the messages of replicates whose analysis raised), ``DIR/power_curve.png`` and ``.svg``
(power against mean events, the analytic curve overlaid), ``DIR/study.json`` and ``DIR/run.json``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from tmesurv import __version__
from tmesurv.errors import InputError
from tmesurv.outputs.atomic import write_atomically, write_text
from tmesurv.outputs.files import POWER, POWER_ERRORS, write_result
from tmesurv.outputs.netcdf import no_dask_arrays, write_netcdf
from tmesurv.outputs.run_folder import RunPlan, input_files, reserve, staged
from tmesurv.simulations.power.chunks import (
    CHUNK_FOLDER,
    chunk_path,
    load_results,
    remove_chunk_files,
    remove_partial_chunks,
)
from tmesurv.simulations.power.cores import default_workers
from tmesurv.simulations.power.execution import compute_chunks
from tmesurv.simulations.power.figure import FIGURE_STEM, power_curve, power_curve_figure
from tmesurv.simulations.power.figure_process import FigureProcess, in_helper_process
from tmesurv.simulations.power.study import PowerStudy, canonical_json, load_power_study
from tmesurv.simulations.power.summary import error_table, power_table, summarize_power
from tmesurv.simulations.validation_size.outputs import VALIDATION_SIZE_OUTPUTS, write_validation_size
from tmesurv.simulations.validation_size.study import ValidationSizeStudy
from tmesurv.simulations.validation_size.summary import summarize_validation_size

STUDY_RECORD = "study.json"
OUTPUT_NAMES = ("power.nc", "power.csv", "power_errors.csv", "power_curve.png", "power_curve.svg", STUDY_RECORD)
Progress = Callable[[int, int], None]
"""Called with (chunks done, chunks in all) once the computation starts (a cluster is up), then after every chunk."""


@dataclass(frozen=True)
class PowerRun:
    """What a study run produced.

    Attributes
    ----------
    dataset
        The operating characteristics (also in ``power.nc``).
    paths
        The files written.
    computed, reused
        Chunks computed by this run, and chunks found saved by an earlier run.
    """

    dataset: xr.Dataset
    paths: list[Path]
    computed: int
    reused: int


def run_power_study(
    study: PowerStudy | ValidationSizeStudy | Path | str,
    out_dir: Path | str,
    workers: int | None = None,
    scheduler: str | None = None,
    fresh: bool = False,
    progress: Progress | None = None,
    figure: bool = True,
) -> PowerRun:
    """Run (or resume) a power study and write its outputs.

    Parameters
    ----------
    study
        A loaded study, or a study file (path or shipped name).
    out_dir
        The result folder (created if needed).
    workers
        Worker processes of the local cluster (default: the usable cores); 1 runs in process. A small study runs in
        process whatever this says (see :mod:`~tmesurv.simulations.power.execution`). Ignored with ``scheduler``.
    scheduler
        Address of an existing Dask scheduler (e.g. ``tcp://10.0.0.5:8786``) instead of a local cluster.
    fresh
        Delete the chunk files tmesurv saved in ``out_dir`` and start over; replace the results of another study.
    progress
        Progress callback (see :data:`Progress`).
    figure
        Draw ``power_curve.png`` and ``.svg`` (a few seconds for a large grid).

    Returns
    -------
    PowerRun
        The Dataset, the files written, and how many chunks were computed and reused.

    Raises
    ------
    InputError
        If the study file is invalid, ``out_dir`` cannot hold the results (a file, not writable, in use by another
        run, results of another study without ``fresh``), or the scheduler cannot be reached; always before any
        computation.
    """
    with _figure_process(figure) as drawer:  # first: its process imports matplotlib while this one works
        study = study if isinstance(study, PowerStudy | ValidationSizeStudy) else load_power_study(study)
        out_dir = Path(out_dir)
        _refuse_changed_study(study, out_dir, fresh)
        plan = _run_plan(study, fresh)
        with reserve(out_dir, plan):
            _prepare_folder(study, out_dir, fresh)
            tasks = [(setting.index, chunk) for setting in study.settings() for chunk in range(len(study.chunks()))]
            missing = [task for task in tasks if not chunk_path(out_dir, study, *task).is_file()]
            report = progress or (lambda done, total: None)
            saved = len(tasks) - len(missing)
            if isinstance(study, ValidationSizeStudy):  # its model and population: input errors before any computation
                from tmesurv.simulations.validation_size.chunks import prepared  # lifelines: not for power studies

                prepared(study)
            computed = {}
            if missing:
                computed = compute_chunks(
                    study, missing, out_dir, workers, scheduler, lambda done: report(saved + done, len(tasks))
                )
            else:
                report(len(tasks), len(tasks))
            results = load_results(study, out_dir, computed)
            with no_dask_arrays():  # else xarray imports dask.array (0.4 s) to find that none of these arrays is one
                if isinstance(study, ValidationSizeStudy):
                    dataset = summarize_validation_size(study, results)
                    paths = write_validation_size(study, dataset, out_dir, plan, figure, _study_record(study))
                else:
                    dataset = summarize_power(study, results)
                    errors = error_table(study, results)
                    paths = _write_outputs(study, dataset, errors, out_dir, plan, figure, drawer)
    return PowerRun(dataset, paths, len(missing), saved)


def _figure_process(figure: bool) -> FigureProcess | contextlib.nullcontext[None]:
    """A process that draws the power curve while this one computes, when that saves time (see the figure module).

    It is started before the study is read (a validation-size study does not use it: it is stopped at the end).
    """
    if figure and in_helper_process(default_workers()):
        return FigureProcess()
    return contextlib.nullcontext()


def _run_plan(study: PowerStudy | ValidationSizeStudy, fresh: bool) -> RunPlan:
    scenario_file = study.path.parent / study.spec.scenario  # a shipped scenario by name is not in the folder
    return RunPlan(
        command="power",
        config=json.loads(canonical_json(study.content())),
        config_path=study.path,
        study_hash=study.digest,
        inputs=input_files([study.path, scenario_file, getattr(study, "model_file", None)]),
        fresh=fresh,
    )


def _refuse_changed_study(study: PowerStudy | ValidationSizeStudy, out_dir: Path, fresh: bool) -> None:
    """Refuse a folder whose chunks are of a different study (naming the changed keys), unless ``fresh``."""
    record_path = out_dir / STUDY_RECORD
    if fresh or not record_path.is_file():
        return
    try:
        recorded = json.loads(record_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"'{record_path}' is not a tmesurv study record ({error}): rerun with --fresh") from None
    if recorded.get("study_hash") != study.digest:
        raise InputError(_changed_message(study, out_dir, recorded))


def _prepare_folder(study: PowerStudy | ValidationSizeStudy, out_dir: Path, fresh: bool) -> None:
    """Check that every output can be written, clear tmesurv's chunks with ``fresh``, and record this study.

    Temporary files of chunks being written when an earlier run was killed are removed.
    """
    names = VALIDATION_SIZE_OUTPUTS if isinstance(study, ValidationSizeStudy) else OUTPUT_NAMES
    for name in (*names, STUDY_RECORD, CHUNK_FOLDER):
        target = out_dir / name
        if target.exists() and target.is_dir() != (name == CHUNK_FOLDER):
            kind = "a folder" if target.is_dir() else "a file"
            raise InputError(f"--out '{out_dir}': '{name}' is {kind} there, where tmesurv writes its results: move it")
    if fresh:
        remove_chunk_files(out_dir)
    remove_partial_chunks(out_dir)
    (out_dir / CHUNK_FOLDER).mkdir(exist_ok=True)
    write_text(out_dir / STUDY_RECORD, json.dumps(_study_record(study), indent=2))


def _study_record(study: PowerStudy | ValidationSizeStudy) -> dict:
    return {
        "study_hash": study.digest,
        "study_file": str(study.path),
        "tmesurv_version": __version__,
        "content": json.loads(canonical_json(study.content())),
    }


def _changed_message(study: PowerStudy | ValidationSizeStudy, out_dir: Path, recorded: dict) -> str:
    old = _flatten(recorded.get("content", {}))
    new = _flatten(json.loads(canonical_json(study.content())))
    changed = sorted(key for key in old.keys() | new.keys() if old.get(key) != new.get(key))
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return (
        f"'{out_dir}' holds chunks of a different study (hash {recorded.get('study_hash')}, now {study.digest}; "
        f"changed: {shown or 'the study format'}): rerun with --fresh to discard them, or give a new --out folder"
    )


def _flatten(content: object, prefix: str = "") -> dict[str, object]:
    """Nested dicts as ``{"a.b": value}`` (lists are values)."""
    if not isinstance(content, dict):
        return {prefix: content}
    flat = {}
    for key, value in content.items():
        flat |= _flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return flat


def _write_outputs(
    study: PowerStudy,
    dataset: xr.Dataset,
    errors: pd.DataFrame,
    out_dir: Path,
    plan: RunPlan,
    figure: bool,
    drawer: FigureProcess | None,
) -> list[Path]:
    """Stage every output and commit them together (``run.json`` lists them); ``drawer`` draws the figure meanwhile."""
    with staged(out_dir, plan, seed=study.spec.seed) as run:
        if drawer is not None:
            drawer.submit(power_curve(dataset), run.path)
        write_atomically(run.path / "power.nc", lambda temporary: write_netcdf(dataset, temporary))
        write_result(run.path, POWER, power_table(dataset))
        write_result(run.path, POWER_ERRORS, errors)
        write_text(run.path / STUDY_RECORD, json.dumps(_study_record(study), indent=2))
        if drawer is not None:
            drawer.wait()
        elif figure:
            from tmesurv.reports.graphics import save_figure  # matplotlib: only when drawn

            save_figure(power_curve_figure(dataset), run.path / FIGURE_STEM)
        staged_files = sorted(path.relative_to(run.path) for path in run.path.rglob("*") if path.is_file())
    return [out_dir / name for name in staged_files] + [out_dir / "run.json"]
