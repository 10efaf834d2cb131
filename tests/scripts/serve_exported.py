"""Loads an exported flow with plain TensorFlow only and writes its outputs.

Keras, TensorFlow Probability and tfp_survae are made unimportable before TensorFlow loads
(TensorFlow itself imports Keras when it can), so the export must serve without them.

Usage: python serve_exported.py MODEL_DIR INPUTS.npz OUTPUTS.npz
"""

import sys

BLOCKED = ("keras", "tf_keras", "tensorflow_probability", "tfp_survae")
for _name in BLOCKED:
    sys.modules[_name] = None  # `import _name` now raises ImportError

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

model_dir, inputs_path, outputs_path = sys.argv[1:4]
inputs = np.load(inputs_path)
model = tf.saved_model.load(model_dir)
outputs = {
    "log_prob": model.log_prob(tf.constant(inputs["x"])).numpy(),
    "sample": model.sample(tf.constant(5), tf.constant([3, 4])).numpy(),
    "signature_sample": model.signatures["sample"](
        n=tf.constant(5), seed=tf.constant([3, 4]))["output_0"].numpy(),
}
if "log_prob_with_seed" in model.signatures:
    outputs["log_prob_with_seed"] = model.log_prob_with_seed(
        tf.constant(inputs["x"]), tf.constant([7, 8])).numpy()
    outputs["iwbo"] = model.iwbo(tf.constant(inputs["x"]), tf.constant(30),
                                 tf.constant([1, 2])).numpy()
errors = []
try:
    model.log_prob(tf.constant(inputs["x"][:, :1]))
except tf.errors.InvalidArgumentError as error:
    errors.append(type(error).__name__)
try:
    model.log_prob(tf.constant(inputs["x"].astype(np.float64)))
except tf.errors.InvalidArgumentError as error:
    errors.append(type(error).__name__)
outputs["errors"] = np.array(errors)
leaked = [m for m in BLOCKED if sys.modules.get(m) is not None]
outputs["leaked"] = np.array(leaked, dtype=str)
np.savez(outputs_path, **outputs)
