"""Running a layer's networks: input range checks before the call, output shapes checked when
the layer is built, logits reshaped to the choice they parameterize."""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks


def run_network(owner: str, network, inputs, **kwargs):
    """Calls `network` on `inputs`, after checking that they fit its compute dtype.

    A network squares its inputs' scale (variances in a LayerNorm, products in attention), so
    an input beyond the square root of the dtype's largest value (1.8e19 in float32; in
    float16, whose range ends at 65504, anything beyond 65504) would overflow inside it and
    come out as Inf, NaN or a silently different number. Such an input raises a ValueError
    (a check op in graphs) that says what to change.
    """
    compute = tf.as_dtype(getattr(network, "compute_dtype", None) or inputs.dtype)
    if compute.is_floating:
        largest = float(compute.max)
        limit = largest if compute == tf.float16 else math.sqrt(largest)
        message = (f"{owner}: a network computing in {compute.name} received values beyond "
                   f"{limit:.3g}, which would overflow inside it. Rescale the data, or use a "
                   "wider dtype ('mixed_bfloat16', 'float32' or 'float64').")
        wide = tf.float64 if inputs.dtype == tf.float64 else tf.float32
        too_large = tf.reduce_any(tf.abs(tf.cast(inputs, wide)) > limit)
        if tf.executing_eagerly():
            if bool(too_large):
                raise ValueError(message)
        else:
            inputs = _checks.guarded(inputs, tf.logical_not(too_large), message)
    return network(inputs, **kwargs)


def check_network(owner: str, network, role: str):
    """A network argument: None (the layer builds its default) or a Keras layer."""
    if network is not None and not isinstance(network, keras.layers.Layer):
        raise TypeError(f"{owner}: {role} must be a Keras layer or None (the default); "
                        f"received {type(network).__name__}: {network!r}.")
    return network


def check_network_output(owner: str, network, input_event, expected_event, dtype,
                         role: str) -> None:
    """Raises a ValueError unless `network` maps [batch] + `input_event` to exactly
    [batch] + `expected_event` (checked when the layer is built, so a network of the wrong
    width can never broadcast into a wrong likelihood).

    Uses the network's `compute_output_shape`, or one call on a batch of zeros where it has
    none.
    """
    input_shape = (None,) + tuple(int(d) for d in input_event)
    try:
        produced = tf.TensorShape(network.compute_output_shape(input_shape))
    except Exception:  # noqa: BLE001 (layers without a shape function)
        produced = None
    if produced is None or produced.rank is None or not produced[1:].is_fully_defined():
        probe = tf.zeros((1,) + input_shape[1:], dtype)
        produced = network(probe).shape
    expected = [int(d) for d in expected_event]
    if produced[1:].as_list() != expected:
        raise ValueError(
            f"{owner}: {role} must map inputs of shape {list(input_shape)} to outputs of shape "
            f"{[None] + expected}; it gives {produced.as_list()}. Set the network's output "
            f"width to {expected[-1]}."
        )


def network_logits(owner: str, network, inputs, event_shape, dtype, what: str, training=None):
    """Runs `network` on `inputs` and reshapes its output to [batch] + `event_shape`.

    The network may output that shape or any shape with the same number of values per example
    (e.g. flat logits); anything else is a ValueError naming both shapes.
    """
    out = tf.cast(run_network(owner, network, inputs, training=training), dtype)
    event_shape = [int(d) for d in event_shape]
    want = int(np.prod(event_shape)) if event_shape else 1
    have = out.shape[1:].num_elements()
    if have is not None and have != want:
        raise ValueError(
            f"{owner}: the {what} network must output {want} logits per example (shape "
            f"{event_shape}); received output shape {out.shape.as_list()}."
        )
    return tf.reshape(out, [-1] + event_shape)


def build_network(network, input_shape):
    if network is not None and isinstance(network, keras.layers.Layer) and not network.built:
        network.build(tuple(input_shape))
    return network

