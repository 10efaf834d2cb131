"""The conformance suite: the checks every transform passes, in every execution mode and dtype.

Every layer of the package passes it (tests/test_conformance.py), and a layer written outside
the package runs it with `tfp_survae.extend.check_transform`. A `Case` says how to build a
transform and how to draw valid data x and latents z for it. The suite then checks, in eager,
`tf.function` and `tf.function(jit_compile=True)`:

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

What it cannot check is a surjective or stochastic layer's V against its ground truth (a
closed form, numerical integration): that is each layer's own test.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

MODES = ("eager", "function", "xla")
DTYPES = ("float32", "float64")
TOLERANCE = {"float32": dict(rtol=2e-4, atol=2e-4), "float64": dict(rtol=1e-9, atol=1e-9)}
JACOBIAN_TOLERANCE = {"float32": dict(rtol=2e-3, atol=2e-3), "float64": dict(rtol=1e-7, atol=1e-7)}
BATCH = 6
SEED_A = (11, 22)
SEED_B = (33, 44)


# (rng, n, dtype) -> n examples: data, latents or conditions for a transform.
Sampler = Callable[[np.random.RandomState, int, str], Any]


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
    make: Callable[[str], Any]
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
    """The suite's checks of `case` in `dtype` and `mode` (an XLA run of a case that does not
    compile under XLA, `case.xla`, is the caller's to skip); returns the probed transform and
    its inputs."""
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
        try:
            t.forward_at_temperature(z0, 0.5, seed=SEED_A, condition=condition)
        except ValueError as error:
            assert "cannot scale by a temperature" in str(error), str(error)
        else:
            raise AssertionError("forward_at_temperature at t = 0.5 did not refuse a forward "
                                 "that tempered_forward says it cannot temper")
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


def check_transform(make: Callable[[str], Any], data: Sampler, latent: Sampler, *,
                    condition: Sampler | None = None, dtypes: Sequence[str] = DTYPES,
                    modes: Sequence[str] = MODES, warm_up: bool = False, perturb: float = 0.0,
                    tolerance: dict | None = None, jacobian_pfor: bool = True) -> None:
    """Runs the conformance suite every layer of the package passes on a new transform.

    It checks, in each dtype and execution mode (eager, `tf.function`, and
    `tf.function(jit_compile=True)`, traced without AutoGraph as `fit` traces): the shapes
    of z, x and V; the right-inverse conditions (inverse(forward(z)) = z where the inverse is
    deterministic, forward(inverse(x)) = x where the forward is); for a bijection, V against
    log |det dz/dx| of the autodiff Jacobian; gradients reaching every trainable variable;
    seeds (the same seed, the same draw; another, another); `forward_at_temperature`;
    compiled results equal to eager ones; building inside a `tf.function`; and the
    config round trip (`get_config`, Keras serialization). A surjective or stochastic layer's
    V is not checked against its ground truth: test that with a closed form or numerical
    integration.

    Args:
      make: builds the transform for a dtype name ("float32" or "float64").
      data: (rng, n, dtype) -> n valid data examples x, an array of [n] + event shape
        (`rng` a `numpy.random.RandomState`).
      latent: (rng, n, dtype) -> n valid latents z for the forward direction.
      condition: (rng, n, dtype) -> n conditions, for a layer that reads one.
      dtypes: the dtypes to check in, of "float32" and "float64".
      modes: the execution modes, of "eager", "function" and "xla" (leave "xla" out for a
        layer that does not compile under XLA).
      warm_up: call the inverse on data first (a data-dependent initialisation, as ActNorm).
      perturb: the scale of normal noise added to every trainable weight after building, so
        that a layer initialised to the identity is checked at other values.
      tolerance: {dtype name: dict(rtol=..., atol=...)} where the layer is coarser than the
        suite (rtol = atol = 2e-4 in float32, 1e-9 in float64).
      jacobian_pfor: False where the layer's gradient runs a loop that `pfor` cannot
        vectorise (the Jacobian is then computed row by row).

    Raises:
      AssertionError: a check failed; the message names it, the dtype and the mode.
      ValueError: a dtype or mode not listed above.

    Examples:
      >>> import numpy as np
      >>> from tfp_survae import extend
      >>> extend.check_transform(lambda dtype: ts.Reverse(dtype=dtype),
      ...                        data=lambda rng, n, dtype: rng.randn(n, 3).astype(dtype),
      ...                        latent=lambda rng, n, dtype: rng.randn(n, 3).astype(dtype),
      ...                        modes=("eager", "function"))
    """
    for what, given, allowed in (("dtypes", dtypes, DTYPES), ("modes", modes, MODES)):
        if isinstance(given, str) or not set(given) <= set(allowed) or not given:
            raise ValueError(f"check_transform: {what} must be a non-empty sequence of "
                             f"{list(allowed)}; received {given!r}.")
    if not callable(make):
        raise TypeError(f"check_transform: make must build the transform for a dtype name; "
                        f"received {type(make).__name__}: {make!r}.")
    case = Case("transform", make, data, latent, condition, warm_up=warm_up, perturb=perturb,
                jacobian_pfor=jacobian_pfor, tolerance=tolerance)
    steps: list = [(f"{dtype}, {mode}", lambda d=dtype, m=mode: run_case(case, d, m))
                   for dtype in dtypes for mode in modes]
    steps += [(f"{dtypes[0]}, built inside a tf.function",
               lambda: check_builds_in_function(case, dtypes[0])),
              (f"{dtypes[-1]}, config round trip",
               lambda: check_config_round_trip(case, dtypes[-1]))]
    for label, step in steps:
        try:
            step()
        except AssertionError as error:
            name = type(make(dtypes[0])).__name__
            raise AssertionError(
                f"check_transform: {name} fails ({label}): {str(error).strip()}") from None
