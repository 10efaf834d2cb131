"""The chain of transforms between data and latent: the one loop over it, in either direction,
and the one seed policy. Sequential, Flow, TransformedDistribution and FlowBijector all run it.

`chain_log_prob` is Algorithm 1 of the paper: run the inverses from data to latent, sum the
contributions V, add log p(z). `chain_sample` runs the forwards from base samples.

The seed policy: a seed S drives one pass of a chain of T transforms (listed data to latent)
and its base. When no transform draws in the direction run (a chain of bijections with exact
V, or inverses that are all deterministic; a random V, `stochastic_log_det`, draws in both
directions), the base receives S itself, as in
`tfd.TransformedDistribution(base, bijector)`. Otherwise S is split into T + 1 seeds: one per
transform, in the chain's order, and the last for the base. A seed of None leaves every
transform and the base to draw its own.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Sequence

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfp_survae import _checks, _seeds
from tfp_survae.transforms._types import Seed, Shape

# The Transform layers of a chain, data to latent (typed loosely: `base` imports this module).
Chain = Sequence[Any]

tfd = tfp.distributions

# (log p(z), its condition, its seed) -> [batch] of a chain's base, and its sampler.
BaseLogProb = Callable[[tf.Tensor, "tf.Tensor | None", "tf.Tensor | None"], tf.Tensor]
BaseSampler = Callable[[int, "tf.Tensor | None", "tf.Tensor | None"],
                       "tuple[tf.Tensor, tf.Tensor]"]


def is_exact(base: Any, chain: Chain) -> bool:
    """True when every transform is exact (or enumerated), none estimates its V at random
    (`stochastic_log_det`), and the base is not a lower bound."""
    return bool(getattr(base, "is_exact", True)) and all(
        (not t.lower_bound or t.exact) and not t.stochastic_log_det for t in chain)


def check_condition_readers(owner: str, base: Any, chain: Chain,
                            condition_shape: Sequence[int] | None) -> None:
    """Refuses a `condition_shape` that neither `base` nor a transform of `chain` reads (the
    density would ignore the condition, silently), a transform or base that reads one where
    `condition_shape` is None, and a transform (or a Flow as base) built for another condition
    shape. A transform reads one where its `condition_shape` is set; the condition it takes,
    its `condition_event_shape`, must be `condition_shape` (a coupling over positions built
    with [C] takes the positions, then C); a base
    where its `is_conditional` is true (a tfd.Distribution, or None for a chain without a
    base, reads none; a density layer without the property may, so it is not refused).

    Raises:
      ValueError: any of these mismatches, naming the readers.
    """
    readers = [f"{type(t).__name__} '{t.name}'" for t in chain if t.condition_shape is not None]
    base_reads = False if base is None or isinstance(base, tfd.Distribution) else getattr(
        base, "is_conditional", None)
    if base_reads:
        readers.insert(0, f"its base {type(base).__name__} '{base.name}'")
    if condition_shape is not None and not readers and base_reads is not None:
        raise ValueError(
            f"{owner} has condition_shape={list(condition_shape)}, but no layer reads a "
            "condition, so its density would ignore it: build a transform with "
            "condition_shape= (a coupling, MADE, residual block or continuous flow) or give the "
            "base a network (a conditional distribution), or drop condition_shape."
        )
    if condition_shape is None and readers:
        raise ValueError(
            f"{owner} has no condition_shape, but {', '.join(readers)} "
            f"read{'s' if len(readers) == 1 else ''} a condition; pass condition_shape= (the "
            "condition's event shape) to make it conditional."
        )
    if condition_shape is not None:
        _check_reader_shapes(owner, base, chain, list(condition_shape))


def _check_reader_shapes(owner: str, base: Any, chain: Chain, shape: list[int]) -> None:
    """Refuses a reader whose `condition_event_shape` is not `shape`."""
    for layer in chain:
        takes = layer.condition_event_shape
        if takes is None or list(takes) == shape:
            continue
        built = list(layer.condition_shape)
        remedy = (f"; build it with condition_shape={shape} (the condition's event shape)"
                  if list(takes) == built else
                  f", so it takes one condition of {built[-1]} features per position, of "
                  f"shape {list(takes)}; give the flow condition_shape={list(takes)}")
        raise ValueError(
            f"{owner} has condition_shape={shape}, but {type(layer).__name__} "
            f"'{layer.name}' was built for condition_shape={built}{remedy}.")
    read = None if isinstance(base, tfd.Distribution) else getattr(base, "condition_shape", None)
    if read is not None and list(read) != shape:
        raise ValueError(
            f"{owner} has condition_shape={shape}, but its base {type(base).__name__} "
            f"'{base.name}' takes condition_shape={list(read)}; give both the condition's "
            "event shape."
        )


def is_density_layer(obj: object) -> bool:
    """True for what can be a base: a tfp_survae distribution layer or a Flow. Both have the
    one density signature `log_prob(x, seed=None, *, condition=None)`,
    `sample_and_log_prob(n, seed=None, *, condition=None)`, an `event_shape` and a
    `reparameterized` flag."""
    return isinstance(obj, keras.layers.Layer) and all(
        hasattr(obj, name) for name in ("log_prob", "sample_and_log_prob", "event_shape",
                                        "reparameterized"))


def base_log_prob(base: Any, z: tf.Tensor, condition: tf.Tensor | None,
                  seed: tf.Tensor | None) -> tf.Tensor:
    """log p(z) of a flow's base: a distribution layer or another Flow (one signature)."""
    return base.log_prob(z, seed, condition=_condition_for(base, condition))


def base_sample_and_log_prob(base: Any, n: int | tf.Tensor, condition: tf.Tensor | None,
                             seed: tf.Tensor | None) -> tuple[tf.Tensor, tf.Tensor]:
    """(z, log p(z)) of n samples of a flow's base (one signature, as `base_log_prob`)."""
    return base.sample_and_log_prob(n, seed, condition=_condition_for(base, condition))


def _condition_for(base: Any, condition: tf.Tensor | None) -> tf.Tensor | None:
    """The flow's condition where its base reads one, else None (an unconditional Flow as
    the base of a conditional one refuses a condition)."""
    return condition if getattr(base, "is_conditional", True) else None


def _read_by(t: Any, condition: tf.Tensor | None) -> tf.Tensor | None:
    """The flow's condition for a transform that reads one (its `condition_shape` is set),
    else None: an unconditional coupling beside a conditional one refuses a condition."""
    return condition if t.condition_shape is not None else None


def build_chain(chain: Chain, base_event_shape: Shape,
                event_shape: Shape | None = None) -> tf.TensorShape:
    """Builds every transform; returns the data event shape."""
    base_shape = tf.TensorShape(base_event_shape)
    inferred = event_shape is None
    if event_shape is None:
        shape = base_shape
        for t in reversed(chain):
            try:
                shape = t.forward_event_shape(shape)
            except ValueError as error:
                raise ValueError(
                    f"The flow cannot infer its data shape from the base: {error} Or pass "
                    "the flow event_shape= (the shape of one data example)."
                ) from None
        event_shape = shape
    data_shape = tf.TensorShape(event_shape)
    shape = data_shape
    for t in chain:
        if not t.built:
            try:
                t.build((None,) + tuple(shape.as_list()))
            except ValueError as error:
                if not inferred:
                    raise
                raise type(error)(
                    f"{error} (It was built in a flow whose data shape, {data_shape.as_list()}, "
                    f"was inferred from the base's event shape {base_shape.as_list()}.)"
                ) from error
        elif not t.event_shape.is_compatible_with(shape):
            raise ValueError(
                f"{type(t).__name__} '{t.name}' was built for events of shape "
                f"{t.event_shape.as_list()}; in this "
                f"flow it receives {shape.as_list()}."
            )
        shape = t.inverse_event_shape(shape)
    if not shape.is_compatible_with(base_shape):
        raise ValueError(
            f"The transforms map data of event shape {data_shape.as_list()} to latents of shape "
            f"{shape.as_list()}, but the base has event shape {base_shape.as_list()}."
        )
    return data_shape


# ------------------------------------------------------------------------------------------------
# The seed policy and the loop.


def chain_seeds(seed: Seed | None, chain: Chain,
                direction: str) -> tuple[list[tf.Tensor | None], tf.Tensor | None]:
    """The seeds of one pass (see the module docstring): ([one per transform], base seed).

    `direction` is "forward" (sampling) or "inverse" (density); S is converted (and so
    checked) whenever it is given.
    """
    if seed is None:
        return [None] * len(chain), None
    seed = _seeds.to_stateless_seed(seed)
    flag = "stochastic_forward" if direction == "forward" else "stochastic_inverse"
    if not any(getattr(t, flag) or t.stochastic_log_det for t in chain):
        return [None] * len(chain), seed
    parts = _seeds.split_seed(seed, len(chain) + 1)
    return parts[:-1], parts[-1]


class InversePass(NamedTuple):
    """What `run_inverses` returns: the latent z, the summed V (None for an empty chain), the
    summed score of learned discrete choices (None if none), the number of preimage copies
    stacked along the batch axis (1 without enumeration), and the condition tiled alike."""

    z: tf.Tensor
    log_det: tf.Tensor | None
    score: tf.Tensor | None
    copies: int
    condition: tf.Tensor | None


def _tile(t: tf.Tensor | None, copies: int) -> tf.Tensor | None:
    if t is None:
        return None
    multiples = tf.concat([[copies], tf.ones([tf.rank(t) - 1], tf.int32)], axis=0)
    return tf.tile(t, multiples)


def run_inverses(chain: Chain, x: tf.Tensor, seeds: Sequence[tf.Tensor | None], *,
                 condition: tf.Tensor | None = None, training: bool | None = None,
                 enumerate_preimages: bool = False) -> InversePass:
    """The inverses from data to latent, V and scores summed (values not scanned again).

    With `enumerate_preimages`, a transform built with `exact=True` is replaced by its finite
    preimage: the rest of the chain runs on every preimage, stacked along the batch axis
    (`copies` of them), each weighted by its log_w in V.
    """
    total = score = None
    copies = 1
    for t, s in zip(chain, seeds):
        if enumerate_preimages and t.exact:
            z, log_w = t.preimages(x, condition=_read_by(t, condition))
            total = log_w if total is None else total + log_w
            num = z.shape[0]
            x = tf.reshape(z, tf.concat([[-1], tf.shape(z)[2:]], axis=0))
            total, score, condition = (_tile(v, num) for v in (total, score, condition))
            copies *= num
            continue
        x, log_det, part_score = t.inverse_with_score(
            x, seed=s, condition=_read_by(t, condition), training=training, validate=False
        )
        total = log_det if total is None else total + log_det
        if part_score is not None:
            score = part_score if score is None else score + part_score
    return InversePass(x, total, score, copies, condition)


def run_forwards(chain: Chain, z: tf.Tensor, seeds: Sequence[tf.Tensor | None], *,
                 condition: tf.Tensor | None = None, with_log_det: bool = False,
                 temperature: float | tf.Tensor | None = None
                 ) -> tuple[tf.Tensor, tf.Tensor | None]:
    """The forwards from latent to data (values not scanned again); returns (x, summed V or
    None). V needs deterministic inverses (`forward_and_log_det`). With `temperature`, each
    forward's Gaussian noise is drawn at it (`Transform.forward_at_temperature`; no V)."""
    total = None
    for t, s in zip(reversed(chain), reversed(seeds)):
        if temperature is not None:
            z = t.forward_at_temperature(z, temperature, seed=s,
                                         condition=_read_by(t, condition), validate=False)
        elif with_log_det:
            z, log_det = t.forward_and_log_det(z, seed=s, condition=_read_by(t, condition),
                                               validate=False)
            total = log_det if total is None else total + log_det
        else:
            z = t.forward(z, seed=s, condition=_read_by(t, condition), validate=False)
    return z, total


# ------------------------------------------------------------------------------------------------
# A chain with its base.


def chain_log_prob(chain: Chain, base_log_prob: BaseLogProb, x: tf.Tensor, *,
                   seed: Seed | None = None, condition: tf.Tensor | None = None,
                   training: bool | None = None) -> tf.Tensor:
    """log p(x) ~= log p(z) + sum_t V_t along `chain` (paper Algorithm 1), shape [batch].

    A transform built with `exact=True` is replaced by the sum over its finite preimage: the rest
    of the chain runs on every preimage and the results are combined by logsumexp. Transforms
    that sample a discrete choice from a learned distribution report its log-probability; it
    enters a score-function surrogate that leaves the value unchanged but gives the ELBO gradient
    of that distribution (with a leave-one-out baseline). The caller has checked x (dtype, shape,
    values) once; the transforms check dtypes and shapes but do not scan the values again.
    Inside an XLA program, where no check op runs, an example whose x or condition holds NaN
    or Inf gets NaN.
    """
    seeds, base_seed = chain_seeds(seed, chain, "inverse")
    batch = tf.shape(x)[0]
    out = run_inverses(chain, x, seeds, condition=condition, training=training,
                       enumerate_preimages=True)
    log_p = base_log_prob(out.z, out.condition, base_seed)
    log_p = tf.cast(log_p, out.z.dtype) if out.log_det is None else \
        out.log_det + tf.cast(log_p, out.log_det.dtype)
    if out.score is not None:
        log_p = _score_surrogate(log_p, tf.cast(out.score, log_p.dtype))
    if out.copies > 1:
        log_p = tf.reduce_logsumexp(tf.reshape(log_p, [out.copies, batch]), axis=0)
    if _checks.in_xla_program():  # no check op runs there: NaN where x or condition is invalid
        log_p = _checks.nan_where_invalid(log_p, x, condition)
    return log_p


def _score_surrogate(log_p: tf.Tensor, score: tf.Tensor) -> tf.Tensor:
    """Equals log_p; its gradient adds (log_p - baseline) * grad(score) (REINFORCE)."""
    n = tf.cast(tf.size(log_p), log_p.dtype)
    held = tf.stop_gradient(log_p)
    baseline = tf.math.divide_no_nan(tf.reduce_sum(held) - held, n - 1.0)
    return log_p + (held - baseline) * (score - tf.stop_gradient(score))


def chain_sample(chain: Chain, base_sample_and_log_prob: BaseSampler,
                 n: int | tf.Tensor, *, seed: Seed | None = None,
                 condition: tf.Tensor | None = None, with_log_prob: bool = False,
                 temperature: float | tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Runs the forwards from base samples; with `with_log_prob`, also accumulates V; with
    `temperature`, the forwards draw their Gaussian noise at it (`run_forwards`).

    `base_sample_and_log_prob(n, condition, seed)` gives the base's (z, log p(z)). The caller
    has checked its inputs: the transforms do not scan the values again."""
    seeds, base_seed = chain_seeds(seed, chain, "forward")
    z, log_p = base_sample_and_log_prob(n, condition, base_seed)
    x, log_det = run_forwards(chain, z, seeds, condition=condition, with_log_det=with_log_prob,
                              temperature=temperature)
    if with_log_prob:  # in the chain's dtype, whatever the base's
        dtype = log_det.dtype if log_det is not None else x.dtype
        if dtype.is_floating and log_p.dtype != dtype:
            log_p = tf.cast(log_p, dtype)
        if log_det is not None:
            log_p = log_p + log_det
    return x, log_p
