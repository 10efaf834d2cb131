"""Affine coupling (RealNVP), computing z and V in one network pass."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae import _utils
from tfp_survae.transforms.base import Bijection

__all__ = ["AffineCoupling"]

_SCALE_FNS = ("exp", "tanh", "sigmoid")


def _log_scale(raw: tf.Tensor, scale_fn: str, bound: float) -> tf.Tensor:
    if scale_fn == "exp":
        return raw
    if scale_fn == "tanh":
        return bound * tf.tanh(raw / bound)
    return tf.math.log_sigmoid(raw + 2.0)  # "sigmoid", as Glow: scale in (0, 1)


def checkerboard_mask(height: int, width: int, parity: int, dtype) -> tf.Tensor:
    """[height, width, 1] mask, 1 where (i + j + parity) is even: the conditioning pixels."""
    rows = tf.range(height)[:, None]
    cols = tf.range(width)[None, :]
    mask = tf.cast(tf.math.floormod(rows + cols + parity, 2) == 0, dtype)
    return mask[:, :, None]


@keras.saving.register_keras_serializable(package="tfp_survae")
class AffineCoupling(Bijection):
    """Affine coupling layer (Dinh et al., 2017), single pass.

    The data x is split into a conditioning part x_a and a transformed part x_b; a network of x_a
    (and of `condition`, if given) predicts a shift t and a log-scale s for x_b.

    Forward: x_a = z_a, x_b = (z_b - t(z_a)) * exp(-s(z_a)).
    Inverse: z_a = x_a, z_b = x_b * exp(s(x_a)) + t(x_a).
    V = sum s(x_a).

    Args:
      network: Keras layer mapping x_a (concatenated with the condition on the last axis) to
        [shift, raw log-scale] side by side on the last axis, each of x_b's shape. None: an MLP
        (vectors) with a zero-initialised output, so the layer starts as the identity.
      mask: "half" splits the last axis (features, or channels of an image): the first
        `num_identity` entries (default: half, rounded down) condition the rest. "checkerboard"
        splits an image [h, w, c] by a spatial checkerboard; the network then sees the whole
        image with the transformed pixels zeroed and predicts parameters for every pixel.
      parity: which checkerboard squares condition (0 or 1).
      scale_fn: how the raw log-scale becomes s: "tanh" (default; s = bound * tanh(raw / bound),
        a soft clamp that keeps deep flows stable), "exp" (s = raw, as RealNVP) or "sigmoid"
        (s = log sigmoid(raw + 2), as Glow).
      scale_bound: the clamp of "tanh".
      hidden_units: sizes of the default MLP.
      condition_shape: event shape of the `condition` tensor, if the coupling is conditional
        (needed to build the network before training).

    References:
      Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP", ICLR 2017.
      https://arxiv.org/abs/1605.08803
    """

    min_event_rank = 1

    def __init__(
        self,
        network: keras.layers.Layer | None = None,
        *,
        mask: str = "half",
        num_identity: int | None = None,
        parity: int = 0,
        scale_fn: str = "tanh",
        scale_bound: float = 3.0,
        hidden_units=(128, 128),
        condition_shape=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mask not in ("half", "checkerboard"):
            raise ValueError(f"mask is 'half' or 'checkerboard'; received {mask!r}.")
        if scale_fn not in _SCALE_FNS:
            raise ValueError(f"scale_fn is one of {_SCALE_FNS}; received {scale_fn!r}.")
        if parity not in (0, 1):
            raise ValueError(f"parity is 0 or 1; received {parity!r}.")
        self.network = network
        self.mask = mask
        self.num_identity = num_identity
        self.parity = int(parity)
        self.scale_fn = scale_fn
        self.scale_bound = float(scale_bound)
        self.hidden_units = list(hidden_units)
        self.condition_shape = None if condition_shape is None else list(condition_shape)

    def build(self, input_shape):
        super().build(input_shape)
        event = self.event_shape
        features = event[-1]
        if self.mask == "checkerboard":
            if event.rank != 3:
                raise ValueError(
                    f"{self._owner}: mask='checkerboard' needs image events [height, width, "
                    f"channels]; received event shape {event.as_list()}."
                )
            net_in, net_out = features, 2 * features
        else:
            if self.num_identity is None:
                self._split = features // 2
            else:
                self._split = int(self.num_identity)
            if not 0 < self._split < features:
                raise ValueError(
                    f"{self._owner}: the split needs 0 < num_identity < {features} (the size "
                    f"of the last axis); received num_identity={self._split}."
                )
            net_in, net_out = self._split, 2 * (features - self._split)
        if self.condition_shape is not None:
            net_in += self.condition_shape[-1]
        if self.network is None:
            if event.rank != 1:
                raise ValueError(
                    f"{self._owner}: pass a network for events of rank {event.rank} (the "
                    "default network is an MLP for vectors); e.g. tfp_survae.nn.DenseNet."
                )
            from tfp_survae.nn import MLP

            self.network = MLP(
                self.hidden_units, net_out, output_initializer="zeros",
                dtype=self.dtype_policy, name="network",
            )
        if not self.network.built:
            self.network.build((None,) + tuple(event.as_list()[:-1]) + (net_in,))

    def _network_params(self, inputs, condition, training):
        if condition is not None:
            inputs = tf.concat([inputs, tf.cast(condition, inputs.dtype)], axis=-1)
        out = tf.cast(self.network(inputs, training=training), inputs.dtype)
        shift, raw = tf.split(out, 2, axis=-1)
        return shift, _log_scale(raw, self.scale_fn, self.scale_bound)

    def _checker(self, dtype):
        event = self.event_shape
        return checkerboard_mask(event[0], event[1], self.parity, dtype)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if self.mask == "checkerboard":
            mask = self._checker(x.dtype)
            shift, log_scale = self._network_params(x * mask, condition, training)
            log_scale = log_scale * (1.0 - mask)
            z = x * mask + (1.0 - mask) * (x * tf.exp(log_scale) + shift)
            return z, _utils.sum_except_batch(log_scale)
        x_a, x_b = x[..., : self._split], x[..., self._split :]
        shift, log_scale = self._network_params(x_a, condition, training)
        z_b = x_b * tf.exp(log_scale) + shift
        return tf.concat([x_a, z_b], axis=-1), _utils.sum_except_batch(log_scale)

    def _forward_and_log_det(self, z, *, seed, condition):
        if self.mask == "checkerboard":
            mask = self._checker(z.dtype)
            shift, log_scale = self._network_params(z * mask, condition, False)
            log_scale = log_scale * (1.0 - mask)
            x = z * mask + (1.0 - mask) * (z - shift) * tf.exp(-log_scale)
            return x, _utils.sum_except_batch(log_scale)
        z_a, z_b = z[..., : self._split], z[..., self._split :]
        shift, log_scale = self._network_params(z_a, condition, False)
        x_b = (z_b - shift) * tf.exp(-log_scale)
        return tf.concat([z_a, x_b], axis=-1), _utils.sum_except_batch(log_scale)

    def _forward(self, z, *, seed, condition):
        return self._forward_and_log_det(z, seed=seed, condition=condition)[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            network=keras.saving.serialize_keras_object(self.network),
            mask=self.mask,
            num_identity=self.num_identity,
            parity=self.parity,
            scale_fn=self.scale_fn,
            scale_bound=self.scale_bound,
            hidden_units=self.hidden_units,
            condition_shape=self.condition_shape,
        )
        return config
