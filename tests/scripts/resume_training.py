"""Trains a small flow with BackupAndRestore; optionally kills itself mid-epoch (SIGKILL).

Usage: python resume_training.py OUT_WEIGHTS BACKUP_DIR [KILL_EPOCH KILL_BATCH]
"""

import os
import signal
import sys

import keras
import numpy as np
import tensorflow as tf

import tfp_survae as ts

tf.config.experimental.enable_op_determinism()
out, backup = sys.argv[1], sys.argv[2]
kill = (int(sys.argv[3]), int(sys.argv[4])) if len(sys.argv) > 4 else None


class Kill(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if kill and (self.epoch, batch) == kill:
            os.kill(os.getpid(), signal.SIGKILL)


keras.utils.set_random_seed(0)
flow = ts.Flow(ts.StandardNormal([3]), [
    ts.UniformDequantization(16), ts.Augment(1), ts.ActNorm(), ts.AffineCoupling(hidden_units=[16]),
    ts.Reverse(), ts.AffineCoupling(hidden_units=[16]),
], seed=1)
rng = np.random.RandomState(0)
data = np.clip(rng.randn(640, 2) * 3 + 8, 0, 15).astype(np.int32)
shuffle = ts.training.EpochShuffle(data, batch_size=64, seed=3)
flow.compile(keras.optimizers.Adam(1e-2), steps_per_execution=1)
flow.fit(shuffle.dataset, epochs=4, verbose=0,
         callbacks=[shuffle, keras.callbacks.BackupAndRestore(backup), Kill()])
np.savez(out, *[w.numpy() for w in flow.weights])
print("finished", flush=True)
