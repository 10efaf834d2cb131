"""The registry of conformance cases: every public transform appears here at least once."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow_probability as tfp
from conformance import Case, normal

import tfp_survae as ts

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


def half_normal(shape):
    return lambda rng, n, dtype: np.abs(rng.randn(n, *shape)).astype(dtype)


def relu_latent(shape):
    return lambda rng, n, dtype: np.maximum(rng.randn(n, *shape), 0.0).astype(dtype)


def sorted_normal(shape, key=None):
    def draw(rng, n, dtype):
        x = rng.randn(n, *shape)
        if key is None:
            return np.sort(x, axis=-1).astype(dtype)
        order = np.argsort(x[..., key], axis=-1)
        return np.take_along_axis(x, order[..., None], axis=-2).astype(dtype)
    return draw


def first_folded(rng, n, dtype):
    z = rng.randn(n, 2)
    z[:, 0] = np.abs(z[:, 0])
    return z.astype(dtype)


def integer_floats(shape, scale=3.0):
    return lambda rng, n, dtype: np.floor(scale * rng.randn(n, *shape)).astype(dtype)


def ode_tolerances(dtype):
    return dict(rtol=1e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)


# In float64 the ODE cases are checked at 1e-6: the solver at rtol = atol = 1e-9 round-trips to
# about 2e-8, and the suite's 1e-9 would need a solver tolerance of 1e-12, where TFP's
# Dormand-Prince exceeds 1000 steps on these cases (autodiff Jacobians still agree to 1e-7).
ODE_FLOAT64 = {"float64": dict(rtol=1e-6, atol=1e-6)}


# The probes' autodiff Jacobian differentiates TFP's Dormand-Prince loop twice; under XLA its
# XlaDynamicUpdateSlice has no gradient (LookupError). The layer's own directions and their
# first gradients compile.
NO_XLA_ODE_GRADIENT = ("XLA: no gradient of XlaDynamicUpdateSlice in TFP's Dormand-Prince loop "
                   "(the probe's gradients of V and z with respect to the variables)")


# Tracing the probe builds graph-mode gradients of the solver's while loops (twice nested, for
# the gradients of V and z with respect to the variables): 25-35 s a case on a 2-core CPU,
# where its eager run takes 6-10 s.
ODE_TRACING = "traces second-order gradients of TFP's Dormand-Prince loops (25-35 s)"


def fixed_point_tolerance(dtype):
    return 1e-6 if dtype == "float32" else 1e-13


def angles(shape):
    """Uniform angles on [-pi, pi): data on the circle and the torus."""
    return uniform(shape, -np.pi, np.pi)


def adapted_standardize(shape, loc, scale):
    """A Standardize adapted on N(loc, scale^2) data of the event `shape`."""
    def make(dtype):
        layer = ts.Standardize(dtype=dtype)
        layer.adapt(loc + scale * np.random.RandomState(3).randn(64, *shape))
        return layer
    return make


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
    Case("coupling_default_perturbed", lambda d: ts.AffineCoupling(hidden_units=[8], dtype=d),
         normal([4]), normal([4]), perturb=0.3),
    Case("coupling_softplus_points",
         lambda d: ts.AffineCoupling(ts.nn.SetTransformer(4, d_model=8, num_heads=2, d_ff=16,
                                                          dtype=d),
                                     axis=-2, scale_fn="softplus", dtype=d),
         normal([6, 2]), normal([6, 2]), perturb=0.3),
    Case("coupling_densenet_image",
         lambda d: ts.AffineCoupling(ts.nn.DenseNet(4, channels=8, depth=2, growth=4, dtype=d),
                                     scale_fn="tanh", scale_bound=2.0, dtype=d),
         normal([4, 4, 4]), normal([4, 4, 4]), perturb=0.2),
    Case("conv1x1_vector", lambda d: ts.Conv1x1(dtype=d), normal([3]), normal([3]), perturb=0.3),
    Case("conv1x1_image", lambda d: ts.Conv1x1(dtype=d), normal([4, 4, 4]), normal([4, 4, 4]),
         perturb=0.3),
    Case("squeeze", lambda d: ts.Squeeze2D(dtype=d), normal([4, 6, 2]), normal([2, 3, 8])),
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
    Case("spline_coupling_perturbed",
         lambda d: ts.RationalQuadraticCoupling(hidden_units=[8], num_bins=4, bound=2.0, dtype=d),
         normal([4], 1.5), normal([4], 1.5), perturb=0.5),
    Case("spline_coupling_checkerboard",
         lambda d: ts.RationalQuadraticCoupling(conv_net(2 * (3 * 3 - 1), d), num_bins=3,
                                                mask="checkerboard", dtype=d),
         normal([4, 4, 2]), normal([4, 4, 2])),
    Case("spline_coupling_conditional",
         lambda d: ts.RationalQuadraticCoupling(mlp(2 * (3 * 4 - 1), d), num_bins=4,
                                                condition_shape=[3], dtype=d),
         normal([4]), normal([4]), condition=normal([3])),
    Case("maf_affine",
         lambda d: ts.MaskedAutoregressive(ts.MADE(2, [16], output_initializer="glorot_uniform",
                                                   dtype=d), dtype=d),
         normal([3]), normal([3])),
    Case("maf_spline_residual",
         lambda d: ts.MaskedAutoregressive(map=ts.RationalQuadraticMap(num_bins=4),
                                           hidden_units=[8, 8], residual=True, dtype=d),
         normal([3]), normal([3]), perturb=0.3),
    Case("iaf_spline",
         lambda d: ts.MaskedAutoregressive(map=ts.RationalQuadraticMap(num_bins=3, bound=2.0),
                                           inverse_autoregressive=True, hidden_units=[8],
                                           dtype=d),
         normal([3], 1.5), normal([3], 1.5), perturb=0.3),
    Case("maf_mixture",
         lambda d: ts.MaskedAutoregressive(map=ts.LogisticMixtureMap(num_components=3),
                                           hidden_units=[8], dtype=d),
         normal([3], 2.0), normal([3], 2.0), perturb=0.5),
    Case("iaf_mixture_conditional",
         lambda d: ts.MaskedAutoregressive(map=ts.LogisticMixtureMap(num_components=2),
                                           inverse_autoregressive=True, hidden_units=[8],
                                           condition_shape=[2], dtype=d),
         normal([3]), normal([3]), condition=normal([2]), perturb=0.5),
    Case("maf_affine_map_exp",
         lambda d: ts.MaskedAutoregressive(map=ts.AffineMap(scale_fn="exp"), hidden_units=[8],
                                           dtype=d),
         normal([3]), normal([3]), perturb=0.3),
    Case("iaf_affine_conditional",
         lambda d: ts.MaskedAutoregressive(inverse_autoregressive=True, hidden_units=[8],
                                           condition_shape=[2], dtype=d),
         normal([3]), normal([3]), condition=normal([2]), perturb=0.3),
    Case("coupling_affine_map",
         lambda d: ts.Coupling(map=ts.AffineMap(scale_fn="shifted_softplus"), hidden_units=[8],
                               dtype=d),
         normal([4]), normal([4]), perturb=0.3),
    Case("coupling_spline_map_points",
         lambda d: ts.Coupling(map=ts.RationalQuadraticMap(num_bins=3, bound=2.0), axis=-2,
                               dtype=d),
         normal([4, 2], 1.5), normal([4, 2], 1.5), perturb=0.2),
    Case("coupling_mixture_map_conditional",
         lambda d: ts.Coupling(map=ts.LogisticMixtureMap(num_components=2), hidden_units=[8],
                               num_identity=1, condition_shape=[2], dtype=d),
         normal([3], 2.0), normal([3], 2.0), condition=normal([2]), perturb=0.5),
    Case("coupling_spline_map_checkerboard",
         lambda d: ts.Coupling(conv_net(2 * (3 * 3 - 1), d), ts.RationalQuadraticMap(num_bins=3),
                               mask="checkerboard", parity=1, dtype=d),
         normal([4, 4, 2]), normal([4, 4, 2])),
    Case("coupling_circular_spline",
         lambda d: ts.Coupling(map=ts.CircularSplineMap(num_bins=4), hidden_units=[8], dtype=d),
         angles([4]), angles([4]), perturb=0.3),
    Case("coupling_circular_spline_fixed_conditional",
         lambda d: ts.Coupling(map=ts.CircularSplineMap(num_bins=3, rotation=False),
                               hidden_units=[8], num_identity=1, condition_shape=[2], dtype=d),
         angles([3]), angles([3]), condition=normal([2]), perturb=0.3),
    Case("maf_circular_spline",
         lambda d: ts.MaskedAutoregressive(map=ts.CircularSplineMap(num_bins=4),
                                           hidden_units=[8], dtype=d),
         angles([3]), angles([3]), perturb=0.3),
    Case("iaf_circular_spline_conditional",
         lambda d: ts.MaskedAutoregressive(map=ts.CircularSplineMap(num_bins=3),
                                           inverse_autoregressive=True, hidden_units=[8],
                                           condition_shape=[2], dtype=d),
         angles([3]), angles([3]), condition=normal([2]), perturb=0.3),
    Case("coupling_additive_map",
         lambda d: ts.Coupling(map=ts.AdditiveMap(), hidden_units=[8], dtype=d),
         normal([4]), normal([4]), perturb=0.3),
    Case("standardize", adapted_standardize([3], [5.0, -2.0, 0.0], [3.0, 0.1, 1.0]),
         normal([3], 2.0), normal([3])),
    Case("standardize_image", adapted_standardize([4, 4, 2], 1.0, 4.0), normal([4, 4, 2], 3.0),
         normal([4, 4, 2])),
    Case("diagonal_scale", lambda d: ts.DiagonalScale(dtype=d), normal([3]), normal([3]),
         perturb=0.5),
    Case("iaf_gate",
         lambda d: ts.MaskedAutoregressive(map=ts.AffineMap(scale_fn="iaf_gate"),
                                           inverse_autoregressive=True, hidden_units=[8],
                                           dtype=d),
         normal([3]), normal([3]), perturb=0.3),
    Case("coupling_circular_embedded_conditioner",
         lambda d: ts.Coupling(keras.Sequential([ts.nn.CircularEmbedding(2, dtype=d),
                                                 ts.MLP([8], 2 * (3 * 4 + 1), dtype=d)]),
                               ts.CircularSplineMap(num_bins=4), num_identity=2,
                               condition_shape=[1], dtype=d),
         angles([4]), angles([4]), condition=normal([1]), perturb=0.3),
    Case("diagonal_scale_image", lambda d: ts.DiagonalScale(dtype=d), normal([2, 2, 2]),
         normal([2, 2, 2]), perturb=0.5),
    Case("linear_lu", lambda d: ts.LinearLU(dtype=d), normal([4]), normal([4]), perturb=0.3),
    Case("logistic_mixture_coupling",
         lambda d: ts.LogisticMixtureCoupling(hidden_units=[8], num_components=3, dtype=d),
         normal([4], 2.0), normal([4], 2.0), perturb=0.5),
    Case("logistic_mixture_checkerboard",
         lambda d: ts.LogisticMixtureCoupling(conv_net(2 * 3 * 2, d), num_components=2,
                                              mask="checkerboard", dtype=d),
         normal([4, 4, 2]), normal([4, 4, 2])),
    Case("batch_norm", lambda d: ts.BatchNormalization(dtype=d), normal([3], 2.0), normal([3]),
         warm_up=True, perturb=0.3),
    Case("batch_norm_image", lambda d: ts.BatchNormalization(dtype=d), normal([4, 4, 2], 3.0),
         normal([4, 4, 2]), warm_up=True),
    # The ODE solver's and the fixed-point iteration's tolerances sit below the suite's
    # (2e-4 in float32, 1e-9 in float64; 1e-6 for the ODE cases in float64, ODE_FLOAT64).
    Case("continuous_flow_exact",
         lambda d: ts.ContinuousFlow(hidden_units=[8], **ode_tolerances(d), dtype=d),
         normal([2]), normal([2]), jacobian_pfor=False, xla=NO_XLA_ODE_GRADIENT,
         tolerance=ODE_FLOAT64, slow_to_trace=ODE_TRACING),
    Case("continuous_flow_hutchinson_conditional",
         lambda d: ts.ContinuousFlow(mlp(3, d, hidden=(8,)), trace="hutchinson",
                                     probe="rademacher", time_length=0.5, condition_shape=[2],
                                     **ode_tolerances(d), dtype=d),
         normal([3]), normal([3]), condition=normal([2]), jacobian_pfor=False,
         xla=NO_XLA_ODE_GRADIENT, tolerance=ODE_FLOAT64, slow_to_trace=ODE_TRACING),
    Case("residual_block_exact",
         lambda d: ts.ResidualBlock(hidden_units=[8], log_det="exact",
                                    tolerance=fixed_point_tolerance(d), dtype=d),
         normal([3]), normal([3])),
    Case("residual_block_roulette_conditional",
         lambda d: ts.ResidualBlock(ts.nn.LipschitzMLP([8], 3, lipschitz=0.9, activation="elu",
                                                       dtype=d),
                                    probe="rademacher", condition_shape=[2],
                                    tolerance=fixed_point_tolerance(d), dtype=d),
         normal([3]), normal([3]), condition=normal([2])),
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
             ts.architectures.dequantization_flow([3], hidden_units=[16], dtype=d), num_values=8, dtype=d),
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
    Case("abs_default", lambda d: ts.Abs(dtype=d), normal([3]), half_normal([3])),
    Case("abs_classifier_partial",
         lambda d: ts.Abs(classifier=mlp(1, d), elements=[0], dtype=d), normal([2]),
         first_folded),
    Case("abs_image", lambda d: ts.Abs(dtype=d), normal([2, 2, 2]), half_normal([2, 2, 2])),
    Case("generative_abs_default", lambda d: ts.GenerativeAbs(dtype=d), half_normal([3]),
         normal([3])),
    Case("generative_abs_classifier",
         lambda d: ts.GenerativeAbs(classifier=mlp(3, d), exact=True, dtype=d),
         half_normal([3]), normal([3])),
    Case("max_default", lambda d: ts.Max(dtype=d), normal([4]), normal([])),
    Case("max_learned",
         lambda d: ts.Max(classifier=mlp(4, d),
                          decoder=ts.ConditionalHalfNormal([3], mlp(3, d), dtype=d), dtype=d),
         normal([4]), normal([])),
    Case("max_axis", lambda d: ts.Max(axis=-2, dtype=d), normal([3, 2]), normal([2])),
    Case("maxpool_default", lambda d: ts.MaxPool2D(dtype=d), normal([4, 4, 2]),
         normal([2, 2, 2])),
    Case("maxpool_learned",
         lambda d: ts.MaxPool2D(classifier=conv_net(8, d),
                                decoder=ts.ConditionalHalfNormal([2, 2, 6], conv_net(6, d),
                                                                 dtype=d), dtype=d),
         normal([4, 4, 2]), normal([2, 2, 2])),
    Case("generative_max_default", lambda d: ts.GenerativeMax(3, dtype=d), normal([2]),
         normal([2, 3])),
    Case("generative_max_learned",
         lambda d: ts.GenerativeMax(3, classifier=mlp(3, d),
                                    encoder=ts.ConditionalHalfNormal([2, 2], mlp(2, d), dtype=d),
                                    dtype=d),
         normal([2]), normal([2, 3])),
    Case("sort_default", lambda d: ts.Sort(dtype=d), normal([5]), sorted_normal([5])),
    Case("sort_learned", lambda d: ts.Sort(classifier=mlp(5, d), dtype=d), normal([5]),
         sorted_normal([5])),
    Case("sort_points", lambda d: ts.Sort(axis=-2, key=0, dtype=d), normal([4, 2]),
         sorted_normal([4, 2], key=0)),
    Case("generative_sort_default", lambda d: ts.GenerativeSort(dtype=d), sorted_normal([4]),
         normal([4])),
    Case("generative_sort_learned_points",
         lambda d: ts.GenerativeSort(classifier=keras.Sequential(
             [keras.layers.Flatten(dtype=d), mlp(4, d)]), axis=-2, key=1, exact=True, dtype=d),
         sorted_normal([4, 2], key=1), normal([4, 2])),
    Case("relu_default", lambda d: ts.ReLU(dtype=d), normal([3]), relu_latent([3])),
    Case("relu_learned",
         lambda d: ts.ReLU(decoder=ts.ConditionalHalfNormal([3], mlp(3, d), dtype=d), dtype=d),
         normal([3]), relu_latent([3])),
    Case("generative_relu_default", lambda d: ts.GenerativeReLU(dtype=d), relu_latent([3]),
         normal([3])),
    Case("generative_relu_learned",
         lambda d: ts.GenerativeReLU(
             encoder=ts.ConditionalHalfNormal([3], mlp(3, d), dtype=d), dtype=d),
         relu_latent([3]), normal([3])),
    Case("floor_default", lambda d: ts.Floor(dtype=d), normal([3], 3.0), integer_floats([3])),
    Case("floor_flow_decoder",
         lambda d: ts.Floor(decoder=ts.architectures.dequantization_flow([2], hidden_units=[8], dtype=d),
                            dtype=d),
         normal([2], 3.0), integer_floats([2])),
    # ---- stochastic
    Case("vae_gaussian",
         lambda d: ts.VAE(ts.ConditionalNormal([2], mlp(4, d), dtype=d),
                          ts.ConditionalNormal([3], mlp(6, d), dtype=d), dtype=d),
         normal([3]), normal([2])),
    Case("vae_bernoulli_encoder",
         lambda d: ts.VAE(ts.ConditionalBernoulli([4], mlp(4, d), dtype=d),
                          ts.ConditionalNormal([3], mlp(6, d), dtype=d), dtype=d),
         normal([3]), uniform([4])),
    Case("stochastic_permutation", lambda d: ts.StochasticPermutation(dtype=d), normal([5]),
         normal([5])),
    Case("stochastic_permutation_points",
         lambda d: ts.StochasticPermutation(axis=-2, dtype=d), normal([4, 2]), normal([4, 2])),
    # ---- composites
    Case("sequential",
         lambda d: ts.Sequential([ts.AffineCoupling(dtype=d), ts.Reverse(dtype=d),
                                  ts.Slice(3, dtype=d)], dtype=d),
         normal([4]), normal([3])),
]


def public_transforms() -> list:
    """The concrete public transforms: the one list both gates (conformance cases here, ground
    truth in tests/test_package_rules.py) read."""
    import inspect

    contract = {ts.Transform, ts.Bijection, ts.Surjection, ts.StochasticTransform}
    found = [getattr(ts.transforms, name) for name in ts.transforms.__all__]
    return [t for t in found if inspect.isclass(t) and issubclass(t, ts.Transform)
            and t not in contract]
