"""The transform contract shared by bijections, surjections and stochastic transforms.

Direction convention (paper Table 1, as TensorFlow Probability): `forward` is the generative
direction z -> x, `inverse` the inference direction x -> z. Every transform returns, with its
inverse, the likelihood contribution V(x, z) of paper Eq. (3), so that
`log p(x) ~= log p(z) + V(x, z)`.

References:
  Nielsen et al., "SurVAE Flows: Surjections to Bridge the Gap between VAEs and Flows",
  NeurIPS 2020. https://arxiv.org/abs/2007.02731
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple, Sequence

import keras
import tensorflow as tf

from tfp_survae import _checks, _seeds, _serialization, _state, _variables
from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.distributions.base import support_within
from tfp_survae.transforms import _chain
from tfp_survae.transforms._types import Config, Seed, Shape

__all__ = ["Transform", "Bijection", "Surjection", "StochasticTransform", "Sequential",
           "InverseResult"]


class InverseResult(NamedTuple):
    """What `_inverse_and_log_det` returns when its inverse sampled a discrete choice from a
    learned distribution: z, V and `score`, the per-example log-probability of that choice
    (0-gradient in value; `Flow` turns it into a score-function gradient). Every other
    transform returns the plain pair (z, V).

    Attributes:
      z: the latent, shape [batch] + z event.
      log_det: V, shape [batch].
      score: the per-example log-probability of the sampled choice, shape [batch], or None.
    """

    z: tf.Tensor
    log_det: tf.Tensor
    score: tf.Tensor | None = None


class Transform(keras.layers.Layer):
    """A layer of a SurVAE flow: a forward z -> x, an inverse x -> z and the contribution V.

    Subclasses derive from `Bijection`, `Surjection` or `StochasticTransform`, which set the kind
    flags, and implement:

    * `_inverse_and_log_det(x, *, seed, condition, training)`: x -> (z, V), V of shape [batch].
      A transform whose inverse samples a discrete choice from a learned distribution returns an
      `InverseResult(z, V, score)`, score the per-example log-probability of the sampled choice;
      `Flow` turns it into a score-function gradient so the ELBO can train that distribution.
    * `_forward(z, *, seed, condition)`: z -> x.
    * `inverse_event_shape` / `forward_event_shape` when the transform changes shape, and `build`
      for its variables (called with `(None,) + data event shape`).

    The public methods check their arguments (dtype, rank, event shape) once, build the layer on
    first use, and turn `seed=None` into a seed drawn from the layer's own
    `keras.random.SeedGenerator`, so every random op is stateless and reproducible.

    Attributes:
      bijective: the transform is a bijection (exact, deterministic both ways).
      stochastic_forward: `forward` samples (inference surjections, stochastic transforms).
      stochastic_inverse: `inverse` samples (generative surjections, stochastic transforms).
      lower_bound: V is a one-sample ELBO term (equal to `stochastic_inverse`).
      stochastic_log_det: V is a random, unbiased estimate of log |det dz/dx| (a bijection
        whose log-determinant is estimated: Hutchinson's trace estimator, a Russian-roulette
        power series). Its inverse and forward are deterministic, but `inverse_and_log_det`
        and `forward_and_log_det` take a seed (same seed, same V). A layer may compute the
        flag from its options (a property); such a layer sets those options before calling
        `Transform.__init__`, which reads the flag to decide whether the layer owns a seed
        generator.
      integer_data: x must hold integers (dequantization).
      min_event_rank: the smallest event rank (dimensions after the batch axis) accepted.
      reparameterized_forward: `forward` is a differentiable map of z and of reparameterized
        noise (see the property).
      forward_samplers: names of the attributes holding what a stochastic `forward` samples
        from (a discrete choice's network, a `ConditionalDistribution`); read by
        `reparameterized_forward`.
      needs_initialization: the layer needs a data-dependent initialisation before training
        (`Flow.initialize`, which `fit` runs on its first batch); False unless a layer says so.
      condition_shape: the event shape of the `condition` the layer reads (a conditional
        coupling, MADE, residual block or continuous flow); None, the default, for a layer that
        reads none. A layer that reads `condition` must set it: `Flow` refuses a
        `condition_shape` that no layer (and not its base) reads, a conditional layer in an
        unconditional flow, and one whose `condition_event_shape` is not the flow's.
      condition_event_shape: the event shape of the condition the layer takes in a flow:
        `condition_shape`, or, for a layer that reads one condition per position (a coupling
        over positions built with `condition_shape=[C]`), the positions, then C.

    Args:
      seed: the seed of the layer's own `keras.random.SeedGenerator`, from which a stochastic
        method draws when it is called with `seed=None` (None: a random one).
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).
    """

    bijective = False
    stochastic_forward = False
    stochastic_inverse = False
    integer_data = False
    min_event_rank = 0
    exact = False
    owns_seed_generator = True  # composites leave seeding to their parts
    config_sublayers: tuple[str, ...] = ()  # attributes holding layers, serialized by get_config
    differentiable_forward = True  # False where forward rounds (dequantization)
    forward_samplers: tuple[str, ...] = ()  # attributes a stochastic forward samples from
    condition_shape: list[int] | None = None  # the condition's event shape, if one is read

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_hand = [name for name in KIND_FLAGS if isinstance(cls.__dict__.get(name), bool)]
        if by_hand and cls.__module__ != __name__:
            raise TypeError(
                f"{cls.__name__} sets {', '.join(by_hand)} by hand; a transform's kind comes "
                "from the class it derives from (Bijection, Surjection with kind='inference' "
                "or 'generative', StochasticTransform), which sets these flags.")

    def __init__(self, *, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = (
            keras.random.SeedGenerator(seed, name="seed_generator")
            if self.owns_seed_generator and (self.stochastic_forward or self.stochastic_inverse
                                             or self.stochastic_log_det)
            else None
        )
        self._event_shape: tf.TensorShape | None = None

    # ----------------------------------------------------------------------------------------
    # Kind flags and shapes.

    @property
    def lower_bound(self) -> bool:
        """True when V is a one-sample ELBO term (the inverse samples)."""
        return self.stochastic_inverse

    @property
    def condition_event_shape(self) -> list[int] | None:
        """The event shape of the condition the layer takes: `condition_shape` here (a layer
        reading one condition per position says otherwise); None where it reads none."""
        return None if self.condition_shape is None else list(self.condition_shape)

    @property
    def needs_initialization(self) -> bool:
        """True while a data-dependent initialisation is pending (ActNorm); False here."""
        return False

    @property
    def stochastic_log_det(self) -> bool:
        """True when V is a random, unbiased estimate of log |det dz/dx| (a free-form
        bijection's estimator); False here."""
        return False

    @property
    def tempered_forward(self) -> bool:
        """True when `forward_at_temperature` can scale the noise this forward draws (a
        Gaussian's, around its mean); a deterministic forward has none to scale. False for a
        stochastic forward here; `Slice` with a normal decoder overrides it."""
        return not self.stochastic_forward

    @property
    def reparameterized_forward(self) -> bool:
        """True when `forward` is a differentiable map of z and of reparameterized noise, so
        gradients of a sample statistic flow through `sample` (TFP's FULLY_REPARAMETERIZED).

        The rule: a forward that rounds (`differentiable_forward = False`) is not; a
        deterministic forward is; a stochastic forward is when everything it samples from, the
        attributes named in `forward_samplers`, is: None (a fixed uniform choice or the default
        distribution) is, a `ConditionalDistribution` is when its `reparameterized` flag says so,
        and any other layer (a network choosing a discrete option: the `classifier` of Abs, Max,
        MaxPool2D or Sort) is not.
        """
        if not self.differentiable_forward:
            return False
        if not self.stochastic_forward:
            return True
        for name in self.forward_samplers:
            sampler = getattr(self, name)
            if sampler is None:
                continue
            if not isinstance(sampler, ConditionalDistribution) or not sampler.reparameterized:
                return False
        return True

    @property
    def event_shape(self) -> tf.TensorShape:
        """The data-side event shape x this transform was built for.

        Raises:
          ValueError: the layer is not built yet.
        """
        if self._event_shape is None:
            raise ValueError(f"{self.name} is not built yet: call it on data or build() it first.")
        return self._event_shape

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        """The event shape of z for data of event shape `x_event_shape`.

        Args:
          x_event_shape: the data's event shape (without the batch axis).

        Returns:
          The latent's event shape.
        """
        return tf.TensorShape(x_event_shape)

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        """The event shape of x for latents of event shape `z_event_shape`.

        Args:
          z_event_shape: the latent's event shape (without the batch axis).

        Returns:
          The data's event shape.
        """
        return tf.TensorShape(z_event_shape)

    def build(self, input_shape: Shape) -> None:
        """Fixes the data event shape (`input_shape` without its batch axis) and checks it.

        Args:
          input_shape: the data's shape, batch axis first (`(None,) + event shape`).

        Raises:
          ValueError: the event's rank is below the transform's `min_event_rank`, or the event
            shape does not fit the transform.
        """
        event_shape = tf.TensorShape(input_shape)[1:]
        if event_shape.rank < self.min_event_rank:
            raise ValueError(
                f"{self.name} ({type(self).__name__}) needs an event of rank >= "
                f"{self.min_event_rank}; received event shape {event_shape.as_list()}."
            )
        self._event_shape = event_shape

    def compute_output_shape(
            self, input_shape: Shape) -> tuple[tuple[int | None, ...], tuple[int | None, ...]]:
        """The shapes `call` returns for x of `input_shape`; what `Flow.summary()` shows.

        Args:
          input_shape: the data's shape, batch axis first.

        Returns:
          The shapes of z ([batch] + z event) and of V ([batch]).
        """
        input_shape = tf.TensorShape(input_shape)
        batch = input_shape[:1]
        return (tuple(batch.concatenate(self.inverse_event_shape(input_shape[1:])).as_list()),
                tuple(batch.as_list()))

    def get_build_config(self) -> Config | None:
        """The shape the layer was built for, for Keras saving (None when not built).

        Returns:
          `{"input_shape": [None] + event shape}`, or None.
        """
        if self._event_shape is None:
            return None
        return {"input_shape": [None] + self._event_shape.as_list()}

    def build_from_config(self, config: Config | None) -> None:
        """Builds the layer from `get_build_config`'s output (nothing for None).

        Args:
          config: what `get_build_config` returned.
        """
        if config:
            self.build(config["input_shape"])

    # ----------------------------------------------------------------------------------------
    # Public methods: argument checks, then the subclass's implementation.

    def inverse_and_log_det(self, x: tf.Tensor, *, seed: Seed | None = None,
                            condition: tf.Tensor | None = None,
                            training: bool | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Inference direction: x -> (z, V(x, z)) with V of shape [batch].

        x is checked first (`tfp_survae._checks.check_values`): its dtype, its event shape and,
        for float data, that it holds no NaN or Inf (a ValueError naming them; in a graph a
        check op; inside an XLA program none, see `_checks.in_xla_program`).

        Args:
          x: the data, shape [batch] + event shape (integers for dequantization).
          seed: a stateless seed for a stochastic inverse (None: drawn from the layer's seed
            generator); unused by a deterministic inverse.
          condition: the context of a conditional transform, shape [batch] + context shape.
          training: Keras' training flag (batch statistics of `BatchNormalization`).

        Returns:
          (z, V): the latent, shape [batch] + z event, and V, shape [batch].

        Raises:
          TypeError: x has a dtype the transform does not take.
          ValueError: x has the wrong rank or event shape, is empty, holds NaN or Inf, or the
            results are not finite.
        """
        z, log_det, _ = self.inverse_with_score(
            x, seed=seed, condition=condition, training=training
        )
        return z, log_det

    def inverse(self, x: tf.Tensor, *, seed: Seed | None = None, condition: tf.Tensor | None = None,
                training: bool | None = None) -> tf.Tensor:
        """Inference direction x -> z (drops V).

        Args:
          x: the data, shape [batch] + event shape.
          seed: a stateless seed for a stochastic inverse (None: drawn from the layer's seed
            generator).
          condition: the context of a conditional transform.
          training: Keras' training flag.

        Returns:
          z, shape [batch] + z event.

        Raises:
          TypeError: x has a dtype the transform does not take.
          ValueError: as `inverse_and_log_det`.
        """
        return self.inverse_and_log_det(x, seed=seed, condition=condition, training=training)[0]

    def inverse_with_score(
            self, x: tf.Tensor, *, seed: Seed | None = None, condition: tf.Tensor | None = None,
            training: bool | None = None, validate: bool = True,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        """`inverse_and_log_det` plus the log-probability of any learned discrete choice.

        Used by `Flow`, which checks the data once at its entry and passes `validate=False` (the
        dtype and shape are still checked; the values are not scanned again).

        Args:
          x: the data, shape [batch] + event shape.
          seed: a stateless seed for a stochastic inverse (None: drawn from the layer's seed
            generator).
          condition: the context of a conditional transform.
          training: Keras' training flag.
          validate: scan x for NaN / Inf / emptiness and check the results are finite.

        Returns:
          (z, V, score): score is None unless the inverse sampled a discrete choice from a
          learned distribution (see the class docstring), else its log-probability, [batch].

        Raises:
          TypeError: x has a dtype the transform does not take.
          ValueError: as `inverse_and_log_det`.
        """
        x = self._check_data(x, check_values=validate)
        seed = self._draw_seed(seed) if self.stochastic_inverse or self.stochastic_log_det \
            else None
        z, log_det, score = InverseResult(
            *self._inverse_and_log_det(x, seed=seed, condition=condition, training=training))
        self._check_output("inverse", "z", z, self.inverse_event_shape(self.event_shape))
        log_det = self._check_log_det(log_det, x)
        if validate:
            z, log_det = self._check_results("inverse", z, log_det)
        return z, log_det, score

    def forward(self, z: tf.Tensor, *, seed: Seed | None = None, condition: tf.Tensor | None = None,
                validate: bool = True) -> tf.Tensor:
        """Generative direction: z -> x (z checked as x is in `inverse_and_log_det`).

        Args:
          z: the latent, shape [batch] + z event.
          seed: a stateless seed for a stochastic forward (None: drawn from the layer's seed
            generator); unused by a deterministic forward.
          condition: the context of a conditional transform.
          validate: scan z for NaN / Inf / emptiness and check x is finite.

        Returns:
          x, shape [batch] + event shape.

        Raises:
          TypeError: z is not a float tensor of the layer's dtype.
          ValueError: z has the wrong rank or event shape, is empty, holds NaN or Inf, or x is
            not finite.
        """
        z = self._check_latent(z, check_values=validate)
        seed = self._draw_seed(seed) if self.stochastic_forward else None
        x = self._forward(z, seed=seed, condition=condition)
        self._check_output("forward", "x", x, self.event_shape)
        return self._check_results("forward", x)[0] if validate else x

    def forward_at_temperature(self, z: tf.Tensor, temperature: float | tf.Tensor, *,
                               seed: Seed | None = None, condition: tf.Tensor | None = None,
                               validate: bool = True) -> tf.Tensor:
        """`forward` with the Gaussian noise it draws at `temperature` t: each draw e of a
        normal with mean mu becomes mu + t (e - mu), as `Flow.sample(temperature=t)` does with
        the base (Glow). A deterministic forward ignores t; t = 1 gives `forward`'s draws.

        Args:
          z: the latent, as in `forward`.
          temperature: t > 0, a float or a float scalar tensor (checked by the caller).
          seed: as in `forward`.
          condition: as in `forward`.
          validate: as in `forward`.

        Returns:
          x, shape [batch] + event shape.

        Raises:
          ValueError: the forward draws noise that a temperature does not scale
            (`tempered_forward` is False), or as `forward`.

        Examples:
          >>> flow = ts.Flow(ts.StandardNormal([1]), [ts.Slice(1)], event_shape=[2])
          >>> layer, z = flow.chain[0], tf.ones([3, 1])
          >>> x = layer.forward_at_temperature(z, 0.5, seed=(1, 2))
          >>> bool(tf.reduce_all(x[:, 1:] == 0.5 * layer.forward(z, seed=(1, 2))[:, 1:]))
          True
        """
        if not self.stochastic_forward:
            return self.forward(z, seed=seed, condition=condition, validate=validate)
        if not self.tempered_forward:
            raise ValueError(
                f"{self.name} ({type(self).__name__}): its forward draws noise that it "
                "cannot scale by a temperature (tempered_forward is False: only a normal "
                "distribution's noise is scaled, by a layer implementing "
                "_forward_at_temperature).")
        z = self._check_latent(z, check_values=validate)
        x = self._forward_at_temperature(z, temperature, seed=self._draw_seed(seed),
                                         condition=condition)
        self._check_output("forward", "x", x, self.event_shape)
        return self._check_results("forward", x)[0] if validate else x

    def _forward_at_temperature(self, z, temperature, *, seed, condition):
        raise NotImplementedError(f"{type(self).__name__} declares tempered_forward without "
                                  "implementing _forward_at_temperature.")

    def forward_and_log_det(
            self, z: tf.Tensor, *, seed: Seed | None = None, condition: tf.Tensor | None = None,
            validate: bool = True) -> tuple[tf.Tensor, tf.Tensor]:
        """Generative direction with the contribution: z -> (x, V(x, z)).

        V has the same meaning as in `inverse_and_log_det` (what the transform adds to log p(z)).
        Defined where the inverse is deterministic (bijections, inference surjections).

        Args:
          z: the latent, shape [batch] + z event.
          seed: a stateless seed for a stochastic forward (None: drawn from the layer's seed
            generator).
          condition: the context of a conditional transform.
          validate: scan z for NaN / Inf / emptiness and check the results are finite.

        Returns:
          (x, V): the data, shape [batch] + event shape, and V, shape [batch].

        Raises:
          TypeError: the inverse is stochastic (V at a forward sample is not defined), or z is
            not a float tensor of the layer's dtype.
          ValueError: as `forward`.
        """
        if self.stochastic_inverse:
            raise TypeError(
                f"{self.name} ({type(self).__name__}) has a stochastic inverse, so V at a "
                "forward sample is not defined; use inverse_and_log_det on the sample."
            )
        z = self._check_latent(z, check_values=validate)
        seed = self._draw_seed(seed) if self.stochastic_forward or self.stochastic_log_det \
            else None
        x, log_det = self._forward_and_log_det(z, seed=seed, condition=condition)
        self._check_output("forward", "x", x, self.event_shape)
        log_det = self._check_log_det(log_det, z)
        return self._check_results("forward", x, log_det) if validate else (x, log_det)

    def call(self, inputs: tf.Tensor,
             training: bool | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Keras entry point: `transform(x)` is `inverse_and_log_det(x)`.

        Args:
          inputs: the data x.
          training: Keras' training flag.

        Returns:
          (z, V) as `inverse_and_log_det`.
        """
        return self.inverse_and_log_det(inputs, training=training)

    # ----------------------------------------------------------------------------------------
    # Subclass hooks.

    def _inverse_and_log_det(self, x: tf.Tensor, *, seed: tf.Tensor | None,
                             condition: tf.Tensor | None, training: bool | None,
                             ) -> tuple[tf.Tensor, ...]:
        raise NotImplementedError

    def _forward(self, z: tf.Tensor, *, seed: tf.Tensor | None,
                 condition: tf.Tensor | None) -> tf.Tensor:
        # A subclass implements `_forward`, or `_forward_and_log_det` (which then serves both).
        if type(self)._forward_and_log_det is Transform._forward_and_log_det:
            raise NotImplementedError(f"{type(self).__name__} implements no forward direction.")
        return self._forward_and_log_det(z, seed=seed, condition=condition)[0]

    def _forward_and_log_det(self, z: tf.Tensor, *, seed: tf.Tensor | None,
                             condition: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
        # Valid because the inverse is deterministic: inverse(forward(z)) == z. The seed serves
        # a stochastic V.
        x = self._forward(z, seed=seed, condition=condition)
        _, log_det, *_ = self._inverse_and_log_det(x, seed=seed, condition=condition,
                                                   training=False)
        return x, log_det

    def preimages(self, x: tf.Tensor, *,
                  condition: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """All z with forward(z) == x (generative surjections with a finite preimage).

        Args:
          x: the data, shape [batch] + event shape.
          condition: the context of a conditional transform.

        Returns:
          (z, log_w): z of shape [P, batch] + z event, and log_w of shape [batch], 0 where x lies
          in the image of `forward` and -inf where it does not.

        Raises:
          NotImplementedError: the transform has no finite preimage enumeration.
        """
        raise NotImplementedError(f"{type(self).__name__} has no finite preimage enumeration.")

    # ----------------------------------------------------------------------------------------
    # Checks and seeds.

    @property
    def _owner(self) -> str:
        """The layer as its errors name it, "Type 'name'" (for subclasses' messages)."""
        return f"{type(self).__name__} '{self.name}'"

    @staticmethod
    def _check_axis(axis: int, action: str) -> int:
        """A constructor's check of an `axis` argument (anything but the batch axis)."""
        if axis == 0:
            raise ValueError(f"axis 0 is the batch axis; {action} an event axis (e.g. axis=-1).")
        return int(axis)

    def _prepare_distribution(self, dist, role: str, event_shape, context_shape, default,
                              elementwise: bool = False, support: str | None = None):
        """A subclass's decoder or encoder argument, checked and built (call it in `build`).

        Args:
          dist: the argument: an `extend.ConditionalDistribution` layer, or None for the
            default.
          role: what it is, named in errors ("decoder of the gaps", ...).
          event_shape: the event shape it must have (of what it draws).
          context_shape: the event shape of the condition it receives (z for a decoder,
            x for an encoder); it is built for [None] + context_shape.
          default: builds the default for None, called as
            `default(event_shape, dtype=self.dtype_policy)` (e.g. `ts.StandardNormal`).
          elementwise: it must factorise over elements (`log_prob_elements`).
          support: where its values must lie ("nonnegative", ...); a distribution whose
            `support` says otherwise is refused (one that does not say is taken, and one
            inside it, such as "unit interval" for "nonnegative").

        Returns:
          The distribution layer, built.

        Raises:
          TypeError: not a distribution layer (or not elementwise where it must be).
          ValueError: its event shape is not `event_shape`, or its support not `support`.
        """
        event_shape = tf.TensorShape(event_shape).as_list()
        if dist is None:
            dist = default(event_shape, dtype=self.dtype_policy)
        if not isinstance(dist, ConditionalDistribution) or (elementwise and not dist.elementwise):
            kind = "an elementwise distribution layer" if elementwise else \
                "a tfp_survae ConditionalDistribution"
            raise TypeError(f"{self._owner}: the {role} must be {kind}; received "
                            f"{type(dist).__name__}.")
        if support is not None and not support_within(dist.support, support):
            raise ValueError(f"{self._owner}: the {role} must be a distribution of "
                             f"{support} values; received {type(dist).__name__}, of "
                             f"{dist.support} values.")
        if dist.event_shape.as_list() != event_shape:
            raise ValueError(f"{self._owner}: the {role} needs event shape {event_shape}; "
                             f"received {dist.event_shape.as_list()}.")
        dist.build((None,) + tuple(tf.TensorShape(context_shape).as_list()))
        return dist

    def _resolve_axis(self, axis: int, rank: int) -> int:
        """`axis` as a negative event axis: negative axes count from the end of the event,
        positive ones include the batch axis (1 is the first event axis)."""
        event_axis = axis if axis < 0 else axis - 1 - rank
        if not -rank <= event_axis < 0:
            raise ValueError(
                f"{self._owner}: axis {axis} is not an axis of an event of rank {rank}."
            )
        return event_axis

    def _convert_data(self, x) -> tf.Tensor:
        if self.integer_data:
            return _checks.as_integer(self._owner, "data x", x)
        return _checks.as_float(self._owner, "data x", x, self.dtype)

    def _check_data(self, x, check_values: bool = True) -> tf.Tensor:
        x = self._convert_data(x)
        self._ensure_built(x.shape[1:] if x.shape.rank else None, "data x", x)
        return _checks.check_values(self._owner, "data x", x, self.event_shape,
                                   finite=check_values and not self.integer_data,
                                   nonempty=check_values)

    def _check_latent(self, z, check_values: bool = True) -> tf.Tensor:
        z = _checks.as_float(self._owner, "latent z", z, self.dtype)
        if not self.built and z.shape.rank:
            self._ensure_built(self.forward_event_shape(z.shape[1:]), "latent z", z)
        return _checks.check_values(self._owner, "latent z", z,
                                   self.inverse_event_shape(self.event_shape),
                                   finite=check_values, nonempty=check_values)

    def _check_results(self, direction: str, out, log_det=None):
        """Finite inputs must give finite outputs, and a V that is neither NaN nor +inf (-inf is a
        density of 0): float32 overflow of huge inputs, or a network that diverged, raises a
        ValueError here rather than returning NaN (eagerly; a check op in graphs)."""
        message = (f"{self._owner}: the {direction} direction turned finite inputs into NaN or "
                   "Inf (the values overflow this dtype, or the layer's weights have diverged); "
                   "rescale the data or compute in float64")
        results = [out] + ([] if log_det is None else [log_det])
        out_ok = tf.reduce_all(tf.math.is_finite(out)) if out.dtype.is_floating else None
        v_ok = None
        if log_det is not None:
            # V = -inf is a density of 0 (x outside an image or a domain, or a density below
            # the dtype's range); NaN and +inf are never valid.
            v_ok = tf.logical_not(tf.reduce_any(tf.logical_or(
                tf.math.is_nan(log_det), tf.equal(log_det, float("inf")))))
        if _checks.invalid_gives_nan():
            return results
        oks = [ok for ok in (out_ok, v_ok) if ok is not None]
        if tf.executing_eagerly():
            if not all(bool(ok) for ok in oks):
                raise ValueError(message + ".")
            return results
        if not oks:  # integer output (dequantization's forward), no V
            return results
        ok = tf.reduce_all(tf.stack(oks))
        return [_checks.guarded(r, ok, message) for r in results]

    def _ensure_built(self, event_shape, what, tensor):
        if self.built:
            return
        if event_shape is None:
            raise ValueError(
                f"{self._owner}: expected {what} with a batch axis then the event; received a "
                f"tensor of shape {tensor.shape}."
            )
        if not tf.TensorShape(event_shape).is_fully_defined():
            raise ValueError(
                f"{self._owner}: cannot build from {what} of shape {tensor.shape} (its event "
                "shape is not fully known, as in a tf.function traced with None dimensions). "
                "Build the layer first: layer.build((None, *event_shape)), or call it once "
                "eagerly."
            )
        self.build((None,) + tuple(tf.TensorShape(event_shape).as_list()))

    def _check_output(self, direction: str, what: str, value, event) -> None:
        """Raises a ValueError where the static shape of a hook's output is not [batch] +
        `event`, the event shape the layer declares for that side (a layer changing the event
        shape that does not say so would otherwise feed a wrong shape on, silently)."""
        shape, event = value.shape, tf.TensorShape(event)
        if shape.rank is None or event.rank is None:
            return
        if shape.rank != event.rank + 1 or not shape[1:].is_compatible_with(event):
            declared = "inverse_event_shape" if what == "z" else "forward_event_shape"
            raise ValueError(
                f"{self._owner}: the {direction} direction returned {what} of shape "
                f"{shape.as_list()}, but the layer declares [batch] + {event.as_list()}; a "
                f"layer that changes the event shape overrides {declared} (and its "
                "counterpart) to say so.")

    def _check_log_det(self, log_det, reference):
        log_det = tf.convert_to_tensor(log_det, dtype_hint=self.dtype)
        if log_det.shape.rank is not None and log_det.shape.rank != 1:
            raise ValueError(
                f"{self._owner} returned V of shape {log_det.shape}; the contract is [batch]."
            )
        rows = reference.shape[0] if reference.shape.rank else None
        if log_det.shape.rank == 1 and not log_det.shape.is_compatible_with([rows]):
            raise ValueError(
                f"{self._owner} returned V of shape {log_det.shape.as_list()} for a batch of "
                f"{rows}; the contract is one V per example, shape [batch].")
        return tf.cast(log_det, self.dtype)

    def _draw_seed(self, seed: Seed | None) -> tf.Tensor | None:
        if seed is None:
            return _seeds.to_stateless_seed(_state.next_seed(self.seed_generator))
        return _seeds.to_stateless_seed(seed)

    def save_own_variables(self, store: dict[str, Any]) -> None:
        """Saves the layer's variables and its seed generator's state (Keras saving).

        Args:
          store: the Keras weights store the values are written to.
        """
        _variables.save_variables_and_seed(self, store, self.seed_generator)

    def load_own_variables(self, store: dict[str, Any]) -> None:
        """Loads what `save_own_variables` saved.

        Args:
          store: the Keras weights store.
        """
        _variables.load_variables_and_seed(self, store, self.seed_generator)

    def get_config(self) -> Config:
        """The constructor's arguments, for Keras serialization.

        Returns:
          The layer's config; `from_config` rebuilds the layer from it.
        """
        config = super().get_config()
        if self.seed_generator is not None:
            config["seed"] = self.seed
        for name in self.config_sublayers:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config: Config) -> Transform:
        """Rebuilds a layer from `get_config`'s output (its sublayers deserialized).

        Args:
          config: what `get_config` returned.

        Returns:
          The new layer.
        """
        return cls(**_serialization.deserialize_sublayers(config))


# The flags a transform's kind sets (Table 1 of the paper); never set by a layer itself.
KIND_FLAGS = ("bijective", "stochastic_forward", "stochastic_inverse")


class Bijection(Transform):
    """A bijection x = f(z): exact, deterministic both ways; V = log |det dz/dx|."""

    bijective = True


class Surjection(Transform):
    """A surjection, of one of the paper's two kinds (Table 1).

    * ``kind="inference"``: the inverse z = f(x) is deterministic and many-to-one, the forward
      samples x from p(x | z) on the fibre {x: f(x) = z}, and V = log p(x | z) is exact.
    * ``kind="generative"``: the forward x = f(z) is deterministic and many-to-one, the inverse
      samples z from q(z | x) on the preimage of x, and V = -log q(z | x) is a one-sample ELBO
      term.

    Subclasses name their kind in the class statement:
    ``class Slice(Surjection, kind="inference")``.

    Args:
      seed: as `Transform`.
      **kwargs: as `Transform`.
    """

    kind: str = ""

    def __init__(self, *, seed: int | None = None, **kwargs: Any) -> None:
        if not self.kind:
            name = type(self).__name__
            raise TypeError(
                f"{name} derives from Surjection without a kind: name it in the class "
                f"statement, `class {name}(Surjection, kind=\"inference\")` (a deterministic "
                "inverse) or kind=\"generative\" (a deterministic forward).")
        super().__init__(seed=seed, **kwargs)

    def __init_subclass__(cls, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind is None:
            return
        if kind not in ("inference", "generative"):
            raise ValueError(f"Surjection kind is 'inference' or 'generative'; received {kind!r}.")
        cls.kind = kind
        cls.stochastic_forward = kind == "inference"
        cls.stochastic_inverse = kind == "generative"


class StochasticTransform(Transform):
    """A stochastic transform: x ~ p(x | z) forward, z ~ q(z | x) inverse,
    V = log p(x | z) - log q(z | x) (one-sample ELBO term)."""

    stochastic_forward = True
    stochastic_inverse = True


def takes_integer_data(chain: Sequence[Transform]) -> bool:
    """True when a chain's data are integers (its first transform dequantizes): the one rule of
    Sequential, Flow and TransformedDistribution."""
    return bool(chain) and bool(chain[0].integer_data)


def _parts_flag(flag: str, combine: Callable[[Iterable[bool]], bool]) -> Any:
    """A kind flag of a composite, combined over its parts (`all` or `any`)."""
    def get(self: Sequential) -> bool:
        return combine(bool(getattr(t, flag)) for t in self.transforms)

    return property(get, doc=f"`{combine.__name__}` of the parts' `{flag}`.")


def _first_part_integer_data(self: Sequential) -> bool:
    """True when the first part takes integer data (dequantization)."""
    return takes_integer_data(self.transforms)


def flatten_transforms(transforms: Iterable[Any]) -> list[Transform]:
    """The transforms of a chain with nested `Sequential`s flattened (TypeError for anything that
    is not a Transform)."""
    chain: list[Transform] = []
    for t in transforms:
        if isinstance(t, Sequential):
            chain.extend(flatten_transforms(t.transforms))
        elif isinstance(t, Transform):
            chain.append(t)
        else:
            raise TypeError(
                f"A flow's transforms are tfp_survae Transform layers; received "
                f"{type(t).__name__}: {t!r}. Wrap a tfb.Bijector in BijectorTransform."
            )
    return chain


@keras.saving.register_keras_serializable(package="tfp_survae")
class Sequential(Transform):
    """Transforms chained from data to latent: `Sequential([t1, t2])` inverts t1 then t2.

    Forward: x = t1.forward(t2.forward(z)). Inverse: z = t2.inverse(t1.inverse(x)).
    V: the sum of the parts' V. Flags are aggregated from the parts.

    It runs the one loop of a flow's chain, nested Sequentials flattened, with the flow's seed
    policy: a seed gives the parts the seeds a `Flow` whose transforms are this Sequential
    would give them. Its inverse returns one z per example, so a part built with `exact=True`
    contributes its one-sample V here; inside a `Flow` (which flattens it) the flow sums over
    that part's preimage.

    Args:
      transforms: the parts, from data to latent.
      **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Raises:
      TypeError: a part is not a Transform.

    Examples:
      >>> chain = ts.Sequential([ts.Reverse(), ts.Slice(1)])
      >>> z, v = chain.inverse_and_log_det(tf.constant([[1.0, 2.0, 3.0]]))
      >>> z.numpy().tolist(), v.shape.as_list()
      ([[3.0]], [1])
    """

    owns_seed_generator = False
    config_sublayers = ("transforms",)

    def __init__(self, transforms: Sequence[Transform], **kwargs: Any) -> None:
        transforms = list(transforms)
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(
                    f"Sequential takes Transform layers; received {type(t).__name__}: {t!r}."
                )
        super().__init__(**kwargs)
        self.transforms = transforms

    bijective = _parts_flag("bijective", all)
    stochastic_forward = _parts_flag("stochastic_forward", any)
    stochastic_inverse = _parts_flag("stochastic_inverse", any)
    stochastic_log_det = _parts_flag("stochastic_log_det", any)

    integer_data = property(_first_part_integer_data)

    @property
    def reparameterized_forward(self) -> bool:
        """True when every part's forward is reparameterized."""
        return all(t.reparameterized_forward for t in self.transforms)

    @property
    def needs_initialization(self) -> bool:
        """True when a part needs its data-dependent initialisation."""
        return any(t.needs_initialization for t in self.transforms)

    @property
    def lower_bound(self) -> bool:
        return any(t.lower_bound for t in self.transforms)

    @property
    def chain(self) -> list[Transform]:
        """The parts from data to latent, nested Sequentials flattened."""
        return flatten_transforms(self.transforms)

    def inverse_event_shape(self, x_event_shape: Shape) -> tf.TensorShape:
        shape = tf.TensorShape(x_event_shape)
        for t in self.transforms:
            shape = t.inverse_event_shape(shape)
        return shape

    def forward_event_shape(self, z_event_shape: Shape) -> tf.TensorShape:
        shape = tf.TensorShape(z_event_shape)
        for t in reversed(self.transforms):
            shape = t.forward_event_shape(shape)
        return shape

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        shape = self.event_shape
        for t in self.transforms:
            if not t.built:
                t.build((None,) + tuple(shape.as_list()))
            shape = t.inverse_event_shape(shape)

    def _draw_seed(self, seed: Seed | None) -> tf.Tensor | None:
        return None if seed is None else _seeds.to_stateless_seed(seed)

    def inverse_with_score(
            self, x: tf.Tensor, *, seed: Seed | None = None, condition: tf.Tensor | None = None,
            training: bool | None = None, validate: bool = True,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor | None]:
        x = self._check_data(x, check_values=validate)
        chain = self.chain
        seeds, _ = _chain.chain_seeds(seed, chain, "inverse")
        out = _chain.run_inverses(chain, x, seeds, condition=condition, training=training)
        z = out.z
        total = tf.zeros(tf.shape(x)[:1], self.dtype) if out.log_det is None else out.log_det
        if validate:
            z, total = self._check_results("inverse", z, total)
        return z, total, out.score

    def _forward(self, z: tf.Tensor, *, seed: tf.Tensor | None,
                 condition: tf.Tensor | None) -> tf.Tensor:
        chain = self.chain
        seeds, _ = _chain.chain_seeds(seed, chain, "forward")
        return _chain.run_forwards(chain, z, seeds, condition=condition)[0]

    def _forward_and_log_det(self, z: tf.Tensor, *, seed: tf.Tensor | None,
                             condition: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
        chain = self.chain
        seeds, _ = _chain.chain_seeds(seed, chain, "forward")
        x, total = _chain.run_forwards(chain, z, seeds, condition=condition, with_log_det=True)
        return x, tf.zeros(tf.shape(z)[:1], self.dtype) if total is None else total
