"""Likelihood evaluation: ELBO, importance-weighted bound (IWBO), bits/dim, whole datasets.

For a flow with a stochastic inverse, `log_prob` is a one-sample ELBO estimate. The IWBO with k
importance samples, log (1/k) sum_i exp(log p(z_i) + V_i), is a tighter lower bound that tends to
log p(x) as k grows (Burda et al., 2016). For an exact flow all three coincide.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Iterable, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks, _seeds, _tensors
from tfp_survae._types import Count, Seed, TensorLike
from tfp_survae.training import _batches

__all__ = ["elbo", "iwbo", "bits_per_dim", "evaluate"]

# Elements (examples x data size) one IWBO chunk may push through the flow at once.
_CHUNK_ELEMENTS = 2**18

# The compiled IWBO loop of each flow, dropped with the flow. (One module-level tf.function
# called with every flow as an argument would keep each flow's traces, and the variables they
# capture, for the life of the process.)
_IWBO_FUNCTIONS: weakref.WeakKeyDictionary[keras.Model, Any] = weakref.WeakKeyDictionary()


def elbo(flow: keras.Model, x: TensorLike, *, seed: Seed | None = None,
         condition: TensorLike | None = None) -> tf.Tensor:
    """One-sample ELBO estimate of log p(x) (the exact log-likelihood for an exact flow).

    Args:
      flow: a `Flow`.
      x: a batch of data.
      seed: stateless seed; None draws a fresh one.
      condition: optional condition tensor, one per example.

    Returns:
      The estimate, shape [batch], in nats.

    Raises:
      ValueError: x or condition fail the flow's checks.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.Abs()])
      >>> ts.evaluation.elbo(flow, tf.ones([3, 2]), seed=(1, 2)).shape
      TensorShape([3])
    """
    return flow.log_prob(x, seed=seed, condition=condition)


def iwbo(flow: keras.Model, x: TensorLike, k: int, *, seed: Seed | None = None,
         batch_k: int | None = None, condition: TensorLike | None = None) -> tf.Tensor:
    """Importance-weighted bound with `k` samples per example, shape [batch], in nats.

    The k samples are drawn in chunks of `batch_k` (default: as many as keep a chunk near
    262,144 data elements; lower it for models with large activations, such as transformers over
    long sets), so k = 1000 fits in memory; each chunk is one batched `log_prob` call,
    and the chunks run in one compiled loop. The same loop serves exported SavedModels, so an
    export's `iwbo(x, k, seed)` equals `iwbo(flow, x, k, seed=seed, batch_k=...)` here.

    Args:
      flow: a `Flow`.
      x: a batch of data.
      k: number of importance samples (k = 1 is the ELBO).
      seed: stateless seed; None draws one from the flow's generator.
      batch_k: importance samples per chunk.
      condition: optional condition tensor, one per example.

    Returns:
      The bound, shape [batch], in nats (log p(x) itself for an exact flow).

    Raises:
      TypeError: k is not an integer.
      ValueError: k or batch_k is not positive, or x fails the flow's checks; or the flow
        has a transform that estimates its V at random (`stochastic_log_det`): its `log_prob`
        is an unbiased estimate of log p(x), whose exponential is not an unbiased estimate of
        p(x), so importance weighting would overestimate; average `log_prob` over seeds.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.Abs()])   # an ELBO: one sign per draw
      >>> ts.evaluation.iwbo(flow, tf.ones([3, 2]), k=16, seed=(1, 2)).shape
      TensorShape([3])
    """
    k = int(_checks.check_count("iwbo", "k (the number of importance samples)", k, minimum=1))
    x = flow.check_data(x)
    _refuse_random_log_det(flow)
    if flow.is_exact:
        return flow.log_prob(x, condition=condition)
    batch = int(x.shape[0]) if x.shape[0] is not None else int(tf.shape(x)[0])
    if batch_k is None:
        batch_k = max(1, _CHUNK_ELEMENTS // max(1, batch * flow.num_dims))
    batch_k = min(int(batch_k), k)
    if batch_k < 1:
        raise ValueError(f"batch_k must be positive; received {batch_k}.")
    seed = _seeds.to_stateless_seed(flow.seed_generator.next() if seed is None else seed)
    if condition is not None:
        condition = tf.convert_to_tensor(condition)
    return _compiled_iwbo(flow)(flow, x, tf.constant(k, tf.int32), seed, batch_k, condition)


def _refuse_random_log_det(flow: keras.Model) -> None:
    random = [t.name for t in flow.chain if t.stochastic_log_det]
    if random:
        raise ValueError(
            f"iwbo: the transforms {random} of Flow '{flow.name}' estimate their V at random "
            "(unbiased in log p(x), so exp(log_prob) is biased and importance weighting does not "
            "bound log p(x)); average flow.log_prob over seeds, or build them with an exact "
            "log-determinant.")


def iwbo_loop(flow: keras.Model, x: tf.Tensor, k: Count, seed: tf.Tensor, chunk: int,
              condition: tf.Tensor | None = None) -> tf.Tensor:
    """The IWBO as one graph, for `iwbo` and the exported `iwbo` endpoint.

    A while loop over chunks of `chunk` importance samples (the last chunk masked to k), chunk
    i seeded by folding i into `seed`.

    Args:
      flow: a `Flow`.
      x: a checked batch of data.
      k: the number of importance samples (an int or an int32 scalar tensor).
      seed: a stateless seed, [2] int32.
      chunk: importance samples per chunk.
      condition: optional condition tensor, one per example.

    Returns:
      The bound, shape [batch], in nats.
    """
    k = tf.cast(k, tf.int32)
    batch = tf.shape(x)[0]

    def repeat(t):
        return tf.tile(t, tf.concat([[chunk], tf.ones([tf.rank(t) - 1], tf.int32)], axis=0))

    tiled = repeat(x)
    tiled_condition = None if condition is None else repeat(condition)
    num_chunks = (k + chunk - 1) // chunk

    def body(i, total):
        log_w = flow.log_prob(tiled, seed=_seeds.fold_in(seed, i), condition=tiled_condition)
        log_w = tf.reshape(log_w, [chunk, batch])
        used = (i * chunk + tf.range(chunk)) < k
        log_w = tf.where(used[:, None], log_w, tf.constant(-math.inf, log_w.dtype))
        return i + 1, tf.reduce_logsumexp(tf.stack([total, tf.reduce_logsumexp(log_w, 0)]), 0)

    start = tf.fill([batch], tf.constant(-math.inf, flow.dtype))
    _, total = tf.while_loop(lambda i, _: i < num_chunks, body, (tf.constant(0), start))
    return total - tf.math.log(tf.cast(k, total.dtype))


def _compiled_iwbo(flow):
    """`iwbo_loop` as a tf.function of its own for `flow`, which it takes as an argument, so that
    it holds only a weak reference to the flow."""
    function = _IWBO_FUNCTIONS.get(flow)
    if function is None:
        function = tf.function(iwbo_loop, reduce_retracing=True, autograph=False)
        _IWBO_FUNCTIONS[flow] = function
    return function


def bits_per_dim(log_prob: TensorLike, event_shape: Sequence[int] | int) -> tf.Tensor:
    """Converts log-likelihoods in nats to bits per dimension: -log_prob / (D ln 2).

    Args:
      log_prob: log-likelihoods in nats, any shape.
      event_shape: the shape of one example (or D itself as an int).

    Returns:
      Bits per dimension, the shape of log_prob.

    Examples:
      >>> float(ts.evaluation.bits_per_dim(-2 * np.log(2.0), [2]))
      1.0
    """
    dims = int(event_shape) if isinstance(event_shape, (int, np.integer)) else (
        _tensors.num_elements(tf.TensorShape(event_shape).as_list())
    )
    return _tensors.nats_to_bits_per_dim(-tf.convert_to_tensor(log_prob), dims)


def evaluate(flow: keras.Model, dataset: Iterable[Any], *, k: int = 1,
             batch_k: int | None = None, seed: Seed | None = None,
             verbose: int = 1) -> dict:
    """Mean negative log-likelihood over a whole dataset, with a progress bar.

    Uses `log_prob` (exact, or the one-sample ELBO) for k = 1, and the IWBO with k samples
    otherwise.

    Args:
      flow: a `Flow`.
      dataset: a `tf.data.Dataset` (or any iterable) of batches of x, or, for a conditional
        flow, of dicts {"x": x, "condition": condition} (the layout `fit` takes).
      k: importance samples per example.
      batch_k: importance samples per chunk (see `iwbo`).
      seed: stateless seed for reproducible estimates.
      verbose: 1 shows a `keras.utils.Progbar`.

    Returns:
      {"nll": nats per example, "bits_per_dim": ..., "num_examples": ...}.

    Raises:
      ValueError: the dataset is empty.

    Examples:
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.Reverse()])
      >>> data = tf.data.Dataset.from_tensor_slices(tf.zeros([8, 2])).batch(4)
      >>> result = ts.evaluation.evaluate(flow, data, verbose=0)
      >>> result["num_examples"], round(result["nll"], 4)     # log(2 pi) at z = 0
      (8, 1.8379)
    """
    try:
        steps = int(dataset.cardinality()) if hasattr(dataset, "cardinality") else None
        steps = steps if steps is not None and steps >= 0 else None
    except TypeError:
        steps = None
    bar = keras.utils.Progbar(steps, unit_name="batch") if verbose else None
    seed = _seeds.to_stateless_seed(flow.seed_generator.next() if seed is None else seed)
    log_prob_fn = tf.function(lambda x, s, c: flow.log_prob(x, seed=s, condition=c),
                              autograph=False)
    total, count = 0.0, 0
    for step, batch in enumerate(dataset):
        x, condition = _batches.unpack_batch(batch)
        batch_seed = _seeds.fold_in(seed, step)
        if k == 1:
            values = log_prob_fn(x, batch_seed, condition)
        else:
            values = iwbo(flow, x, k, seed=batch_seed, batch_k=batch_k, condition=condition)
        total += float(tf.reduce_sum(tf.cast(values, tf.float64)))
        count += int(values.shape[0])
        if bar is not None:
            nll = -total / count
            bpd = _tensors.nats_to_bits_per_dim(nll, flow.num_dims)
            bar.update(step + 1, values=[("nll", nll), ("bits_per_dim", bpd)])
    if count == 0:
        raise ValueError("evaluate received an empty dataset.")
    nll = -total / count
    return {
        "nll": nll,
        "bits_per_dim": _tensors.nats_to_bits_per_dim(nll, flow.num_dims),
        "num_examples": count,
    }
