"""The one file that keeps every posterior of a Bayesian analysis: ``posterior.nc``, a NetCDF tree of InferenceData.

Each fit of the analyses' model (``bayes.model``) is the node ``<endpoint>/<analysis>/<subgroup>`` (for example
``efs/treatment/all``, ``efs/interaction/b_cell_ges``, ``efs/subgroup/b_cell_ges=high``), its InferenceData groups
below it; a fit of another model, made only to compare models by LOO (``bayes.compare``), is the node
``compared/<model>/<endpoint>/<analysis>/<subgroup>``. A name part is
percent-encoded where a path or a NetCDF name would misread it (``/``, ``%``, spaces and other characters outside
letters, digits and ``_ . - ~ = & ( ) + ,``), so distinct fits get distinct nodes and ``urllib.parse.unquote`` gives the
part back; the exact strings are also the node's ``endpoint``, ``analysis``, ``subgroup`` and ``model`` attributes (and
``main``: 1 for a fit of ``bayes.model``). The root holds the fits' node paths in their original order (``fits``, JSON),
the analysis config (``config``, JSON), the tmesurv version and the model family's name.

Every variable and coordinate is compressed (zlib level :data:`COMPRESSION_LEVEL`, with HDF5's shuffle filter). The
float64 draws of the groups :data:`FLOAT32_GROUPS` (the posterior draws) are stored as float32: a relative rounding of
at most 2**-24 (6e-8), far below the Monte Carlo error of 4,000 draws, for half the bytes; they are read back as
float64 (:func:`load_posteriors`), so a reloaded fit's summaries agree with ``bayes.csv`` to about 1e-7 relative. The
sampler statistics (energies of large cohorts need float64 for the BFMI), the fit's inputs (``constant_data``, for
re-scoring), the pointwise LOO (models are compared by differences of its sums) and coordinates keep their precision
bit for bit. A fit keeps its PSIS-LOO (group
``loo``: pointwise elpd and Pareto k, n values; the totals exact as attributes) but not the chains x draws x patients
log-likelihood, unless it was asked for (``bayes.store_log_likelihood``; then float32, see
:func:`tmesurv.models.pwe.fit.fit_pwe`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import arviz as az
import numpy as np
import xarray as xr

from tmesurv import __version__
from tmesurv.models.pwe.registry import PH, TIME_VARYING
from tmesurv.outputs.atomic import write_atomically

NODE_SAFE = "=&()+,"  # kept as they are in node names, besides letters, digits and _ . - ~
FITS_ATTR = "fits"
COMPARED_NODE = "compared"
COMPRESSION_LEVEL = 4  # zlib: level 4 compresses nearly as well as 9, several times faster
FLOAT32_GROUPS = ("posterior",)  # float64 values stored as float32 (see the module docstring)


@dataclass(frozen=True)
class PweFit:
    """One fitted model and what it answers.

    ``model`` names the registered model it is a fit of (:mod:`tmesurv.models.pwe.registry`); ``main`` is False for a
    fit made only to compare models by LOO (a model of ``bayes.compare`` other than ``bayes.model``).
    """

    endpoint: str
    analysis: str
    subgroup: str
    idata: az.InferenceData
    model: str = PH
    main: bool = True


def fit_node_path(endpoint: str, analysis: str, subgroup: str, model: str | None = None) -> str:
    """The node of a fit in ``posterior.nc``: ``<endpoint>/<analysis>/<subgroup>``, each part percent-encoded.

    With ``model`` (a fit made only for the comparison by LOO): ``compared/<model>/<endpoint>/<analysis>/<subgroup>``.
    """
    parts = (endpoint, analysis, subgroup) if model is None else (COMPARED_NODE, model, endpoint, analysis, subgroup)
    return "/".join(_node_name(part) for part in parts)


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
        node_path = fit_node_path(fit.endpoint, fit.analysis, fit.subgroup, None if fit.main else fit.model)
        if node_path in nodes:
            raise ValueError(f"two fits of {fit.endpoint} {fit.analysis} {fit.subgroup}: each needs a node of its own")
        node = fit.idata.to_datatree()
        keys = {"endpoint": fit.endpoint, "analysis": fit.analysis, "subgroup": fit.subgroup, "model": fit.model}
        node.attrs.update(keys | {"main": int(fit.main)})
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
    for node in tree.subtree:
        node.attrs = netcdf_attrs(node.attrs)
    encoding = {node.path: compressed(node.dataset, float32=node.name in FLOAT32_GROUPS) for node in tree.subtree
                if node.has_data}  # fmt: skip
    return write_atomically(path, lambda temporary: tree.to_netcdf(temporary, engine="h5netcdf", encoding=encoding))


def netcdf_attrs(attrs: dict) -> dict:
    """``attrs`` with every mapping value as JSON text: NetCDF attributes hold only text, numbers and arrays.

    Samplers record their settings as nested dictionaries in some versions (e.g. nutpie's
    ``inference_library_settings``); they are kept, as JSON, instead of failing the write.
    """
    return {
        key: json.dumps(value, default=str) if isinstance(value, Mapping) else value for key, value in attrs.items()
    }


def compressed(dataset: xr.Dataset, *, float32: bool = False) -> dict[str, dict]:
    """The NetCDF encoding that compresses every variable of ``dataset`` (h5netcdf: zlib with shuffle).

    With ``float32``, float64 data variables are stored as float32 (coordinates keep their type).
    """
    encoding = {name: {"zlib": True, "complevel": COMPRESSION_LEVEL, "shuffle": True} for name in dataset.variables}
    if float32:
        for name, variable in dataset.data_vars.items():
            if variable.dtype == np.float64:
                encoding[name]["dtype"] = "float32"
    return encoding


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
        idata = _as_float64(az.InferenceData.from_datatree(node))
        keys = (node.attrs["endpoint"], node.attrs["analysis"], node.attrs["subgroup"])
        # a file written before models were named: its fits are of one model, time-varying if they have coef_time
        model = node.attrs.get("model", TIME_VARYING if "coef_time" in idata.posterior else PH)
        fits.append(PweFit(*keys, idata, model=str(model), main=bool(node.attrs.get("main", 1))))
    return json.loads(tree.attrs["config"]), fits


def _as_float64(idata: az.InferenceData) -> az.InferenceData:
    """The groups stored as float32 (:data:`FLOAT32_GROUPS`) back in float64, for computing with them."""
    for group in FLOAT32_GROUPS:
        if group in idata.groups():
            dataset = idata[group]
            for name, variable in dataset.data_vars.items():
                if variable.dtype == np.float32:
                    dataset[name] = variable.astype(np.float64)
    return idata


def _node_name(text: str) -> str:
    """``text`` as one node name: percent-encoded outside the safe characters; ``.`` and ``..`` encoded too."""
    name = quote(text, safe=NODE_SAFE)
    return name.replace(".", "%2E") if name in (".", "..") else name
