"""A new layer written from CONTRIBUTING.md's recipe with public imports only (`tfp_survae` and
`tfp_survae.extend`) passes the conformance suite and a closed-form likelihood check; so does a
new elementwise map in a coupling and an autoregressive layer."""

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf
import tensorflow_probability as tfp
from conformance import DTYPES, MODES, Case, check_config_round_trip, normal, run_case

import tfp_survae as ts
from tfp_survae import extend

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="recipe")
class Square(extend.Surjection, kind="inference"):
    """Folds x onto its square, elementwise (an inference surjection, exact).

    Inverse: z = x^2, s = sign(x) (sign(0) = +1).
    Forward: s ~ p(s | z), x = s sqrt(z).
    V = log p(s | z) + sum_i log(2 |x_i|) (the fold's Jacobian |dz/dx|), with p(s_i = +1 | z) = sigmoid(classifier(z)_i)
    (1/2 without a classifier).

    Args:
      classifier: a Keras layer mapping z to one logit per element, or None.
    """

    config_sublayers = ("classifier",)
    forward_samplers = ("classifier",)

    def __init__(self, classifier=None, **kwargs):
        super().__init__(**kwargs)
        self.classifier = classifier

    def build(self, input_shape):
        super().build(input_shape)
        self._signs = extend.DiscreteChoice(self._owner, "sign", self.classifier, 2,
                                            "sign classifier")
        self._signs.build(input_shape)

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        z = tf.square(x)
        signs = tf.where(x < 0, -tf.ones_like(x), tf.ones_like(x))
        logits = self._signs.logits(z, z.shape[1:], x.dtype, training=training)
        log_p_signs = self._signs.log_prob(signs, logits, x.dtype)
        return z, log_p_signs + extend.sum_except_batch(tf.math.log(2.0 * tf.abs(x)))

    def _forward(self, z, *, seed, condition):
        logits = self._signs.logits(z, z.shape[1:], z.dtype)
        return self._signs.sample(logits, z, seed) * tf.sqrt(z)


@keras.saving.register_keras_serializable(package="recipe")
class SinhArcsinhMap(extend.ElementwiseMap):
    """The sinh-arcsinh map (Jones and Pewsey, 2009) with P = 2 raw parameters (a, d).

    Inverse: z = sinh(exp(d) asinh(x) - a).  Forward: x = sinh((asinh(z) + a) exp(-d)).
    log g'(x) = d + log cosh(exp(d) asinh(x) - a) - log(1 + x^2) / 2. Raw zeros: the identity.
    """

    params_per_element = 2

    def inverse(self, x, params):
        a, d = params
        inner = tf.exp(d) * tf.asinh(x) - a
        return tf.sinh(inner), d + tf.math.log(tf.cosh(inner)) - 0.5 * tf.math.log1p(x * x)

    def forward(self, z, params):
        a, d = params
        x = tf.sinh((tf.asinh(z) + a) * tf.exp(-d))
        return x, self.inverse(x, params)[1]


def squares(shape):
    return lambda rng, n, dtype: np.square(rng.randn(n, *shape)).astype(dtype)


CASES = [
    Case("square", lambda d: Square(dtype=d), normal([3]), squares([3])),
    Case("square_classifier", lambda d: Square(ts.MLP([8], 3, dtype=d), dtype=d),
         normal([3]), squares([3]), perturb=0.3),
    Case("coupling_with_a_new_map",
         lambda d: ts.Coupling(map=SinhArcsinhMap(), hidden_units=[8], dtype=d),
         normal([4]), normal([4]), perturb=0.3),
    Case("autoregressive_with_a_new_map",
         lambda d: ts.MaskedAutoregressive(map=SinhArcsinhMap(), hidden_units=[8], dtype=d),
         normal([3]), normal([3]), perturb=0.3),
    Case("inverse_autoregressive_with_a_new_map",
         lambda d: ts.MaskedAutoregressive(map=SinhArcsinhMap(), inverse_autoregressive=True,
                                           hidden_units=[8], dtype=d),
         normal([3]), normal([3]), perturb=0.3),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_recipe_layer_passes_the_conformance_suite(case, dtype, mode):
    run_case(case, dtype, mode)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_recipe_layer_round_trips_its_config(case):
    check_config_round_trip(case, "float64")


def test_the_recipe_layer_over_a_chi_square_base_is_the_standard_normal():
    # x ~ N(0, 1) elementwise gives z = x^2 ~ chi^2(1) and a fair sign: the flow is exact.
    base = tfd.Independent(tfd.Chi2(np.ones(2)), 1)
    flow = ts.Flow(base, [Square(dtype="float64")], dtype="float64")
    assert flow.is_exact
    x = np.random.RandomState(0).randn(50, 2)
    np.testing.assert_allclose(flow.log_prob(x), scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-10)
    samples = flow.sample(20_000, seed=(1, 2)).numpy()
    assert abs(samples.mean()) < 0.03 and abs(samples.std() - 1.0) < 0.03


def test_the_recipe_uses_public_imports_only():
    source = open(__file__, encoding="utf-8").read()
    imports = [line for line in source.splitlines()
               if line.startswith(("import tfp_survae", "from tfp_survae"))]
    assert imports == ["import tfp_survae as ts", "from tfp_survae import extend"]


@keras.saving.register_keras_serializable(package="recipe")
class ConditionalShift(extend.Bijection):
    """A conditional layer whose network is made in `build`: z = x - mu(c), V = 0."""

    config_sublayers = ("network",)

    def __init__(self, condition_shape, network=None, **kwargs):
        super().__init__(**kwargs)
        self.condition_shape = list(condition_shape)
        self.network = network

    def build(self, input_shape):
        super().build(input_shape)
        if self.network is None:
            self.network = keras.layers.Dense(input_shape[-1], dtype=self.dtype)
        extend.check_network_output(self._owner, self.network, self.condition_shape,
                                    input_shape[1:], self.compute_dtype, "the shift network")

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        mu = tf.cast(extend.run_network(self._owner, self.network, condition), x.dtype)
        return x - mu, tf.zeros(tf.shape(x)[:1], x.dtype)

    def _forward(self, z, *, seed, condition):
        return z + tf.cast(extend.run_network(self._owner, self.network, condition), z.dtype)

    def get_config(self):
        return {**super().get_config(), "condition_shape": self.condition_shape}


@pytest.mark.parametrize("compiled_execution", [False, True])
def test_a_network_checked_in_build_exists_before_fit_builds_the_optimizer(compiled_execution):
    # check_network_output did not build the network: its variables appeared inside the first
    # training step, and fit failed with Keras' "Unknown variable ... This optimizer can only
    # be called for the variables it was originally built with".
    rng = np.random.RandomState(0)
    c = rng.randn(256, 3).astype("float32")
    x = (c[:, :2] + 0.1 * rng.randn(256, 2)).astype("float32")
    flow = ts.Flow(ts.StandardNormal([2]), [ConditionalShift([3])], condition_shape=[3])
    flow.compile(keras.optimizers.Adam(0.05), compiled_execution=compiled_execution)
    history = flow.fit({"x": x, "condition": c}, batch_size=64, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] - 0.3


def test_the_contract_refuses_a_layer_that_misstates_its_kind_or_shapes():
    class NoKind(extend.Surjection):
        pass

    with pytest.raises(TypeError, match=r"NoKind derives from Surjection without a kind"):
        NoKind()
    with pytest.raises(TypeError, match="ByHand sets bijective by hand"):
        type("ByHand", (extend.Bijection,), {"bijective": False})

    class FirstOnly(extend.Bijection):  # drops a coordinate without declaring it
        def _inverse_and_log_det(self, x, *, seed, condition, training):
            return x[:, :1], tf.zeros(tf.shape(x)[:1], x.dtype)

        def _forward(self, z, *, seed, condition):
            return tf.concat([z, z], axis=1)

    flow = ts.Flow(ts.StandardNormal([2]), [FirstOnly()])
    with pytest.raises(ValueError, match=r"returned z of shape \[2, 1\], but the layer declares "
                                         r"\[batch\] \+ \[2\].*overrides inverse_event_shape"):
        flow.log_prob(np.ones([2, 2], "float32"))  # was a 1-D density, silently

    class OneV(extend.Bijection):  # one V for the whole batch
        def _inverse_and_log_det(self, x, *, seed, condition, training):
            return x, tf.zeros([1], x.dtype)

        def _forward(self, z, *, seed, condition):
            return z

    with pytest.raises(ValueError, match=r"V of shape \[1\] for a batch of 3"):
        OneV().inverse_and_log_det(tf.ones([3, 2]))
    # A base refuses a value of another event shape too.
    with pytest.raises(ValueError, match=r"StandardNormal .*event shape \[2\].*received shape "
                                         r"\[2, 3\]"):
        ts.StandardNormal([2]).log_prob(np.ones([2, 3], "float32"))


@keras.saving.register_keras_serializable(package="recipe")
class ScaleByTwo(extend.Bijection):
    """z = 2 x, with V = D log 2, or, with `wrong`, V = 0 (a missing term)."""

    def __init__(self, wrong=False, **kwargs):
        super().__init__(**kwargs)
        self.wrong = wrong

    def _inverse_and_log_det(self, x, *, seed, condition, training):
        v = 0.0 if self.wrong else float(np.log(2.0)) * x.shape[-1]
        return 2.0 * x, tf.fill(tf.shape(x)[:1], tf.cast(v, x.dtype))

    def _forward(self, z, *, seed, condition):
        return z / 2.0

    def get_config(self):
        return {**super().get_config(), "wrong": self.wrong}


def test_check_transform_runs_the_suite_on_an_outside_layer_and_names_what_fails():
    normal3 = lambda rng, n, dtype: rng.randn(n, 3).astype(dtype)  # noqa: E731
    extend.check_transform(lambda dtype: ScaleByTwo(dtype=dtype), normal3, normal3,
                           modes=("eager", "function"))
    with pytest.raises(AssertionError, match=r"(?s)ScaleByTwo fails \(float32, eager\): .*V != "
                                             r"log\|det dz/dx\| \(autodiff\)"):
        extend.check_transform(lambda dtype: ScaleByTwo(True, dtype=dtype), normal3, normal3)
    with pytest.raises(ValueError, match=r"modes must be a non-empty sequence of \['eager', "
                                         r"'function', 'xla'\]; received 'eager'"):
        extend.check_transform(lambda dtype: ScaleByTwo(dtype=dtype), normal3, normal3,
                               modes="eager")
