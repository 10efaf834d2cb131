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

from typing import NamedTuple, Sequence

import keras
import tensorflow as tf

from tfp_survae import _checks, _seeds, _serialization, _state, _variables
from tfp_survae.distributions import ConditionalDistribution
from tfp_survae.transforms import _chain

__all__ = ["Transform", "Bijection", "Surjection", "StochasticTransform", "Sequential",
           "InverseResult"]


class InverseResult(NamedTuple):
    """What `_inverse_and_log_det` returns when its inverse sampled a discrete choice from a
    learned distribution: z, V and `score`, the per-example log-probability of that choice
    (0-gradient in value; `Flow` turns it into a score-function gradient). Every other
    transform returns the plain pair (z, V)."""

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
      integer_data: x must hold integers (dequantization).
      min_event_rank: the smallest event rank (dimensions after the batch axis) accepted.
      reparameterized_forward: `forward` is a differentiable map of z and of reparameterized
        noise (see the property).
      forward_samplers: names of the attributes holding what a stochastic `forward` samples
        from (a discrete choice's network, a `ConditionalDistribution`); read by
        `reparameterized_forward`.
      needs_initialization: the layer needs a data-dependent initialisation before training
        (`Flow.initialize`, which `fit` runs on its first batch); False unless a layer says so.
    """

    bijective = False
    stochastic_forward = False
    stochastic_inverse = False
    integer_data = False
    min_event_rank = 0
    exact = False
    owns_seed_generator = True  # composites leave seeding to their parts
    config_sublayers: tuple = ()  # attributes holding layers, serialized by get_config
    differentiable_forward = True  # False where forward rounds (dequantization)
    forward_samplers: tuple = ()  # attributes a stochastic forward samples from
    needs_initialization = False  # a data-dependent initialisation is pending (ActNorm)

    def __init__(self, *, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = (
            keras.random.SeedGenerator(seed, name="seed_generator")
            if self.owns_seed_generator and (self.stochastic_forward or self.stochastic_inverse)
            else None
        )
        self._event_shape = None

    # ----------------------------------------------------------------------------------------
    # Kind flags and shapes.

    @property
    def lower_bound(self) -> bool:
        return self.stochastic_inverse

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
        """The data-side event shape x this transform was built for."""
        if self._event_shape is None:
            raise ValueError(f"{self.name} is not built yet: call it on data or build() it first.")
        return self._event_shape

    def inverse_event_shape(self, x_event_shape) -> tf.TensorShape:
        """The event shape of z for data of event shape `x_event_shape`."""
        return tf.TensorShape(x_event_shape)

    def forward_event_shape(self, z_event_shape) -> tf.TensorShape:
        """The event shape of x for latents of event shape `z_event_shape`."""
        return tf.TensorShape(z_event_shape)

    def build(self, input_shape):
        """Fixes the data event shape (`input_shape` without its batch axis) and checks it."""
        event_shape = tf.TensorShape(input_shape)[1:]
        if event_shape.rank < self.min_event_rank:
            raise ValueError(
                f"{self.name} ({type(self).__name__}) needs an event of rank >= "
                f"{self.min_event_rank}; received event shape {event_shape.as_list()}."
            )
        self._event_shape = event_shape

    def compute_output_shape(self, input_shape):
        """The shapes `call` returns for x of `input_shape`: z ([batch] + z event) and V
        ([batch]); what `Flow.summary()` shows."""
        input_shape = tf.TensorShape(input_shape)
        batch = input_shape[:1]
        return (tuple(batch.concatenate(self.inverse_event_shape(input_shape[1:])).as_list()),
                tuple(batch.as_list()))

    def get_build_config(self):
        if self._event_shape is None:
            return None
        return {"input_shape": [None] + self._event_shape.as_list()}

    def build_from_config(self, config):
        if config:
            self.build(config["input_shape"])

    # ----------------------------------------------------------------------------------------
    # Public methods: argument checks, then the subclass's implementation.

    def inverse_and_log_det(self, x, *, seed=None, condition=None, training=None):
        """Inference direction: x -> (z, V(x, z)) with V of shape [batch].

        x is checked first (`tfp_survae._checks.check_values`): its dtype, its event shape and,
        for float data, that it holds no NaN or Inf (a ValueError naming them; in a graph a
        check op; inside an XLA program none, see `_checks.in_xla_program`).
        """
        z, log_det, _ = self.inverse_with_score(
            x, seed=seed, condition=condition, training=training
        )
        return z, log_det

    def inverse(self, x, *, seed=None, condition=None, training=None):
        """Inference direction x -> z (drops V)."""
        return self.inverse_and_log_det(x, seed=seed, condition=condition, training=training)[0]

    def inverse_with_score(self, x, *, seed=None, condition=None, training=None,
                           validate: bool = True):
        """`inverse_and_log_det` plus the log-probability of any learned discrete choice.

        Returns (z, V, score) where score is None unless the inverse sampled a discrete choice from
        a learned distribution (see the class docstring). Used by `Flow`, which checks the data
        once at its entry and passes `validate=False` (the dtype and shape are still checked; the
        values are not scanned again).
        """
        x = self._check_data(x, check_values=validate)
        seed = self._draw_seed(seed) if self.stochastic_inverse else None
        z, log_det, score = InverseResult(
            *self._inverse_and_log_det(x, seed=seed, condition=condition, training=training))
        log_det = self._check_log_det(log_det, x)
        if validate:
            z, log_det = self._check_results("inverse", z, log_det)
        return z, log_det, score

    def forward(self, z, *, seed=None, condition=None, validate: bool = True):
        """Generative direction: z -> x (z checked as x is in `inverse_and_log_det`)."""
        z = self._check_latent(z, check_values=validate)
        seed = self._draw_seed(seed) if self.stochastic_forward else None
        x = self._forward(z, seed=seed, condition=condition)
        return self._check_results("forward", x)[0] if validate else x

    def forward_and_log_det(self, z, *, seed=None, condition=None, validate: bool = True):
        """Generative direction with the contribution: z -> (x, V(x, z)).

        V has the same meaning as in `inverse_and_log_det` (what the transform adds to log p(z)).
        Defined where the inverse is deterministic (bijections, inference surjections).
        """
        if self.stochastic_inverse:
            raise TypeError(
                f"{self.name} ({type(self).__name__}) has a stochastic inverse, so V at a "
                "forward sample is not defined; use inverse_and_log_det on the sample."
            )
        z = self._check_latent(z, check_values=validate)
        seed = self._draw_seed(seed) if self.stochastic_forward else None
        x, log_det = self._forward_and_log_det(z, seed=seed, condition=condition)
        log_det = self._check_log_det(log_det, z)
        return self._check_results("forward", x, log_det) if validate else (x, log_det)

    def call(self, inputs, training=None):
        """Keras entry point: `transform(x)` is `inverse_and_log_det(x)`."""
        return self.inverse_and_log_det(inputs, training=training)

    # ----------------------------------------------------------------------------------------
    # Subclass hooks.

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        raise NotImplementedError

    def _forward(self, z, *, seed, condition):
        # A subclass implements `_forward`, or `_forward_and_log_det` (which then serves both).
        if type(self)._forward_and_log_det is Transform._forward_and_log_det:
            raise NotImplementedError(f"{type(self).__name__} implements no forward direction.")
        return self._forward_and_log_det(z, seed=seed, condition=condition)[0]

    def _forward_and_log_det(self, z, *, seed, condition):
        # Valid because the inverse is deterministic: inverse(forward(z)) == z.
        x = self._forward(z, seed=seed, condition=condition)
        _, log_det, *_ = self._inverse_and_log_det(x, seed=None, condition=condition, training=False)
        return x, log_det

    def preimages(self, x, *, condition=None):
        """All z with forward(z) == x (generative surjections with a finite preimage).

        Returns (z, log_w): z of shape [P, batch] + z event, and log_w of shape [batch], 0 where
        x lies in the image of `forward` and -inf where it does not.
        """
        raise NotImplementedError(f"{type(self).__name__} has no finite preimage enumeration.")

    # ----------------------------------------------------------------------------------------
    # Checks and seeds.

    @property
    def _owner(self) -> str:
        return f"{type(self).__name__} '{self.name}'"

    @staticmethod
    def _check_axis(axis: int, action: str) -> int:
        """A constructor's check of an `axis` argument (anything but the batch axis)."""
        if axis == 0:
            raise ValueError(f"axis 0 is the batch axis; {action} an event axis (e.g. axis=-1).")
        return int(axis)

    def _prepare_distribution(self, dist, role: str, event_shape, context_shape, default,
                              elementwise: bool = False):
        """Checks a distribution argument (or builds `default` for None) and builds it for
        contexts of `context_shape`; `role` names it in errors ("decoder of the gaps", ...)."""
        event_shape = tf.TensorShape(event_shape).as_list()
        if dist is None:
            dist = default(event_shape, dtype=self.dtype_policy)
        if not isinstance(dist, ConditionalDistribution) or (elementwise and not dist.elementwise):
            kind = "an elementwise distribution layer" if elementwise else \
                "a tfp_survae ConditionalDistribution"
            raise TypeError(f"{self._owner}: the {role} must be {kind}; received "
                            f"{type(dist).__name__}.")
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

    def _check_log_det(self, log_det, reference):
        log_det = tf.convert_to_tensor(log_det, dtype_hint=self.dtype)
        if log_det.shape.rank is not None and log_det.shape.rank != 1:
            raise ValueError(
                f"{self._owner} returned V of shape {log_det.shape}; the contract is [batch]."
            )
        return tf.cast(log_det, self.dtype)

    def _draw_seed(self, seed) -> tf.Tensor:
        if seed is None:
            return _seeds.to_stateless_seed(_state.next_seed(self.seed_generator))
        return _seeds.to_stateless_seed(seed)

    def save_own_variables(self, store):
        _variables.save_variables_and_seed(self, store, self.seed_generator)

    def load_own_variables(self, store):
        _variables.load_variables_and_seed(self, store, self.seed_generator)

    def get_config(self):
        config = super().get_config()
        if self.seed_generator is not None:
            config["seed"] = self.seed
        for name in self.config_sublayers:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**_serialization.deserialize_sublayers(config))


class Bijection(Transform):
    """A bijection x = f(z): exact, deterministic both ways; V = log |det dz/dx|."""

    bijective = True


class Surjection(Transform):
    """A surjection, of one of the paper's two kinds (Table 1).

    * ``kind="inference"``: the inverse z = f(x) is deterministic and many-to-one, the forward
      samples x from p(x | z) on the fibre {x: f(x) = z}, and V = log p(x | z) is exact.
    * ``kind="generative"``: the forward x = f(z) is deterministic and many-to-one, the inverse
      samples z from q(z | x) on the preimage of x, and V = -log q(z | x) is a one-sample ELBO term.

    Subclasses name their kind in the class statement: ``class Slice(Surjection, kind="inference")``.
    """

    kind: str = ""

    def __init_subclass__(cls, kind: str | None = None, **kwargs):
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


def takes_integer_data(chain) -> bool:
    """True when a chain's data are integers (its first transform dequantizes): the one rule of
    Sequential, Flow and TransformedDistribution."""
    return bool(chain) and chain[0].integer_data


def flatten_transforms(transforms) -> list:
    """The transforms of a chain with nested `Sequential`s flattened (TypeError for anything that
    is not a Transform)."""
    chain = []
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
    """

    owns_seed_generator = False
    config_sublayers = ("transforms",)

    def __init__(self, transforms: Sequence[Transform], **kwargs):
        transforms = list(transforms)
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(
                    f"Sequential takes Transform layers; received {type(t).__name__}: {t!r}."
                )
        super().__init__(**kwargs)
        self.transforms = transforms

    bijective = property(lambda self: all(t.bijective for t in self.transforms))
    stochastic_forward = property(lambda self: any(t.stochastic_forward for t in self.transforms))
    stochastic_inverse = property(lambda self: any(t.stochastic_inverse for t in self.transforms))
    integer_data = property(lambda self: takes_integer_data(self.transforms))
    reparameterized_forward = property(
        lambda self: all(t.reparameterized_forward for t in self.transforms)
    )
    needs_initialization = property(
        lambda self: any(t.needs_initialization for t in self.transforms)
    )

    @property
    def lower_bound(self) -> bool:
        return any(t.lower_bound for t in self.transforms)

    @property
    def chain(self) -> list:
        """The parts from data to latent, nested Sequentials flattened."""
        return flatten_transforms(self.transforms)

    def inverse_event_shape(self, x_event_shape):
        shape = tf.TensorShape(x_event_shape)
        for t in self.transforms:
            shape = t.inverse_event_shape(shape)
        return shape

    def forward_event_shape(self, z_event_shape):
        shape = tf.TensorShape(z_event_shape)
        for t in reversed(self.transforms):
            shape = t.forward_event_shape(shape)
        return shape

    def build(self, input_shape):
        super().build(input_shape)
        shape = self.event_shape
        for t in self.transforms:
            if not t.built:
                t.build((None,) + tuple(shape.as_list()))
            shape = t.inverse_event_shape(shape)

    def _draw_seed(self, seed):
        return None if seed is None else _seeds.to_stateless_seed(seed)

    def inverse_with_score(self, x, *, seed=None, condition=None, training=None,
                           validate: bool = True):
        x = self._check_data(x, check_values=validate)
        chain = self.chain
        seeds, _ = _chain.chain_seeds(seed, chain, "inverse")
        out = _chain.run_inverses(chain, x, seeds, condition=condition, training=training)
        z = out.z
        total = tf.zeros(tf.shape(x)[:1], self.dtype) if out.log_det is None else out.log_det
        if validate:
            z, total = self._check_results("inverse", z, total)
        return z, total, out.score

    def _forward(self, z, *, seed, condition):
        chain = self.chain
        seeds, _ = _chain.chain_seeds(seed, chain, "forward")
        return _chain.run_forwards(chain, z, seeds, condition=condition)[0]

    def _forward_and_log_det(self, z, *, seed, condition):
        chain = self.chain
        seeds, _ = _chain.chain_seeds(seed, chain, "forward")
        x, total = _chain.run_forwards(chain, z, seeds, condition=condition, with_log_det=True)
        return x, tf.zeros(tf.shape(z)[:1], self.dtype) if total is None else total
