"""Export a flow as a SavedModel for serving: plain TensorFlow, explicit seeds."""

from __future__ import annotations

import tensorflow as tf

from tfp_survae.evaluation import iwbo_loop

__all__ = ["export_flow", "DEFAULT_SEED"]

# The seed `log_prob(x)` uses for a lower-bound flow (its one-sample ELBO needs one).
DEFAULT_SEED = (0, 0)


def export_flow(flow, path: str, *, iwbo_chunk: int = 100, verbose: bool = False) -> str:
    """Writes `flow` as a SavedModel that serves without Keras, TFP or tfp_survae.

    Endpoints (also SavedModel signatures, listed by `saved_model_cli show --all`):

    * `log_prob(x)`: [batch] log-likelihoods in nats (for a lower-bound flow, the ELBO with
      the fixed seed DEFAULT_SEED);
    * `sample(n, seed)`: n examples;
    * for a lower-bound flow, also `log_prob_with_seed(x, seed)` and `iwbo(x, k, seed)` (k
      importance samples, in chunks of `iwbo_chunk`).

    Every random draw comes from the explicit int32 `seed` input ([2]), so the graph holds no
    stateful random ops and equal seeds give equal results everywhere. Inputs are typed:
    x is [None] + event shape in the flow's data dtype; a wrong shape or dtype is rejected.

    Returns the path.
    """
    import keras

    dtype = tf.int32 if flow.integer_data else tf.as_dtype(flow.dtype)
    x_spec = tf.TensorSpec([None] + flow.event_shape.as_list(), dtype, name="x")
    seed_spec = tf.TensorSpec([2], tf.int32, name="seed")
    count_spec = tf.TensorSpec([], tf.int32, name="n")
    default_seed = tf.constant(DEFAULT_SEED, tf.int32)

    archive = keras.export.ExportArchive()
    archive.track(flow)
    archive.add_endpoint("log_prob", lambda x: flow.log_prob(x, seed=default_seed),
                         input_signature=[x_spec])
    archive.add_endpoint("sample", lambda n, seed: flow.sample(n, seed=seed),
                         input_signature=[count_spec, seed_spec])
    if not flow.is_exact:
        archive.add_endpoint("log_prob_with_seed", lambda x, seed: flow.log_prob(x, seed=seed),
                             input_signature=[x_spec, seed_spec])
        archive.add_endpoint(
            "iwbo", lambda x, k, seed: iwbo_loop(flow, x, k, seed, iwbo_chunk),
            input_signature=[x_spec, tf.TensorSpec([], tf.int32, name="k"), seed_spec],
        )
    archive.write_out(path, verbose=verbose)
    return path
