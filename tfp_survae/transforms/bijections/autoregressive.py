"""Masked autoregressive flows (MAF) and their inverse (IAF), with a MADE network."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfp_survae import _networks, _tensors
from tfp_survae.nn.made import MADE
from tfp_survae.transforms.base import Bijection
from tfp_survae.transforms.bijections.coupling import SCALE_FNS, affine_map, spline_map

__all__ = ["MaskedAutoregressive"]


@keras.saving.register_keras_serializable(package="tfp_survae")
class MaskedAutoregressive(Bijection):
    """An autoregressive elementwise map of a vector (Papamakarios et al., 2017).

    Each z_i = g(x_i; theta_i(x_1..x_{i-1})), with theta from a MADE network, g affine
    (g(x) = x exp(s) + t) or a rational-quadratic spline (as `RationalQuadraticCoupling`).

    MAF (default): Inverse (density): z = g(x; theta(x)) in one network pass.
    Forward (sampling): x_i = g^-1(z_i; theta_i(x_<i)), D passes, one coordinate fixed per pass.
    IAF (`inverse_autoregressive=True`): the conditioning swaps sides, theta = theta(z).
    Forward: x = g^-1(z; theta(z)) in one pass (fast sampling); Inverse: D passes.
    V = sum_i log g'(x_i; theta_i) in both cases.

    Args:
      network: a MADE (or any layer with its autoregressive property) mapping a vector [D] to
        P * D parameters as P blocks of D; None builds `MADE(P, hidden_units)` with a zero
        output layer, so the map starts as the identity.
      transformer: "affine" (P = 2: shift t and raw r with the scale function `scale_fn`, as
        `AffineCoupling`) or "spline" (P = 3K - 1).
      inverse_autoregressive: IAF instead of MAF.
      hidden_units, residual: of the default MADE.
      scale_fn, scale_bound: of the affine transformer.
      num_bins, bound, min_bin_width, min_slope: of the spline transformer.
      condition_shape: event shape of a `condition` every unit of the MADE sees.

    References:
      Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation",
      NeurIPS 2017. https://arxiv.org/abs/1705.07057
      Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow",
      NeurIPS 2016. https://arxiv.org/abs/1606.04934
    """

    min_event_rank = 1
    config_sublayers = ("network",)

    def __init__(self, network: keras.layers.Layer | None = None, *,
                 transformer: str = "affine", inverse_autoregressive: bool = False,
                 hidden_units=(64, 64), residual: bool = False, scale_fn: str = "tanh",
                 scale_bound: float = 3.0, num_bins: int = 8, bound: float = 3.0,
                 min_bin_width: float = 1e-3, min_slope: float = 1e-3, condition_shape=None,
                 **kwargs):
        super().__init__(**kwargs)
        if transformer not in ("affine", "spline"):
            raise ValueError(f"transformer is 'affine' or 'spline'; received {transformer!r}.")
        if scale_fn not in SCALE_FNS:
            raise ValueError(f"scale_fn is one of {sorted(SCALE_FNS)}; received {scale_fn!r}.")
        if int(num_bins) < 2:
            raise ValueError(f"num_bins must be at least 2; received {num_bins}.")
        self.network = network
        self.transformer = transformer
        self.inverse_autoregressive = bool(inverse_autoregressive)
        self.hidden_units = list(hidden_units)
        self.residual = bool(residual)
        self.scale_fn, self.scale_bound = scale_fn, float(scale_bound)
        self.num_bins, self.bound = int(num_bins), float(bound)
        self.min_bin_width, self.min_slope = float(min_bin_width), float(min_slope)
        self.condition_shape = None if condition_shape is None else list(condition_shape)
        self.params_per_dim = 2 if transformer == "affine" else 3 * self.num_bins - 1

    def build(self, input_shape):
        super().build(input_shape)
        if self.event_shape.rank != 1:
            raise ValueError(f"{self._owner}: acts on vectors [D]; received event shape "
                             f"{self.event_shape.as_list()}.")
        dims = int(self.event_shape[0])
        if self.network is None:
            self.network = MADE(self.params_per_dim, self.hidden_units, residual=self.residual,
                                dtype=self.dtype_policy, name="made")
        if not self.network.built:
            if isinstance(self.network, MADE):
                self.network.build((None, dims), self.condition_shape)
            else:
                self.network.build((None, dims))
        self._dims = dims
        if self.condition_shape is None:
            _networks.check_network_output(
                self._owner, self.network, [dims], [self.params_per_dim * dims], self.dtype,
                f"the autoregressive network ({self.params_per_dim} parameters per dimension, "
                "as blocks on the last axis)")

    # ----------------------------------------------------------------------------------------

    def _params(self, inputs, condition):
        if self.condition_shape is None and condition is not None:
            raise ValueError(f"{self._owner} was built without condition_shape, so it takes no "
                             "condition; pass condition_shape= to make it conditional.")
        if self.condition_shape is not None:
            if condition is None:
                raise ValueError(f"{self._owner} is conditional (condition_shape="
                                 f"{self.condition_shape}); pass condition=.")
            out = _networks.run_network(self._owner, self.network, inputs,
                                     condition=tf.convert_to_tensor(condition))
        else:
            out = _networks.run_network(self._owner, self.network, inputs)
        return tf.split(tf.cast(out, inputs.dtype), self.params_per_dim, axis=-1)

    def _map(self, values, params, inverse: bool):
        """g (inverse=False: data -> latent) or g^-1 applied elementwise; returns the values and
        log g' (at the data side) elementwise."""
        direction = "forward" if inverse else "inverse"
        if self.transformer == "affine":
            return affine_map(values, params, self.scale_fn, self.scale_bound, direction)
        return spline_map(values, params, self.num_bins, self.bound, self.min_bin_width,
                          self.min_slope, direction)

    def _one_pass(self, values, conditioning, condition, inverse):
        out, log_det = self._map(values, self._params(conditioning, condition), inverse)
        return out, _tensors.sum_except_batch(log_det)

    def _solve(self, values, condition, inverse):
        """The `out` with out = map(values; theta(out)), by D passes (pass i fixes coordinate i,
        as theta_i depends only on out_<i)."""
        out = tf.zeros_like(values)
        for _ in range(self._dims):
            out, _ = self._map(values, self._params(out, condition), inverse)
        return out

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        if not self.inverse_autoregressive:
            return self._one_pass(x, x, condition, inverse=False)
        z = self._solve(x, condition, inverse=False)
        return z, self._one_pass(x, z, condition, inverse=False)[1]

    def _forward_and_log_det(self, z, *, seed, condition):
        if self.inverse_autoregressive:
            return self._one_pass(z, z, condition, inverse=True)
        x = self._solve(z, condition, inverse=True)
        return x, self._one_pass(x, x, condition, inverse=False)[1]

    def get_config(self):
        config = super().get_config()
        config.update(transformer=self.transformer,
                      inverse_autoregressive=self.inverse_autoregressive,
                      hidden_units=self.hidden_units, residual=self.residual,
                      scale_fn=self.scale_fn, scale_bound=self.scale_bound,
                      num_bins=self.num_bins, bound=self.bound,
                      min_bin_width=self.min_bin_width, min_slope=self.min_slope,
                      condition_shape=self.condition_shape)
        return config
