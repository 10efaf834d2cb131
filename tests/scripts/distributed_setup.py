"""The model and data shared by the distributed tests (one place, imported by each process)."""

import keras
import tensorflow as tf

import tfp_survae as ts

GLOBAL_BATCH = 64
STEPS = 10
DATA = ts.data.sample_toy("eight_gaussians", GLOBAL_BATCH * STEPS)


def make_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [
        ts.ActNorm(), ts.AffineCoupling(hidden_units=[16]), ts.Reverse(),
        ts.AffineCoupling(hidden_units=[16]),
    ])


def make_optimizer():
    return keras.optimizers.Adam(1e-2)


def dataset_fn(context):
    """Per-replica batches; sharding by element keeps each global batch the same examples."""
    batch = context.get_per_replica_batch_size(GLOBAL_BATCH)
    data = tf.data.Dataset.from_tensor_slices(DATA)
    return data.shard(context.num_input_pipelines, context.input_pipeline_id).batch(batch).repeat()


def keras_dataset():
    return tf.data.Dataset.from_tensor_slices(DATA).batch(GLOBAL_BATCH)
