"""Export a flow as a SavedModel for serving: plain TensorFlow, explicit seeds, checked inputs."""

from __future__ import annotations

import tensorflow as tf

from tfp_survae import _variables
from tfp_survae.serving import endpoints as _endpoints

__all__ = ["export_flow", "DEFAULT_SEED"]

# The seed `log_prob(x)` uses for a lower-bound flow (its one-sample ELBO needs one).
DEFAULT_SEED = (0, 0)


def export_flow(flow, path: str, *, iwbo_chunk: int = 100,
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
      importance samples, 1 <= k <= `max_iwbo_k`, in chunks of `iwbo_chunk`).

    What a client can rely on:

    * Inputs are typed (x in the flow's data dtype, n, k and seed int32) and checked inside the
      graph before any work: x must be [batch] + event shape, seed a pair [2], n and k scalars
      in range. A bad request raises `tf.errors.InvalidArgumentError` whose message names the
      endpoint and the argument (a wrong dtype: "input #i was expected to be a ... tensor").
    * A rejected request leaves nothing behind: the endpoints are concrete functions, which take
      no lock, so other threads are never blocked by it (a polymorphic `tf.function` with an
      input signature keeps its lock after a binding error in TF 2.21).
    * Every random draw comes from the explicit int32 `seed` input, so the graph holds no
      stateful random ops: the served `sample(n, [a, b])` makes the same draws as
      `flow.sample(n, seed=(a, b))`, and values agree to float32 rounding (the served graph
      may fuse operations differently).

    Returns the path.
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
        endpoints["iwbo"] = _endpoints.iwbo_fn(flow, chunk=iwbo_chunk, max_k=max_iwbo_k)
    module = tf.Module()
    module.flow_variables = _variables.backing_variables([flow])
    for name, function in endpoints.items():
        setattr(module, name, function)
    tf.saved_model.save(module, path, signatures=endpoints)
    return path
