"""The PWE log-likelihood and its gradient as one PyTensor Op, computed by a cached numba kernel.

Written as PyTensor operations, the likelihood of :class:`tmesurv.models.pwe.data.PweData` and its automatic gradient
are about a hundred nodes (exponentials, cumulative sums, gathers at the interval boundaries and their adjoints); numba
spends most of a fit's wall time compiling them, afresh for every new model structure. Here one loop over the
patients gives the value and both gradients, compiled once per machine (``cache=True``) and reused by every model
that contains the Op, whatever its priors.

Each patient follows the log baseline ``a_{s,k}`` of a stratum ``s`` (one stratum, or with a time-varying arm effect
the two arms, whose baselines differ by the per-interval arm effect). With ``w_i = exp(z_i . b)`` and
``H_i = sum_{k < k(i)} exp(a_{s,k}) width_k + exp(a_{s,k(i)}) offset_i`` (the baseline cumulative hazard at patient
``i``'s time, ``s`` its stratum), the log-likelihood is

    L = sum_{s,k} D_{s,k} a_{s,k} + (sum_i d_i z_i) . b - sum_i w_i H_i

so ``dL/db = sum_i d_i z_i - sum_i w_i H_i z_i`` and ``dL/da_{s,k} = D_{s,k} - exp(a_{s,k}) E_{s,k}`` with the
exposure ``E_{s,k} = width_k sum_{i in s beyond k} w_i + sum_{i in s and k} w_i offset_i``. One pass over the
patients in time order: O(n p) per evaluation, the ``w_i`` by a vectorised exponential (:func:`exp_into`). The last
sum is linear in the offsets, so patients who share an interval, a stratum and a design row add up to one record with
their count (``w_i`` times the count) and their mean offset (:meth:`~tmesurv.models.pwe.data.PweData.collapsed`): a
treatment model of 20,000 patients is then 16 records.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key

KERNEL_VERSION = 5  # bump when the kernel changes, so PyTensor's numba cache is not reused
LOG2_E = 1.4426950408889634  # 1 / log(2)
LOG_2_HIGH, LOG_2_LOW = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # log(2) in two parts (fdlibm)
EXP_TAYLOR = tuple(1.0 / math.factorial(order) for order in range(13, -1, -1))  # 1/13!, ..., 1/1!, 1/0!


@numba.njit(cache=True, nogil=True, error_model="numpy")
def exp_into(x: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = exp(x[i])`` to within one unit in the last place, in loops the compiler vectorises.

    ``math.exp`` is a call into the C library per value that the compiler cannot vectorise: at 20,000 patients it is
    half the likelihood's time. Here ``x = k log 2 + r`` with ``|r| <= log(2) / 2`` (Cody and Waite's reduction, ``log
    2`` in two parts), ``exp(r)`` by its Taylor polynomial of degree 13 (truncation error below 1e-17), and ``2^k`` in
    two halves built from their IEEE bits, so that results down to the subnormal range come out right. Overflow gives
    ``inf``, underflow 0 and NaN NaN, as ``math.exp``.
    """
    n = x.size
    exponent = np.empty(n, dtype=np.int64)
    for i in range(n):
        value = min(max(x[i], -746.0), 710.0)  # beyond these exp is 0 or inf
        k = math.floor(value * LOG2_E + 0.5)
        r = (value - k * LOG_2_HIGH) - k * LOG_2_LOW
        polynomial = EXP_TAYLOR[0]
        for coefficient in EXP_TAYLOR[1:]:
            polynomial = polynomial * r + coefficient
        out[i] = polynomial if x[i] == x[i] else x[i]  # NaN stays NaN
        exponent[i] = np.int64(k)
    first = np.empty(n, dtype=np.int64)
    second = np.empty(n, dtype=np.int64)
    for i in range(n):
        half = exponent[i] >> 1
        first[i] = (half + 1023) << 52  # the bits of 2^half
        second[i] = (exponent[i] - half + 1023) << 52
    first_scale, second_scale = first.view(np.float64), second.view(np.float64)
    for i in range(n):
        out[i] = out[i] * first_scale[i] * second_scale[i]


@numba.njit(cache=True, nogil=True, error_model="numpy")
def pwe_value_and_gradient(
    coef: np.ndarray,
    log_hazard: np.ndarray,
    z: np.ndarray,
    offset: np.ndarray,
    count: np.ndarray,
    stratum: np.ndarray,
    boundaries: np.ndarray,
    width: np.ndarray,
    stratum_events: np.ndarray,
    event_z: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray]:
    """The summed PWE log-likelihood and its gradients in ``coef`` and ``log_hazard`` (see the module docstring).

    ``log_hazard`` and ``stratum_events`` are (strata x intervals); record ``i`` (a patient, or ``count[i]`` patients
    of one interval, stratum and design row, ``offset[i]`` their mean offset) follows the baseline of ``stratum[i]``.
    Records are in time order, interval ``k`` holding positions ``boundaries[k]`` to ``boundaries[k + 1] - 1``.
    """
    n_terms = z.shape[1]
    n_strata, n_intervals = log_hazard.shape
    value = 0.0
    hazard = np.empty((n_strata, n_intervals))
    gradient_log_hazard = np.empty((n_strata, n_intervals))
    for s in range(n_strata):
        for k in range(n_intervals):
            hazard[s, k] = math.exp(log_hazard[s, k])
            value += stratum_events[s, k] * log_hazard[s, k]
            gradient_log_hazard[s, k] = stratum_events[s, k]
    gradient_coef = np.empty(n_terms)
    for j in range(n_terms):
        value += event_z[j] * coef[j]
        gradient_coef[j] = event_z[j]
    eta = np.empty(z.shape[0])
    for i in range(z.shape[0]):
        linear = 0.0
        for j in range(n_terms):
            linear += z[i, j] * coef[j]
        eta[i] = linear
    weight = np.empty(z.shape[0])
    exp_into(eta, weight)
    for i in range(z.shape[0]):
        weight[i] *= count[i]
    gradients = (gradient_coef, gradient_log_hazard)
    if n_strata == 1:  # the sums over the records in scalars: faster, and the same arithmetic
        value = _one_stratum(value, weight, hazard[0], z, offset, boundaries, width, *gradients)
    else:
        value = _strata(value, weight, hazard, z, offset, stratum, boundaries, width, *gradients)
    return value, gradient_coef, gradient_log_hazard


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _one_stratum(
    value: float,
    weight: np.ndarray,
    hazard: np.ndarray,
    z: np.ndarray,
    offset: np.ndarray,
    boundaries: np.ndarray,
    width: np.ndarray,
    gradient_coef: np.ndarray,
    gradient_log_hazard: np.ndarray,
) -> float:
    """``value`` minus ``sum_i w_i H_i``, and that term's gradients, with one baseline: the sums in scalars."""
    beyond = 0.0  # sum of w over the records of intervals k and later
    for i in range(weight.size):
        beyond += weight[i]
    cumulative_before = 0.0  # baseline cumulative hazard at the start of interval k
    for k in range(width.size):
        within = 0.0
        for i in range(boundaries[k], boundaries[k + 1]):
            beyond -= weight[i]
            within += weight[i] * offset[i]
            loss = weight[i] * (cumulative_before + hazard[k] * offset[i])
            value -= loss
            for j in range(z.shape[1]):
                gradient_coef[j] -= loss * z[i, j]
        gradient_log_hazard[0, k] -= hazard[k] * (width[k] * beyond + within)
        cumulative_before += hazard[k] * width[k]
    return value


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _strata(
    value: float,
    weight: np.ndarray,
    hazard: np.ndarray,
    z: np.ndarray,
    offset: np.ndarray,
    stratum: np.ndarray,
    boundaries: np.ndarray,
    width: np.ndarray,
    gradient_coef: np.ndarray,
    gradient_log_hazard: np.ndarray,
) -> float:
    """As :func:`_one_stratum`, each record with the baseline of its stratum."""
    n_strata = hazard.shape[0]
    beyond = np.zeros(n_strata)  # per stratum, sum of w over the records of intervals k and later
    for i in range(weight.size):
        beyond[stratum[i]] += weight[i]
    cumulative_before = np.zeros(n_strata)
    within = np.zeros(n_strata)
    for k in range(width.size):
        for s in range(n_strata):
            within[s] = 0.0
        for i in range(boundaries[k], boundaries[k + 1]):
            s = stratum[i]
            beyond[s] -= weight[i]
            within[s] += weight[i] * offset[i]
            loss = weight[i] * (cumulative_before[s] + hazard[s, k] * offset[i])
            value -= loss
            for j in range(z.shape[1]):
                gradient_coef[j] -= loss * z[i, j]
        for s in range(n_strata):
            gradient_log_hazard[s, k] -= hazard[s, k] * (width[k] * beyond[s] + within[s])
            cumulative_before[s] += hazard[s, k] * width[k]
    return value


class PweLogLikelihood(Op):
    """Outputs the summed log-likelihood and its gradients in ``coef`` and ``log_hazard``, from one kernel call.

    Inputs, in order: ``coef`` (p), ``log_hazard`` (S x K) and the data ``z`` (n x p), ``offset`` (n), ``count`` (n),
    ``stratum`` (n, integer), ``boundaries`` (K + 1, integer), ``width`` (K), ``stratum_events`` (S x K) and ``event_z``
    (p) of :class:`~tmesurv.models.pwe.data.PweData`. Only the value is differentiable (first derivatives); the data
    are not.
    """

    __props__ = ()
    n_parameters = 2

    def make_node(self, *inputs) -> Apply:
        """Float64 parameters and data, integer boundaries; outputs the value and the two gradients."""
        coef, log_hazard, z, offset, count, stratum, boundaries, width, stratum_events, event_z = inputs
        floats = [pt.as_tensor_variable(x, dtype="float64") for x in (coef, log_hazard, z, offset, count)]
        integers = [pt.as_tensor_variable(x, dtype="int64") for x in (stratum, boundaries)]
        rest = [pt.as_tensor_variable(x, dtype="float64") for x in (width, stratum_events, event_z)]
        outputs = [pt.dscalar(), pt.dvector(), pt.dmatrix()]
        return Apply(self, [*floats, *integers, *rest], outputs)

    def perform(self, node: Apply, inputs: list[np.ndarray], output_storage: list[list]) -> None:
        """Evaluate with the numba kernel (the C and Python backends, and PyMC's NUTS)."""
        value, gradient_coef, gradient_log_hazard = pwe_value_and_gradient(*inputs)
        output_storage[0][0] = np.asarray(value)
        output_storage[1][0] = gradient_coef
        output_storage[2][0] = gradient_log_hazard

    def connection_pattern(self, node: Apply) -> list[list[bool]]:
        """Every output depends on the parameters; gradients never flow to the data."""
        connected = [True] * len(node.outputs)
        return [connected] * self.n_parameters + [[False] * len(node.outputs)] * (len(node.inputs) - self.n_parameters)

    def L_op(self, inputs, outputs, output_grads):  # noqa: N802 -- PyTensor's name
        """Chain rule through the value; the gradient outputs themselves are not differentiable."""
        if not all(isinstance(grad.type, DisconnectedType) for grad in output_grads[1:]):
            raise NotImplementedError("second derivatives of the PWE log-likelihood are not implemented")
        value_grad = output_grads[0]
        parameter_grads = [value_grad * outputs[1], value_grad * outputs[2]]
        return parameter_grads + [disconnected_type() for _ in inputs[self.n_parameters :]]

    def infer_shape(self, fgraph, node, input_shapes):
        """Scalar value; gradients shaped like the parameters."""
        return [(), input_shapes[0], input_shapes[1]]


def pwe_log_likelihood_op(
    coef: pt.TensorVariable, log_hazard: pt.TensorVariable, data: dict[str, pt.TensorVariable]
) -> pt.TensorVariable:
    """The summed PWE log-likelihood of standardised coefficients and the centred log baselines, as a graph.

    ``log_hazard`` is (strata x intervals); ``data`` holds the model's containers named as in
    :meth:`tmesurv.models.pwe.data.PweData.arrays`, whose ``z`` and ``event_z`` columns match ``coef``.
    """
    names = ("z", "offset", "count", "stratum", "boundaries", "width", "stratum_events", "event_z")
    return PweLogLikelihood()(coef, log_hazard, *(data[name] for name in names))[0]


@register_funcify_default_op_cache_key(PweLogLikelihood)
def _numba_pwe_log_likelihood(op: PweLogLikelihood, node: Apply, **kwargs):
    """The Op in PyTensor's numba backend: the cached kernel, with the value as a 0-d array."""

    @numba_njit
    def pwe_log_likelihood(coef, log_hazard, z, offset, count, stratum, boundaries, width, stratum_events, event_z):
        value, gradient_coef, gradient_log_hazard = pwe_value_and_gradient(
            coef, log_hazard, z, offset, count, stratum, boundaries, width, stratum_events, event_z
        )
        return np.array(value), gradient_coef, gradient_log_hazard

    return pwe_log_likelihood, KERNEL_VERSION
