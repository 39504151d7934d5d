"""A result folder as a transaction: checked before any work, locked, written through a staging folder.

A command's files are written into a staging folder inside the result folder and moved into place only when all of
them are written, then ``run.json`` is rewritten to list them: the folder holds either the previous complete run or
the new complete one, and ``run.json`` always lists the files of the run it describes (a file it does not list is not
that run's). Before any work :func:`reserve` checks that the folder can be written, that it holds no results of
another config (unless ``fresh``: then, when the new run commits, the files tmesurv wrote there, as listed in
``run.json``, are removed, and nothing else), that no output would replace an input file, and takes a lock file so a
second run into the same folder is refused while the first one runs. The lock is re-entrant within one process, so
a command can reserve the folder before it computes and write into it afterwards.

The files that describe the study's cohort (the registry's ``study`` files: ``cohort.csv``, ``biomarkers.csv``) are
staged by every command that computes them but committed once: the first command of a folder moves them into place
and ``run.json`` lists them as the study's; a later command of the same study keeps the folder's copies (and refuses
to commit if its own differ, which one study's data and plan cannot give).
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tmesurv import __version__
from tmesurv.errors import InputError
from tmesurv.outputs.run_record import RUN_RECORD, RunRecord, read_run_record, record_run

LOCK_FILE = ".tmesurv.lock"
STAGING_PREFIX = ".tmesurv-staging-"


@dataclass(frozen=True)
class RunPlan:
    """What a command is about to write: which command, from which config, reading which files."""

    command: str
    config: dict
    config_path: Path | None
    study_hash: str
    inputs: tuple[Path, ...] = ()
    fresh: bool = False


@contextlib.contextmanager
def reserve(folder: Path | str, plan: RunPlan) -> Iterator[Path]:
    """Check the folder and hold its lock for the duration of the block (before the command computes anything).

    Raises
    ------
    InputError
        If the folder is a file, cannot be created or written, holds results of another config (without
        ``fresh``), holds an input file among the names the command writes, or another run holds its lock.
    """
    folder = Path(folder)
    created = not folder.exists()
    _require_writable(folder)
    try:
        with _lock(folder, plan.command):
            _require_same_config(folder, plan)
            _require_no_input_overwritten(folder, plan)
            yield folder
    finally:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()  # a run that wrote nothing leaves no folder behind


@contextlib.contextmanager
def staged(folder: Path | str, plan: RunPlan, seed: int | None = None) -> Iterator[StagedRun]:
    """Reserve the folder, give a staging folder to write into, and commit it when the block ends without error.

    On an error or an interrupt the staging folder is removed and the result folder is left as it was.
    """
    folder = Path(folder)
    with reserve(folder, plan):
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{plan.command}-", dir=folder))
        try:
            run = StagedRun(staging)
            yield run
            _commit(folder, staging, plan, seed)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class StagedRun:
    """Where to write: ``path`` is the staging folder, laid out as the result folder will be."""

    path: Path


def input_files(paths: Iterable[Path | str | None]) -> tuple[Path, ...]:
    """The existing files among ``paths`` (config, data files), resolved; folders contribute the files in them."""
    found: list[Path] = []
    for path in paths:
        if path is None:
            continue
        path = Path(path).resolve()
        if path.is_dir():
            found += [child for child in path.rglob("*") if child.is_file()]
        elif path.is_file():
            found.append(path)
    return tuple(found)


def _require_writable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"--out '{folder}' is a file, not a folder: give a folder for the results")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out '{folder}' cannot be created ({error.strerror}): choose another folder") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"--out '{folder}' is not writable: choose a folder you can write to")


@contextlib.contextmanager
def _lock(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder/.tmesurv.lock`` (re-entrant within this process); refuse a lock held by another live process."""
    path = folder / LOCK_FILE
    owner = _lock_owner(path)
    if owner == os.getpid():
        yield
        return
    if owner is not None and _alive(owner):
        raise InputError(
            f"--out '{folder}' is in use by another tmesurv run (process {owner}, lock file {LOCK_FILE}); wait for it "
            "to finish or write into another folder"
        )
    path.unlink(missing_ok=True)  # a lock left by a run that died
    try:
        handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        raise InputError(f"--out '{folder}' is in use by another tmesurv run that started just now") from None
    with os.fdopen(handle, "w") as lock:
        lock.write(f"{os.getpid()} {command}\n")
    for leftover in folder.glob(f"{STAGING_PREFIX}*"):  # staging folders of runs that were killed
        shutil.rmtree(leftover, ignore_errors=True)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _lock_owner(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _require_same_config(folder: Path, plan: RunPlan) -> None:
    """Refuse a folder holding results of another config, unless ``fresh``."""
    record = read_run_record(folder / RUN_RECORD)
    if record is not None and record.study_hash != plan.study_hash and not plan.fresh:
        raise InputError(
            f"--out '{folder}' holds results of another study (other data, analysis plan or validation model: study "
            f"{record.study_hash}, commands {', '.join(record.commands)}; this one is {plan.study_hash}): write into a "
            "new folder, or add --fresh to replace the files tmesurv wrote there"
        )


def _require_no_input_overwritten(folder: Path, plan: RunPlan, written: Iterable[Path] = ()) -> None:
    """Refuse when an input file sits where the command writes a result of the same name."""
    from tmesurv.outputs.files import REGISTRY

    names = {entry.name for entry in REGISTRY.values()} | {RUN_RECORD, "report.html"}
    targets = {(folder / name).resolve() for name in names} | {Path(path).resolve() for path in written}
    clash = sorted(str(path) for path in plan.inputs if Path(path).resolve() in targets)
    if clash:
        raise InputError(
            f"--out '{folder}' holds the input file '{clash[0]}', which this run would overwrite with a result of "
            "the same name: write the results into another folder"
        )


def _commit(folder: Path, staging: Path, plan: RunPlan, seed: int | None) -> None:
    """Move the staged files into place, remove this command's stale files, then rewrite ``run.json``.

    A study file the folder already holds for this study is kept, not rewritten (see :func:`_study_files_kept`).
    """
    from tmesurv.outputs.files import STUDY_FILES

    earlier = read_run_record(folder / RUN_RECORD)
    kept = _study_files_kept(folder, staging, earlier, plan)
    staged_files = sorted(
        path for path in staging.rglob("*") if path.is_file() and str(path.relative_to(staging)) not in kept
    )
    destinations = [folder / path.relative_to(staging) for path in staged_files]
    _require_no_input_overwritten(folder, plan, destinations)
    if earlier is not None:
        written = {str(path.relative_to(folder)) for path in destinations}
        for name in set(_replaced_files(earlier, plan)) - written:
            (folder / name).unlink(missing_ok=True)
    for source, destination in zip(staged_files, destinations, strict=True):
        destination.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source, destination)
    study = [path for path in destinations if str(path.relative_to(folder)) in STUDY_FILES]
    study += [folder / name for name in sorted(kept)]
    own = [path for path in destinations if str(path.relative_to(folder)) not in STUDY_FILES]
    record_run(
        folder, plan.command, plan.config, plan.config_path, plan.study_hash, seed=seed, files=own, study_files=study
    )


def _study_files_kept(folder: Path, staging: Path, earlier: RunRecord | None, plan: RunPlan) -> set[str]:
    """The staged study files (``cohort.csv``, ``biomarkers.csv``) that an earlier command of this study wrote.

    The folder's copy stays and the staged one is dropped: the cohort of one study has one description, written once.
    With ``fresh`` the staged copies replace the folder's.

    Raises
    ------
    InputError
        If a staged study file differs from the folder's: one study's data and plan describe one cohort, so the folder's
        copy was edited or written by another tmesurv version.
    """
    if earlier is None or earlier.study_hash != plan.study_hash or plan.fresh:
        return set()
    kept = set()
    for name in earlier.study_files:
        ours, theirs = staging / name, folder / name
        if not (ours.is_file() and theirs.is_file()):
            continue
        if not filecmp.cmp(ours, theirs, shallow=False):
            raise InputError(
                f"--out '{folder}' holds '{name}', which describes the cohort of this study (written by an earlier "
                f"command: {', '.join(earlier.commands)}), and this {plan.command} run's differs from it. One study "
                f"has one cohort description, so the file was edited, or written by another tmesurv version (run.json "
                f"says {earlier.tmesurv_version}, this is {__version__}): write into a new folder, or add --fresh to "
                "replace it"
            )
        kept.add(name)
    return kept


def _replaced_files(earlier: RunRecord, plan: RunPlan) -> list[str]:
    """The files of the earlier run that the new one replaces: this command's, or all of them for another config.

    A study file is replaced only by another study's run (with fresh): it is no command's.
    """
    if earlier.study_hash != plan.study_hash:  # only with fresh (see _require_same_config)
        return sorted(earlier.listed)
    return list(earlier.files.get(plan.command, ()))
