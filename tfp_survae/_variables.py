"""The variables of Keras layers as TensorFlow sees them, and their saving with the layers'
seed generators."""

from __future__ import annotations

import tensorflow as tf


def backing_variables(layers, *, trainable_only: bool = False) -> list:
    """The `tf.Variable`s behind the Keras variables of `layers`, each once, in order.

    Keras 3 variables are invisible to `tf.Module` and to TFP's optimizers; the `tf.Variable`
    each one wraps is the same storage, so training it trains the layer.
    """
    found, seen = [], set()
    for layer in layers:
        variables = layer.trainable_variables if trainable_only else layer.variables
        for backing in backing_variables_of(variables):
            if id(backing) not in seen:
                seen.add(id(backing))
                found.append(backing)
    return found


def backing_variables_of(variables) -> list:
    """The `tf.Variable` behind each Keras variable (the variable itself otherwise)."""
    out = []
    for v in variables:
        backing = getattr(v, "value", v)
        out.append(backing if isinstance(backing, tf.Variable) else v)
    return out


def save_variables_and_seed(layer, store, seed_generator) -> None:
    """Layer.save_own_variables, plus the state of the layer's seed generator.

    Keras leaves seed generators out of saved weights; saving them makes a restored model (and
    training resumed from a backup) draw the same random numbers as the original.
    """
    variables = layer._trainable_variables + layer._non_trainable_variables
    for i, v in enumerate(variables):
        store[f"{i}"] = v
    if seed_generator is not None:
        store["seed_generator_state"] = seed_generator.state


def load_variables_and_seed(layer, store, seed_generator) -> None:
    """The inverse of `save_variables_and_seed` (files without a seed state load too)."""
    variables = layer._trainable_variables + layer._non_trainable_variables
    keys = set(store.keys())
    if seed_generator is not None and "seed_generator_state" in keys:
        seed_generator.state.assign(store["seed_generator_state"])
        keys.discard("seed_generator_state")
    if len(keys) != len(variables):
        raise ValueError(
            f"Layer '{layer.name}' expected {len(variables)} variables, but the saved file has "
            f"{len(keys)}: the file was saved from a different architecture."
        )
    for i, v in enumerate(variables):
        v.assign(store[f"{i}"])
