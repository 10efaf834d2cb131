"""The conformance suite: the checks every transform passes, in every execution mode and dtype.

A `Case` says how to build a transform and how to draw valid data x and latents z for it. The
suite then checks, in eager, `tf.function` and `tf.function(jit_compile=True)`:

* shapes: z and x have the event shapes the transform reports, V has shape [batch], V finite;
* right-inverse (paper App. B): inverse(forward(z)) == z where the inverse is deterministic,
  forward(inverse(x)) == x where the forward is;
* bijections: V equals log |det dz/dx| of the autodiff Jacobian (where V is exact; a random,
  unbiased V, `stochastic_log_det`, is checked for its seeds here and for its mean in the
  layer's ground-truth test), checked eagerly; forward_and_log_det agrees;
* gradients of V and z reach every trainable variable;
* the same seed gives the same result, another seed a different one (stochastic directions);
* `forward_at_temperature` at t = 1 is `forward`, or refuses a forward it cannot temper;
* compiled results (traced without AutoGraph) equal eager results for the same seeds;
* a transform first called inside a `tf.function` creates its variables there (float32);
* get_config / from_config (and Keras serialization) round-trip to the same outputs.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

MODES = ("eager", "function", "xla")
DTYPES = ("float32", "float64")
TOLERANCE = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-9, atol=1e-9)}
JACOBIAN_TOLERANCE = {"float32": dict(rtol=2e-3, atol=2e-3), "float64": dict(rtol=1e-7, atol=1e-7)}
BATCH = 6
SEED_A = (11, 22)
SEED_B = (33, 44)


def normal(shape, scale=1.0):
    """A latent/data sampler: iid N(0, scale^2) of the given event shape."""
    return lambda rng, n, dtype: (scale * rng.randn(n, *shape)).astype(dtype)


@dataclasses.dataclass
class Case:
    """How to test one transform configuration.

    Attributes:
      name: test id.
      make: builds the transform for a dtype ("float32" or "float64").
      data: (rng, batch, dtype) -> valid data x (integers for integer-data transforms).
      latent: (rng, batch, dtype) -> valid latents z for the forward direction.
      condition: optional (rng, batch, dtype) -> condition tensor.
      warm_up: call the inverse once on data before probing (data-dependent initialisation).
      perturb: add N(0, perturb^2) noise to every trainable weight after building, so that
        zero-initialised networks (identity couplings) and rotations (V = 0) test real values.
      jacobian_pfor: compute the autodiff Jacobian vectorised (`pfor`); False where the
        layer's gradient runs a loop pfor cannot vectorise (an ODE solver's adjoint).
      xla: None where the probes compile under XLA, else why not (the case is skipped in the
        "xla" mode with that reason).
      tolerance: rtol / atol by dtype name where the layer's own accuracy is coarser than the
        suite's (an ODE solver's tolerance); the suite's (TOLERANCE) for the others.
      slow_to_trace: None where a compiled probe traces in seconds, else why it does not; its
        compiled modes then run with the slow tests (CI's `-m slow`), its eager ones by default.
    """

    name: str
    make: Callable[[str], object]
    data: Callable
    latent: Callable
    condition: Callable | None = None
    warm_up: bool = False
    perturb: float = 0.0
    jacobian_pfor: bool = True
    xla: str | None = None
    tolerance: dict | None = None
    slow_to_trace: str | None = None

    def __str__(self):
        return self.name


def _compile(fn, mode):
    """`fn` as the mode runs it. Compiled modes trace without AutoGraph, as Keras' training
    loop and compiled executions run a model's code: a transform's graph code must not depend
    on AutoGraph's conversion of Python control flow."""
    if mode == "eager":
        return fn
    return tf.function(fn, jit_compile=(mode == "xla"), reduce_retracing=True, autograph=False)


def probe(transform, x, z0, condition, jacobian_pfor=True, jacobian=True):
    """Runs every direction the checks need; returns a dict of tensors. `jacobian`: also the
    autodiff Jacobian dz/dx of a bijection (for the check of V against log|det|)."""
    t = transform
    out = {}
    variables = t.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        if not t.integer_data:
            tape.watch(x)
        z, v = t.inverse_and_log_det(x, seed=SEED_A, condition=condition, training=False)
        weights = tf.cast(tf.reshape(tf.range(tf.size(z)), tf.shape(z)), z.dtype) * 1e-3
        loss = tf.reduce_sum(v) + tf.reduce_sum(z * weights)
        z_flat = tf.reshape(z, [tf.shape(z)[0], -1])
    out["z"], out["v"] = z, v
    if variables:
        grads = tape.gradient(loss, variables)
        out["grads"] = [tf.zeros([1]) if g is None else tf.convert_to_tensor(g) for g in grads]
        out["grad_missing"] = tf.constant([g is None for g in grads])
    if t.bijective and jacobian:
        jac = tape.batch_jacobian(z_flat, x, experimental_use_pfor=jacobian_pfor)
        out["jacobian"] = tf.reshape(jac, [tf.shape(x)[0], tf.shape(z_flat)[1], -1])
    del tape
    out["z_same_seed"] = t.inverse(x, seed=SEED_A, condition=condition)
    if t.stochastic_log_det:
        out["v_same_seed"] = t.inverse_and_log_det(x, seed=SEED_A, condition=condition)[1]
        out["v_other_seed"] = t.inverse_and_log_det(x, seed=SEED_B, condition=condition)[1]
    if t.stochastic_inverse:
        out["z_other_seed"] = t.inverse(x, seed=SEED_B, condition=condition)
    else:
        out["z_no_seed"] = t.inverse(x, condition=condition)
    out["x_fwd"] = t.forward(z0, seed=SEED_A, condition=condition)
    out["x_fwd_same_seed"] = t.forward(z0, seed=SEED_A, condition=condition)
    if t.stochastic_forward:
        out["x_fwd_other_seed"] = t.forward(z0, seed=SEED_B, condition=condition)
    if not t.stochastic_forward:
        out["x_roundtrip"] = t.forward(z, seed=SEED_A, condition=condition)
    if not t.stochastic_inverse:
        z_rt, v_rt = t.inverse_and_log_det(out["x_fwd"], seed=SEED_A, condition=condition)
        out["z_roundtrip"], out["v_roundtrip"] = z_rt, v_rt
        x_fl, v_fl = t.forward_and_log_det(z0, seed=SEED_A, condition=condition)
        out["x_forward_and_log_det"], out["v_forward_and_log_det"] = x_fl, v_fl
    return out


def make_inputs(case: Case, dtype: str):
    rng = np.random.RandomState(0)
    x = tf.convert_to_tensor(case.data(rng, BATCH, dtype))
    z0 = tf.convert_to_tensor(case.latent(rng, BATCH, dtype))
    condition = None if case.condition is None else tf.convert_to_tensor(
        case.condition(rng, BATCH, dtype)
    )
    return x, z0, condition


def build_transform(case: Case, dtype: str):
    """The case's transform with its variables created (by an eager inverse, which also runs a
    warm-up's data-dependent initialisation), so that a compiled probe traces once: a
    tf.function that creates variables on its first call traces twice. Building inside a
    compiled function is `check_builds_in_function`'s."""
    keras.utils.set_random_seed(1234)
    t = case.make(dtype)
    x, z0, condition = make_inputs(case, dtype)
    t.inverse_and_log_det(x, seed=SEED_B, condition=condition,
                          training=bool(case.warm_up or case.perturb))
    if case.perturb:
        rng = np.random.RandomState(5)
        for w in t.trainable_weights:
            w.assign(w + case.perturb * np.asarray(rng.randn(*w.shape), w.dtype))
    return t, x, z0, condition


def tolerance_of(case: Case, dtype: str) -> dict:
    """The case's tolerance in `dtype`: its own where it states one, else the suite's."""
    return (case.tolerance or {}).get(dtype, TOLERANCE[dtype])


def _close(a, b, tolerance, what):
    """`tolerance`: rtol / atol (`tolerance_of`)."""
    np.testing.assert_allclose(
        np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), err_msg=what,
        **tolerance)


def _differs(a, b, what):
    assert not np.array_equal(np.asarray(a), np.asarray(b)), f"{what}: another seed gave the same"


def check_outputs(t, x, z0, out, dtype, tol):
    """The per-mode assertions on a probe's outputs (`tol`: the case's rtol / atol in `dtype`,
    `tolerance_of`)."""
    n = x.shape[0]
    z, v = out["z"].numpy(), out["v"].numpy()
    # Shapes and finiteness.
    assert z.shape[1:] == tuple(t.inverse_event_shape(t.event_shape).as_list()), (
        f"z shape {z.shape} vs inverse_event_shape {t.inverse_event_shape(t.event_shape)}")
    assert tuple(t.forward_event_shape(z.shape[1:]).as_list()) == tuple(x.shape[1:])
    assert v.shape == (n,), f"V has shape {v.shape}; the contract is [batch] = ({n},)"
    assert np.all(np.isfinite(v)), f"V not finite: {v}"
    assert np.all(np.isfinite(z)), "z not finite"
    assert out["x_fwd"].shape[1:] == x.shape[1:]
    assert out["x_fwd"].dtype == x.dtype, (out["x_fwd"].dtype, x.dtype)
    # Seeds.
    _close(out["z_same_seed"], z, tol, "same seed, different z")
    _close(out["x_fwd_same_seed"], out["x_fwd"], tol, "same seed, different x")
    if t.stochastic_inverse:
        _differs(out["z_other_seed"], z, "inverse")
    else:
        _close(out["z_no_seed"], z, tol, "deterministic inverse depends on the seed")
    if t.stochastic_forward:
        _differs(out["x_fwd_other_seed"], out["x_fwd"], "forward")
    if t.stochastic_log_det:
        _close(out["v_same_seed"], v, tol, "same seed, different V")
        _differs(out["v_other_seed"], v, "V")
    # Right-inverse conditions (paper App. B).
    if not t.stochastic_forward:
        _close(out["x_roundtrip"], x, tol, "forward(inverse(x)) != x")
    if not t.stochastic_inverse:
        _close(out["z_roundtrip"], z0, tol, "inverse(forward(z)) != z")
        _close(out["x_forward_and_log_det"], out["x_fwd"], tol, "forward_and_log_det x")
        _close(out["v_forward_and_log_det"], out["v_roundtrip"], tol,
               "forward_and_log_det V != inverse V at the same point")
    # Jacobian.
    if "jacobian" in out and not t.stochastic_log_det:
        log_det = np.linalg.slogdet(out["jacobian"].numpy().astype(np.float64))[1]
        _close(log_det, v, JACOBIAN_TOLERANCE[dtype], "V != log|det dz/dx| (autodiff)")
    # Gradients.
    if "grads" in out:
        missing = [w.path for w, m in zip(t.trainable_variables, out["grad_missing"].numpy()) if m]
        assert not missing, f"no gradient reaches {missing}"
        for w, g in zip(t.trainable_variables, out["grads"]):
            assert np.all(np.isfinite(g.numpy())), f"gradient of {w.path} not finite"


def run_case(case: Case, dtype: str, mode: str):
    if mode == "xla" and case.xla is not None:
        pytest.skip(case.xla)
    t, x, z0, condition = build_transform(case, dtype)
    # The Jacobian check is the eager run's: compiled runs are checked against eager outputs.
    out = _compile(lambda a, b, c: probe(t, a, b, c, case.jacobian_pfor, mode == "eager"),
                   mode)(x, z0, condition)
    tol = tolerance_of(case, dtype)
    check_outputs(t, x, z0, out, dtype, tol)
    if mode == "eager":
        check_temperature(t, z0, condition, tol)
    if mode != "eager":
        z, v = t.inverse_and_log_det(x, seed=SEED_A, condition=condition, training=False)
        reference = {"z": z, "v": v, "x_fwd": t.forward(z0, seed=SEED_A, condition=condition)}
        for key in ("z", "v", "x_fwd"):
            _close(out[key], reference[key], tol, f"{mode} {key} != eager {key}")
    return t, x, z0, condition


def check_temperature(t, z0, condition, tolerance):
    """`forward_at_temperature` at t = 1 is `forward` where the forward's noise is temperable
    (or there is none); elsewhere it raises a ValueError."""
    if not t.tempered_forward:
        with pytest.raises(ValueError, match="cannot scale by a temperature"):
            t.forward_at_temperature(z0, 0.5, seed=SEED_A, condition=condition)
        return
    _close(t.forward_at_temperature(z0, 1.0, seed=SEED_A, condition=condition),
           t.forward(z0, seed=SEED_A, condition=condition), tolerance,
           "forward_at_temperature at t = 1 != forward")


def check_builds_in_function(case: Case, dtype: str = "float32"):
    """A transform first called inside a tf.function creates its variables there and computes
    what it computes eagerly afterwards."""
    keras.utils.set_random_seed(1234)
    t = case.make(dtype)
    x, _, condition = make_inputs(case, dtype)
    z, v = tf.function(lambda a, c: t.inverse_and_log_det(a, seed=SEED_A, condition=c,
                                                          training=False))(x, condition)
    assert t.built, "the transform is not built after a compiled call"
    eager_z, eager_v = t.inverse_and_log_det(x, seed=SEED_A, condition=condition,
                                             training=False)
    tol = tolerance_of(case, dtype)
    _close(eager_z, z, tol, "z after building in a tf.function")
    _close(eager_v, v, tol, "V after building in a tf.function")


def check_config_round_trip(case: Case, dtype: str):
    t, x, z0, condition = build_transform(case, dtype)
    z, v = t.inverse_and_log_det(x, seed=SEED_A, condition=condition)
    tol = tolerance_of(case, dtype)
    config = t.get_config()
    clone = type(t).from_config(config)
    assert clone.get_config() == config, "from_config(get_config()) changed the config"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(t))
    for copy in (clone, restored):
        assert type(copy) is type(t)
        if not copy.built:
            copy.build((None,) + tuple(t.event_shape.as_list()))
        if case.warm_up or case.perturb:
            copy.inverse_and_log_det(x, seed=SEED_B, condition=condition, training=True)
        assert len(copy.weights) == len(t.weights), "the copy has different variables"
        copy.set_weights(t.get_weights())
        z2, v2 = copy.inverse_and_log_det(x, seed=SEED_A, condition=condition)
        _close(z2, z, tol, "round-tripped z")
        _close(v2, v, tol, "round-tripped V")
        _close(copy.forward(z0, seed=SEED_A, condition=condition),
               t.forward(z0, seed=SEED_A, condition=condition), tol, "round-tripped x")
