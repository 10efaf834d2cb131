"""Periodic input features for networks that read angles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfp_survae import _checks

__all__ = ["CircularEmbedding"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class CircularEmbedding(keras.layers.Layer):
    """Replaces the first `num_angles` features of the last axis, angles theta, by
    (cos theta, sin theta), and passes the other features (a condition) as they are.

    A network that reads angles through it is 2 pi-periodic in each of them, so a coupling on
    the torus whose conditioner starts with it has a density that is continuous across the
    seam at +-pi (Rezende et al., 2020). `ts.architectures.circular_spline_flow` puts it in
    front of every coupling network.

    Examples:
      >>> embed = CircularEmbedding(1)
      >>> embed(tf.constant([[0.0, 5.0]])).numpy()
      array([[1., 0., 5.]], dtype=float32)

    Args:
      num_angles: how many leading features are angles, an integer >= 1.

    Raises:
      ValueError, TypeError: `num_angles` that is not an integer >= 1.

    References:
      Rezende, Papamakarios, Racaniere, Albergo, Kanwar, Shanahan, Cranmer, "Normalizing
      Flows on Tori and Spheres", ICML 2020. https://arxiv.org/abs/2002.02428
    """

    def __init__(self, num_angles: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_angles = _checks.check_integer("CircularEmbedding", "num_angles", num_angles,
                                                minimum=1)

    def build(self, input_shape: Sequence[int | None]) -> None:
        if input_shape[-1] is not None and input_shape[-1] < self.num_angles:
            raise ValueError(f"CircularEmbedding: expected at least num_angles="
                             f"{self.num_angles} features on the last axis; received input "
                             f"shape {list(input_shape)}.")
        self.built = True

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        angles, rest = inputs[..., :self.num_angles], inputs[..., self.num_angles:]
        return tf.concat([tf.cos(angles), tf.sin(angles), rest], axis=-1)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        last = None if input_shape[-1] is None else input_shape[-1] + self.num_angles
        return tuple(input_shape[:-1]) + (last,)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["num_angles"] = self.num_angles
        return config
