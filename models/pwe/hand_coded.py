"""A hand-coded log posterior density (numba) as a nutpie model: one wrapper for every model that has one.

A model whose log posterior and gradient are written in numba (the proportional-hazards and time-varying PWE model,
:mod:`tmesurv.models.pwe.posterior`; the mixture-cure model, :mod:`tmesurv.models.pwe.cure.density`) describes it as a
:class:`HandCodedDensity` -- the density, the layout of its flat unconstrained vector (PyMC's value variables in order,
the log of a scale named ``<name>_log__``), how a point expands into one draw's values and where PyMC would start --
and :func:`nutpie_pyfunc_model` gives the model ``nutpie.sample`` samples, with nothing to compile.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import numpy as np
from nutpie.compiled_pyfunc import PyFuncModel, from_pyfunc

LOG_SUFFIX = "_log__"  # PyMC's name of a positive parameter's log


class DensityLayout(Protocol):
    """Which parameters a model's flat unconstrained vector holds (names and lengths in order) and its dimensions."""

    @property
    def n_terms(self) -> int:
        """Design columns (the ``term`` axis)."""
        ...

    @property
    def n_intervals(self) -> int:
        """Baseline intervals (the ``interval`` axis)."""
        ...

    @property
    def parameters(self) -> list[tuple[str, int]]:
        """Names (PyMC's value variables) and lengths, in the vector's order."""
        ...

    @property
    def size(self) -> int:
        """Length of the unconstrained vector."""
        ...


@dataclass(frozen=True)
class HandCodedDensity:
    """A model's hand-coded log posterior and what nutpie needs around it.

    Attributes
    ----------
    layout
        The unconstrained vector's parameters.
    log_density
        The numba function ``log_density(point, *constants, *data arguments) -> (value, gradient)``.
    constants
        Its arguments after the point that are no data (the baseline form, the prior's scales).
    data
        The arrays (and scalars) nutpie hands to the density and to ``expand`` by name.
    data_arguments
        The names of ``data`` the density takes, in its order of arguments.
    expand
        ``expand(point, layout, **data)``: one draw's values -- the parameters (:func:`parameter_values`) and the
        PyMC model's deterministics -- in the order of ``derived_shapes`` after the parameters.
    derived_shapes
        Names and shapes of ``expand``'s values after the parameters.
    scalars
        The values without an axis (among the parameters and ``derived_shapes``).
    dims
        The named axes (``term``, ``interval``) of the values that have them.
    support
        Each parameter's starting value (PyMC's support point; 0 for a parameter not named).
    """

    layout: DensityLayout
    log_density: Callable[..., tuple[float, np.ndarray]]
    constants: tuple
    data: Mapping[str, np.ndarray | float]
    data_arguments: Sequence[str]
    expand: Callable[..., dict[str, np.ndarray]]
    derived_shapes: list[tuple[str, tuple[int, ...]]]
    scalars: Sequence[str]
    dims: Mapping[str, tuple[str, ...]]
    support: Mapping[str, float]


def nutpie_pyfunc_model(density: HandCodedDensity) -> PyFuncModel:
    """The model of ``density`` for ``nutpie.sample``: nothing to compile, a new cohort gets a new model.

    The draws hold the parameters (a scale on its own scale, not its log) and the expanded values; the ``term`` axis
    is labelled ``term_<j>`` (the fit relabels it) and ``interval`` ``0, 1, ...``. The initial point is PyMC's: the
    support point jittered by Uniform(-1, 1) (:func:`jittered_initial_point`).
    """
    layout = density.layout
    log_density, constants, arguments = density.log_density, density.constants, tuple(density.data_arguments)

    def make_logp_fn():
        def logp(point, **arrays):
            return log_density(point, *constants, *(arrays[name] for name in arguments))

        return logp

    def make_expand_fn(seed1, seed2, chain):
        return partial(density.expand, layout=layout)

    names, shapes = zip(*parameter_shapes(layout, density.scalars), *density.derived_shapes, strict=True)
    return from_pyfunc(
        layout.size,
        make_logp_fn,
        make_expand_fn,
        [np.dtype("float64")] * len(names),
        list(shapes),
        list(names),
        coords={"term": [f"term_{j}" for j in range(layout.n_terms)], "interval": np.arange(layout.n_intervals)},
        dims={name: dims for name, dims in density.dims.items() if name in names},
        shared_data=dict(density.data),
        make_initial_point_fn=partial(jittered_initial_point, layout=layout, support=dict(density.support)),
    )


def parameter_shapes(layout: DensityLayout, scalars: Sequence[str]) -> list[tuple[str, tuple[int, ...]]]:
    """Names (a log's without ``_log__``) and shapes of the parameters in a draw, in :func:`parameter_values`' order."""
    shapes = []
    for name, length in layout.parameters:
        expanded = name.removesuffix(LOG_SUFFIX)
        shapes.append((expanded, () if expanded in scalars else (length,)))
    return shapes


def parameter_values(point: np.ndarray, layout: DensityLayout, scalars: Sequence[str]) -> dict[str, np.ndarray]:
    """The parameters of an unconstrained point by name, a log exponentiated (named without ``_log__``)."""
    values, position = {}, 0
    for name, length in layout.parameters:
        value = point[position : position + length]
        values[name.removesuffix(LOG_SUFFIX)] = np.exp(value[0]) if name.endswith(LOG_SUFFIX) else value.copy()
        position += length
    for name in scalars:
        if name in values:
            values[name] = np.asarray(values[name]).reshape(())
    return values


def jittered_initial_point(seed: int, layout: DensityLayout, support: Mapping[str, float]) -> np.ndarray:
    """PyMC's starting point for nutpie: each parameter's support point, jittered by Uniform(-1, 1)."""
    centre = np.concatenate([np.full(length, support.get(name, 0.0)) for name, length in layout.parameters])
    return centre + np.random.default_rng(seed).uniform(-1.0, 1.0, layout.size)
