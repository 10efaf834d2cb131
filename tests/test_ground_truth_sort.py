"""Likelihood ground truth for Sort and GenerativeSort: closed forms, quadrature, IWBO limits and
sample/density agreement. Each test fails if the layer's V loses a term or a sign."""

import itertools
import math

import keras
import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow_probability as tfp
from helpers import (
    ground_truth,
    normal_base,
    random_mlp,
    integral_2d,
    assert_samples_match_2d,
)

import tfp_survae as ts

tfd = tfp.distributions


def order_statistics_base(k):
    """The density of k sorted iid normals, k! prod N(z_i) on the sorted region."""
    return ts.Flow(ts.StandardNormal([k]), [ts.GenerativeSort(exact=True)])


@ground_truth(ts.Sort)
def test_sort_of_iid_normals_is_the_iid_density():
    flow = ts.Flow(order_statistics_base(4), [ts.Sort()])
    x = np.random.RandomState(4).randn(20, 4).astype("float32")
    np.testing.assert_allclose(flow.log_prob(x), scipy.stats.norm.logpdf(x).sum(-1), rtol=1e-5)
    assert flow.is_exact


@ground_truth(ts.Sort)
def test_sort_with_plackett_luce_adds_log_p_of_the_order():
    keras.utils.set_random_seed(5)
    scorer = ts.MLP([8], 3, activation="tanh", output_initializer="glorot_uniform")
    base = order_statistics_base(3)
    flow = ts.Flow(base, [ts.Sort(classifier=scorer)])
    x = np.random.RandomState(5).randn(10, 3).astype("float32")
    order = np.argsort(x, axis=-1)
    z = np.take_along_axis(x, order, axis=-1)
    perm = np.argsort(order, axis=-1)  # x = z[perm]
    scores = np.exp(scorer(z).numpy())
    log_pl = tfd.PlackettLuce(scores).log_prob(perm).numpy()
    np.testing.assert_allclose(flow.log_prob(x), base.log_prob(z).numpy() + log_pl, rtol=1e-4)
    two = ts.Flow(order_statistics_base(2), [ts.Sort(classifier=random_mlp(2, 6, (8,)))])
    assert integral_2d(two, -7.0, 7.0) == pytest.approx(1.0, abs=3e-3)
    assert_samples_match_2d(two, -4.0, 4.0)


@ground_truth(ts.Sort)
def test_sort_points_by_a_coordinate():
    layer = ts.Sort(axis=-2, key=1)
    x = np.random.RandomState(6).randn(3, 5, 2).astype("float32")
    z, v = layer.inverse_and_log_det(x)
    assert np.all(np.diff(z.numpy()[..., 1], axis=-1) >= 0)
    np.testing.assert_allclose(v, np.full(3, -math.log(120.0)), rtol=1e-6)
    assert sorted(map(tuple, z.numpy()[0])) == sorted(map(tuple, x[0]))


@ground_truth(ts.GenerativeSort)
def test_generative_sort_exact_and_sampled():
    loc = np.array([0.5, -0.3, 1.0], "float32")
    base = normal_base(loc, [1.0, 0.7, 1.3])
    exact = ts.Flow(base, [ts.GenerativeSort(exact=True)])
    x = np.sort(np.random.RandomState(7).randn(16, 3), axis=-1).astype("float32")
    expected = scipy.special.logsumexp(
        [normal_base(loc, [1.0, 0.7, 1.3]).log_prob(x[:, list(p)]).numpy()
         for p in itertools.permutations(range(3))], axis=0)
    np.testing.assert_allclose(exact.log_prob(x), expected, rtol=1e-5)
    assert exact.log_prob(x[:, ::-1]).numpy().max() == -np.inf  # unsorted: outside the image
    sampled = ts.Flow(base, [ts.GenerativeSort()])
    np.testing.assert_allclose(ts.evaluation.iwbo(sampled, x, 20000, seed=(0, 0)), expected,
                               atol=0.02)
    assert np.mean(expected - ts.evaluation.iwbo(sampled, x, 1, seed=(0, 1)).numpy()) > 0.1
    two = ts.Flow(normal_base([0.5, -0.3], [1.0, 0.7]), [ts.GenerativeSort(exact=True)])
    assert_samples_match_2d(two, -4.0, 4.0)


# ------------------------------------------------------------------------------------------
# ReLU
