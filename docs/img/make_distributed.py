"""The picture of the distributed tutorial: loss curves on one device and on two mirrored
replicas (2 logical CPU devices), with `Flow.fit` and with `ts.training.distributed_fit`.

The flow and data are the tutorial's (two affine couplings, eight gaussians, global batch 64,
20 steps per epoch), trained for 15 epochs each way. Run from the repository root, in a fresh
process (TensorFlow splits the CPU before it starts):

    python docs/img/make_distributed.py      # writes docs/img/tutorials/distributed.png
"""

from __future__ import annotations

import os

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tfp_survae as ts  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
GLOBAL_BATCH, STEPS, EPOCHS = 64, 20, 15
POINTS = ts.data.sample_toy("eight_gaussians", GLOBAL_BATCH * STEPS)


def make_flow():
    keras.utils.set_random_seed(0)
    return ts.Flow(ts.StandardNormal([2]), [
        ts.AffineCoupling(hidden_units=[16]), ts.Reverse(), ts.AffineCoupling(hidden_units=[16]),
    ])


def batches():
    return tf.data.Dataset.from_tensor_slices(POINTS).batch(GLOBAL_BATCH)


def dataset_fn(context):
    batch = context.get_per_replica_batch_size(GLOBAL_BATCH)
    data = tf.data.Dataset.from_tensor_slices(POINTS)
    return data.shard(context.num_input_pipelines, context.input_pipeline_id).batch(batch).repeat()


def main():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(devices)
    curves = {}
    single = make_flow()
    single.compile(keras.optimizers.Adam(1e-2))
    curves["one device, fit"] = single.fit(batches(), epochs=EPOCHS, verbose=0).history["loss"]
    with mirrored.scope():
        flow = make_flow()
        flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=1)
    curves["2 replicas, fit"] = flow.fit(batches(), epochs=EPOCHS, verbose=0).history["loss"]
    _, history = ts.training.distributed_fit(
        make_flow, dataset_fn, steps_per_epoch=STEPS, epochs=EPOCHS, strategy=mirrored,
        make_optimizer=lambda: keras.optimizers.Adam(1e-2), verbose=0)
    curves["2 replicas, distributed_fit"] = history["loss"]
    reference = np.asarray(curves["one device, fit"])
    worst = max(float(np.max(np.abs(np.asarray(c) / reference - 1))) for c in curves.values())

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (label, curve), style in zip(curves.items(), ["-", "--", ":"]):
        ax.plot(range(1, EPOCHS + 1), curve, style, linewidth=2, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss, nats")
    ax.set_title(f"{mirrored.num_replicas_in_sync} logical CPU replicas against one device: "
                 f"largest relative difference {worst:.1e}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.join(HERE, "tutorials"), exist_ok=True)
    path = os.path.join(HERE, "tutorials", "distributed.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"largest relative difference {worst:.2e}; wrote {path}")


if __name__ == "__main__":
    main()
