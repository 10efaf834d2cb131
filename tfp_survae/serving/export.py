"""Export a flow as a SavedModel for serving: plain TensorFlow, explicit seeds, checked inputs."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from tfp_survae import _variables
from tfp_survae.serving import endpoints as _endpoints

__all__ = ["export_flow", "DEFAULT_SEED"]

# The seed `log_prob(x)` uses for a lower-bound flow (its one-sample ELBO needs one).
DEFAULT_SEED = (0, 0)


def export_flow(flow: Any, path: str, *, iwbo_chunk: int = 100,
                max_sample_size: int = _endpoints.DEFAULT_MAX_SAMPLE_SIZE,
                max_iwbo_k: int = _endpoints.DEFAULT_MAX_IWBO_K) -> str:
    """Writes `flow` as a SavedModel that serves without Keras, TFP or tfp_survae.

    Endpoints (attributes of the loaded object, and SavedModel signatures of the same names,
    listed by `saved_model_cli show --all`):

    * `log_prob(x)`: [batch] log-likelihoods in nats (for a lower-bound flow, the ELBO with
      the fixed seed DEFAULT_SEED);
    * `sample(n, seed)`: n examples, 0 <= n <= `max_sample_size`;
    * where a temperature is defined (a Gaussian base, no noise drawn by the transforms in the
      sampling direction: `Flow.sample`), also `sample_with_temperature(n, seed, temperature)`
      (temperature a float32 scalar, finite and > 0; 1 gives `sample(n, seed)`'s draws);
    * for a lower-bound flow, also `log_prob_with_seed(x, seed)` and `iwbo(x, k, seed)` (k
      importance samples, 1 <= k <= `max_iwbo_k`, in chunks of `iwbo_chunk`); a flow with a
      random V (`stochastic_log_det`) gets `log_prob_with_seed` but no `iwbo`;
    * for a conditional flow, every endpoint takes the condition as its last argument
      (`log_prob(x, condition)`, `sample(n, seed, condition)`, ...): one row per row of x;
      for the samplers, n rows or one row for all n draws.

    What a client can rely on:

    * Inputs are typed (x in the flow's data dtype, n, k and seed int32) and checked inside the
      graph before any work: x must be [batch] + event shape, seed a pair [2], n and k scalars
      in range, a condition [rows] + condition_shape and finite. A bad request raises
      `tf.errors.InvalidArgumentError` whose message names the endpoint and the argument (a
      wrong dtype: "input #i was expected to be a ... tensor").
    * A rejected request leaves nothing behind: the endpoints are concrete functions, which take
      no lock, so other threads are never blocked by it (docs/contributing.md, Known
      TensorFlow pitfalls).
    * Every random draw comes from the explicit int32 `seed` input, so the graph holds no
      stateful random ops: the served `sample(n, [a, b])` makes the same draws as
      `flow.sample(n, seed=(a, b))`, and values agree to float32 rounding (the served graph
      may fuse operations differently).

    Args:
      flow: the `Flow` to export.
      path: the SavedModel's directory.
      iwbo_chunk: importance samples per chunk of the `iwbo` endpoint.
      max_sample_size: the largest n `sample` accepts.
      max_iwbo_k: the largest k `iwbo` accepts.

    Returns:
      path.

    Raises:
      TypeError: a limit is not an integer.
      ValueError: a limit is not positive.

    Examples:
      >>> import tempfile
      >>> flow = ts.Flow(ts.StandardNormal([2]), [ts.AffineCoupling(ts.MLP([8], 2))])
      >>> path = ts.serving.export_flow(flow, tempfile.mkdtemp())
      >>> served = tf.saved_model.load(path)
      >>> served.sample(tf.constant(3), tf.constant([1, 2])).shape
      TensorShape([3, 2])
    """
    max_sample_size = _endpoints.check_limit("max_sample_size", max_sample_size)
    max_iwbo_k = _endpoints.check_limit("max_iwbo_k", max_iwbo_k)
    iwbo_chunk = _endpoints.check_limit("iwbo_chunk", iwbo_chunk)
    endpoints = {
        "log_prob": _endpoints.log_prob_fn(flow, with_seed=False, default_seed=DEFAULT_SEED),
        "sample": _endpoints.sample_fn(flow, max_sample_size=max_sample_size),
    }
    try:
        endpoints["sample_with_temperature"] = _endpoints.temperature_sample_fn(
            flow, max_sample_size=max_sample_size)
    except ValueError:  # a base or transforms for which a temperature is undefined
        pass
    if not flow.is_exact:
        endpoints["log_prob_with_seed"] = _endpoints.log_prob_fn(flow, where="log_prob_with_seed")
        if not any(t.stochastic_log_det for t in flow.chain):  # no IWBO from a random V
            endpoints["iwbo"] = _endpoints.iwbo_fn(flow, chunk=iwbo_chunk, max_k=max_iwbo_k)
    module = tf.Module()
    module.flow_variables = _variables.backing_variables([flow])
    for name, function in endpoints.items():
        setattr(module, name, function)
    tf.saved_model.save(module, path, signatures=endpoints)
    return path
