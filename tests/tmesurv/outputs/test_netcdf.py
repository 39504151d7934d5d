"""write_netcdf writes the bytes xarray's to_netcdf writes, without importing dask's array or distributed modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import xarray as xr

from tmesurv.outputs.netcdf import no_dask_arrays, write_netcdf


def example() -> xr.Dataset:
    rng = np.random.default_rng(3)
    dataset = xr.Dataset(
        {
            "power": (("n", "method"), rng.random((3, 2))),
            "estimand": (("method",), np.array(["interaction", "prognostic"])),
            "mean_events": (("n",), np.array([10.5, np.nan, 30.25])),
        },
        coords={"n": [100, 200, 300], "method": ["cox_interaction", "median_split"]},
    )
    dataset["power"].attrs["description"] = "share of replicates that reject"
    dataset.attrs = {"study": "example", "replicates": 7, "alpha": 0.05}
    return dataset


def test_the_same_bytes_as_to_netcdf_and_the_same_dataset_back(tmp_path: Path) -> None:
    dataset = example()
    write_netcdf(dataset, tmp_path / "ours.nc")
    dataset.to_netcdf(tmp_path / "xarray.nc", engine="h5netcdf")
    assert (tmp_path / "ours.nc").read_bytes() == (tmp_path / "xarray.nc").read_bytes()
    xr.testing.assert_identical(xr.load_dataset(tmp_path / "ours.nc", engine="h5netcdf"), dataset)


def test_no_dask_array_or_distributed_import(tmp_path: Path) -> None:
    """In a fresh interpreter (the test session has imported dask): build, summarise and write a Dataset."""
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import xarray as xr
        from tmesurv.outputs.netcdf import no_dask_arrays, write_netcdf
        with no_dask_arrays():
            dataset = xr.Dataset({{"p": (("n",), np.arange(3.0))}}, coords={{"n": [1, 2, 3]}})
            dataset.to_dataframe()
            write_netcdf(dataset, {str(tmp_path / "p.nc")!r})
        print(sorted(name for name in ("dask.array", "distributed") if name in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
    assert xr.load_dataset(tmp_path / "p.nc", engine="h5netcdf")["p"].values.tolist() == [0.0, 1.0, 2.0]


def test_dask_arrays_are_still_recognised_after_the_block() -> None:
    import dask.array as da

    with no_dask_arrays():
        pass
    assert xr.DataArray(da.zeros(4, chunks=2)).chunks == ((2, 2),)
    with no_dask_arrays():  # dask.array is imported now: xarray's own checks inside the block too
        assert xr.DataArray(da.zeros(4, chunks=2)).chunks == ((2, 2),)
