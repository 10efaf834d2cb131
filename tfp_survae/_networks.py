"""Running a layer's networks: input range checks before the call, output shapes checked when
the layer is built, logits reshaped to the choice they parameterize."""

from __future__ import annotations

import math
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks


def run_network(owner: str, network: Any, inputs: tf.Tensor, **kwargs: Any) -> Any:
    """Calls `network` on `inputs`, after checking that they fit its compute dtype.

    A network squares its inputs' scale (variances in a LayerNorm, products in attention), so
    an input beyond the square root of the dtype's largest value (1.8e19 in float32; in
    float16, whose range ends at 65504, anything beyond 65504) would overflow inside it and
    come out as Inf, NaN or a silently different number. Such an input raises a ValueError
    (a check op in graphs) that says what to change; where the library asks for NaN instead
    (the training steps' invalid-batch guard), the examples holding one are NaN.

    Args:
      owner: the layer, named in the error.
      network: a Keras layer (or any callable).
      inputs: its input tensor.
      **kwargs: passed to the call (`training`).

    Returns:
      The network's output.

    Raises:
      ValueError: (eagerly) an input beyond that limit.
    """
    compute = tf.as_dtype(getattr(network, "compute_dtype", None) or inputs.dtype)
    if compute.is_floating:
        largest = float(compute.max)
        limit = largest if compute == tf.float16 else math.sqrt(largest)
        message = (f"{owner}: a network computing in {compute.name} received values beyond "
                   f"{limit:.3g}, which would overflow inside it. Rescale the data, or use a "
                   "wider dtype ('mixed_bfloat16', 'float32' or 'float64').")
        wide = tf.float64 if inputs.dtype == tf.float64 else tf.float32
        beyond = tf.abs(tf.cast(inputs, wide)) > limit
        if _checks.invalid_gives_nan():
            rows = tf.reduce_any(tf.reshape(beyond, [tf.shape(inputs)[0], -1]), axis=-1)
            rows = tf.reshape(rows, tf.concat([[-1], tf.ones([tf.rank(inputs) - 1], tf.int32)],
                                              axis=0))
            return network(tf.where(rows, tf.constant(np.nan, inputs.dtype), inputs), **kwargs)
        too_large = tf.reduce_any(beyond)
        if tf.executing_eagerly():
            if bool(too_large):
                raise ValueError(message)
        else:
            inputs = _checks.guarded(inputs, tf.logical_not(too_large), message)
    return network(inputs, **kwargs)


def check_network(owner: str, network: Any, role: str) -> keras.layers.Layer | None:
    """A network argument: None (the layer builds its default) or a Keras layer."""
    if network is not None and not isinstance(network, keras.layers.Layer):
        raise TypeError(f"{owner}: {role} must be a Keras layer or None (the default); "
                        f"received {type(network).__name__}: {network!r}.")
    return network


def check_network_output(owner: str, network: Any, input_event: Sequence[int],
                         expected_event: Sequence[int], dtype: tf.DType | str,
                         role: str) -> None:
    """Raises a ValueError unless `network` maps [batch] + `input_event` to exactly
    [batch] + `expected_event` (checked when the layer is built, so a network of the wrong
    width can never broadcast into a wrong likelihood); then builds the network if it is not
    built, so its variables exist before an optimizer is built for the flow's (a network
    first built inside a training step would be unknown to the optimizer).

    Uses the network's `compute_output_shape`, or one call on a batch of zeros where it has
    none (or no `build` of its own).

    Args:
      owner: the layer, named in the error.
      network: the Keras layer.
      input_event: the event shape of its input.
      expected_event: the event shape its output must have.
      dtype: the dtype of the probe batch.
      role: what the network is, for the error ("the coupling network", ...).

    Raises:
      ValueError: the output has another event shape.
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
    if not network.built:
        if type(network).build is keras.layers.Layer.build:  # a call builds its sublayers
            network(tf.zeros((1,) + input_shape[1:], dtype))
        else:
            network.build(input_shape)


def network_logits(owner: str, network: Any, inputs: tf.Tensor, event_shape: Sequence[int],
                   dtype: tf.DType | str, what: str, training: bool | None = None) -> tf.Tensor:
    """Runs `network` on `inputs` and reshapes its output to [batch] + `event_shape`.

    The network may output that shape or any shape with the same number of values per example
    (e.g. flat logits).

    Args:
      owner: the layer, named in errors.
      network: the Keras layer.
      inputs: its input tensor.
      event_shape: the shape of the logits of one example.
      dtype: the dtype of the logits.
      what: what the logits choose, for errors ("sign", ...).
      training: the Keras training flag.

    Returns:
      Logits of shape [batch] + event_shape.

    Raises:
      ValueError: the output holds another number of values per example (naming both shapes).
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


def build_network(network: Any, input_shape: Sequence[int | None]) -> Any:
    """Builds an unbuilt Keras layer for `input_shape`; returns `network`."""
    if network is not None and isinstance(network, keras.layers.Layer) and not network.built:
        network.build(tuple(input_shape))
    return network

