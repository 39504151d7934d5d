"""The power-study harness: where chunks run (in process or on Dask), failures that never stop or hang a study, and the
result folder (fresh, lock, bad output paths, Ctrl-C) - issues #20 and #22.

Failures are injected by replacing a method's ``analyse`` with one that raises for one replicate: in this process with
``monkeypatch``, on Dask workers with ``Client.run`` (the test module is pickled by value, so workers need not import
it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from dask.distributed import Client
from typer.testing import CliRunner

from tests.simulations.power.conftest import assert_same_results, write_study
from tmesurv.cli import app
from tmesurv.outputs.run_folder import LOCK_FILE
from tmesurv.simulations.power import execution
from tmesurv.simulations.power.chunks import CHUNK_FOLDER, ChunkError, run_chunk
from tmesurv.simulations.power.execution import IN_PROCESS_SECONDS, estimated_seconds, runs_in_process
from tmesurv.simulations.power.methods import MedianSplit
from tmesurv.simulations.power.run import run_power_study
from tmesurv.simulations.power.study import load_power_study

cloudpickle.register_pickle_by_value(sys.modules[__name__])
FAILING_REPLICATE = 7


class PanicLike(BaseException):
    """Like pyo3's PanicException: a BaseException, not an Exception."""


original_analyse = MedianSplit.analyse


def panicking_analyse(self, batch, alpha):
    if FAILING_REPLICATE in batch.replicates:
        raise PanicLike(f"called `Option::unwrap()` on a `None` value (replicate {FAILING_REPLICATE})")
    return original_analyse(self, batch, alpha)


def patch_workers() -> None:
    from tmesurv.simulations.power.methods import MedianSplit

    MedianSplit.analyse = panicking_analyse


def unpatch_workers() -> None:
    from tmesurv.simulations.power.methods import MedianSplit

    MedianSplit.analyse = original_analyse


def run_cli(*arguments: str):
    return CliRunner().invoke(app, list(arguments))


# --- in process or on Dask ------------------------------------------------------------------------------------------


def test_the_in_process_rule(tmp_path):
    small = load_power_study(write_study(tmp_path))
    tasks = [(setting.index, chunk) for setting in small.settings() for chunk in range(len(small.chunks()))]
    # 2 settings x 100 replicates x n = 120 x (simulation + three Cox methods)
    assert estimated_seconds(small, tasks) == pytest.approx(200 * 0.12 * (0.0004 + 0.002 + 0.001 + 0.001))
    assert runs_in_process(small, tasks, workers=None, scheduler=None)
    assert runs_in_process(small, tasks, workers=4, scheduler=None)
    assert not runs_in_process(small, tasks, workers=1, scheduler="tcp://127.0.0.1:1")  # a given cluster is used
    shipped = load_power_study("zuma7_validation")
    everything = [(setting.index, chunk) for setting in shipped.settings() for chunk in range(len(shipped.chunks()))]
    assert estimated_seconds(shipped, everything) > 5 * IN_PROCESS_SECONDS
    assert not runs_in_process(shipped, everything, workers=None, scheduler=None)
    assert runs_in_process(shipped, everything, workers=1, scheduler=None)
    assert runs_in_process(shipped, everything[:2], workers=None, scheduler=None)  # resuming the last chunks


def test_a_small_study_starts_no_cluster(tmp_path, monkeypatch):
    def no_cluster(workers):
        raise AssertionError("a small study started a Dask cluster")

    monkeypatch.setattr(execution, "local_cluster", no_cluster)
    run = run_power_study(write_study(tmp_path), tmp_path / "out", workers=2, figure=False)
    assert (run.computed, run.reused) == (8, 0)


def file_bytes(out: Path) -> dict[str, bytes]:
    """Every result and chunk file of a run folder (not run.json: it names the folder's study file)."""
    return {
        str(path.relative_to(out)): path.read_bytes()
        for path in sorted(out.rglob("*"))
        if path.is_file() and path.name != "run.json"
    }


def test_two_threads_in_process_write_the_bytes_of_one(tmp_path, monkeypatch):
    study = write_study(tmp_path)
    threads, chunk_runner = [], execution.chunk_runner

    def recording_runner(study):
        runner = chunk_runner(study)

        def run(*task):
            threads.append(threading.current_thread().name)
            return runner(*task)

        return run

    monkeypatch.setattr(execution, "chunk_runner", recording_runner)
    run_power_study(study, tmp_path / "one", workers=1)
    assert threads == ["MainThread"] * 8
    threads.clear()
    run_power_study(study, tmp_path / "two", workers=2)
    assert len(threads) == 8
    assert {name.rsplit("_", 1)[0] for name in threads} == {"tmesurv-chunk"}  # the pool's threads, not the main one
    one, two = file_bytes(tmp_path / "one"), file_bytes(tmp_path / "two")
    assert len(one) == 8 + 6  # the chunks, power.nc, .csv, _errors.csv, the PNG and the SVG, study.json
    assert one == two


def test_a_sampler_or_a_validation_size_study_computes_its_chunks_one_at_a_time(tmp_path):
    numpy_only = load_power_study(write_study(tmp_path))
    tasks = [(0, chunk) for chunk in range(4)]
    assert execution.in_process_threads(numpy_only, tasks, workers=None) == min(execution.default_workers(), 4)
    assert execution.in_process_threads(numpy_only, tasks, workers=3) == 3
    assert execution.in_process_threads(numpy_only, tasks[:1], workers=3) == 1
    sampler = write_study(tmp_path, "bayes.yaml", methods=["cox_interaction", "bayes_interaction"])
    assert execution.in_process_threads(load_power_study(sampler), tasks, workers=2) == 1
    validation_size = load_power_study("zuma7_validation_size")
    assert execution.in_process_threads(validation_size, tasks, workers=2) == 1


def test_dask_tasks_batch_consecutive_chunks_few_seconds_at_most(tmp_path):
    study = load_power_study(write_study(tmp_path, replicates=1000, chunk_size=100, grid={"n": [359]}))
    tasks = [(0, chunk) for chunk in range(10)] * 8  # as many as 8 settings x 10 chunks
    batches = execution.dask_batches(study, tasks, workers=2)
    assert [len(batch) for batch in batches] == [5] * 16  # 80 // (8 tasks per worker x 2 workers)
    assert [task for batch in batches for task in batch] == tasks
    assert [len(batch) for batch in execution.dask_batches(study, tasks[:20], workers=2)] == [1] * 20
    chunk_seconds = estimated_seconds(study, tasks[:1])  # 100 x 0.359 x (0.0004 + 0.004) s
    assert chunk_seconds == pytest.approx(100 * 0.359 * 0.0044)
    assert len(execution.dask_batches(study, tasks * 10, workers=2)[0]) == int(execution.BATCH_SECONDS / chunk_seconds)
    sampler = load_power_study(write_study(tmp_path, "bayes.yaml", replicates=1000, methods=["bayes_interaction"]))
    assert [len(batch) for batch in execution.dask_batches(sampler, tasks, workers=2)] == [1] * 80


def test_in_process_and_on_a_two_worker_cluster_give_the_same_bytes(tmp_path, cluster):
    grid = {"n": [120], "interaction_hr": [1.0, 0.5], "design": ["randomized", "single_arm"]}
    study = write_study(tmp_path, grid=grid)
    run_power_study(study, tmp_path / "cluster", scheduler=cluster, figure=False)
    run_power_study(study, tmp_path / "process", figure=False)
    assert_same_results(tmp_path / "cluster", tmp_path / "process")


# --- failures -------------------------------------------------------------------------------------------------------


def assert_failure_counted(out: Path, replicates: int) -> None:
    """Replicate 7 of every setting failed in median_split, with its message; nothing else changed."""
    table = pd.read_csv(out / "power.csv")
    median = table[table["method"] == "median_split"]
    assert (median["error_share"] == 1 / replicates).all()
    assert (median["failed_share"] >= 1 / replicates).all()
    assert (table.loc[table["method"] != "median_split", "error_share"] == 0).all()
    errors = pd.read_csv(out / "power_errors.csv")
    assert len(errors) == len(median)
    assert set(errors["method"]) == {"median_split"}
    assert (errors["replicates"] == 1).all()
    assert (errors["first_replicate"] == FAILING_REPLICATE).all()
    expected = "PanicLike: called `Option::unwrap()` on a `None` value (replicate 7)"
    assert (errors["message"] == expected).all()
    with xr.open_dataset(out / "power.nc", engine="h5netcdf") as dataset:
        assert dataset.attrs["replicate_errors"] == len(median)
        assert dataset.attrs["error_messages"].startswith("median_split: PanicLike: called")


def test_a_panic_in_one_replicate_is_counted_in_process(tmp_path, monkeypatch):
    study = load_power_study(write_study(tmp_path))
    clean = run_chunk(study, 1, 0)
    monkeypatch.setattr(MedianSplit, "analyse", panicking_analyse)
    arrays = run_chunk(study, 1, 0)  # replicates 0-24
    failed = np.arange(25) == FAILING_REPLICATE
    assert arrays["median_split.failed"][failed].all()
    assert np.isnan(arrays["median_split.estimate"][failed]).all()
    assert not arrays["median_split.reject"][failed].any()
    assert (arrays["median_split.error"][~failed] == "").all()
    for key, values in clean.items():  # every other replicate and method as without the panic
        if key.startswith("median_split.") and key != "median_split.error":
            assert np.array_equal(values[~failed], arrays[key][~failed], equal_nan=values.dtype.kind == "f"), key
        elif not key.startswith("median_split."):
            assert np.array_equal(values, arrays[key], equal_nan=values.dtype.kind == "f"), key
    run_power_study(study, tmp_path / "out", figure=False)
    assert_failure_counted(tmp_path / "out", study.spec.replicates)


def test_a_panic_on_a_dask_worker_is_counted_and_never_hangs(tmp_path, cluster):
    study = write_study(tmp_path)
    finished: list[object] = []

    def run() -> None:
        finished.append(run_power_study(study, tmp_path / "out", scheduler=cluster, figure=False))

    with Client(cluster) as client:
        client.run(patch_workers)
        try:
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            worker.join(timeout=120)
        finally:
            client.run(unpatch_workers)
    assert finished, "the study hung on a panicking replicate"
    assert_failure_counted(tmp_path / "out", 100)


def worker_settings() -> tuple[object, object]:
    import dask

    return dask.config.get("distributed.worker.profile.enabled"), os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_workers_run_without_the_profiler_and_the_malloc_trim_threshold(cluster):
    with Client(cluster) as client:
        settings = client.run(worker_settings)
    assert list(settings.values()) == [(False, None), (False, None)]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_in_a_replicate_still_stops_the_study(tmp_path, monkeypatch, stop):
    def interrupted(self, batch, alpha):
        raise stop()

    monkeypatch.setattr(MedianSplit, "analyse", interrupted)
    with pytest.raises(stop):
        run_power_study(write_study(tmp_path), tmp_path / "out", figure=False)
    assert not (tmp_path / "out" / "power.csv").exists()


def test_a_failure_outside_the_methods_fails_the_task_as_an_ordinary_exception(tmp_path, monkeypatch):
    def broken(*args):
        raise PanicLike("simulation panicked")

    monkeypatch.setattr("tmesurv.simulations.power.chunks.simulate_validation_cohorts", broken)
    with pytest.raises(ChunkError, match=r"setting 0, chunk 0: PanicLike: simulation panicked"):
        run_chunk(load_power_study(write_study(tmp_path)), 0, 0)


# --- the result folder ----------------------------------------------------------------------------------------------


def test_fresh_deletes_only_the_chunk_files_tmesurv_wrote(tmp_path):
    study = write_study(tmp_path)
    out = tmp_path / "out"
    assert run_cli("power", str(study), "--out", str(out)).exit_code == 0
    chunks = out / CHUNK_FOLDER
    mine = {"notes.txt": "mine", "0123456789abcdef-s00000-c00000.npz.bak": "backup", "results.npz": "keep"}
    for name, text in mine.items():
        (chunks / name).write_text(text)
    ours = sorted(path.name for path in chunks.glob("*-s*-c*.npz"))
    assert len(ours) == 8
    before = {name: (chunks / name).stat().st_mtime_ns for name in ours}
    result = run_cli("power", str(study), "--out", str(out), "--fresh")
    assert result.exit_code == 0, result.output
    assert "8 chunks computed, 0 reused" in result.output
    assert {name: (chunks / name).read_text() for name in mine} == mine
    assert all((chunks / name).stat().st_mtime_ns != mtime for name, mtime in before.items())


def test_a_negative_seed_is_refused_before_any_work(tmp_path):
    study = write_study(tmp_path, seed=-1)
    result = run_cli("power", str(study), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "'seed': Input should be greater than or equal to 0" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda out: out.write_text("mine"), "is a file, not a folder"),
        (lambda out: (out / CHUNK_FOLDER).write_text("mine"), "'chunks' is a file there"),
        (lambda out: (out / "power.nc").mkdir(), "'power.nc' is a folder there"),
    ],
)
def test_output_path_problems_are_caught_before_computation(tmp_path, monkeypatch, make, message):
    def no_work(*args, **kwargs):
        raise AssertionError("computed before checking the output folder")

    monkeypatch.setattr("tmesurv.simulations.power.run.compute_chunks", no_work)
    out = tmp_path / "out"
    if "file, not" not in message:
        out.mkdir()
    make(out)
    result = run_cli("power", str(write_study(tmp_path)), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1
    assert message in result.output


def start_power(*arguments: str) -> subprocess.Popen:
    """``tmesurv power`` in a new process group (as a terminal runs it: Ctrl-C goes to the whole group)."""
    code = "from tmesurv.cli import main; main()"
    env = os.environ | {"PYTHONWARNINGS": "ignore"}
    return subprocess.Popen(
        [sys.executable, "-c", code, "power", *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def wait_until(condition, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.stderr.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    study = write_study(tmp_path, replicates=2000, chunk_size=50, grid={"n": [800]})
    out = tmp_path / "out"
    first = start_power(str(study), "--out", str(out), "--workers", "1")
    try:
        wait_until(lambda: (out / LOCK_FILE).exists(), first)
        second = run_cli("power", str(study), "--out", str(out), "--workers", "1")
        assert second.exit_code == 2
        assert "in use by another tmesurv run" in second.output
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate(timeout=60)


@pytest.mark.slow
def test_ctrl_c_on_a_local_cluster_prints_one_line_and_the_rerun_resumes(tmp_path, cluster):
    """Ctrl-C to the process group while a 2-worker local cluster computes: one line, exit 130, chunks kept."""
    study = write_study(tmp_path, replicates=2000, chunk_size=50, grid={"n": [800], "interaction_hr": [1.0, 0.6]})
    assert not runs_in_process(load_power_study(study), [(s, c) for s in range(2) for c in range(40)], 2, None)
    out, chunks = tmp_path / "out", tmp_path / "out" / CHUNK_FOLDER
    process = start_power(str(study), "--out", str(out), "--workers", "2")
    wait_until(lambda: len(list(chunks.glob("*.npz"))) >= 2, process)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line and not line.startswith("[")]
    assert process.returncode == 130
    assert lines == [f"tmesurv: interrupted (Ctrl-C): the chunks finished so far are kept in {chunks}; rerun the "
                     "same command to resume"]  # fmt: skip
    assert not (out / LOCK_FILE).exists()
    saved = len(list(chunks.glob("*.npz")))
    resumed = run_power_study(study, out, scheduler=cluster, figure=False)
    assert (resumed.reused, resumed.computed) == (saved, 80 - saved)
