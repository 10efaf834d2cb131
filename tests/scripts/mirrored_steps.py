"""Steps per execution under MirroredStrategy on 2 logical CPUs: the default, an explicit value
above 1 at compile, and one set on a compiled flow at fit; distributed_fit with several steps
per execution.

Usage: python mirrored_steps.py OUT.json
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


def error_of(call):
    try:
        call()
    except Exception as error:  # noqa: BLE001 - the test reads its type and message
        return f"{type(error).__name__}: {error}"
    return None


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
results = {"replicas": strategy.num_replicas_in_sync}
with strategy.scope():
    flow = make_flow()
    flow.compile(make_optimizer())
results["default_steps"] = flow.steps_per_execution
results["default_fit"] = flow.fit(keras_dataset(), epochs=1, verbose=0).history["loss"]
with strategy.scope():
    explicit = make_flow()
    results["explicit_compile"] = error_of(
        lambda: explicit.compile(make_optimizer(), steps_per_execution=4))
    explicit.compile(make_optimizer())
explicit.steps_per_execution = 4
results["explicit_fit"] = error_of(lambda: explicit.fit(keras_dataset(), epochs=1, verbose=0))
_, history = ts.training.distributed_fit(make_flow, dataset_fn, steps_per_epoch=STEPS, epochs=1,
                                         strategy=strategy, make_optimizer=make_optimizer,
                                         steps_per_execution=5, verbose=0)
results["loop_of_5"] = history["loss"]
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
