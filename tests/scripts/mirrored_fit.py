"""Keras fit and the custom loop under MirroredStrategy on 2 logical CPUs, and on one device.

Usage: python mirrored_fit.py OUT.json
"""

import json
import sys

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from distributed_setup import (  # noqa: E402
    STEPS,
    dataset_fn,
    keras_dataset,
    make_flow,
    make_optimizer,
)

import tfp_survae as ts  # noqa: E402

results = {}
for name, strategy in (("mirrored", tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])),
                       ("single", tf.distribute.get_strategy())):
    with strategy.scope():
        flow = make_flow()
        flow.compile(make_optimizer(), steps_per_execution=1)
    results[f"{name}_fit"] = flow.fit(keras_dataset(), epochs=2, verbose=0).history["loss"]
    _, history = ts.training.distributed_fit(make_flow, dataset_fn, steps_per_epoch=STEPS,
                                             epochs=2, strategy=strategy,
                                             make_optimizer=make_optimizer, verbose=0)
    results[f"{name}_loop"] = history["loss"]
# The replicas agree on skipping a step: one replica's invalid step applies nowhere.
mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with mirrored.scope():
    flow, optimizer = make_flow(), make_optimizer()
    optimizer.build(flow.trainable_variables)
flow.initialize(next(iter(keras_dataset())))  # ActNorm, as fit and distributed_fit do
before = [w.numpy() for w in flow.weights]
batches = iter(mirrored.distribute_datasets_from_function(dataset_fn))


@tf.function
def step_with_one_replica_halted(data):
    def replica_step(data):
        halted = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, 1)
        return ts.training.training_step(flow, optimizer, data, replicas=2, halted=halted)
    return mirrored.experimental_local_results(mirrored.run(replica_step, args=(data,)))


losses = step_with_one_replica_halted(next(batches))
results["halted_losses_are_nan"] = [bool(tf.math.is_nan(v)) for v in losses]
results["halted_weights_unchanged"] = all(
    (w.numpy() == b).all() for w, b in zip(flow.weights, before))
results["halted_iterations"] = int(optimizer.iterations.numpy())
results["replicas"] = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).num_replicas_in_sync
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
