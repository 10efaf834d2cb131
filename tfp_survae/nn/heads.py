"""Heads that arrange a network's output into the parameter layout the layers expect."""

from __future__ import annotations

import keras

__all__ = ["ElementwiseParams"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class ElementwiseParams(keras.layers.Layer):
    """Rearranges `num_params` parameters per element from element-major to side-by-side.

    tfp_survae layers read parameters side by side on the last axis: [p_0 of every element,
    p_1 of every element, ...] (e.g. [shift, log-scale] for an affine coupling, [mean,
    log-scale] for ConditionalNormal). A network that emits them element by element, [p_0,
    p_1, ...] for element 0, then element 1, ..., gets this head appended. (The PyTorch
    reference code calls that layout mode='sequential'; its default, mode='interleaved', is
    already side by side and needs no head, only the order of the parameters checked.)

    Example:
      >>> net = keras.Sequential([ts.nn.MLP([64], 4), ts.nn.ElementwiseParams(2)])
      >>> net(tf.zeros([3, 2])).shape
      TensorShape([3, 4])
    """

    def __init__(self, num_params: int, **kwargs):
        super().__init__(**kwargs)
        self.num_params = int(num_params)

    def call(self, x):
        shape = keras.ops.shape(x)
        channels = shape[-1]
        if isinstance(channels, int) and channels % self.num_params:
            raise ValueError(
                f"ElementwiseParams: the last axis ({channels}) is not a multiple of "
                f"num_params={self.num_params}."
            )
        grouped = keras.ops.reshape(x, tuple(shape[:-1]) + (-1, self.num_params))
        moved = keras.ops.moveaxis(grouped, -1, -2)
        return keras.ops.reshape(moved, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["num_params"] = self.num_params
        return config
