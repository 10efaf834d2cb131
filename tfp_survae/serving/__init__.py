"""Serving a flow: SavedModel export with validated endpoints, and the compiled functions behind
them (`Flow.export`, `Flow.log_prob_function`, `Flow.sample_function`).

An exported flow loads with plain `tf.saved_model.load` in a process that never imports Keras,
TensorFlow Probability or tfp_survae.
"""

from tfp_survae.serving.endpoints import DEFAULT_MAX_IWBO_K, DEFAULT_MAX_SAMPLE_SIZE
from tfp_survae.serving.export import DEFAULT_SEED, export_flow

__all__ = ["DEFAULT_MAX_IWBO_K", "DEFAULT_MAX_SAMPLE_SIZE", "DEFAULT_SEED", "export_flow"]
