"""The one file that keeps every posterior of a Bayesian analysis: ``posterior.nc``, a NetCDF tree of InferenceData.

Each fit is the node ``<endpoint>/<analysis>/<subgroup>`` (for example ``efs/treatment/all``,
``efs/interaction/b_cell_ges``, ``efs/subgroup/b_cell_ges=high``), its InferenceData groups below it. A name part is
percent-encoded where a path or a NetCDF name would misread it (``/``, ``%``, spaces and other characters outside
letters, digits and ``_ . - ~ = & ( ) + ,``), so distinct fits get distinct nodes and ``urllib.parse.unquote`` gives the
part back; the exact strings are also the node's ``endpoint``, ``analysis`` and ``subgroup`` attributes. The root holds
the fits' node paths in their original order (``fits``, JSON), the analysis config (``config``, JSON), the tmesurv
version and the model name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import arviz as az
import xarray as xr

from tmesurv import __version__
from tmesurv.outputs.atomic import write_atomically

NODE_SAFE = "=&()+,"  # kept as they are in node names, besides letters, digits and _ . - ~
FITS_ATTR = "fits"


@dataclass(frozen=True)
class PweFit:
    """One fitted model and what it answers."""

    endpoint: str
    analysis: str
    subgroup: str
    idata: az.InferenceData


def fit_node_path(endpoint: str, analysis: str, subgroup: str) -> str:
    """The node of a fit in ``posterior.nc``: ``<endpoint>/<analysis>/<subgroup>``, each part percent-encoded."""
    return "/".join(_node_name(part) for part in (endpoint, analysis, subgroup))


def save_posteriors(path: Path, fits: list[PweFit], config: dict) -> Path:
    """Write every fit into one NetCDF tree (see the module docstring).

    Parameters
    ----------
    path
        The ``posterior.nc`` file (written atomically).
    fits
        The fitted models, each a distinct (endpoint, analysis, subgroup).
    config
        The analysis config as plain data; stored as JSON in the root's ``config`` attribute.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        If two fits answer the same (endpoint, analysis, subgroup).
    """
    nodes = {}
    for fit in fits:
        node_path = fit_node_path(fit.endpoint, fit.analysis, fit.subgroup)
        if node_path in nodes:
            raise ValueError(f"two fits of {fit.endpoint} {fit.analysis} {fit.subgroup}: each needs a node of its own")
        node = fit.idata.to_datatree()
        node.attrs.update({"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup})
        nodes[node_path] = node
    tree = xr.DataTree.from_dict(nodes)
    tree.attrs.update(
        {
            FITS_ATTR: json.dumps(list(nodes)),
            "config": json.dumps(config),
            "tmesurv_version": __version__,
            "model": "piecewise-exponential",
        }
    )
    return write_atomically(path, lambda temporary: tree.to_netcdf(temporary, engine="h5netcdf"))


def load_posteriors(path: Path) -> tuple[dict, list[PweFit]]:
    """Read a ``posterior.nc`` written by :func:`save_posteriors`.

    Returns
    -------
    tuple[dict, list[PweFit]]
        The config it was fitted with, and the fits in their original order.
    """
    with xr.open_datatree(path, engine="h5netcdf") as tree:
        tree = tree.load()
    fits = []
    for node_path in json.loads(tree.attrs[FITS_ATTR]):
        node = tree[node_path]
        idata = az.InferenceData.from_datatree(node)
        fits.append(PweFit(node.attrs["endpoint"], node.attrs["analysis"], node.attrs["subgroup"], idata))
    return json.loads(tree.attrs["config"]), fits


def _node_name(text: str) -> str:
    """``text`` as one node name: percent-encoded outside the safe characters; ``.`` and ``..`` encoded too."""
    name = quote(text, safe=NODE_SAFE)
    return name.replace(".", "%2E") if name in (".", "..") else name
