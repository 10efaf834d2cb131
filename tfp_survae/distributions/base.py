"""Distributions as Keras layers: a (possibly empty) condition mapped to a `tfd.Distribution`.

They serve as flow bases p(z), decoders p(x | z) of inference surjections and encoders q(z | x) of
generative surjections and stochastic transforms. Each layer owns its Keras variables and builds a
fresh TFP distribution from their current values on every call (TFP would otherwise freeze them).
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _networks, _seeds, _serialization, _tensors
from tfp_survae._serialization import deserialize_tfp, serialize_tfp
from tfp_survae._types import Count, Seed, TensorLike

tfd = tfp.distributions

__all__ = ["ConditionalDistribution", "TFPDistribution"]


# The continuous supports that lie inside another: a density on [0, 1) is one on [0, inf).
_INSIDE = {"real": ("real", "nonnegative", "unit interval"),
           "nonnegative": ("nonnegative", "unit interval")}


def support_within(support: str | None, required: str) -> bool:
    """True when values of `support` (a distribution layer's `support`; None: not said) lie
    where `required` says, e.g. "unit interval" within "nonnegative"."""
    return support is None or support in _INSIDE.get(required, (required,))


class ConditionalDistribution(keras.layers.Layer):
    """A layer mapping a condition tensor (or none) to a distribution over events of `event_shape`.

    Subclasses implement `distribution(condition, num=None)`, returning a `tfd.Distribution` with
    batch shape [batch] and event shape `event_shape`; `num` gives the batch size when there is
    no condition. `log_prob`, `sample` and `sample_and_log_prob` are derived from it; subclasses may
    override them with faster closed forms.

    Args:
      event_shape: the shape of one sample, without the batch axis.
      network: an optional Keras layer mapping the condition to the distribution's parameters.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `network` is not a Keras layer (wrap a function in `keras.layers.Lambda`).

    Examples:
      >>> normal = ts.ConditionalNormal([2], ts.MLP([8], 4))   # mean and log-scale from c
      >>> x, log_p = normal.sample_and_log_prob(seed=(1, 2), condition=tf.ones([3, 5]))
      >>> x.shape, log_p.shape
      (TensorShape([3, 2]), TensorShape([3]))
    """

    elementwise = False  # True: log_prob_elements gives one log-density per element
    discrete = False  # True: samples are discrete (no reparameterisation gradient)
    # Where its samples lie, where the layer knows: "real", "nonnegative", "unit interval",
    # "binary", "classes" or "orderings"; None where it does not say (a flow, a TFP
    # distribution). Layers that model values on a half-line check it (`ReLU`, `Max`).
    support: str | None = None

    def __init__(self, event_shape: Sequence[int], network: keras.layers.Layer | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if network is not None and not isinstance(network, keras.layers.Layer):
            raise TypeError(
                f"{self._owner}: the network must be a Keras layer; received "
                f"{type(network).__name__}. Wrap a function in keras.layers.Lambda, or write "
                "a layer (its weights are then trained and saved with the flow).")
        self.event_shape = tf.TensorShape(event_shape)
        self.network = network

    @property
    def is_conditional(self) -> bool:
        """True when the layer takes a condition (it has a network)."""
        return self.network is not None

    @property
    def reparameterized(self) -> bool:
        """True when a sample is a differentiable function of its parameters (reparameterized
        noise); False for discrete samples, whose gradients need a score function."""
        return not self.discrete

    def build(self, context_shape: Sequence[int | None] | None = None) -> None:
        """Builds the network for contexts of `context_shape` (batch axis included).

        Args:
          context_shape: the condition's shape, [batch] + its event shape; None without one.
        """
        if self.network is None or context_shape is None:
            return
        shape = tuple(tf.TensorShape(context_shape).as_list())
        if not self.network.built:
            self.network.build(shape)
            return
        if not tf.executing_eagerly() or None in shape[1:]:
            return
        try:  # a network built before: Keras checks its layers' input specs on one row
            self.network(tf.zeros((1,) + shape[1:], self.compute_dtype))
        except Exception as error:  # noqa: BLE001 (only a probe: its call says the rest)
            if "incompatible with the layer" not in str(error):
                return
            said = next(re.sub(r"\x1b\[[0-9;]*m", "", line).strip()  # Keras' bold
                        for line in str(error).splitlines()
                        if "incompatible with the layer" in line)
            raise ValueError(
                f"{self._owner}: its network was built for inputs of another shape than the "
                f"condition's, {[None, *shape[1:]]} (Keras: {said}). Pass a network built for "
                "the condition, or an unbuilt one.") from None

    def compute_output_shape(self, context_shape: Sequence[int | None] | None = None
                             ) -> tuple[int | None, ...]:
        """The shape of a sample for contexts of `context_shape` (what `Flow.summary()` shows).

        Args:
          context_shape: the condition's shape, [batch] + its event shape; None without one.

        Returns:
          [batch] + event_shape, batch None when unknown.
        """
        batch = None if context_shape is None else tf.TensorShape(context_shape)[0]
        return (batch,) + tuple(self.event_shape.as_list())

    def get_build_config(self) -> dict | None:
        shapes = getattr(self, "_build_shapes_dict", None)
        if not shapes or shapes.get("context_shape") is None:
            return None
        return {"context_shape": list(tf.TensorShape(shapes["context_shape"]).as_list())}

    def build_from_config(self, config: dict | None) -> None:
        if config:
            self.build(config["context_shape"])

    # ----------------------------------------------------------------------------------------

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        """The `tfd.Distribution` for `condition`, built from the layer's current variables.

        Args:
          condition: [batch] + the condition's event shape, for a layer with a network.
          num: the batch size where there is no condition.

        Returns:
          A `tfd.Distribution` with batch shape [batch] and event shape `event_shape`.

        Raises:
          NotImplementedError: the layer has no closed-form TFP distribution.
        """
        raise NotImplementedError

    def log_prob(self, x: TensorLike, seed: Seed | None = None, *,
                 condition: TensorLike | None = None) -> tf.Tensor:
        """log p(x | condition), with the signature of `Flow.log_prob`.

        Args:
          x: [batch] + event_shape.
          seed: unused by distributions with a closed-form density.
          condition: [batch] + the condition's event shape, for a layer with a network.

        Returns:
          The log-density, shape [batch], in nats.

        Raises:
          ValueError: x is not [batch] + event_shape, or the layer has a network and no
            condition is given.
        """
        x = self._checked_value(x)
        if self.is_conditional and condition is not None:
            condition = self._same_rows(tf.convert_to_tensor(condition), x, "x")
        if self.elementwise:
            return _tensors.sum_except_batch(self.log_prob_elements(x, condition=condition))
        condition = self._checked_condition(condition, x)
        return self.distribution(condition, num=tf.shape(x)[0]).log_prob(x)

    @property
    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    def _checked_value(self, x: TensorLike) -> tf.Tensor:
        """x as a tensor of [batch] + event_shape (checked in the graph where only it knows
        the shape); discrete layers also check its values."""
        return _checks.check_values(self._owner, "x", tf.convert_to_tensor(x), self.event_shape,
                                    finite=False, nonempty=False)

    def _same_rows(self, tensor: tf.Tensor, reference: tf.Tensor, what: str) -> tf.Tensor:
        """`tensor` (a condition, a network's output) after checking it has the rows of
        `reference` (x, or the condition): one per example."""
        rows, wanted = tensor.shape[0] if tensor.shape.rank else None, reference.shape[0]
        message = (f"{self._owner}: the {'condition' if what == 'x' else 'network output'} needs "
                   f"one row per {'row of x' if what == 'x' else 'condition row'}")
        if rows is not None and wanted is not None:
            if rows != wanted:
                raise ValueError(f"{message}; received {rows} rows for {wanted}.")
            return tensor
        return _checks.same_rows(tensor, tf.shape(reference)[0],
                                 f"{message}; received rows, {what} rows:", tf.shape(tensor)[0],
                                 tf.shape(reference)[0])

    def log_prob_elements(self, x: TensorLike, *,
                          condition: TensorLike | None = None) -> tf.Tensor:
        """Per-element log-densities of a distribution with independent elements.

        Args:
          x: [batch] + event_shape.
          condition: as in `log_prob`.

        Returns:
          The log-density of each element, the shape of x.

        Raises:
          NotImplementedError: the distribution does not factorise over elements.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not factorise over elements; layers that mask "
            "elements (ReLU) need an elementwise distribution such as ConditionalHalfNormal."
        )

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        """Draws x ~ p(. | condition) and returns (x, log p(x | condition)).

        Args:
          n: the number of draws where there is no condition (with a condition, one draw per
            row).
          seed: a stateless seed (as in `Flow.sample`); None draws a fresh one.
          condition: as in `log_prob`.

        Returns:
          (x, log_p): x of shape [batch] + event_shape and log_p of shape [batch].

        Raises:
          ValueError: neither `n` nor a condition gives the batch size, or the layer has a
            network and no condition is given.
        """
        dist = self.distribution(self._checked_condition(condition), num=self._num(condition, n))
        x = dist.sample(seed=_seeds.seed_or_random(seed))
        return x, dist.log_prob(x)

    def sample(self, n: Count | None = None, seed: Seed | None = None, *,
               condition: TensorLike | None = None) -> tf.Tensor:
        """Draws x ~ p(. | condition): `sample_and_log_prob`'s x.

        Args:
          n: as in `sample_and_log_prob`.
          seed: as in `sample_and_log_prob`.
          condition: as in `sample_and_log_prob`.

        Returns:
          x, shape [batch] + event_shape.

        Raises:
          ValueError: as `sample_and_log_prob`.
        """
        return self.sample_and_log_prob(n, seed, condition=condition)[0]

    def call(self, condition: TensorLike | None = None) -> tfp.distributions.Distribution:
        return self.distribution(condition)

    # ----------------------------------------------------------------------------------------

    def _checked_condition(self, condition, reference=None):
        if self.network is None:
            return None
        if condition is None:
            raise ValueError(
                f"{self._owner} has a network and needs a condition tensor; received "
                "condition=None."
            )
        condition = tf.convert_to_tensor(condition)
        if not self.network.built:
            self.build(condition.shape)
        return condition

    def _num(self, condition, num):
        """The number of draws: n (checked), or the condition's rows where n is None; where
        the layer reads the condition, n must equal its rows (one draw per row)."""
        if num is not None:
            num = _checks.check_count(f"{self._owner}.sample", "n", num, minimum=0)
        if condition is None or not self.is_conditional:
            if num is not None:
                return num
            if condition is not None:
                return tf.shape(condition)[0]
            raise ValueError(
                f"{self._owner} needs n (the number of draws) to sample without a condition.")
        condition = tf.convert_to_tensor(condition)
        rows = tf.shape(condition)[0]
        if num is None:
            return rows
        static_rows, static_num = condition.shape[0], tf.get_static_value(num)
        message = (f"{self._owner}: draws one example per condition row, so n must be the "
                   "condition's rows (or None)")
        if static_rows is not None and static_num is not None:
            if int(static_num) != static_rows:
                raise ValueError(f"{message}; received n={int(static_num)} for "
                                 f"{static_rows} rows.")
            return rows
        checked = _checks.same_rows(condition, num, f"{message}; received n, rows:", num, rows)
        return tf.shape(checked)[0]

    def _params(self, condition, num_params: int, dtype):
        """Runs the network and splits its last axis into `num_params` parameter tensors, each of
        the event's shape."""
        owner = self._owner
        out = tf.cast(_networks.run_network(owner, self.network, condition), dtype)
        out = self._same_rows(out, condition, "condition")
        event = self.event_shape
        expected_last = num_params * event[-1] if event.rank else num_params
        expected = event.as_list()[:-1] + [expected_last]
        if out.shape.rank is not None and (out.shape.rank != len(expected) + 1
                                           or not out.shape[1:].is_compatible_with(expected)):
            raise ValueError(
                f"{owner}: its network must map the condition to [batch] + {expected} "
                f"({num_params} x {event[-1] if event.rank else 1} = {expected_last} values on "
                f"the last axis: parameters of an event of shape {event.as_list()}); received "
                f"output shape {out.shape.as_list()} for a condition of shape "
                f"{condition.shape.as_list()}."
            )
        if event.rank == 0:
            return [out[..., i] for i in range(num_params)]
        return tf.split(out, num_params, axis=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        config["event_shape"] = self.event_shape.as_list()
        if self.network is not None:
            config["network"] = keras.saving.serialize_keras_object(self.network)
        return config

    @classmethod
    def from_config(cls, config: dict) -> ConditionalDistribution:
        return cls(**_serialization.deserialize_sublayers(config))


@keras.saving.register_keras_serializable(package="tfp_survae")
class TFPDistribution(ConditionalDistribution):
    """Wraps any fixed `tfd.Distribution` (scalar batch shape) as a base layer, ignoring condition.

    `Flow(base=tfd.Normal(...), ...)` wraps its base in this automatically. It saves with the
    model when the distribution's parameters are constants (numbers, arrays, nested
    distributions).

    Args:
      distribution: the `tfd.Distribution`, or its serialized config.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`).

    Raises:
      TypeError: `distribution` is not a `tfd.Distribution`.
      ValueError: its batch shape is not [].

    Examples:
      >>> base = ts.TFPDistribution(tfd.MultivariateNormalDiag(tf.zeros(2)))
      >>> ts.Flow(base, [ts.Reverse()]).sample(3, seed=(1, 2)).shape
      TensorShape([3, 2])
    """

    def __init__(self, distribution: tfp.distributions.Distribution | dict, **kwargs: Any) -> None:
        if isinstance(distribution, dict):
            distribution = deserialize_tfp(distribution)
        if not isinstance(distribution, tfd.Distribution):
            raise TypeError(
                f"TFPDistribution wraps a tfd.Distribution; received {type(distribution).__name__}."
            )
        if distribution.batch_shape.rank != 0:
            raise ValueError(
                "A flow's base distribution describes one example: it needs batch shape []; "
                f"received {distribution.batch_shape}. Wrap it in tfd.Independent to move batch "
                "dimensions into the event."
            )
        kwargs.setdefault("dtype", distribution.dtype)
        super().__init__(distribution.event_shape, **kwargs)
        self.tfp_distribution = distribution
        if distribution.trainable_variables:
            names = [v.name for v in distribution.trainable_variables]
            warnings.warn(
                f"TFPDistribution '{self.name}': the distribution's trainable variables "
                f"{names} are not a Keras layer's, so `fit` and `flow.trainable_variables` "
                "leave them out (they stay as they are). To learn the base, use a tfp_survae "
                "distribution layer (e.g. ts.DiagonalNormal), or train them in your own loop.",
                stacklevel=2)

    @property
    def reparameterized(self) -> bool:
        return self.tfp_distribution.reparameterization_type == tfd.FULLY_REPARAMETERIZED

    def distribution(self, condition: TensorLike | None = None,
                     num: Count | None = None) -> tfp.distributions.Distribution:
        return self.tfp_distribution

    def log_prob(self, x: TensorLike, seed: Seed | None = None, *,
                 condition: TensorLike | None = None) -> tf.Tensor:
        x = self._checked_value(x)
        wanted = tf.as_dtype(self.tfp_distribution.dtype)
        if x.dtype.is_floating and wanted.is_floating and x.dtype != wanted:
            x = tf.cast(x, wanted)  # a float64 base under a float32 flow, or the reverse
        return self.tfp_distribution.log_prob(x)

    def sample_and_log_prob(self, n: Count | None = None, seed: Seed | None = None, *,
                            condition: TensorLike | None = None
                            ) -> tuple[tf.Tensor, tf.Tensor]:
        x = self.tfp_distribution.sample(self._num(condition, n), seed=_seeds.seed_or_random(seed))
        return x, self.tfp_distribution.log_prob(x)

    def get_config(self) -> dict:
        config = keras.layers.Layer.get_config(self)
        config["distribution"] = serialize_tfp(self.tfp_distribution)
        return config

    @classmethod
    def from_config(cls, config: dict) -> TFPDistribution:
        return cls(**config)
