"""A flow of bijections as a `tfb.Bijector`: forward = the generative direction z -> x."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import cache_util

from tfp_survae import _checks, _variables
from tfp_survae.transforms import _chain
from tfp_survae.transforms.base import Transform

tfb = tfp.bijectors

__all__ = ["FlowBijector"]


class FlowBijector(tfp.bijectors.Bijector):
    """The bijections of a flow as one `tfb.Bijector`, sharing the flow's live variables.

    Forward: x = f(z), the transforms' forwards from latent to data (sampling direction).
    Inverse: z = f^{-1}(x), their inverses from data to latent.
    `inverse_log_det_jacobian(x)` = sum_t V_t = log |det dz/dx|, and
    `forward_log_det_jacobian(z)` = -sum_t V_t at x = f(z).

    `forward_min_event_ndims` is the rank of the latent event, `inverse_min_event_ndims` that of
    the data event; any leading batch dimensions are flattened through the transforms. Use it
    wherever TFP takes a bijector: `tfd.TransformedDistribution(base, bijector)`, or
    `tfp.mcmc.TransformedTransitionKernel` to precondition HMC with a trained flow (NeuTra).
    Build it with `Flow.as_bijector()`. It raises no error for values the layers cannot
    compute (`_checks.invalid_as_nan`): an example that a network cannot take (beyond the
    square root of its dtype's largest value, 1.8e19 in float32), or whose result overflows,
    is NaN, so HMC rejects a diverging proposal by its NaN log-density and the chain goes on.

    Seeds: `tfd.TransformedDistribution(base, flow.as_bijector()).sample(n, seed=s)` draws what
    `flow.sample(n, seed=s)` draws when `base` samples as the flow's base does: the flow's own
    TFP distribution, or a tfp_survae base layer as `TransformedDistribution(layer, [])` (a TFP
    distribution of the same law, e.g. `tfd.Normal` for `StandardNormal`, draws other numbers).
    Flows with surjective or stochastic layers have no bijector view.

    Conditional flows: where the transforms read the condition, `forward`, `inverse` and both
    log-det-Jacobians take `condition=`, its leading dimensions broadcast against the value's
    (one row per value, or one for all), as TFP's conditional bijectors take their conditional
    input; `tfd.TransformedDistribution(base, bijector)` passes it as
    `bijector_kwargs={"condition": c}`.

    Every call computes afresh: a `tfb.Bijector` caches the output and log-det of each input
    tensor it has seen, which would return values of the old weights once the flow trains.

    Args:
      chain: the bijections, listed from data to latent (`Flow.chain`).
      data_event_shape: the event shape of x.
      latent_event_shape: the event shape of z.
      dtype: the float dtype of x and z.
      condition_shape: the condition's event shape, for a conditional flow's bijections.
      name: the bijector's name.

    Raises:
      ValueError: a transform of `chain` is not a bijection (the first is named);
        `condition_shape` is given and no transform reads a condition, or is missing (or
        another) where one does.
      TypeError: `condition_shape` is not a list of integers.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(ts.MLP([8], 2))])
      >>> bijector = flow.as_bijector()
      >>> x = bijector.forward(tf.zeros([5, 2]))      # z -> x, as flow.sample runs
      >>> x.shape, bijector.inverse_log_det_jacobian(x).shape
      (TensorShape([5, 2]), TensorShape([5]))
      >>> coupling = ts.AffineCoupling(ts.MLP([8], 2), condition_shape=[3])
      >>> conditional = ts.Flow(ts.StandardNormal([2]), [coupling], condition_shape=[3])
      >>> conditional.as_bijector().forward(tf.zeros([5, 2]), condition=tf.ones([5, 3])).shape
      TensorShape([5, 2])
    """

    def __init__(self, chain: Sequence[Transform], data_event_shape: Sequence[int],
                 latent_event_shape: Sequence[int], *, dtype: tf.DType = tf.float32,
                 condition_shape: Sequence[int] | None = None,
                 name: str = "survae_flow") -> None:
        parameters = dict(locals())
        self._chain = list(chain)
        for t in self._chain:
            if not t.bijective:
                raise ValueError(
                    f"as_bijector needs a flow of bijections only; {type(t).__name__} "
                    f"'{t.name}' is not bijective. Use as_distribution() for flows "
                    "with surjective or stochastic layers."
                )
        # A tuple: tf.Module would wrap a list (and print it as ListWrapper([...])).
        self._condition_shape = None if condition_shape is None else tuple(_checks.check_shape(
            "FlowBijector", "condition_shape", condition_shape))
        _chain.check_condition_readers("FlowBijector", None, self._chain, self._condition_shape)
        self._data_event = tf.TensorShape(data_event_shape)
        self._latent_event = tf.TensorShape(latent_event_shape)
        super().__init__(
            forward_min_event_ndims=self._latent_event.rank,
            inverse_min_event_ndims=self._data_event.rank,
            dtype=tf.as_dtype(dtype),
            validate_args=False,
            parameters=parameters,
            name=name,
        )
        self._flow_variables = tuple(self.variables)

    @classmethod
    def _parameter_properties(cls, dtype):
        return {}

    @property
    def _cache(self):
        # TFP looks results up in `self._cache` (keyed by the input tensor, for the bijector's
        # lifetime); an empty store on every access computes each call from the current weights.
        return cache_util.BijectorCache(bijector=self, bijector_class=type(self),
                                        storage=cache_util.EphemeralDict())

    @property
    def variables(self) -> tuple[tf.Variable, ...]:
        """Every variable of the bijections (live)."""
        return tuple(_variables.backing_variables(self._chain))

    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]:
        """The trainable variables of the bijections (live)."""
        return tuple(_variables.backing_variables(self._chain, trainable_only=True))

    def _flat(self, value, event, condition):
        """The value flattened to [-1] + event, its leading shape, and the condition, one row
        per row (`_checks.view_condition`)."""
        value = _checks.check_trailing(self.name, "a value", tf.convert_to_tensor(
            value, self.dtype), event, "the event shape")
        value, leading, condition = _checks.value_and_condition(
            self.name, value, event, tf.shape(value)[: tf.rank(value) - event.rank], condition,
            self._condition_shape, self.dtype)
        return tf.reshape(value, [-1] + event.as_list()), leading, condition

    def _run_forward(self, z, condition):
        flat, leading, condition = self._flat(z, self._latent_event, condition)
        with _checks.invalid_as_nan():
            flat, total = _chain.run_forwards(self._chain, flat, [None] * len(self._chain),
                                              condition=condition, with_log_det=True)
        total = tf.zeros(tf.shape(flat)[:1], flat.dtype) if total is None else total
        x = tf.reshape(flat, tf.concat([leading, self._data_event.as_list()], axis=0))
        return x, tf.reshape(total, leading)

    def _run_inverse(self, x, condition):
        flat, leading, condition = self._flat(x, self._data_event, condition)
        with _checks.invalid_as_nan():
            out = _chain.run_inverses(self._chain, flat, [None] * len(self._chain),
                                      condition=condition)
        total = tf.zeros(tf.shape(flat)[:1], flat.dtype) if out.log_det is None else out.log_det
        z = tf.reshape(out.z, tf.concat([leading, self._latent_event.as_list()], axis=0))
        return z, tf.reshape(total, leading)

    def _forward(self, z, condition=None):
        return self._run_forward(z, condition)[0]

    def _inverse(self, x, condition=None):
        return self._run_inverse(x, condition)[0]

    def _forward_log_det_jacobian(self, z, condition=None):
        return -self._run_forward(z, condition)[1]

    def _inverse_log_det_jacobian(self, x, condition=None):
        return self._run_inverse(x, condition)[1]

    def _forward_event_shape(self, input_shape):
        return input_shape[: input_shape.rank - self._latent_event.rank].concatenate(
            self._data_event
        )

    def _inverse_event_shape(self, output_shape):
        return output_shape[: output_shape.rank - self._data_event.rank].concatenate(
            self._latent_event
        )

    def _forward_event_shape_tensor(self, input_shape):
        n = tf.size(input_shape) - self._latent_event.rank
        return tf.concat([input_shape[:n], self._data_event.as_list()], axis=0)

    def _inverse_event_shape_tensor(self, output_shape):
        n = tf.size(output_shape) - self._data_event.rank
        return tf.concat([output_shape[:n], self._latent_event.as_list()], axis=0)
