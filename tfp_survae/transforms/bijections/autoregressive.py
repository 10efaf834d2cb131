"""Masked autoregressive flows (MAF) and their inverse (IAF): any elementwise map with
parameters from a MADE network."""

from __future__ import annotations

from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from tfp_survae import _checks, _networks, _tensors
from tfp_survae.nn.made import MADE
from tfp_survae.transforms.base import Bijection
from tfp_survae.transforms.bijections.maps import (
    AffineMap,
    ElementwiseMap,
    RationalQuadraticMap,
    check_domain,
    check_map,
)
from tfp_survae.transforms._types import Config, Shape

__all__ = ["MaskedAutoregressive"]

# The arguments MaskedAutoregressive took before it took a map, by the map they belong to.
_LEGACY_AFFINE = ("scale_fn", "scale_bound")
_LEGACY_SPLINE = ("num_bins", "bound", "min_bin_width", "min_slope")
_LEGACY = ("transformer",) + _LEGACY_AFFINE + _LEGACY_SPLINE


def _legacy_map(arguments: dict) -> ElementwiseMap:
    """The map that the pre-map arguments (transformer="affine" or "spline", ...) described."""
    if arguments.get("transformer", "affine") == "spline":
        return RationalQuadraticMap(**{k: arguments[k] for k in _LEGACY_SPLINE if k in arguments})
    return AffineMap(**{k: arguments[k] for k in _LEGACY_AFFINE if k in arguments})


def _legacy_form(arguments: dict) -> str:
    spline = arguments.get("transformer") == "spline" or any(k in arguments
                                                            for k in _LEGACY_SPLINE)
    names = _LEGACY_SPLINE if spline else _LEGACY_AFFINE
    inner = ", ".join(f"{k}={arguments[k]!r}" for k in names if k in arguments)
    return f"map=ts.{'RationalQuadraticMap' if spline else 'AffineMap'}({inner})"


@keras.saving.register_keras_serializable(package="tfp_survae")
class MaskedAutoregressive(Bijection):
    """An autoregressive elementwise map of a vector (Papamakarios et al., 2017).

    Each z_i = g(x_i; theta_i(x_1..x_{i-1})), with theta from a MADE network and g any
    `ElementwiseMap` (affine by default; a rational-quadratic spline for a neural spline
    autoregressive flow; Flow++'s logistic mixture).

    MAF (default): Inverse (density): z = g(x; theta(x)) in one network pass.
    Forward (sampling): x_i = g^-1(z_i; theta_i(x_<i)), D passes, one coordinate fixed per pass.
    IAF (`inverse_autoregressive=True`): the conditioning swaps sides, theta = theta(z).
    Forward: x = g^-1(z; theta(z)) in one pass (fast sampling); Inverse: D passes.
    V = sum_i log g'(x_i; theta_i) in both cases.

    Each pass inverts g to the map's stated accuracy; in the D-pass direction an error in an
    early coordinate also moves the parameters of the later ones.

    Args:
      network: a MADE, or a Keras layer with its autoregressive property, mapping a vector [D]
        to P * D parameters as P blocks of D (P = `map.params_per_element`); None builds
        `MADE(P, hidden_units)` with a zero output layer, so the map starts at its raw-zero
        parameters (the identity for the library's maps). When the layer is built, the output
        width is checked, and for a network that is not a MADE its autoregressive structure:
        the parameters of dimension i must not depend on x_i..x_D (probed with autodiff on a
        copy of the network with random weights, or on the network itself where it cannot be
        copied). Either failure is a ValueError, as V would not be log |det J|.
      map: the elementwise map g, an `ElementwiseMap`; None: `AffineMap()`.
      inverse_autoregressive: IAF instead of MAF.
      hidden_units: the default MADE's hidden widths (integers >= 1).
      residual: the default MADE has residual connections (needs equal `hidden_units`).
      condition_shape: event shape of a `condition` every unit of the MADE sees.
      **kwargs: `Transform` arguments (`name`, `dtype`, ...).

    Raises:
      ValueError: an argument outside the ranges above, naming it; at build, a network whose
        output width or autoregressive structure is wrong.
      TypeError: an argument of the wrong type; or the arguments this layer took before it took
        a map (`transformer=`, `scale_fn=`, `num_bins=`, ...), showing the `map=` that replaces
        them. Saved configurations with those arguments still load.

    Examples:
      >>> maf = MaskedAutoregressive(map=RationalQuadraticMap(num_bins=4), hidden_units=[8])
      >>> x = tf.constant([[0.5, -1.0, 2.0]])
      >>> z, v = maf.inverse_and_log_det(x)
      >>> np.allclose(z, x), np.allclose(v, 0.0, atol=1e-6)  # a zero-initialised MADE
      (True, True)
      >>> np.allclose(maf.forward(z), x, atol=1e-5)
      True

    References:
      Papamakarios, Pavlakou, Murray, "Masked Autoregressive Flow for Density Estimation",
      NeurIPS 2017. https://arxiv.org/abs/1705.07057
      Kingma et al., "Improved Variational Inference with Inverse Autoregressive Flow",
      NeurIPS 2016. https://arxiv.org/abs/1606.04934
    """

    min_event_rank = 1
    config_sublayers = ("network", "map")

    def __init__(self, network: keras.layers.Layer | None = None,
                 map: ElementwiseMap | None = None,  # noqa: A002 (the peers' name for it)
                 *, inverse_autoregressive: bool = False,
                 hidden_units: Sequence[int] = (64, 64), residual: bool = False,
                 condition_shape: Sequence[int] | None = None, **kwargs: Any) -> None:
        legacy = {k: kwargs.pop(k) for k in _LEGACY if k in kwargs}
        if legacy:
            received = ", ".join(f"{k}={v!r}" for k, v in legacy.items())
            raise TypeError(
                f"MaskedAutoregressive takes its elementwise map as map=; received {received}. "
                f"Write {_legacy_form(legacy)}.")
        super().__init__(**kwargs)
        owner = self._owner
        self.network = _networks.check_network(owner, network, "network")
        self.map = check_map(owner, map)
        self.inverse_autoregressive = _checks.check_flag(owner, "inverse_autoregressive",
                                                         inverse_autoregressive)
        self.hidden_units = _checks.check_units(owner, "hidden_units", hidden_units,
                                                allow_empty=False)
        self.residual = _checks.check_flag(owner, "residual", residual)
        if self.residual and len(set(self.hidden_units)) != 1:
            raise ValueError(f"{owner}: residual=True needs equal hidden_units; received "
                             f"{self.hidden_units}.")
        self.condition_shape = None if condition_shape is None else _checks.check_shape(
            owner, "condition_shape", condition_shape)
        if self.condition_shape is not None and len(self.condition_shape) != 1:
            raise ValueError(f"{owner}: condition_shape must be a vector's [C] (every MADE unit "
                             f"sees the condition); received {self.condition_shape}.")

    @classmethod
    def from_config(cls, config: Config) -> MaskedAutoregressive:
        """Rebuilds the layer from `get_config`'s output, also from configurations saved before
        the layer took a map (their `transformer=`, `scale_fn=`, ... become the map).

        Args:
          config: what `get_config` returned.

        Returns:
          The new layer.
        """
        config = dict(config)
        legacy = {k: config.pop(k) for k in _LEGACY if k in config}
        if legacy:  # saved before the layer took a map
            config["map"] = _legacy_map(legacy)
        return super().from_config(config)

    @property
    def params_per_dim(self) -> int:
        """P, the map's parameters per dimension."""
        return self.map.params_per_element

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self.event_shape.rank != 1:
            raise ValueError(f"{self._owner}: acts on vectors [D]; received event shape "
                             f"{self.event_shape.as_list()}.")
        dims = int(self.event_shape[0])
        if self.network is None:
            self.network = MADE(self.params_per_dim, self.hidden_units, residual=self.residual,
                                dtype=self.dtype_policy, name="made")
        if isinstance(self.network, MADE):
            self._check_made(dims)
        else:
            if not self.network.built:
                self.network.build((None, dims))
            self._check_autoregressive(dims)
        self._dims = dims

    def _role(self) -> str:
        p = self.params_per_dim
        return (f"the autoregressive network of {self.map!r} ({p} parameters per dimension, as "
                f"{p} blocks on the last axis)")

    def _check_made(self, dims):
        made = self.network
        if not made.built:
            made.build((None, dims), self.condition_shape)
        conditioned = made.condition_shape
        wanted = None if self.condition_shape is None else self.condition_shape[-1]
        if (conditioned and conditioned[-1]) != wanted:
            raise ValueError(
                f"{self._owner}: the MADE was built for condition_shape={conditioned}, the layer "
                f"for condition_shape={self.condition_shape}; build the MADE with the layer's "
                "(or leave it unbuilt).")
        _networks.check_network_output(self._owner, made, [dims], [self.params_per_dim * dims],
                                       self.dtype, self._role())

    def _check_autoregressive(self, dims):
        """Output width, then: the parameters of dimension i depend on x_<i only (autodiff on a
        copy with random weights, so that a zero output layer hides nothing)."""
        probe = _random_copy(self.network, dims)
        rng = np.random.RandomState(0)
        x = tf.constant(rng.randn(3, dims), self.dtype)
        kwargs = {}
        if self.condition_shape is not None:
            kwargs["condition"] = tf.constant(rng.randn(3, *self.condition_shape), self.dtype)
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = tf.cast(probe(x, **kwargs), self.dtype)
        expected = [3, self.params_per_dim * dims]
        if out.shape.as_list() != expected:
            raise ValueError(
                f"{self._owner}: {self._role()} must map inputs of shape [None, {dims}] to "
                f"outputs of shape [None, {expected[1]}]; it gives "
                f"{[None] + out.shape.as_list()[1:]}. Set the network's output width to "
                f"{expected[1]}.")
        jacobian = tape.batch_jacobian(out, x).numpy()  # [3, P * D, D]
        blocks = jacobian.reshape(3, self.params_per_dim, dims, dims)
        forbidden = np.triu(np.ones([dims, dims], bool))  # output i on inputs j >= i
        found = np.argwhere(np.any(blocks != 0, axis=(0, 1)) & forbidden)
        if len(found):
            i, j = (int(v) + 1 for v in found[0])  # 1-based, as x_1..x_D
            allowed = f"on x_1..x_{i - 1} only" if i > 1 else "on no entry of x"
            raise ValueError(
                f"{self._owner}: the network {self.network.name!r} is not masked "
                f"autoregressive: the parameters of dimension {i} depend on x_{j} (they may "
                f"depend {allowed}), so V would not be log |det J|. Use a ts.MADE or a network "
                "with the same masks.")

    # ----------------------------------------------------------------------------------------

    def _params(self, inputs, condition):
        expected = None if self.condition_shape is None else tf.TensorShape(
            [inputs.shape[0]] + self.condition_shape)
        condition = _checks.layer_condition(self._owner, condition, self.condition_shape,
                                            expected)
        if condition is None:
            out = _networks.run_network(self._owner, self.network, inputs)
        else:
            out = _networks.run_network(self._owner, self.network, inputs, condition=condition)
        return tf.split(tf.cast(out, inputs.dtype), self.params_per_dim, axis=-1)

    def _map(self, values, params, to_data: bool):
        """g (data to latent) or, with `to_data`, g^-1, elementwise; returns the values and
        log g' (at the data side) elementwise."""
        return self.map.forward(values, params) if to_data else self.map.inverse(values, params)

    def _one_pass(self, values, conditioning, condition, to_data):
        out, log_det = self._map(values, self._params(conditioning, condition), to_data)
        return out, _tensors.sum_except_batch(log_det)

    def _solve(self, values, condition, to_data):
        """The `out` with out = map(values; theta(out)), by D passes (pass i fixes coordinate i,
        as theta_i depends only on out_<i)."""
        out = tf.zeros_like(values)
        for _ in range(self._dims):
            out, _ = self._map(values, self._params(out, condition), to_data)
        return out

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        x = check_domain(self._owner, self.map, x, "data x")
        if not self.inverse_autoregressive:
            return self._one_pass(x, x, condition, to_data=False)
        z = self._solve(x, condition, to_data=False)
        return z, self._one_pass(x, z, condition, to_data=False)[1]

    def _forward_and_log_det(self, z, *, seed, condition):
        z = check_domain(self._owner, self.map, z, "latent z")
        if self.inverse_autoregressive:
            return self._one_pass(z, z, condition, to_data=True)
        x = self._solve(z, condition, to_data=True)
        return x, self._one_pass(x, x, condition, to_data=False)[1]

    def get_config(self) -> Config:
        config = super().get_config()
        config.update(inverse_autoregressive=self.inverse_autoregressive,
                      hidden_units=self.hidden_units, residual=self.residual,
                      condition_shape=self.condition_shape)
        return config


def _random_copy(network: keras.layers.Layer, dims: int) -> keras.layers.Layer:
    """A copy of `network` with random float weights (the structure to probe lives in the
    architecture, which a zero-initialised output layer would hide); the network itself where
    it does not serialize."""
    try:
        copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(network))
        if not copy.built:
            copy.build((None, dims))
        weights = network.get_weights()
        if [np.shape(w) for w in copy.get_weights()] != [np.shape(w) for w in weights]:
            return network
    except Exception:  # noqa: BLE001 (any layer that does not round-trip its config)
        return network
    rng = np.random.RandomState(0)
    copy.set_weights([rng.randn(*np.shape(w)).astype(np.asarray(w).dtype) * 0.5
                      if np.issubdtype(np.asarray(w).dtype, np.floating) else w for w in weights])
    return copy
