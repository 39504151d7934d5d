"""posterior.nc: one node per fit, named after its analysis, read back in the original order."""

import json
from urllib.parse import unquote

import arviz as az
import numpy as np
import pytest
import xarray as xr

from tmesurv.models.pwe.storage import PweFit, fit_node_path, load_posteriors, save_posteriors

# Awkward but real subgroup labels: a combined subgroup (spaces, &), its complement (parentheses), a covariate level
# with a slash, a percent sign, and a SAS-style "." level; listed out of alphabetical order on purpose.
FITS = [
    ("efs", "treatment", "all"),
    ("efs", "interaction", "b_cell_ges"),
    ("efs", "subgroup", "cd19_hscore=low & sii=high"),
    ("efs", "subgroup", "not (cd19_hscore=low & sii=high)"),
    ("efs", "subgroup", "ecog=0/1"),
    ("efs", "subgroup", "ldh=50%"),
    ("efs", "subgroup", "."),
    ("efs", "subgroup", "b_cell_ges=high"),
    ("os", "treatment", "all"),
]


def fit(number: int, endpoint: str, analysis: str, subgroup: str) -> PweFit:
    coef = np.full((2, 3, 1), float(number))  # each fit's draws say which fit it is
    idata = az.from_dict(posterior={"coef": coef}, coords={"term": ["arm"]}, dims={"coef": ["term"]})
    return PweFit(endpoint, analysis, subgroup, idata)


def test_nodes_are_named_after_the_analysis_and_fits_come_back_in_order(tmp_path):
    path = save_posteriors(tmp_path / "posterior.nc", [fit(i, *keys) for i, keys in enumerate(FITS)], {"seed": 3})
    config, fits = load_posteriors(path)
    assert config == {"seed": 3}
    assert [(f.endpoint, f.analysis, f.subgroup) for f in fits] == FITS
    assert [float(f.idata.posterior["coef"].mean()) for f in fits] == list(range(len(FITS)))
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        nodes = [str(node.path).lstrip("/") for node in tree.subtree if "posterior" in node.children]
        attrs = {str(node.path).lstrip("/"): dict(node.attrs) for node in tree.subtree if "posterior" in node.children}
    assert "efs/treatment/all" in nodes
    assert "efs/interaction/b_cell_ges" in nodes
    assert "efs/subgroup/b_cell_ges=high" in nodes
    assert "efs/subgroup/cd19_hscore=low%20&%20sii=high" in nodes
    assert "efs/subgroup/ecog=0%2F1" in nodes
    assert "efs/subgroup/%2E" in nodes
    assert len(set(nodes)) == len(FITS)
    for keys in FITS:  # every part decodes back, and the exact strings are the node's attributes
        node = fit_node_path(*keys)
        assert tuple(unquote(part) for part in node.split("/")) == keys
        assert (attrs[node]["endpoint"], attrs[node]["analysis"], attrs[node]["subgroup"]) == keys


def test_two_fits_of_one_analysis_are_refused(tmp_path):
    with pytest.raises(ValueError, match="two fits of efs subgroup a=b"):
        save_posteriors(tmp_path / "posterior.nc", [fit(0, "efs", "subgroup", "a=b")] * 2, {})
    assert not (tmp_path / "posterior.nc").exists()


def test_every_variable_is_compressed_and_draws_are_float32_within_their_rounding(tmp_path):
    import h5py

    rng = np.random.default_rng(0)
    coef = rng.normal(-0.3, 0.02, size=(2, 50, 1)) * 10.0 ** rng.integers(-8, 8, size=(2, 50, 1))
    energy = rng.normal(-5.0e4, 3.0, size=(2, 50))  # a large cohort's energies: float32 would lose their differences
    idata = az.from_dict(
        posterior={"coef": coef},
        sample_stats={"energy": energy},
        constant_data={"time": rng.exponential(10.0, 7)},
        coords={"term": ["arm"]},
        dims={"coef": ["term"], "time": ["patient"]},
    )
    idata.add_groups(log_likelihood={"event": rng.normal(size=(2, 50, 7)).astype(np.float32)})
    idata.add_groups(loo=xr.Dataset({"loo_i": ("patient", rng.normal(-2.0, 0.5, 7))}, attrs={"elpd_loo": -14.25}))
    path = save_posteriors(tmp_path / "posterior.nc", [PweFit("efs", "treatment", "all", idata)], {})
    with h5py.File(path) as file:
        node = file["efs/treatment/all"]
        stored = {name: node[name] for name in ("posterior/coef", "posterior/draw", "sample_stats/energy",
                                                "constant_data/time", "log_likelihood/event", "loo/loo_i")}  # fmt: skip
        assert all((dataset.compression, dataset.shuffle) == ("gzip", True) for dataset in stored.values())
        dtypes = {name: dataset.dtype for name, dataset in stored.items()}
    assert dtypes == {
        "posterior/coef": np.float32,
        "posterior/draw": np.int64,
        "sample_stats/energy": np.float64,
        "constant_data/time": np.float64,
        "log_likelihood/event": np.float32,
        "loo/loo_i": np.float64,
    }
    _, (loaded,) = load_posteriors(path)
    original, back = idata.posterior["coef"].to_numpy(), loaded.idata.posterior["coef"].to_numpy()
    assert back.dtype == np.float64  # read back for computing in float64
    np.testing.assert_array_equal(back, original.astype(np.float32))  # the float32 rounding, nothing else
    assert np.max(np.abs(back - original) / np.abs(original)) <= 2.0**-24  # half a float32 ulp, relative
    exact = (("sample_stats", "energy"), ("constant_data", "time"), ("log_likelihood", "event"), ("loo", "loo_i"))
    for group, name in exact:
        np.testing.assert_array_equal(loaded.idata[group][name].to_numpy(), idata[group][name].to_numpy())  # exact
    assert loaded.idata.log_likelihood["event"].dtype == np.float32
    assert loaded.idata.loo.attrs["elpd_loo"] == -14.25
    assert (loaded.model, loaded.main) == ("ph", True)


def test_a_file_from_before_models_were_named_reads_its_model_from_the_fit(tmp_path):
    coef_time = np.zeros((2, 3, 4))
    idata = az.from_dict(posterior={"coef_time": coef_time}, dims={"coef_time": ["interval"]})
    node = idata.to_datatree()
    node.attrs.update({"endpoint": "efs", "analysis": "treatment", "subgroup": "all"})  # no model, no main
    tree = xr.DataTree.from_dict({"efs/treatment/all": node})
    tree.attrs.update({"fits": '["efs/treatment/all"]', "config": "{}"})
    tree.to_netcdf(tmp_path / "old.nc", engine="h5netcdf")
    _, (fit,) = load_posteriors(tmp_path / "old.nc")
    assert (fit.model, fit.main) == ("time_varying", True)


def test_a_compared_model_gets_a_node_of_its_own(tmp_path):
    fits = [fit(0, "efs", "treatment", "all"), PweFit("efs", "treatment", "all", fit(1, "efs", "x", "y").idata,
                                                      "time_varying", main=False)]  # fmt: skip
    path = save_posteriors(tmp_path / "posterior.nc", fits, {})
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        assert tree["compared/time_varying/efs/treatment/all"].attrs["model"] == "time_varying"
    _, loaded = load_posteriors(path)
    assert [(f.model, f.main, float(f.idata.posterior["coef"].mean())) for f in loaded] == [
        ("ph", True, 0.0),
        ("time_varying", False, 1.0),
    ]


def test_a_sampler_setting_recorded_as_a_mapping_is_kept_as_json(tmp_path):
    # nutpie 0.16.11 records its settings as a nested dict in sample_stats.attrs, which NetCDF cannot hold
    settings = {"sampler": "nuts", "adapt_options": {"target_accept": 0.9}}
    one = fit(0, "efs", "treatment", "all")
    one.idata.posterior.attrs["inference_library_settings"] = settings
    path = save_posteriors(tmp_path / "posterior.nc", [one], {"seed": 3})
    _, (loaded,) = load_posteriors(path)
    assert json.loads(loaded.idata.posterior.attrs["inference_library_settings"]) == settings
