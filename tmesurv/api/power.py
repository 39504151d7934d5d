"""``power``: run (or resume) a power study of validation cohorts and return its operating characteristics."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xarray as xr

    from tmesurv.simulations.power.study import PowerStudy
    from tmesurv.simulations.validation_size.study import ValidationSizeStudy


def power(
    study: PowerStudy | ValidationSizeStudy | Path | str,
    *,
    out: Path | str | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    fresh: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> xr.Dataset:
    """Simulate and analyse every setting of a power study; the same seed gives the same numbers on any workers.

    Parameters
    ----------
    study
        A :class:`~tmesurv.simulations.power.study.PowerStudy` (``PowerStudy.from_config(path)``), a study file, or a
        shipped study's name (``zuma7_validation``). A file with ``kind: validation_size`` (``zuma7_validation_size``)
        is a validation-cohort size study: the Dataset is then the precision per cohort size and metric
        (:mod:`tmesurv.simulations.validation_size.summary`).
    out
        Result folder: ``power.nc``, ``power.csv``, the power curve, ``run.json``, and the saved chunks that make a
        rerun resume. None: a temporary folder, removed afterwards (nothing to resume).
    workers
        Worker processes of the local Dask cluster (default: the usable cores); 1 runs in this process. A small study
        runs in this process whatever ``workers`` says (the rule: :mod:`tmesurv.simulations.power.execution`).
    scheduler
        Address of a running Dask scheduler to use instead.
    fresh
        Delete the chunk files an earlier run saved in ``out/chunks`` (nothing else there) and start over; replace
        the results of another study.
    progress
        Called with (chunks done, chunks in all).

    Returns
    -------
    xarray.Dataset
        Power (type I error where the interaction HR is 1), bias, RMSE and coverage per method and setting, each with
        its Monte Carlo SE, failed and error shares, and ``estimand`` (``interaction``, or ``prognostic`` for
        single-arm designs); ``attrs`` count the replicates whose analysis raised (``replicate_errors``, the first
        messages in ``error_messages``) and the chunks computed and reused.

    Raises
    ------
    InputError
        For an invalid study, an ``out`` that cannot hold the results (a file, in use by another run, another study
        without ``fresh``), or an unreachable scheduler; always before any computation.
    """
    from tmesurv.simulations.power.figure_process import start_ahead

    start_ahead()  # the figure's helper process imports matplotlib while the study's modules are imported
    from tmesurv.simulations.power.run import run_power_study

    if out is None:
        with tempfile.TemporaryDirectory(prefix="tmesurv-power-") as folder:
            return power(study, out=folder, workers=workers, scheduler=scheduler, progress=progress).load()
    run = run_power_study(study, out, workers=workers, scheduler=scheduler, fresh=fresh, progress=progress)
    return run.dataset.assign_attrs(chunks_computed=run.computed, chunks_reused=run.reused)
