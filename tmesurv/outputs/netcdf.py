"""Writing an in-memory xarray Dataset as NetCDF-4 (h5netcdf) without importing dask's array and distributed modules.

xarray asks dask whether any of its data is a dask array, importing ``dask.array`` to answer (about 0.4 s on 2
cores), and ``Dataset.to_netcdf`` asks which dask scheduler is active, importing ``dask.distributed`` (about 0.3 s).
For a power study that ran in process, that is a third of ``tmesurv power``'s wall time, to learn that nothing is a
dask array (and building an index asks whether it is a dask collection, importing ``dask.base``, about 0.1 s). While
``dask.array`` (``dask``) has not been imported, no dask array (collection) can exist, so the answer is known:
:func:`no_dask_arrays` gives it to xarray without the import, and :func:`write_netcdf` writes through xarray's
h5netcdf store directly (what ``to_netcdf(engine="h5netcdf")`` does for a Dataset without dask arrays, without its
question about the dask scheduler): the same bytes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import xarray as xr


class _NoDaskArrays:
    """xarray's record of the ``dask`` duck-array module while ``dask.array`` is not imported: no array type."""

    module = None
    type = ()
    available = False


@contextmanager
def no_dask_arrays() -> Iterator[None]:
    """Within the block, xarray's checks for dask arrays answer "none" without importing ``dask.array``.

    Only while ``dask.array`` is not imported (then no dask array exists); otherwise, or if xarray no longer keeps
    its cache of duck-array modules, the block runs with xarray's own checks. Likewise its check for dask
    collections (which imports ``dask.base`` for every index it builds) answers "none" while ``dask`` is not imported.
    Both are undone afterwards, so a later dask array is recognised as usual.
    """
    with _no_dask_array_module(), _no_dask_collections():
        yield


@contextmanager
def _no_dask_array_module() -> Iterator[None]:
    try:
        from xarray.namedarray import pycompat

        cache = pycompat._cached_duck_array_modules
    except (ImportError, AttributeError):  # another xarray: its own checks, only slower
        cache = None
    if cache is None or "dask.array" in sys.modules or "dask" in cache:
        yield
        return
    entry = cache["dask"] = _NoDaskArrays()
    try:
        yield
    finally:
        if cache.get("dask") is entry:
            del cache["dask"]


def _not_a_dask_collection(value: object) -> bool:
    return False


@contextmanager
def _no_dask_collections() -> Iterator[None]:
    try:
        from xarray.namedarray import utils
    except ImportError:  # another xarray: its own check
        utils = None
    if "dask" in sys.modules or not callable(getattr(utils, "is_dask_collection", None)):
        yield
        return
    original, utils.is_dask_collection = utils.is_dask_collection, _not_a_dask_collection
    try:
        yield
    finally:
        if utils.is_dask_collection is _not_a_dask_collection:
            utils.is_dask_collection = original


def write_netcdf(dataset: xr.Dataset, path: Path) -> None:
    """Write ``dataset`` (in memory, no dask arrays) to ``path`` as NetCDF-4 through h5netcdf.

    The file is the one ``dataset.to_netcdf(path, engine="h5netcdf")`` writes.
    """
    from xarray.backends import H5NetCDFStore
    from xarray.backends.locks import HDF5_LOCK

    with no_dask_arrays():  # the lock: xarray's default asks for the dask scheduler; HDF5's own lock is what counts
        store = H5NetCDFStore.open(path, mode="w", lock=HDF5_LOCK)
        try:
            dataset.dump_to_store(store)
        finally:
            store.close()
