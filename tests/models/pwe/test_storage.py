"""posterior.nc: one node per fit, named after its analysis, read back in the original order."""

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
