"""One worker of a 2-worker MultiWorkerMirroredStrategy run on 127.0.0.1.

Usage: python multi_worker.py INDEX PORT0,PORT1 OUT.json
"""

import json
import os
import sys

index, ports, out = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
os.environ["TF_CONFIG"] = json.dumps({
    "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
    "task": {"type": "worker", "index": index},
})

import tensorflow as tf  # noqa: E402
from distributed_setup import GLOBAL_BATCH, STEPS, dataset_fn, make_flow, make_optimizer  # noqa: E402

import tfp_survae as ts  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()
_, history = ts.training.distributed_fit(make_flow, dataset_fn, steps_per_epoch=STEPS, epochs=2,
                                         strategy=strategy, make_optimizer=make_optimizer,
                                         verbose=0)
with open(out, "w") as f:
    json.dump({"index": index, "loss": history["loss"], "batch": GLOBAL_BATCH}, f)
