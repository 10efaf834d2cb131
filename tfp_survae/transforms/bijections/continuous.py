"""Continuous normalizing flows (FFJORD): a neural ODE solved by TensorFlow Probability."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _networks
from tfp_survae.nn.mlp import MLP
from tfp_survae.transforms._types import Config, Shape
from tfp_survae.transforms.base import Bijection
from tfp_survae.transforms.bijections.residual import PROBES, probe

__all__ = ["ContinuousFlow"]

TRACES = ("exact", "hutchinson")


@keras.saving.register_keras_serializable(package="tfp_survae")
class ContinuousFlow(Bijection):
    """A continuous normalizing flow on vectors [D] (FFJORD; Grathwohl et al., 2019).

    The ODE dx/dt = f(x, t[, c]) with f the `network`, integrated over t in [0, T] by
    TensorFlow Probability's Dormand-Prince solver (`tfp.math.ode.DormandPrince`, adaptive
    steps to `rtol` and `atol`; one step size for the whole batch).
    Forward (sampling): x = x(T) from x(0) = z. Inverse (density): z = x(0) from x(T) = x,
    integrated backwards in time.
    V = log |det dz/dx| = -int_0^T tr(df/dx)(x(t), t) dt (the instantaneous change of
    variables, Chen et al., 2018), integrated with the state:

    * `trace="exact"` (default, as zuko's `CNF`): tr(df/dx) from the D x D Jacobian (a batch
      Jacobian per evaluation): V is deterministic, for small D.
    * `trace="hutchinson"` (FFJORD): tr(df/dx) ~= e^T (df/dx) e with one probe e per example
      ("gaussian" or "rademacher", from the layer's seed, fixed along the trajectory) and one
      vector-Jacobian product per evaluation: V is a random, unbiased estimate
      (`stochastic_log_det`), so a flow holding the layer has `is_exact == False`.

    Both V and the state share the solver's error control, so x and z agree with the exact
    ODE solution to the tolerances (and, with Hutchinson's trace, depend on the probe only
    within them).

    Gradients use the adjoint method of `DormandPrince.solve` (memory constant in the number
    of steps, TFP's public API). Backpropagating through the solver's steps would need its
    private `_solve` and is not offered (the two compared in docs/benchmarks.md, "Free-form
    flows: which gradient").

    The mean number of function evaluations per solve (forward passes) is the metric
    `<layer name>_nfe` (`layer.nfe`), which `Flow.fit` reports with the loss.

    Args:
      network: a Keras layer mapping concat([x, t, c]) of width D + 1 (+ C with a condition) to
        dx/dt of width D; None builds `MLP(hidden_units, D, activation)` (FFJORD: 64-64-64,
        tanh; its input is x and t, concatenated).
      hidden_units: widths of the default network.
      activation: the default network's activation.
      time_length: the integration time T > 0 (FFJORD learns T from 0.5; here it is fixed,
        which only rescales f).
      trace: "exact" or "hutchinson".
      probe: "gaussian" or "rademacher" (Hutchinson's probe).
      rtol: the solver's relative tolerance (FFJORD: 1e-5).
      atol: the solver's absolute tolerance (FFJORD: 1e-5).
      max_num_steps: the solver's step limit; beyond it the solver raises (an
        InvalidArgumentError "max_num_steps exceeded"; under XLA, which compiles checks away,
        it is not enforced).
      condition_shape: [C] for a condition c fed to f (flattened next to x and t).
      **kwargs: Keras layer arguments, and `seed`, of the layer's generator (Hutchinson's
        probes when no seed is passed).

    Raises:
      ValueError / TypeError: for an argument outside its range or of the wrong type, and at
        build for an event that is not a vector or a network of the wrong width.

    Example:
      >>> cnf = ContinuousFlow(hidden_units=[16])
      >>> x = tf.constant([[0.5, -1.0], [2.0, 0.0]])
      >>> z, v = cnf.inverse_and_log_det(x)
      >>> bool(tf.reduce_max(tf.abs(cnf.forward(z) - x)) < 1e-3), v.shape
      (True, TensorShape([2]))

    References:
      Grathwohl, Chen, Bettencourt, Sutskever, Duvenaud, "FFJORD: Free-form Continuous Dynamics
      for Scalable Reversible Generative Models", ICLR 2019. https://arxiv.org/abs/1810.01367
      Chen, Rubanova, Bettencourt, Duvenaud, "Neural Ordinary Differential Equations",
      NeurIPS 2018. https://arxiv.org/abs/1806.07366
    """

    min_event_rank = 1
    config_sublayers = ("network",)

    def __init__(self, network: keras.layers.Layer | None = None, *, hidden_units: Sequence[int] = (64, 64, 64),
                 activation: str = "tanh", time_length: float = 1.0, trace: str = "exact",
                 probe: str = "gaussian", rtol: float = 1e-5, atol: float = 1e-5,
                 max_num_steps: int | None = 1000, condition_shape: Sequence[int] | None = None,
                 **kwargs: Any) -> None:
        if trace not in TRACES:
            raise ValueError(f"ContinuousFlow: trace is one of {TRACES}; received {trace!r}.")
        self.trace = trace  # read by stochastic_log_det in Transform.__init__
        super().__init__(**kwargs)
        owner = "ContinuousFlow"
        if network is not None and not isinstance(network, keras.layers.Layer):
            raise TypeError(f"{owner}: network must be a Keras layer or None; received "
                            f"{type(network).__name__}: {network!r}.")
        if probe not in PROBES:
            raise ValueError(f"{owner}: probe is one of {PROBES}; received {probe!r}.")
        self.network: Any = network  # an MLP once built
        self.hidden_units = _checks.check_units(owner, "hidden_units", hidden_units)
        self.activation = activation
        self.time_length = _checks.check_real(owner, "time_length", time_length, low=0.0)
        self.probe = probe
        self.rtol = _checks.check_real(owner, "rtol", rtol, low=0.0)
        self.atol = _checks.check_real(owner, "atol", atol, low=0.0)
        self.max_num_steps = None if max_num_steps is None else _checks.check_integer(
            owner, "max_num_steps", max_num_steps, minimum=1)
        self.condition_shape = None if condition_shape is None else _checks.check_shape(
            owner, "condition_shape", condition_shape)
        self.nfe = keras.metrics.Mean(name=f"{self.name}_nfe")

    @property
    def stochastic_log_det(self) -> bool:
        return self.trace == "hutchinson"

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.event_shape.rank != 1:
            raise ValueError(f"{self._owner}: acts on vectors [D]; received event shape "
                             f"{self.event_shape.as_list()}.")
        self._dims = int(self.event_shape[0])
        width = self._dims + 1
        if self.condition_shape is not None:
            width += int(np.prod(self.condition_shape))
        if self.network is None:
            self.network = MLP(self.hidden_units, self._dims, activation=self.activation,
                               dtype=self.dtype_policy, name="dynamics")
        if not self.network.built:
            self.network.build((None, width))
        _networks.check_network_output(self._owner, self.network, [width], [self._dims],
                                       self.dtype, "the dynamics network ([x, t, c] -> dx/dt)")

    # ----------------------------------------------------------------------------------------

    def _condition(self, condition, dtype):
        condition = _checks.layer_condition(self._owner, condition, self.condition_shape)
        if condition is None:
            return {}
        condition = tf.cast(condition, dtype)
        return {"condition": tf.reshape(condition, [tf.shape(condition)[0], -1])}

    def _dynamics(self, y, t, condition, eps, trace: bool = True):
        """f(y, t[, c]) and tr(df/dy) (exact, or e^T (df/dy) e with the probe e)."""
        with tf.GradientTape(persistent=eps is None) as tape:
            tape.watch(y)
            parts = [y, tf.fill([tf.shape(y)[0], 1], tf.cast(t, y.dtype))]
            if condition is not None:
                parts.append(condition)
            f = tf.cast(self.network(tf.concat(parts, axis=-1)), y.dtype)
        if not trace:
            return f, None
        if eps is not None:
            return f, tf.reduce_sum(tape.gradient(f, y, output_gradients=eps) * eps, axis=-1)
        # The exact trace: D vector-Jacobian products with the unit vectors (cheaper to
        # differentiate again, as the adjoint does, than a vectorised batch Jacobian).
        units = tf.eye(self._dims, dtype=y.dtype)
        trace_sum = tf.zeros_like(f[:, 0])
        for i in range(self._dims):
            unit = tf.broadcast_to(units[i], tf.shape(f))
            trace_sum += tape.gradient(f, y, output_gradients=unit)[:, i]
        return f, trace_sum

    def _solver(self):
        return tfp.math.ode.DormandPrince(rtol=self.rtol, atol=self.atol,
                                          max_num_steps=self.max_num_steps)

    def _integrate(self, start, condition, seed, forward: bool, with_log_det: bool = True):
        """Runs the ODE from `start` over [0, T] (forward) or [T, 0]; returns the end and V
        (None without `with_log_det`). The solve runs as a TensorFlow graph even when called
        eagerly (TFP's solver loops in Python otherwise)."""
        _networks.run_network(self._owner, lambda t: t, start)  # the network's input range
        constants = self._condition(condition, start.dtype)
        eps = None if self.trace == "exact" or not with_log_det else \
            probe(tf.shape(start), seed, start.dtype, self.probe)
        end, log_det, evaluations = self._solve(start, eps, constants, forward, with_log_det)
        self.nfe.update_state(tf.cast(evaluations, "float32"))
        return end, log_det

    def _solve(self, start, eps, constants, forward: bool, with_log_det: bool):
        dtype = start.dtype
        total = tf.constant(self.time_length, dtype)
        sign = 1.0 if forward else -1.0

        def ode_fn(s, state, condition=None):
            # In reversed time s = T - t the state obeys dy/ds = -f(y, T - s); V accumulates
            # -tr(df/dy) at the physical time either way.
            t = s if forward else total - s
            if not with_log_det:
                return sign * self._dynamics(state, t, condition, eps, trace=False)[0]
            f, trace = self._dynamics(state[0], t, condition, eps)
            return sign * f, -trace

        initial = (start, tf.zeros_like(start[:, 0])) if with_log_det else start
        results = self._solver().solve(ode_fn, tf.constant(0.0, dtype), initial,
                                       solution_times=[total], constants=constants)
        evaluations = results.diagnostics.num_ode_fn_evaluations
        if not with_log_det:
            return results.states[-1], None, evaluations
        return results.states[0][-1], results.states[1][-1], evaluations

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        return self._integrate(x, condition, seed, forward=False)

    def _forward(self, z, *, seed, condition):
        return self._integrate(z, condition, seed, forward=True, with_log_det=False)[0]

    def _forward_and_log_det(self, z, *, seed, condition):
        return self._integrate(z, condition, seed, forward=True)

    def get_config(self) -> Config:
        config = super().get_config()
        config.update(hidden_units=self.hidden_units, activation=self.activation,
                      time_length=self.time_length, trace=self.trace, probe=self.probe,
                      rtol=self.rtol, atol=self.atol, max_num_steps=self.max_num_steps,
                      condition_shape=self.condition_shape)
        return config

