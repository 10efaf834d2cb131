"""JSON-friendly configs for TFP distributions and bijectors built from constants.

Lets a `Flow` whose base is a plain `tfd.Distribution`, or whose bijections wrap a `tfb.Bijector`,
round-trip through `get_config` / `from_config` and `.keras` files.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors
tfd = tfp.distributions

_KINDS = {"distribution": (tfd.Distribution, tfd), "bijector": (tfb.Bijector, tfb)}


def _encode(owner: str, key: str, value):
    if isinstance(value, (tfd.Distribution, tfb.Bijector)):
        return {"__tfp__": serialize_tfp(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)) and any(
        isinstance(v, (tfd.Distribution, tfb.Bijector)) for v in value
    ):
        return {"__list__": [_encode(owner, key, v) for v in value]}
    if isinstance(value, (list, tuple)):
        value = tf.convert_to_tensor(value)  # TensorFlow's dtype inference (float32 for floats)
    if isinstance(value, (tf.Tensor, tf.Variable, np.ndarray, np.generic)):
        array = np.asarray(value)
        return {"__array__": array.tolist(), "dtype": array.dtype.name}
    if isinstance(value, tf.dtypes.DType):
        return {"__dtype__": value.name}
    raise ValueError(
        f"Cannot save the TFP object {owner}: its parameter {key!r} is a "
        f"{type(value).__name__}, not a constant. Use a tfp_survae layer for trainable parts."
    )


def _decode(value):
    if isinstance(value, dict):
        if "__tfp__" in value:
            return deserialize_tfp(value["__tfp__"])
        if "__list__" in value:
            return [_decode(v) for v in value["__list__"]]
        if "__array__" in value:
            return np.asarray(value["__array__"], dtype=value["dtype"])
        if "__dtype__" in value:
            return tf.as_dtype(value["__dtype__"])
    return value


def serialize_tfp(obj) -> dict:
    """Describes a TFP distribution or bijector by its class and constant parameters."""
    kind = next(k for k, (base, _) in _KINDS.items() if isinstance(obj, base))
    module = _KINDS[kind][1]
    name = type(obj).__name__
    if getattr(module, name, None) is not type(obj):
        raise ValueError(
            f"Cannot save {name}: only classes of tfp.{module.__name__.split('.')[-1]} are "
            "supported."
        )
    params = {
        key: _encode(name, key, value)
        for key, value in obj.parameters.items()
        if key != "name" and value is not None
    }
    return {"kind": kind, "class_name": name, "parameters": params}


def deserialize_tfp(config: dict):
    module = _KINDS[config["kind"]][1]
    params = {key: _decode(value) for key, value in config["parameters"].items()}
    return getattr(module, config["class_name"])(**params)


def _is_serialized_keras_object(value) -> bool:
    return isinstance(value, dict) and "class_name" in value and "config" in value


def deserialize_sublayers(config: dict) -> dict:
    """Returns `config` with serialized Keras objects (and lists of them) deserialized."""
    out = dict(config)
    for key, value in config.items():
        if _is_serialized_keras_object(value):
            out[key] = keras.saving.deserialize_keras_object(value)
        elif isinstance(value, list) and value and all(
            _is_serialized_keras_object(v) for v in value
        ):
            out[key] = [keras.saving.deserialize_keras_object(v) for v in value]
    return out
