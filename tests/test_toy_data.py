"""The paper's 2-D toy sets."""

import numpy as np
import pytest

import tfp_survae as ts


@pytest.mark.parametrize("name", ts.data.TOY_DATASETS)
def test_shape_determinism_and_range(name):
    a = ts.data.sample_toy(name, 1000, seed=3)
    assert a.shape == (1000, 2) and a.dtype == np.float32
    np.testing.assert_array_equal(a, ts.data.sample_toy(name, 1000, seed=3))
    assert not np.array_equal(a, ts.data.sample_toy(name, 1000, seed=4))
    assert np.all(np.abs(a) < 6.0)


def test_checkerboard_occupies_alternate_squares():
    x = ts.data.sample_toy("checkerboard", 20000)
    cells = np.floor(x / 2.0).astype(int)  # squares of side 2 in [-4, 4]^2
    parity = (cells[:, 0] + cells[:, 1]) % 2
    assert np.all(parity == parity[0])
    assert len({tuple(c) for c in cells}) == 8


def test_corners_are_outside_the_gap():
    x = ts.data.sample_toy("corners", 5000)
    assert np.all(np.abs(x) >= 1.0) and np.all(np.abs(x) < 4.0)
    assert np.all((np.abs(x) < 2.0).any(axis=1))  # each point sits on a bar of width 1


def test_eight_gaussians_and_circles_centres():
    g = ts.data.sample_toy("eight_gaussians", 40000)
    radius = np.linalg.norm(g, axis=1)
    assert abs(np.median(radius) - 4.0 / 1.414) < 0.1
    c = ts.data.sample_toy("four_circles", 40000)
    off_circle = np.min([np.abs(np.linalg.norm(c - np.array(m), axis=1) - 2.0)
                         for m in [(1, 1), (1, -1), (-1, 1), (-1, -1)]], axis=0)
    assert np.percentile(off_circle, 90) < 0.2


def test_pipeline_and_errors():
    ds = ts.data.toy_dataset("corners", 300, 128)
    sizes = [b.shape[0] for b in ds]
    assert sizes == [128, 128, 44]
    with pytest.raises(ValueError, match="Unknown toy dataset"):
        ts.data.sample_toy("moons", 10)


def test_toy_dataset_refuses_a_batch_size_below_one():
    # batch_size=0 failed in TensorFlow's words when the dataset was iterated.
    with pytest.raises(ValueError, match=r"toy_dataset: batch_size must lie in \[1, "):
        ts.data.toy_dataset("corners", 10, batch_size=0)
