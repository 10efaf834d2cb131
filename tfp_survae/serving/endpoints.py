"""Compiled, validated entry points of a flow: `log_prob_function`, `sample_function`, exports.

Each entry point is a concrete function whose inputs are loosely typed (dtype only, any shape)
and checked *inside* the graph, before any work: a bad request fails with an
InvalidArgumentError naming the argument. Concrete functions take no lock, so a rejected
request blocks no other thread, but they do not check the shapes of their inputs against their
signature: the checks here do (docs/contributing.md, Known TensorFlow pitfalls).

The model's work runs in an inner function, XLA-compiled when asked; the checks stay outside it
because XLA compiles check ops away: the shapes, an empty batch, NaN or Inf in float data and
integers out of range are refused before the program runs. Under XLA the draws equal eager
ones (`tfp_survae._seeds`), except those of TFP's own samplers: a TFP distribution as the base
is drawn before the XLA program, and a flow holding one inside a transform runs without XLA.
Every function here is traced without AutoGraph, as Keras' training loop runs a model's code.
"""

from __future__ import annotations

from typing import Any, Sequence

import tensorflow as tf

from tfp_survae import _checks
from tfp_survae.distributions import TFPDistribution, _temperature
from tfp_survae.evaluation import iwbo_loop
from tfp_survae.transforms import _chain

TAG = "[tfp_survae]"

# Largest n a compiled or exported `sample` accepts (a served request cannot exhaust memory).
DEFAULT_MAX_SAMPLE_SIZE = 100_000
# Largest k an exported `iwbo` accepts.
DEFAULT_MAX_IWBO_K = 100_000


def _assert(condition: tf.Tensor, message: str, *data: Any) -> tf.Operation:
    return tf.debugging.Assert(condition, [f"{TAG} {message}", *data], summarize=16)


def checked_data(where: str, x: tf.Tensor, flow: Any) -> tf.Tensor:
    """x after in-graph checks of its shape and values.

    The checks: x is [batch] + the flow's event shape with a batch of at least one and valid
    values (finite floats; integers in [0, num_values) where the flow dequantizes); its static
    shape is then set (statically only: a run-time shape op placed before the check could fail
    first).

    Args:
      where: the endpoint, named in the error.
      x: the data tensor, of any shape.
      flow: the `Flow`.

    Returns:
      x, after the checks, with its static shape set.
    """
    x = _with_event_shape(where, "x", x, flow.event_shape.as_list())
    shape = tf.shape(x)
    nonempty = _assert(shape[0] > 0, f"{where}: x is an empty batch; pass at least one example; "
                       "received shape", shape)
    with tf.control_dependencies([nonempty]):
        x = tf.identity(x)
    if x.dtype.is_floating:
        valid = _assert(tf.reduce_all(tf.math.is_finite(x)),
                        f"{where}: x contains NaN or Inf")
    else:
        num_values = getattr(flow.chain[0], "num_values", None) if flow.chain else None
        if num_values is None:
            return x
        wide = tf.cast(x, tf.int64)
        valid = _assert(tf.logical_and(tf.reduce_all(wide >= 0), tf.reduce_all(wide < num_values)),
                        f"{where}: x must hold integers in [0, {num_values}) (num_values); "
                        "received values from", tf.reduce_min(wide), "to", tf.reduce_max(wide))
    with tf.control_dependencies([valid]):
        return tf.identity(x)


def _with_event_shape(where: str, name: str, value: tf.Tensor, event: list) -> tf.Tensor:
    """`value` after an in-graph check that it is [batch] + `event`, its static shape then set
    (statically only: a run-time shape op placed before the check could fail first)."""
    expected = f"shape [batch, {', '.join(str(d) for d in event)}]" if event else "shape [batch]"
    shape = tf.shape(value)
    check = _assert(_checks.is_batch_of(shape, event),
                    f"{where}: {name} must have {expected}; received shape", shape)
    with tf.control_dependencies([check]):
        value = tf.identity(value)
    value.set_shape([None] + event)
    return value


def checked_condition(where: str, given: tuple, flow: Any, rows: tf.Tensor,
                      rows_of: str) -> tf.Tensor | None:
    """A conditional flow's condition after in-graph checks: [rows] + condition_shape, finite.

    Args:
      where: the endpoint, named in the error.
      given: the endpoint's trailing arguments: (the condition tensor, of any shape) for a
        conditional flow (`condition_specs`), () for another.
      flow: the `Flow`.
      rows: the number of rows it must have (an int32 scalar).
      rows_of: what fixes that number, for the error ("x", "n").

    Returns:
      The condition, after the checks, with its static shape set (a sampler's one row for
      all repeated to n rows); None when none is given.
    """
    if not given:
        return None
    condition = _with_event_shape(where, "condition", given[0], list(flow.condition_shape))
    count = tf.shape(condition)[0]
    ok = tf.equal(count, rows)
    if rows_of == "x":
        one_each = "one row per row of x"
    else:
        one_each = "n rows, one per sample, or one row for all"
        ok = tf.logical_or(ok, tf.equal(count, 1))
    same = _assert(ok, f"{where}: condition must have {one_each}; received", count, "rows for",
                   rows)
    with tf.control_dependencies([same]):
        finite = _assert(tf.reduce_all(tf.math.is_finite(condition)),
                         f"{where}: condition contains NaN or Inf")
    with tf.control_dependencies([finite]):
        condition = tf.identity(condition)
    if rows_of == "x":
        return condition
    repeated = tf.broadcast_to(condition, tf.concat([[rows], tf.shape(condition)[1:]], axis=0))
    repeated.set_shape(condition.shape)
    return repeated


def checked_seed(where: str, seed: tf.Tensor) -> tf.Tensor:
    """The seed after an in-graph check that it is a pair (shape [2]); `where` names the
    endpoint in the error."""
    shape = tf.shape(seed)
    ok = _assert(tf.logical_and(tf.equal(tf.size(shape), 1),
                                tf.equal(tf.reduce_prod(shape), 2)),
                 f"{where}: seed must be a pair of int32 values (shape [2]); received shape",
                 shape)
    with tf.control_dependencies([ok]):
        seed = tf.identity(seed)
    seed.set_shape([2])
    return seed


def checked_count(where: str, name: str, value: tf.Tensor, minimum: int, maximum: int,
                  hint: str = "") -> tf.Tensor:
    """`value` as a scalar after in-graph checks that it is one and lies in [minimum,
    maximum]; `where` and `name` (and `hint`) name it in the error."""
    scalar = _assert(tf.equal(tf.rank(value), 0),
                     f"{where}: {name} must be a scalar; received shape", tf.shape(value))
    with tf.control_dependencies([scalar]):
        value = tf.reshape(value, [])
    in_range = _assert(tf.logical_and(value >= minimum, value <= maximum),
                       f"{where}: {name} must lie in [{minimum}, {maximum}]{hint}; received",
                       value)
    with tf.control_dependencies([in_range]):
        return tf.identity(value)


def data_spec(flow: Any, name: str = "x") -> tf.TensorSpec:
    """The loose input spec of a flow's data: its dtype, any shape."""
    dtype = tf.int32 if flow.integer_data else tf.as_dtype(flow.dtype)
    return tf.TensorSpec(None, dtype, name=name)


SEED_SPEC = tf.TensorSpec(None, tf.int32, name="seed")


def condition_specs(flow: Any) -> list:
    """[the loose input spec of a conditional flow's condition (its dtype, any shape)], or []
    for an unconditional flow: the endpoints take a condition as their last argument."""
    if flow.condition_shape is None:
        return []
    return [tf.TensorSpec(None, tf.as_dtype(flow.dtype), name="condition")]


def count_spec(name: str) -> tf.TensorSpec:
    """The loose input spec of an int32 count: any shape."""
    return tf.TensorSpec(None, tf.int32, name=name)


def _holds_tfp_sampler(layer) -> bool:
    """True when `layer` is or holds a TFPDistribution: TFP's samplers draw other numbers under
    XLA than eagerly for a seed fed in at run time."""
    # Keras has no public walk over nested layers; `_flatten_layers` is the one it uses itself.
    return any(isinstance(part, TFPDistribution) for part in layer._flatten_layers())


def _chain_draws_match_under_xla(flow) -> bool:
    return not any(_holds_tfp_sampler(t) for t in flow.chain)


def log_prob_fn(flow: Any, *, where: str = "log_prob", jit_compile: bool = False,
                with_seed: bool = True, default_seed: Sequence[int] = (0, 0)) -> Any:
    """A concrete function x[, seed][, condition] -> log p(x), with the checks above (a
    conditional flow's endpoints take its condition last).

    Args:
      flow: the `Flow`.
      where: the endpoint, named in errors.
      jit_compile: run the model's work as an XLA program (where its draws match).
      with_seed: take a seed; without, `default_seed` is used.
      default_seed: the seed of a function without a seed input.

    Returns:
      The concrete function.
    """
    base_draws_match = isinstance(flow.base, TFPDistribution) or \
        not _holds_tfp_sampler(flow.base)  # a TFP base's log_prob draws nothing
    xla = jit_compile and _chain_draws_match_under_xla(flow) and base_draws_match
    inner = tf.function(lambda x, seed, c: flow.log_prob(x, seed=seed, condition=c),
                        jit_compile=xla, autograph=False)

    def run(x, seed, *condition):
        x = checked_data(where, x, flow)
        return inner(x, seed, checked_condition(where, condition, flow, tf.shape(x)[0], "x"))

    conditions = condition_specs(flow)
    if with_seed:
        def entry(x, seed, *condition):
            return run(x, checked_seed(where, seed), *condition)

        return tf.function(entry, autograph=False).get_concrete_function(
            data_spec(flow), SEED_SPEC, *conditions)

    def entry_default(x, *condition):
        return run(x, tf.constant(default_seed, tf.int32), *condition)

    return tf.function(entry_default, autograph=False).get_concrete_function(data_spec(flow),
                                                                             *conditions)


def sample_fn(flow: Any, *, max_sample_size: int, where: str = "sample",
              jit_compile: bool = False) -> Any:
    """A concrete function (n, seed[, condition]) -> n samples, 0 <= n <= max_sample_size.

    Args:
      flow: the `Flow`.
      max_sample_size: the largest n accepted.
      where: the endpoint, named in errors.
      jit_compile: run the model's work as an XLA program (where its draws match).

    Returns:
      The concrete function.
    """
    hint = " (max_sample_size)"
    xla = jit_compile and _chain_draws_match_under_xla(flow)
    if xla and _holds_tfp_sampler(flow.base):
        # The base's draw, by TFP, is made before the XLA program, which runs the forwards.
        forwards = tf.function(
            lambda z, seed, c: _chain.chain_sample(flow.chain, lambda *_: (z, None),
                                                   tf.shape(z)[0], seed=seed, condition=c)[0],
            jit_compile=True, autograph=False)

        def work(n, seed, c):
            _, base_seed = _chain.chain_seeds(seed, flow.chain, "forward")
            z, _ = _chain.base_sample_and_log_prob(flow.base, n, c, base_seed)
            return forwards(z, seed, c)
    else:
        work = tf.function(lambda n, seed, c: flow.sample(n, seed=seed, condition=c),
                           jit_compile=xla, autograph=False)

    def entry(n, seed, *condition):
        n = checked_count(where, "n", n, 0, max_sample_size, hint)
        c = checked_condition(where, condition, flow, n, "n")
        return work(n, checked_seed(where, seed), c)

    return tf.function(entry, autograph=False).get_concrete_function(
        count_spec("n"), SEED_SPEC, *condition_specs(flow))


def temperature_sample_fn(flow: Any, *, max_sample_size: int,
                          where: str = "sample_with_temperature") -> Any:
    """A concrete function (n, seed, temperature[, condition]) -> n samples at the
    temperature.

    Args:
      flow: the `Flow`.
      max_sample_size: the largest n accepted.
      where: the endpoint, named in errors.

    Returns:
      The concrete function; its temperature is a float32 scalar, finite and > 0, as in
      `flow.sample(n, seed, temperature=t)`.
    """
    hint = " (max_sample_size)"
    _temperature.check_flow(where, flow.base, flow.chain)
    work = tf.function(lambda n, seed, t, c: flow.sample(
        n, seed=seed, temperature=tf.cast(t, flow.dtype), condition=c), autograph=False)

    def entry(n: tf.Tensor, seed: tf.Tensor, temperature: tf.Tensor,
              *condition: tf.Tensor) -> tf.Tensor:
        n = checked_count(where, "n", n, 0, max_sample_size, hint)
        c = checked_condition(where, condition, flow, n, "n")
        scalar = _assert(tf.equal(tf.rank(temperature), 0),
                         f"{where}: temperature must be a scalar; received shape",
                         tf.shape(temperature))
        with tf.control_dependencies([scalar]):
            temperature = tf.reshape(temperature, [])
        valid = _assert(tf.logical_and(tf.math.is_finite(temperature), temperature > 0),
                        f"{where}: temperature must be finite and > 0; received", temperature)
        with tf.control_dependencies([valid]):
            temperature = tf.identity(temperature)
        return work(n, checked_seed(where, seed), temperature, c)

    return tf.function(entry, autograph=False).get_concrete_function(
        count_spec("n"), SEED_SPEC, tf.TensorSpec(None, tf.float32, name="temperature"),
        *condition_specs(flow))


def iwbo_fn(flow: Any, *, chunk: int, max_k: int, where: str = "iwbo") -> Any:
    """A concrete function (x, k, seed[, condition]) -> the IWBO with 1 <= k <= max_k.

    Args:
      flow: the `Flow`.
      chunk: importance samples per chunk (`evaluation.iwbo`'s `batch_k`).
      max_k: the largest k accepted.
      where: the endpoint, named in errors.

    Returns:
      The concrete function.
    """

    def entry(x, k, seed, *condition):
        x = checked_data(where, x, flow)
        c = checked_condition(where, condition, flow, tf.shape(x)[0], "x")
        k = checked_count(where, "k", k, 1, max_k, " (max_iwbo_k)")
        return iwbo_loop(flow, x, k, checked_seed(where, seed), chunk, c)

    return tf.function(entry, autograph=False).get_concrete_function(
        data_spec(flow), count_spec("k"), SEED_SPEC, *condition_specs(flow))


def check_limit(name: str, value: Any) -> int:
    """`value` as a positive int; a TypeError or ValueError naming `name` otherwise."""
    return int(_checks.check_count("export", name, value, minimum=1))
