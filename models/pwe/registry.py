"""The Bayesian survival models that ``bayes.model`` and ``bayes.compare`` name: one registration each.

A model is a :class:`BayesModel`: its config name, a one-line description (for notes and methods), how to fit it and
how to compute its per-patient log-likelihood from a fit (for PSIS-LOO,
:func:`~tmesurv.models.pwe.compare.add_loo`). Both functions are given as ``"module:function"`` and imported when first
called, so the config (which checks the names) stays light. A new model plugs in with one :func:`register` call here;
every Bayesian analysis (treatment, interactions, subgroups), the comparison by LOO and ``posterior.nc`` then take it.

The contract of the two functions:

* ``fit(time, event, design, settings, sampler, *, log_likelihood=False) -> arviz.InferenceData`` with the groups
  ``posterior`` (``coef`` over ``term`` on the design's column scale, and whatever the model needs to be re-scored),
  ``sample_stats`` and ``constant_data`` (``time``, ``event``, ``design`` over ``patient`` and ``term``); with
  ``log_likelihood=True`` also ``log_likelihood`` (``event``: chain x draw x patient, float32);
* ``log_likelihood(idata, rows) -> numpy.ndarray``: the float64 log-likelihood of the patients ``rows`` (a slice of
  ``constant_data.patient``) at every draw, shape ``(chain, draw, len(rows))``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

PH = "ph"
TIME_VARYING = "time_varying"
CURE = "cure"


@dataclass(frozen=True)
class BayesModel:
    """One Bayesian survival model that the ``bayes`` section can name.

    Attributes
    ----------
    name
        The name in ``bayes.model`` and ``bayes.compare``.
    description
        What the model assumes, in one line (notes, methods text).
    fit_function, log_likelihood_function
        ``"module:function"`` of the fit and of the per-patient log-likelihood (see the module docstring).
    settings_update
        Values of :class:`~tmesurv.models.pwe.settings.PweSettings` the model fixes (e.g. ``time_varying``).
    """

    name: str
    description: str
    fit_function: str
    log_likelihood_function: str
    settings_update: Mapping[str, object] = field(default_factory=dict)

    def fit(self, time, event, design, settings, sampler, **options):
        """Fit the model (see the module docstring), with ``settings`` updated by :attr:`settings_update`."""
        settings = settings.model_copy(update=dict(self.settings_update))
        return _imported(self.fit_function)(time, event, design, settings, sampler, **options)

    def log_likelihood(self, idata, rows: slice):
        """Call the model's per-patient log-likelihood (see the module docstring)."""
        return _imported(self.log_likelihood_function)(idata, rows)


_MODELS: dict[str, BayesModel] = {}
MODELS: Mapping[str, BayesModel] = MappingProxyType(_MODELS)
"""The registered models by name, in registration order."""


def register(model: BayesModel) -> BayesModel:
    """Add a model to :data:`MODELS` (its name must be new)."""
    if model.name in _MODELS:
        raise ValueError(f"a Bayesian model named '{model.name}' is registered already")
    _MODELS[model.name] = model
    return model


def bayes_model(name: str) -> BayesModel:
    """The registered model called ``name``.

    Raises
    ------
    ValueError
        Naming the registered models, if there is none of that name.
    """
    if name not in _MODELS:
        raise ValueError(f"unknown Bayesian model '{name}'; the models are: {', '.join(_MODELS)}")
    return _MODELS[name]


def _imported(path: str) -> Callable:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


register(
    BayesModel(
        PH,
        "piecewise-exponential proportional hazards: one treatment hazard ratio for the whole follow-up",
        "tmesurv.models.pwe.fit:fit_pwe",
        "tmesurv.models.pwe.fit:pointwise_log_likelihood",
        {"time_varying": False},
    )
)
register(
    BayesModel(
        TIME_VARYING,
        "piecewise-exponential with a time-varying treatment effect: a treatment hazard ratio per baseline interval, "
        "shrunk toward proportional hazards by priors.time_varying_sd",
        "tmesurv.models.pwe.fit:fit_pwe",
        "tmesurv.models.pwe.fit:pointwise_log_likelihood",
        {"time_varying": True},
    )
)
register(
    BayesModel(
        CURE,
        "mixture cure: a cured fraction (logistic in the design's terms: odds ratios of cure) that never has the "
        "event, and a piecewise-exponential proportional-hazards model for the uncured (HRs among the uncured)",
        "tmesurv.models.pwe.cure.fit:fit_cure",
        "tmesurv.models.pwe.cure.fit:pointwise_log_likelihood",
        {"time_varying": False},
    )
)
