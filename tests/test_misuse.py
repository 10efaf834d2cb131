"""A property-based sweep of misuse over every public transform (the conformance registry).

For each transform, hypothesis draws a misuse (wrong rank, wrong event size, NaN/Inf or an
out-of-range integer, an empty batch, a batch of one, huge magnitudes, a wrong dtype, a wrong
or missing condition), a direction and a row. Every call must either

* raise a ValueError or TypeError whose message names the argument ("data x", "latent z",
  "condition") or says that the values overflow, or
* return finite values (V may be -inf only outside a surjection's image) that equal what the
  same layer computes in float64 (deterministic directions) or on the full batch (a batch of one),

never NaN and never a silently different number. A random V (`stochastic_log_det`) depends on
the batch's shape and dtype through its draws, so for it only z and x are compared.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from conformance import BATCH, SEED_A, build_transform
from conformance_cases import CASES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfp_survae as ts
from tfp_survae.architectures import (
    circular_spline_flow,
    continuous_flow,
    glow,
    inverse_autoregressive_flow,
    masked_autoregressive_flow,
    neural_spline_flow,
    nice,
    real_nvp,
    residual_flow,
)

MISUSES = ("extra_axis", "no_batch_axis", "event_too_large", "non_finite", "empty",
           "single", "huge", "wrong_dtype", "wrong_condition")
NAMES = ("data x", "latent z", "condition", "overflow", "NaN or Inf", "not fully known",
         "empty batch")

_BUILT: dict = {}


def built(case):
    """float32 and float64 copies of the case's transform with the same weights (cached)."""
    if case.name not in _BUILT:
        t32, x32, z32, c32 = build_transform(case, "float32")
        t64, x64, z64, c64 = build_transform(case, "float64")
        for t, x, c in ((t32, x32, c32), (t64, x64, c64)):  # the event shape comes from valid data
            t.inverse_and_log_det(x, seed=SEED_A, condition=c)
        t64.set_weights([np.asarray(w, np.float64) if np.issubdtype(np.asarray(w).dtype,
                                                                     np.floating)
                         else w for w in t32.get_weights()])
        _BUILT[case.name] = (t32, t64, x32, z32, c32)
    return _BUILT[case.name]


def call(t, direction, value, condition, *, pass_condition=True):
    kwargs = {"seed": SEED_A}
    if pass_condition:
        kwargs["condition"] = condition
    if direction == "inverse":
        return t.inverse_and_log_det(value, **kwargs)
    return (t.forward(value, **kwargs), None)


def misuse_value(kind, value, row, integer):
    v = np.array(value)
    if kind == "extra_axis":
        return v[..., None]
    if kind == "no_batch_axis":
        return v[row]
    if kind == "event_too_large":
        if v.ndim == 1:  # scalar events: [batch] becomes [batch, 2]
            return np.stack([v, v], axis=-1)
        return np.concatenate([v, v[..., :1]], axis=-1)
    if kind == "non_finite":
        v = v.copy()
        flat = v.reshape(len(v), -1)
        flat[row, 0] = 2**20 if integer else (np.nan if row % 2 else np.inf)
        return flat.reshape(v.shape)
    if kind == "empty":
        return v[:0]
    if kind == "single":
        return v[row:row + 1]
    if kind == "huge":
        return v * (2**20 if integer else 1e30)
    if kind == "wrong_dtype":
        return v.astype(np.float32) if integer else np.round(v).astype(np.int32)
    return v


def assert_named(error):
    message = str(error)
    assert any(name in message for name in NAMES), f"unnamed error: {message}"


def finite_or_outside(v):
    v = np.asarray(v)
    assert not np.any(np.isnan(v)), "NaN returned"
    return v


@pytest.mark.parametrize("case", CASES, ids=str)
@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(MISUSES), direction=st.sampled_from(["inverse", "forward"]),
       row=st.integers(0, BATCH - 1))
def test_misuse_is_refused_or_harmless(case, kind, direction, row):
    t32, t64, x, z, condition = built(case)
    valid = x if direction == "inverse" else z
    integer = direction == "inverse" and t32.integer_data
    deterministic = not (t32.stochastic_inverse if direction == "inverse"
                         else t32.stochastic_forward)
    pass_condition = True
    used_condition = condition
    if kind == "wrong_condition":
        if condition is None:
            used_condition = tf.ones([BATCH, 3], tf.float32)
        elif row % 2:
            pass_condition = False
        else:
            used_condition = tf.ones([BATCH, condition.shape[-1] + 1], tf.float32)
    value = misuse_value(kind, valid.numpy(), row, integer)
    if kind in ("single", "empty") and condition is not None:
        used_condition = condition[row:row + 1] if kind == "single" else condition[:0]
    try:
        out, v = call(t32, direction, value, used_condition, pass_condition=pass_condition)
    except (ValueError, TypeError) as error:
        assert_named(error)
        return
    # Returned: the numbers must be the right ones.
    assert kind not in ("extra_axis", "no_batch_axis", "event_too_large", "non_finite",
                        "wrong_dtype"), f"{kind} was accepted"
    out = np.asarray(out)
    if out.dtype.kind == "f":
        assert np.all(np.isfinite(out)), "non-finite output from finite input"
    if v is not None:
        finite_or_outside(v)
    if t32.stochastic_log_det:  # V is compared with the exact V in the ground-truth tests
        v = None
    if kind == "wrong_condition":
        reference, ref_v = call(t32, direction, value, condition)
        if deterministic:
            np.testing.assert_allclose(out, reference, rtol=1e-6, atol=1e-6)
        return
    if kind == "empty":
        assert out.shape[0] == 0
        return
    if not deterministic:
        return
    if kind == "single":
        full, full_v = call(t32, direction, valid, condition)
        condition = used_condition
        np.testing.assert_allclose(out, np.asarray(full)[row:row + 1], rtol=1e-5, atol=1e-5)
        if v is not None:
            np.testing.assert_allclose(v, np.asarray(full_v)[row:row + 1], rtol=1e-5,
                                       atol=1e-5)
    c64 = None if condition is None else tf.cast(condition, tf.float64)
    value64 = value if integer else np.asarray(value, np.float64)
    out64, v64 = call(t64, direction, value64, c64)
    scale = np.maximum(np.abs(np.asarray(out64, np.float64)), 1.0)
    np.testing.assert_array_less(np.abs(out - np.asarray(out64)) / scale, 1e-3)
    if v is not None:
        # float32 holds V down to -3.4e38; below, -inf is its rounding of the float64 value.
        v64 = np.where(np.asarray(v64) < np.finfo(np.float32).min, -np.inf, v64)
        finite = np.isfinite(v64)
        np.testing.assert_array_equal(np.isfinite(v), finite)
        np.testing.assert_allclose(np.asarray(v)[finite], v64[finite], rtol=1e-3,
                                   atol=1e-3 * max(1.0, np.abs(v64[finite]).max(initial=0.0)))


# Constructor arguments of the elementwise maps, the layers that take them, MADE and the density
# builders: hypothesis draws a wrong value for one argument (a wrong type or a value out of
# range); the constructor must raise a ValueError or TypeError that names the argument and shows
# the value. Valid draws must construct.

_NOT_INTEGERS = st.one_of(st.floats(), st.text(max_size=3), st.booleans(), st.none())
_NOT_REALS = st.one_of(st.text(max_size=3), st.booleans(), st.none(),
                       st.sampled_from([float("nan"), float("inf"), float("-inf")]))
_NOT_FLAGS = st.one_of(st.integers(), st.text(max_size=3), st.none())


def _integers_below(minimum, optional=False):
    """Integers below `minimum` and non-integers (None too, unless the argument is optional)."""
    wrong = st.one_of(st.integers(max_value=minimum - 1), _NOT_INTEGERS)
    return wrong.filter(lambda v: v is not None) if optional else wrong


def _reals_outside(low, high):
    return st.one_of(st.floats(max_value=low), st.floats(min_value=high), _NOT_REALS)


_UNITS = st.one_of(st.lists(st.integers(max_value=0), min_size=1, max_size=3),
                   st.lists(_NOT_INTEGERS, min_size=1, max_size=2),
                   st.text(max_size=3), st.integers(), st.none())
_SHAPES = st.one_of(st.lists(st.integers(max_value=0), min_size=1, max_size=2),
                    st.just([]), st.text(max_size=3), st.integers())
_NOT_MAPS = st.one_of(st.text(max_size=5), st.integers(), st.just(ts.AffineMap),
                      st.just(ts.MADE(2)))
_NOT_LAYERS = st.one_of(st.text(max_size=5), st.integers(), st.just(ts.AffineMap()))

# constructor -> {argument: (invalid values, valid values)}
CONSTRUCTOR_ARGUMENTS = {
    ts.AffineMap: {
        "scale_fn": (st.one_of(st.text(max_size=5).filter(
            lambda v: v not in ts.AffineMap.SCALE_FNS), st.integers(), st.none()),
                     st.sampled_from(sorted(ts.AffineMap.SCALE_FNS))),
        "scale_bound": (_reals_outside(0.0, np.inf), st.floats(1e-3, 1e3))},
    ts.RationalQuadraticMap: {
        "num_bins": (_integers_below(2), st.integers(2, 64)),
        "bound": (_reals_outside(0.0, np.inf), st.floats(1e-2, 1e3)),
        "min_bin_width": (_reals_outside(0.0, 0.75), st.floats(1e-6, 0.7)),
        "min_slope": (_reals_outside(0.0, 1.0), st.floats(1e-6, 0.99))},
    ts.LogisticMixtureMap: {
        "num_components": (_integers_below(1), st.integers(1, 32)),
        "bisection_steps": (_integers_below(1), st.integers(1, 200))},
    ts.Coupling: {
        "map": (_NOT_MAPS, st.sampled_from([ts.AffineMap(), ts.LogisticMixtureMap()])),
        "network": (_NOT_LAYERS, st.just(ts.MLP([4], 2))),
        "mask": (st.one_of(st.text(max_size=5).filter(
            lambda v: v not in ("half", "checkerboard")), st.integers()),
                 st.sampled_from(["half", "checkerboard"])),
        "num_identity": (_integers_below(1, optional=True), st.integers(1, 100)),
        "axis": (st.one_of(st.just(0), st.floats(), st.text(max_size=2)),
                 st.integers(-3, -1)),
        "parity": (st.one_of(st.integers().filter(lambda v: v not in (0, 1)), _NOT_INTEGERS),
                   st.sampled_from([0, 1])),
        "hidden_units": (_UNITS, st.lists(st.integers(1, 64), max_size=3)),
        "condition_shape": (_SHAPES, st.lists(st.integers(1, 8), min_size=1, max_size=3))},
    ts.AffineCoupling: {
        "scale_fn": (st.one_of(st.text(max_size=5).filter(
            lambda v: v not in ts.AffineMap.SCALE_FNS), st.integers(), st.none()),
                     st.sampled_from(sorted(ts.AffineMap.SCALE_FNS))),
        "scale_bound": (_reals_outside(0.0, np.inf), st.floats(1e-3, 1e3)),
        "num_identity": (_integers_below(1, optional=True), st.integers(1, 100))},
    ts.RationalQuadraticCoupling: {
        "num_bins": (_integers_below(2), st.integers(2, 64)),
        "bound": (_reals_outside(0.0, np.inf), st.floats(1e-2, 1e3)),
        "min_bin_width": (_reals_outside(0.0, 0.75), st.floats(1e-6, 0.7)),
        "min_slope": (_reals_outside(0.0, 1.0), st.floats(1e-6, 0.99))},
    ts.LogisticMixtureCoupling: {
        "num_components": (_integers_below(1), st.integers(1, 32)),
        "bisection_steps": (_integers_below(1), st.integers(1, 200))},
    ts.MaskedAutoregressive: {
        "map": (_NOT_MAPS, st.sampled_from([ts.RationalQuadraticMap(), ts.LogisticMixtureMap()])),
        "network": (_NOT_LAYERS, st.just(ts.MADE(2))),
        "inverse_autoregressive": (_NOT_FLAGS, st.booleans()),
        "residual": (_NOT_FLAGS, st.just(False)),
        "hidden_units": (st.one_of(_UNITS, st.just([])), st.lists(st.integers(1, 64), min_size=1,
                                                                  max_size=3)),
        "condition_shape": (st.one_of(_SHAPES, st.just([2, 2])), st.lists(
            st.integers(1, 8), min_size=1, max_size=1))},
    ts.MADE: {
        "params_per_dim": (_integers_below(1), st.integers(1, 8)),
        "hidden_units": (st.one_of(_UNITS, st.just([])), st.lists(st.integers(1, 64), min_size=1,
                                                                  max_size=3)),
        "residual": (_NOT_FLAGS, st.just(False))},
    neural_spline_flow: {
        "event_size": (_integers_below(1), st.integers(1, 4)),
        "num_layers": (_integers_below(1), st.integers(1, 2)),
        "hidden_units": (st.one_of(_UNITS, st.just([])), st.lists(st.integers(1, 8), min_size=1,
                                                                  max_size=2)),
        "num_bins": (_integers_below(2), st.integers(2, 8)),
        "bound": (_reals_outside(0.0, np.inf), st.floats(0.1, 10.0)),
        "condition_size": (_integers_below(1, optional=True), st.integers(1, 4)),
        "linear": (_NOT_FLAGS, st.booleans()),
        "name": (st.one_of(st.integers(), st.floats()), st.text("abc", min_size=1, max_size=4))},
    masked_autoregressive_flow: {
        "event_size": (_integers_below(1), st.integers(1, 4)),
        "num_layers": (_integers_below(1), st.integers(1, 2)),
        "hidden_units": (st.one_of(_UNITS, st.just([])), st.lists(st.integers(1, 8), min_size=1,
                                                                  max_size=2)),
        "transformer": (st.one_of(st.text(max_size=6).filter(
            lambda v: v not in ("affine", "spline")), st.integers(), st.none()),
                        st.sampled_from(["affine", "spline"])),
        "num_bins": (_integers_below(2), st.integers(2, 8)),
        "bound": (_reals_outside(0.0, np.inf), st.floats(0.1, 10.0)),
        "inverse_autoregressive": (_NOT_FLAGS, st.booleans()),
        "residual": (_NOT_FLAGS, st.just(False)),
        "condition_size": (_integers_below(1, optional=True), st.integers(1, 4)),
        "name": (st.one_of(st.integers(), st.floats()), st.text("abc", min_size=1, max_size=4))},
    ts.ContinuousFlow: {
        "network": (_NOT_LAYERS.filter(lambda v: not isinstance(v, keras.layers.Layer)),
                    st.just(ts.MLP([4], 2))),
        "hidden_units": (_UNITS, st.lists(st.integers(1, 64), max_size=3)),
        "time_length": (_reals_outside(0.0, np.inf), st.floats(1e-3, 1e3)),
        "trace": (st.text(max_size=5).filter(lambda v: v != "exact"),
                  st.sampled_from(["exact", "hutchinson"])),
        "probe": (st.text(max_size=5), st.sampled_from(["gaussian", "rademacher"])),
        "rtol": (_reals_outside(0.0, np.inf), st.floats(1e-12, 1.0)),
        "atol": (_reals_outside(0.0, np.inf), st.floats(1e-12, 1.0)),
        "max_num_steps": (_integers_below(1, optional=True), st.integers(1, 10_000)),
        "condition_shape": (_SHAPES, st.lists(st.integers(1, 8), min_size=1, max_size=2))},
    ts.ResidualBlock: {
        "network": (_NOT_LAYERS, st.just(ts.nn.LipschitzMLP([4], 2))),
        "hidden_units": (_UNITS, st.lists(st.integers(1, 64), max_size=3)),
        "lipschitz": (_reals_outside(0.0, 1.0).filter(lambda v: v != 1.0),
                      st.floats(1e-3, 1.0)),
        "log_det": (st.text(max_size=5).filter(lambda v: v != "exact"),
                    st.sampled_from(["roulette", "exact"])),
        "exact_terms": (_integers_below(0), st.integers(0, 10)),
        "geometric_p": (_reals_outside(0.0, 1.0), st.floats(1e-3, 0.999)),
        "tolerance": (_reals_outside(0.0, np.inf), st.floats(1e-14, 1.0)),
        "max_iterations": (_integers_below(1), st.integers(1, 1000)),
        "condition_shape": (_SHAPES, st.lists(st.integers(1, 8), min_size=1, max_size=2))},
    ts.nn.LipschitzMLP: {
        "hidden_units": (_UNITS, st.lists(st.integers(1, 64), max_size=3)),
        "output_units": (_integers_below(1), st.integers(1, 8)),
        "lipschitz": (_reals_outside(0.0, 1.0).filter(lambda v: v != 1.0),
                      st.floats(1e-3, 1.0)),
        "activation": (st.text(max_size=5).filter(lambda v: v not in ("elu", "tanh")),
                       st.sampled_from(["lipswish", "elu"])),
        "power_iterations": (_integers_below(1), st.integers(1, 10))},
    continuous_flow: {
        "event_size": (_integers_below(1), st.integers(1, 4)),
        "num_blocks": (_integers_below(1), st.integers(1, 2)),
        "condition_size": (_integers_below(1, optional=True), st.integers(1, 4))},
    residual_flow: {
        "event_size": (_integers_below(1), st.integers(1, 4)),
        "num_blocks": (_integers_below(1), st.integers(1, 2)),
        "actnorm": (_NOT_FLAGS, st.booleans()),
        "condition_size": (_integers_below(1, optional=True), st.integers(1, 4))},
}
_NAMES = (st.one_of(st.integers(), st.floats()), st.text("abc", min_size=1, max_size=4))
_FLOW_UNITS = (st.one_of(_UNITS, st.just([])), st.lists(st.integers(1, 8), min_size=1,
                                                        max_size=2))
_NOT_DATA = st.one_of(st.text(max_size=3), st.integers(), st.none(), st.floats(),
                      st.just({"x": 1}))


def _standardize(event_size):
    """Invalid and valid `standardize=` values of a vector builder (invalid data arrays are
    tested in test_architectures.py: their messages show shapes, not values)."""
    return (_NOT_DATA, st.one_of(st.booleans(),
                                 st.just(np.random.RandomState(0).randn(8, event_size))))


def _vector_builder(minimum_size=1, **extra):
    return {"event_size": (_integers_below(minimum_size), st.integers(minimum_size, 4)),
            "num_layers": (_integers_below(1), st.integers(1, 2)),
            "hidden_units": _FLOW_UNITS,
            "condition_size": (_integers_below(1, optional=True), st.integers(1, 4)),
            "standardize": _standardize(2),
            "name": _NAMES, **extra}


CONSTRUCTOR_ARGUMENTS.update({
    ts.CircularSplineMap: {
        "num_bins": (_integers_below(2), st.integers(2, 64)),
        "min_bin_width": (_reals_outside(0.0, 2 * np.pi / 8), st.floats(1e-6, 0.7)),
        "min_slope": (_reals_outside(0.0, 1.0), st.floats(1e-6, 0.99)),
        "rotation": (_NOT_FLAGS, st.booleans())},
    ts.nn.CircularEmbedding: {"num_angles": (_integers_below(1), st.integers(1, 8))},
    real_nvp: _vector_builder(2),
    nice: _vector_builder(2, base=(st.one_of(st.text(max_size=6).filter(
        lambda v: v not in ("logistic", "normal")), st.integers(), st.none()),
        st.sampled_from(["logistic", "normal"]))),
    inverse_autoregressive_flow: _vector_builder(),
    circular_spline_flow: {
        **_vector_builder(), "standardize": (st.one_of(_NOT_DATA, st.just(True)),
                                             st.just(False)),
        "num_bins": (_integers_below(2), st.integers(2, 8)),
        "rotation": (_NOT_FLAGS, st.booleans())},
    glow: {
        "image_shape": (st.one_of(_SHAPES, st.just([4, 4]), st.just([5, 4, 1])),
                        st.sampled_from([[4, 4, 1], [8, 4, 2]])),
        "num_scales": (st.one_of(_integers_below(1), st.just(3)), st.integers(1, 2)),
        "num_steps": (_integers_below(1), st.integers(1, 2)),
        "hidden_channels": (_integers_below(1), st.integers(1, 4)),
        "num_bits": (st.one_of(_integers_below(1, optional=True), st.integers(17, 64)),
                     st.one_of(st.none(), st.integers(1, 16))),
        "standardize": (_NOT_DATA,
                        st.one_of(st.booleans(),
                                  st.just(np.random.RandomState(0).randn(4, 4, 4, 1)))),
        "name": _NAMES},
})
for _builder in (neural_spline_flow, masked_autoregressive_flow):
    CONSTRUCTOR_ARGUMENTS[_builder]["standardize"] = _standardize(2)

_SMALL = {"event_size": 2, "hidden_units": [4]}
REQUIRED = {ts.MADE: {"params_per_dim": 2}, neural_spline_flow: {"event_size": 2},
            masked_autoregressive_flow: {"event_size": 2}, real_nvp: _SMALL,
            nice: _SMALL, inverse_autoregressive_flow: _SMALL, circular_spline_flow: _SMALL,
            glow: {"image_shape": [4, 4, 1], "num_scales": 1, "num_steps": 1,
                   "hidden_channels": 2},
            ts.nn.LipschitzMLP: {"hidden_units": [4], "output_units": 2},
            continuous_flow: _SMALL, residual_flow: _SMALL}
ARGUMENTS = [(make, name) for make, table in CONSTRUCTOR_ARGUMENTS.items() for name in table]


@pytest.mark.parametrize("make,argument", ARGUMENTS,
                         ids=[f"{make.__name__}-{name}" for make, name in ARGUMENTS])
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_constructor_misuse_is_refused_naming_the_argument(make, argument, data):
    invalid, valid = CONSTRUCTOR_ARGUMENTS[make][argument]
    arguments = dict(REQUIRED.get(make, {}))
    value = data.draw(invalid, label="invalid")
    with pytest.raises((ValueError, TypeError)) as error:
        make(**{**arguments, argument: value})
    message = str(error.value)
    assert argument in message or (argument == "axis" and "batch axis" in message), message
    shown = value.__name__ if isinstance(value, type) else repr(value)
    assert shown in message or repr(list(value) if isinstance(value, tuple) else value) in \
        message or isinstance(value, keras.layers.Layer), f"{message!r} does not show {value!r}"
    make(**{**arguments, argument: data.draw(valid, label="valid")})
