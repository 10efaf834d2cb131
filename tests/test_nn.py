"""Networks: shapes, equivariance, zero initialisation, parameter heads."""

import keras
import numpy as np
import pytest

import tfp_survae as ts


def test_set_transformer_is_permutation_equivariant():
    keras.utils.set_random_seed(0)
    net = ts.nn.SetTransformer(3, d_model=16, num_heads=4, d_ff=32)
    net.build((None, 7, 2))
    for w in net.out.weights:  # away from the zero output initialisation
        w.assign(np.random.RandomState(0).randn(*w.shape).astype("float32"))
    x = np.random.RandomState(1).randn(2, 7, 2).astype("float32")
    perm = np.random.RandomState(2).permutation(7)
    np.testing.assert_allclose(net(x).numpy()[:, perm], net(x[:, perm]).numpy(), atol=1e-5)
    positional = ts.nn.SetTransformer(3, d_model=16, num_heads=4, d_ff=32, positional_encoding=7)
    positional.build((None, 7, 2))
    for w in positional.out.weights:
        w.assign(np.random.RandomState(0).randn(*w.shape).astype("float32"))
    assert not np.allclose(positional(x).numpy()[:, perm], positional(x[:, perm]).numpy())
    with pytest.raises(ValueError, match="positional encodings for 7"):
        ts.nn.SetTransformer(3, positional_encoding=7).build((None, 5, 2))


def test_densenet_shapes_and_zero_output():
    net = ts.nn.DenseNet(6, channels=8, depth=2, growth=4)
    x = np.random.randn(2, 4, 4, 3).astype("float32")
    out = net(x)
    assert out.shape == (2, 4, 4, 6)
    np.testing.assert_array_equal(out, np.zeros_like(out))


def test_elementwise_params_deinterleaves():
    head = ts.nn.ElementwiseParams(2)
    np.testing.assert_array_equal(head(np.array([[1.0, 10.0, 2.0, 20.0, 3.0, 30.0]])),
                                  [[1.0, 2.0, 3.0, 10.0, 20.0, 30.0]])
    with pytest.raises(ValueError, match="multiple of num_params"):
        ts.nn.ElementwiseParams(4)(np.zeros((1, 6), "float32"))


def test_unknown_input_width_is_refused_at_build_and_kept_unknown_in_shapes():
    with pytest.raises(ValueError, match=r"MADE needs a known number of input dimensions; "
                                         r"received input shape \(None, None\)"):
        ts.nn.MADE(2).build((None, None))
    assert ts.nn.MADE(2).compute_output_shape((None, None)) == (None, None)
    assert ts.nn.MADE(2).compute_output_shape((None, 3)) == (None, 6)
    with pytest.raises(ValueError, match=r"DenseBlock 'block' needs a known number of input "
                                         r"channels; received input shape \(None, 4, 4, None\)"):
        ts.nn.DenseBlock(4, depth=1, growth=2, name="block").build((None, 4, 4, None))
