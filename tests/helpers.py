"""Numerical ground-truth tools shared by the likelihood tests."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

tfd = tfp.distributions


def grid_1d(low, high, num):
    """Midpoints and spacing of a uniform 1-D grid."""
    edges = np.linspace(low, high, num + 1)
    return 0.5 * (edges[1:] + edges[:-1]), edges[1] - edges[0]


def grid_2d(low, high, num):
    """[num * num, 2] midpoints of a uniform 2-D grid and the cell area."""
    mids, step = grid_1d(low, high, num)
    xx, yy = np.meshgrid(mids, mids, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1), step * step


def batched(fn, points, batch=65536, dtype="float32"):
    """Evaluates fn on `points` in batches and concatenates the results as float64."""
    out = []
    for start in range(0, len(points), batch):
        out.append(np.asarray(fn(tf.constant(points[start:start + batch], dtype)), np.float64))
    return np.concatenate(out)


def histogram_2d(samples, low, high, bins):
    counts, _, _ = np.histogram2d(
        samples[:, 0], samples[:, 1], bins=bins, range=[[low, high], [low, high]]
    )
    return counts / len(samples)


def bin_probabilities_2d(log_prob_fn, low, high, bins, refine=6, dtype="float32"):
    """Probability of each bin of a 2-D histogram by midpoint quadrature of exp(log_prob)."""
    points, area = grid_2d(low, high, bins * refine)
    density = np.exp(batched(log_prob_fn, points, dtype=dtype)).reshape(bins * refine, bins * refine)
    return density.reshape(bins, refine, bins, refine).sum(axis=(1, 3)) * area


def total_variation(p, q):
    return 0.5 * np.abs(np.asarray(p) - np.asarray(q)).sum()


# Layer tests: bases, fixed networks, quadrature and sample/density agreement.


def normal_base(loc, scale):
    loc = np.asarray(loc, "float32")
    return tfd.Independent(tfd.Normal(loc, np.asarray(scale, "float32")), 1)


def dense(in_dim, out_dim, kernel, bias):
    layer = keras.layers.Dense(out_dim)
    layer.build((None, in_dim))
    layer.set_weights([np.asarray(kernel, "float32"), np.asarray(bias, "float32")])
    return layer


def random_mlp(out, seed, hidden=(16,)):
    keras.utils.set_random_seed(seed)
    return ts.MLP(list(hidden), out, activation="tanh")


def integral_1d(flow, low, high, num=40000):
    mids, step = grid_1d(low, high, num)
    return np.exp(batched(flow.log_prob, mids[:, None])).sum() * step


def integral_2d(flow, low, high, num=500):
    points, area = grid_2d(low, high, num)
    return np.exp(batched(flow.log_prob, points)).sum() * area


def assert_samples_match_2d(flow, low, high, bins=20, num=100_000, tolerance=0.02, seed=(7, 8)):
    samples = flow.sample(num, seed=seed).numpy()
    predicted = bin_probabilities_2d(flow.log_prob, low, high, bins)
    assert predicted.sum() > 0.97, f"the window holds only {predicted.sum():.3f} of the mass"
    assert total_variation(histogram_2d(samples, low, high, bins), predicted) < tolerance


def assert_samples_match_1d(samples, density_fn, low, high, bins=40, tolerance=0.02):
    counts, edges = np.histogram(samples, bins=bins, range=(low, high))
    empirical = counts / len(samples)
    fine, step = grid_1d(low, high, bins * 20)
    predicted = density_fn(fine).reshape(bins, 20).sum(axis=1) * step
    assert predicted.sum() > 0.97
    assert total_variation(empirical, predicted) < tolerance


# ------------------------------------------------------------------------------------------
# Abs


# ------------------------------------------------------------------------------------------
# The ground-truth registry: which likelihood test proves which non-bijective transform.

GROUND_TRUTH: dict = {}  # transform class -> names of the tests declaring it


def ground_truth(*classes):
    """Declares that the decorated test checks the likelihood of `classes` against ground truth.

    The declaration is enforced both ways: `tests/test_package_rules.py` fails for a public
    non-bijective transform that no test declares, and the decorated test fails if one of its
    classes never ran its inverse (or enumerated its preimages) while the test ran.
    """
    import functools

    def decorate(test):
        for cls in classes:
            GROUND_TRUTH.setdefault(cls, []).append(test.__name__)

        @functools.wraps(test)
        def checked(*args, **kwargs):
            seen = set()
            originals = {}
            for cls in classes:
                for method in ("inverse_with_score", "preimages"):
                    original = getattr(cls, method)
                    originals[cls, method] = cls.__dict__.get(method)

                    def recording(self, *a, _original=original, _cls=cls, **k):
                        seen.add(_cls)
                        return _original(self, *a, **k)

                    setattr(cls, method, recording)
            try:
                result = test(*args, **kwargs)
            finally:
                for (cls, method), original in originals.items():
                    if original is None:
                        delattr(cls, method)
                    else:
                        setattr(cls, method, original)
            missing = [cls.__name__ for cls in classes if cls not in seen]
            assert not missing, (f"{test.__name__} declares ground truth for {missing}, whose "
                                 "inverse never ran in it")
            return result

        return checked

    return decorate
