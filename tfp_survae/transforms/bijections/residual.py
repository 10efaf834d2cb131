"""Invertible residual blocks (i-ResNet, Residual Flows): z = x + g(x) with Lip(g) < 1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks, _networks, _seeds
from tfp_survae.nn.lipschitz import LipschitzMLP, jacobian, jvp, vjp
from tfp_survae.transforms._types import Config, Shape
from tfp_survae.transforms.base import Bijection

__all__ = ["ResidualBlock"]

LOG_DETS = ("roulette", "exact")
PROBES = ("gaussian", "rademacher")


def probe(shape, seed, dtype, kind: str):
    """Hutchinson's probe: iid N(0, 1) or Rademacher (+-1) entries, E[e e^T] = I."""
    if kind == "gaussian":
        return _seeds.random_normal(shape, seed, dtype)
    return tf.where(_seeds.random_uniform(shape, seed, dtype) < 0.5,
                    tf.constant(-1.0, dtype), tf.constant(1.0, dtype))


def roulette_log_det(factors, eps, num_terms, exact_terms: int, p: float, x_size: int):
    """The Russian-roulette estimate of log det(I + J), J = dg/dx, one value per row.

    log det(I + J) = sum_{k>=1} (-1)^(k+1) tr(J^k) / k, truncated at a random N with
    P(N >= k) = 1 for k <= exact_terms + 1 and (1 - p)^(k - exact_terms - 1) beyond; term k is
    divided by P(N >= k), so the estimate is unbiased, and tr(J^k) is e^T J^k e for the probe e
    (Chen et al., 2019, Eq. 6-7). The gradient is the Neumann series of Chen et al. Eq. 8,
    sum_{m<N} (-1)^m / P(N >= m+1) e^T J^m (dJ) e, through one Jacobian-vector product: the
    loop over the terms runs without recording gradients (memory O(1) in N).
    """
    dtype = eps.dtype
    fixed = [(tf.stop_gradient(w), None if d is None else tf.stop_gradient(d))
             for w, d in factors]

    def survival(k):  # P(N >= k)
        beyond = tf.cast(tf.maximum(k - exact_terms - 1, 0), dtype)
        return tf.pow(tf.constant(1.0 - p, dtype), beyond)

    def body(k, u, value, weights):
        sign = tf.cast(1 - 2 * ((k + 1) % 2), dtype)  # (-1)^(k+1)
        weights = weights + sign / survival(k) * u  # the Neumann term m = k - 1
        u = vjp(fixed, u, x_size)  # e^T J^k
        value = value + sign / (tf.cast(k, dtype) * survival(k)) * tf.reduce_sum(u * eps, -1)
        return k + 1, u, value, weights

    zeros = tf.zeros_like(eps[:, 0])
    _, _, value, weights = tf.while_loop(
        lambda k, *_: k <= num_terms, body, (tf.constant(1), eps, zeros, tf.zeros_like(eps)))
    value, weights = tf.stop_gradient(value), tf.stop_gradient(weights)
    surrogate = tf.reduce_sum(weights * jvp(factors, eps, x_size), -1)
    return value + surrogate - tf.stop_gradient(surrogate)


def exact_log_det(factors, x_size):
    """log det(I + J) from the Jacobian (D x D per row), as sum_i log |R_ii| of its QR
    decomposition (XLA compiles QR and its gradient, not LogMatrixDeterminant); det(I + J) > 0
    for Lip(g) < 1."""
    jac = jacobian(factors, x_size)
    r = tf.linalg.qr(tf.eye(x_size, dtype=jac.dtype) + jac)[1]
    return tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(r))), -1)


@keras.saving.register_keras_serializable(package="tfp_survae")
class ResidualBlock(Bijection):
    """An invertible residual block (i-ResNet; Residual Flows) on vectors [D].

    Inverse (density): z = x + g(x), with g a `LipschitzMLP` whose linear layers are spectrally
    normalised to `lipschitz`, so Lip(g) <= lipschitz ** L < 1 (L linear layers) and the map is
    a bijection (Behrmann et al., 2019, Theorem 1). Forward (sampling): the fixed point of
    x <- z - g(x), iterated from x = z until every element's step is at most
    tolerance * (1 + |x|) (the error is then at most Lip(g) / (1 - Lip(g)) times that);
    gradients through it are implicit, (I + J)^-1 by the same iteration.
    V = log |det dz/dx| = log det(I + J_g(x)) (positive: the eigenvalues of J lie inside the
    unit disc), by

    * `log_det="roulette"` (default, Residual Flows): the power series
      sum_k (-1)^(k+1) tr(J^k) / k with Hutchinson's trace and a Russian-roulette truncation,
      a random, unbiased estimate (`stochastic_log_det`); the number of terms is
      exact_terms + Geometric(geometric_p), one draw per call, shared by the batch, and the
      probe e is drawn per example. Its variance is finite where the spectral radius r of J
      satisfies r^2 < 1 - geometric_p. Gradients by the Neumann series (Chen et al. Eq. 8).
    * `log_det="exact"`: log det(I + J) from the D x D Jacobian, for small D; deterministic.

    The Neumann gradient was chosen over backpropagating through the series' terms for its
    cost per step (measured in docs/benchmarks.md, "Free-form flows: which gradient").

    Args:
      network: a `LipschitzMLP` mapping D inputs (D + condition features with a condition) to
        D outputs, or None for `LipschitzMLP(hidden_units, D)` with `lipschitz`,
        `activation` and `power_iterations`.
      hidden_units: widths of the default network (Residual Flows' 2-D experiments:
        128-128-128-128).
      activation: the default network's activation (LipSwish).
      lipschitz: the default network's Lipschitz bound per layer (0.9).
      power_iterations: the default network's power iterations per step (5).
      log_det: "roulette" or "exact".
      probe: "gaussian" or "rademacher" (the roulette's trace probe).
      exact_terms: terms of the series always computed (Residual Flows: 2).
      geometric_p: the success probability of the roulette's geometric draw (0.5).
      tolerance: of the forward's fixed-point iteration (see above).
      max_iterations: of the fixed-point iteration; not converging within them raises (a
        ValueError eagerly, an InvalidArgumentError tagged "[tfp_survae]" in a graph, NaN
        under XLA, which compiles checks away).
      condition_shape: [C] for a condition c fed to g next to x (g(x, c), contractive in x).
      **kwargs: Keras layer arguments, and `seed`, of the layer's generator (the roulette's
        draws when no seed is passed).

    Raises:
      ValueError / TypeError: for an argument outside its range or of the wrong type, and at
        build for an event that is not a vector or a network of the wrong width.

    Example:
      >>> block = ResidualBlock(hidden_units=[16], log_det="exact")
      >>> x = tf.constant([[0.5, -1.0], [2.0, 0.0]])
      >>> z, v = block.inverse_and_log_det(x)
      >>> bool(tf.reduce_max(tf.abs(block.forward(z) - x)) < 1e-4), v.shape
      (True, TensorShape([2]))

    References:
      Behrmann, Grathwohl, Chen, Duvenaud, Jacobsen, "Invertible Residual Networks", ICML 2019.
      https://arxiv.org/abs/1811.00995
      Chen, Behrmann, Duvenaud, Jacobsen, "Residual Flows for Invertible Generative Modeling",
      NeurIPS 2019. https://arxiv.org/abs/1906.02735
    """

    min_event_rank = 1
    config_sublayers = ("network",)

    def __init__(self, network: LipschitzMLP | None = None, *,
                 hidden_units: Sequence[int] = (128, 128, 128, 128), activation: str = "lipswish",
                 lipschitz: float = 0.9, power_iterations: int = 5, log_det: str = "roulette",
                 probe: str = "gaussian", exact_terms: int = 2, geometric_p: float = 0.5,
                 tolerance: float = 1e-6, max_iterations: int = 500,
                 condition_shape: Sequence[int] | None = None, **kwargs: Any) -> None:
        if log_det not in LOG_DETS:
            raise ValueError(f"ResidualBlock: log_det is one of {LOG_DETS}; received "
                             f"{log_det!r}.")
        self.log_det = log_det  # read by stochastic_log_det in Transform.__init__
        super().__init__(**kwargs)
        owner = "ResidualBlock"
        if network is not None and not isinstance(network, LipschitzMLP):
            raise TypeError(f"{owner}: network must be a tfp_survae.nn.LipschitzMLP (a "
                            f"contractive g) or None; received {type(network).__name__}: "
                            f"{network!r}.")
        if probe not in PROBES:
            raise ValueError(f"{owner}: probe is one of {PROBES}; received {probe!r}.")
        self.network: Any = network  # a LipschitzMLP once built
        self.hidden_units = _checks.check_units(owner, "hidden_units", hidden_units)
        self.activation = activation
        self.lipschitz = _checks.check_real(owner, "lipschitz", lipschitz, low=0.0, high=1.0,
                                            closed="high")
        self.power_iterations = _checks.check_integer(owner, "power_iterations",
                                                      power_iterations, minimum=1)
        self.probe = probe
        self.exact_terms = _checks.check_integer(owner, "exact_terms", exact_terms, minimum=0)
        self.geometric_p = _checks.check_real(owner, "geometric_p", geometric_p, low=0.0,
                                              high=1.0)
        self.tolerance = _checks.check_real(owner, "tolerance", tolerance, low=0.0)
        self.max_iterations = _checks.check_integer(owner, "max_iterations", max_iterations,
                                                    minimum=1)
        self.condition_shape = None if condition_shape is None else _checks.check_shape(
            owner, "condition_shape", condition_shape)
        if network is None:  # checks lipschitz, activation and power_iterations
            LipschitzMLP(self.hidden_units, 1, lipschitz=self.lipschitz,
                         activation=self.activation, power_iterations=self.power_iterations)

    @property
    def stochastic_log_det(self) -> bool:
        return self.log_det == "roulette"

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.event_shape.rank != 1:
            raise ValueError(f"{self._owner}: acts on vectors [D]; received event shape "
                             f"{self.event_shape.as_list()}.")
        self._dims = int(self.event_shape[0])
        extra = 0 if self.condition_shape is None else int(np.prod(self.condition_shape))
        if self.network is None:
            self.network = LipschitzMLP(self.hidden_units, self._dims, lipschitz=self.lipschitz,
                                        activation=self.activation,
                                        power_iterations=self.power_iterations,
                                        dtype=self.dtype_policy, name="lipschitz_mlp")
        if not self.network.built:
            self.network.build((None, self._dims + extra))
        _networks.check_network_output(
            self._owner, self.network, [self._dims + extra], [self._dims], self.dtype,
            f"the residual network g (x{' and the condition' if extra else ''} -> x)")

    # ----------------------------------------------------------------------------------------

    def _inputs(self, x, condition):
        condition = _checks.layer_condition(self._owner, condition, self.condition_shape)
        if condition is None:
            return x
        condition = tf.cast(condition, x.dtype)
        flat = tf.reshape(condition, [tf.shape(condition)[0], -1])
        return tf.concat([x, flat], axis=-1)

    def _g(self, x, condition, weights, linearize: bool = True):
        """g(x), and with `linearize` its Jacobian factors (`LipschitzMLP.linearize`)."""
        network = self.network.linearize if linearize else self.network.apply
        return _networks.run_network(self._owner, lambda t: network(t, weights),
                                     self._inputs(x, condition))

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        weights = self.network.normalized_weights(x.dtype, training)
        gx, factors = self._g(x, condition, weights)
        if self.log_det == "exact":
            return x + gx, exact_log_det(factors, self._dims)
        probe_seed, count_seed = _seeds.split_seed(seed, 2)
        eps = probe(tf.shape(x), probe_seed, x.dtype, self.probe)
        u = _seeds.random_uniform([], count_seed, x.dtype)
        geometric = 1 + tf.cast(tf.math.floor(
            tf.math.log(u) / tf.math.log(tf.constant(1.0 - self.geometric_p, x.dtype))), tf.int32)
        return x + gx, roulette_log_det(factors, eps, self.exact_terms + geometric,
                                        self.exact_terms, self.geometric_p, self._dims)

    def _forward(self, z, *, seed, condition):
        weights = self.network.normalized_weights(z.dtype)
        inputs = [t for pair in weights for t in pair]
        if condition is not None:
            inputs.insert(0, tf.cast(tf.convert_to_tensor(condition), z.dtype))
        x, step = self._fixed_point(z, condition is not None, inputs)
        return self._checked(x, step)

    def _fixed_point(self, z, has_condition: bool, inputs):
        """x with x = z - g(x), and the last step's size over the tolerance (<= 1 when
        converged). `inputs`: [condition] + the network's kernels and biases. Gradients are
        implicit: (I + J)^-1 by the same iteration (NaN where it does not converge)."""
        skip = int(has_condition)

        def g(x, inputs, linearize=False):
            params = inputs[skip:]
            return self._g(x, inputs[0] if skip else None,
                           list(zip(params[0::2], params[1::2])), linearize)

        def iterate(rhs, update):
            def body(i, value, _):
                new = rhs - update(value)
                step = tf.reduce_max(tf.abs(new - value) / (1.0 + tf.abs(new)))
                return i + 1, new, step / self.tolerance

            _, value, step = tf.while_loop(
                lambda i, _, step: tf.logical_and(i < self.max_iterations, step > 1.0), body,
                (tf.constant(0), rhs, tf.constant(np.inf, rhs.dtype)))
            return value, step

        @tf.custom_gradient
        def solve(z, *inputs):
            x, step = iterate(z, lambda x: g(x, inputs))

            def grad(dx, _):
                # a^T (I + J) = dx^T, i.e. a = dx - J^T a; x = z - g(x) then gives
                # dz = a and d(inputs) = -a^T dg/d(inputs).
                factors = g(x, inputs, linearize=True)[1]
                a, a_step = iterate(dx, lambda a: vjp(factors, a, self._dims))
                a = tf.where(a_step <= 1.0, a, tf.constant(np.nan, a.dtype))
                with tf.GradientTape() as tape:
                    tape.watch(inputs)
                    out = g(x, inputs)
                grads = tape.gradient(out, list(inputs), output_gradients=-a)
                return [a] + [tf.zeros_like(t) if d is None else d
                              for t, d in zip(inputs, grads)]

            return (x, step), grad

        return solve(z, *inputs)

    def _checked(self, x, step):
        """x where the iteration converged; an error (eager, graph) or NaN (XLA) where not."""
        message = (f"{self._owner}: the fixed-point iteration of the forward (x = z - g(x)) did "
                   f"not converge within max_iterations={self.max_iterations} to tolerance="
                   f"{self.tolerance:g}; raise max_iterations, loosen the tolerance, or lower "
                   "lipschitz (the iteration converges as Lip(g)^k)")
        converged = step <= 1.0
        if tf.executing_eagerly():
            if not bool(converged):
                raise ValueError(f"{message}; the last step was {float(step):.3g} times the "
                                 "tolerance.")
            return x
        x = _checks.guarded(x, converged, f"{message}.")  # no check op inside XLA: NaN there
        return tf.where(converged, x, tf.constant(np.nan, x.dtype))

    def get_config(self) -> Config:
        config = super().get_config()
        config.update(hidden_units=self.hidden_units, activation=self.activation,
                      lipschitz=self.lipschitz, power_iterations=self.power_iterations,
                      log_det=self.log_det, probe=self.probe, exact_terms=self.exact_terms,
                      geometric_p=self.geometric_p, tolerance=self.tolerance,
                      max_iterations=self.max_iterations,
                      condition_shape=self.condition_shape)
        return config
