"""The sampler's posterior means against exact quadrature: a two-interval PWE model with the random-walk term.

A small cohort (24 patients, 11 events, arm only) fitted by :func:`~tmesurv.models.pwe.fit.fit_pwe` with the default
priors and two baseline intervals: the posterior has four dimensions, the arm's log HR per sd ``b``
(``Normal(0, 10)``), the random-walk scale ``s`` (``Gamma(2, rate 2)``), the first level ``a_1``
(``Normal(crude log rate, 10)``) and the second ``a_2 ~ Normal(a_1, s)``. The quadrature writes that posterior from
scratch (scipy's densities, the exposures per arm and interval by hand; nothing of ``tmesurv``'s likelihood or
density), integrates ``s`` out by adaptive quadrature for every step ``a_2 - a_1`` on the grid, and sums the rest on
a tensor grid over ``(b, a_1, a_2 - a_1)`` whose edges carry no mass (asserted below 1e-6). The grid's error is
second order in its spacing (a kink of the step's marginal prior at 0); it is bounded by the change between 60 and 80
points per axis, asserted below 5% of the Monte Carlo standard error. The sampler's means (4 chains of 1,500 draws)
must lie within 4 Monte Carlo standard errors (ArviZ's ``mcse``; a correct sampler fails a quantity with probability
about 6e-5), and each MCSE must be below 3% of the posterior sd, so that the check is sharp. Measured: exact means
-0.4975 (b), 0.8292 (s), -3.0438 (a_2); sampled -0.5035, 0.8311, -3.0449, i.e. 1.2, 0.2 and 0.2 MCSEs away. Power: a
gamma hyperprior of mean 2 instead of 1 moves the exact mean of s to 1.455 (57 MCSEs) and of a_2 by 0.06 (11 MCSEs).
"""

import math

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, stats

from tmesurv.models.pwe.fit import fit_pwe
from tmesurv.models.pwe.settings import PweSettings, SamplerSettings

SETTINGS = PweSettings(intervals=2)
SAMPLER = SamplerSettings(draws=1500, tune=500, chains=4, seed=5)


def _cohort() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(11)
    arm = (np.arange(24) % 2).astype(float)
    event_time = rng.exponential(1 / (0.1 * np.exp(-0.6 * arm)))
    censor = rng.uniform(5, 20, arm.size)
    return np.minimum(event_time, censor), (event_time <= censor).astype(float), pd.DataFrame({"arm": arm})


class Posterior:
    """The posterior on ``(b, a_1, a_2)`` with ``s`` integrated out, written from the model's definition.

    The step ``a_2 - a_1 = d`` has the prior ``g(d) = int Normal(d; 0, s) Gamma(s; 2, rate 2) ds`` and the posterior
    mean of ``s`` given the levels is ``h(d) = int s Normal(d; 0, s) Gamma(s) ds / g(d)``; both are one-dimensional
    integrals (scipy's ``quad``), evaluated at every step the grid holds.
    """

    def __init__(self, time: np.ndarray, event: np.ndarray, arm: np.ndarray) -> None:
        self.cut = float(np.quantile(time[event == 1], 0.5))
        z = (arm - arm.mean()) / arm.std()
        self.events = np.array([event[time <= self.cut].sum(), event[time > self.cut].sum()])
        self.event_z = float(event @ z)
        self.arm_z = np.array([z[arm == 0][0], z[arm == 1][0]])  # standardised control, treated
        follow_up = np.stack([np.minimum(time, self.cut), np.maximum(time - self.cut, 0.0)])  # (interval, patient)
        self.exposure = np.stack([follow_up[:, arm == 0].sum(axis=1), follow_up[:, arm == 1].sum(axis=1)])  # arm, k
        self.centre = float(np.log(event.sum() / time.sum()))

    def log_likelihood_and_level_priors(self, b, a1, a2):
        """All but the step's prior: the likelihood, ``Normal(0, 10)`` on ``b``, ``Normal(centre, 10)`` on a_1."""
        control, treated = np.exp(b * self.arm_z[0]), np.exp(b * self.arm_z[1])
        exposure = [control * self.exposure[0, k] + treated * self.exposure[1, k] for k in range(2)]
        value = self.events[0] * a1 + self.events[1] * a2 + b * self.event_z
        value = value - np.exp(a1) * exposure[0] - np.exp(a2) * exposure[1]
        return value + stats.norm.logpdf(b, 0, 10) + stats.norm.logpdf(a1, self.centre, 10)

    def means(self, points: int) -> tuple[dict[str, float], float]:
        """Posterior means of ``b``, ``s`` and ``a_2`` on a grid of ``points`` values of ``b`` and of ``a_1`` and
        ``4 points + 1`` of the step ``d`` (0 on the grid: ``g`` has a kink there), and the largest mass on an edge."""
        b, a1, step = self._axes(points)
        step_prior, step_sd_mean = np.array([_step_integrals(value) for value in step]).T
        log_density = self.log_likelihood_and_level_priors(
            b[:, None, None], a1[None, :, None], a1[None, :, None] + step[None, None, :]
        )
        log_density = log_density + np.log(step_prior)[None, None, :]
        weight = np.exp(log_density - log_density.max())
        weight /= weight.sum()
        values = {"b": b[:, None, None], "s": step_sd_mean[None, None, :], "a2": a1[None, :, None] + step}
        edges = max(max(weight.take(0, axis).sum(), weight.take(-1, axis).sum()) for axis in range(3))
        return {name: float((weight * value).sum()) for name, value in values.items()}, float(edges)

    def _axes(self, points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``b``, ``a_1`` and the step over their modes +- 10 sd (BFGS on the posterior with the step's prior
        ``Normal(0, 1)`` in place of ``g``, only to place the grid; the edges' mass is checked)."""

        def negative(x):
            return -self.log_likelihood_and_level_priors(x[0], x[1], x[1] + x[2]) - stats.norm.logpdf(x[2])

        found = optimize.minimize(negative, np.array([0.0, self.centre, 0.0]), method="BFGS")
        sd = np.sqrt(np.diag(found.hess_inv))
        b, a1 = (np.linspace(found.x[j] - 10 * sd[j], found.x[j] + 10 * sd[j], points) for j in (0, 1))
        step = np.linspace(-10 * sd[2], 10 * sd[2], 4 * points + 1)
        return b, a1, step


def _step_integrals(step: float) -> tuple[float, float]:
    """``g(step)`` and ``h(step)`` of :class:`Posterior`: ``Normal(step; 0, s) Gamma(s; 2, rate 2)`` is
    ``4 / sqrt(2 pi) exp(-2 s - step^2 / (2 s^2))``."""

    def integrand(s: float, power: int) -> float:
        return 4 / math.sqrt(2 * math.pi) * s**power * math.exp(-2 * s - step**2 / (2 * s**2))

    prior = integrate.quad(integrand, 0, np.inf, args=(0,), epsabs=0, epsrel=1e-11, limit=200)[0]
    first_moment = integrate.quad(integrand, 0, np.inf, args=(1,), epsabs=0, epsrel=1e-11, limit=200)[0]
    return prior, first_moment / prior


@pytest.fixture(scope="module")
def cohort():
    return _cohort()


@pytest.mark.slow
@pytest.mark.sampling
def test_posterior_means_equal_quadrature(cohort):
    time, event, design = cohort
    posterior = Posterior(time, event, design["arm"].to_numpy())
    coarse, _ = posterior.means(60)
    exact, edge_mass = posterior.means(80)
    assert edge_mass < 1e-6
    fit = fit_pwe(time, event, design, SETTINGS, SAMPLER)
    assert fit.constant_data["cuts"].to_numpy().tolist() == [posterior.cut]
    draws = {
        "b": fit.posterior["coef_std"].sel(term="arm"),
        "s": fit.posterior["random_walk_sd"],
        "a2": fit.posterior["log_baseline_centred"].sel(interval=1),
    }
    for name, variable in draws.items():
        mean, sd = float(variable.mean()), float(variable.std())
        mcse = float(az.mcse(variable.to_dataset(name="x"))["x"])
        assert abs(coarse[name] - exact[name]) < 0.05 * mcse, (name, coarse[name], exact[name])
        assert mcse < 0.03 * sd, (name, mcse, sd)
        assert abs(mean - exact[name]) < 4 * mcse, (name, mean, exact[name], mcse)
