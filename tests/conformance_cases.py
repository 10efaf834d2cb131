"""The registry of conformance cases: every public transform appears here at least once."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow_probability as tfp

import tfp_survae as ts
from conformance import Case, normal

tfb = tfp.bijectors


def uniform(shape, low=0.0, high=1.0):
    return lambda rng, n, dtype: rng.uniform(low, high, (n, *shape)).astype(dtype)


def integers(shape, num_values):
    return lambda rng, n, dtype: rng.randint(0, num_values, (n, *shape)).astype(np.int32)


def conv_net(channels_out, dtype):
    return keras.Sequential(
        [
            keras.layers.Conv2D(8, 3, padding="same", activation="tanh", dtype=dtype),
            keras.layers.Conv2D(channels_out, 3, padding="same", dtype=dtype),
        ]
    )


def mlp(out, dtype, hidden=(16,)):
    return ts.MLP(list(hidden), out, activation="tanh", dtype=dtype)


CASES = [
    # ---- bijections
    Case("bijector_sigmoid", lambda d: ts.BijectorTransform(tfb.Sigmoid(), dtype=d),
         uniform([3], 0.05, 0.95), normal([3])),
    Case("bijector_softplus", lambda d: ts.BijectorTransform(tfb.Softplus(), dtype=d),
         uniform([2, 2], 0.1, 3.0), normal([2, 2])),
    Case("bijector_permute", lambda d: ts.BijectorTransform(tfb.Permute([2, 0, 1]), dtype=d),
         normal([3]), normal([3])),
    Case("bijector_shift_scale",
         lambda d: ts.BijectorTransform(
             tfb.Chain([tfb.Shift(np.asarray([1.0, -2.0], d)), tfb.Scale(np.asarray([2.0, 0.5], d))]), dtype=d),
         normal([2]), normal([2])),
    Case("coupling_default", lambda d: ts.AffineCoupling(dtype=d), normal([4]), normal([4])),
    Case("coupling_mlp_exp",
         lambda d: ts.AffineCoupling(mlp(4, d), scale_fn="exp", num_identity=1, dtype=d),
         normal([3]), normal([3])),
    Case("coupling_sigmoid_conditional",
         lambda d: ts.AffineCoupling(mlp(4, d), scale_fn="sigmoid", condition_shape=[3], dtype=d),
         normal([4]), normal([4]), condition=normal([3])),
    Case("coupling_checkerboard",
         lambda d: ts.AffineCoupling(conv_net(4, d), mask="checkerboard", parity=1, dtype=d),
         normal([4, 4, 2]), normal([4, 4, 2])),
    Case("coupling_channels_image",
         lambda d: ts.AffineCoupling(conv_net(4, d), dtype=d), normal([4, 4, 4]),
         normal([4, 4, 4])),
    Case("reverse", lambda d: ts.Reverse(dtype=d), normal([5]), normal([5])),
    Case("reverse_axis", lambda d: ts.Reverse(axis=-2, dtype=d), normal([3, 2]), normal([3, 2])),
    Case("permute", lambda d: ts.Permute([3, 1, 0, 2], dtype=d), normal([4]), normal([4])),
    Case("permute_seeded_axis", lambda d: ts.Permute(7, axis=1, dtype=d), normal([5, 2]),
         normal([5, 2])),
    Case("actnorm_vector", lambda d: ts.ActNorm(dtype=d), normal([3], 2.0), normal([3]),
         warm_up=True),
    Case("actnorm_image", lambda d: ts.ActNorm(dtype=d), normal([4, 4, 2], 3.0),
         normal([4, 4, 2]), warm_up=True),
    # ---- surjections
    Case("uniform_dequantization", lambda d: ts.UniformDequantization(8, dtype=d),
         integers([3], 8), uniform([3])),
    Case("variational_dequantization",
         lambda d: ts.VariationalDequantization(
             ts.dequantization_flow([3], hidden_units=[16], dtype=d), num_values=8, dtype=d),
         integers([3], 8), uniform([3])),
    Case("augment_default", lambda d: ts.Augment(2, dtype=d), normal([3]), normal([5])),
    Case("augment_encoder",
         lambda d: ts.Augment(
             2, encoder=ts.ConditionalNormal([4, 2], mlp(4, d), dtype=d), axis=-1, dtype=d),
         normal([4, 2]), normal([4, 4])),
    Case("slice_default", lambda d: ts.Slice(2, dtype=d), normal([5]), normal([2])),
    Case("slice_decoder",
         lambda d: ts.Slice(2, decoder=ts.ConditionalNormal([3], mlp(6, d), dtype=d), dtype=d),
         normal([5]), normal([2])),
    Case("slice_image_channels",
         lambda d: ts.Slice(1, decoder=ts.ConditionalNormal([4, 4, 1], conv_net(2, d), dtype=d),
                            dtype=d),
         normal([4, 4, 2]), normal([4, 4, 1])),
    # ---- composites
    Case("sequential",
         lambda d: ts.Sequential([ts.AffineCoupling(dtype=d), ts.Reverse(dtype=d),
                                  ts.Slice(3, dtype=d)], dtype=d),
         normal([4]), normal([3])),
]
