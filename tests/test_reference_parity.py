"""Parity with the PyTorch reference code's functions, pinned by closed forms and by small
NumPy re-implementations of the reference's formulas (torch is not a test dependency)."""

import keras
import numpy as np
import pytest

import tfp_survae as ts


def constant_network(outputs, inputs=2):
    """A Dense layer whose output is `outputs` whatever its input (zero kernel)."""
    net = keras.Sequential([keras.layers.Dense(len(outputs), dtype="float64")])
    net.build((None, inputs))
    net.set_weights([np.zeros((inputs, len(outputs))), np.asarray(outputs, np.float64)])
    return net


def softplus(r):
    return np.log1p(np.exp(r))


def sigmoid(r):
    return 1.0 / (1.0 + np.exp(-r))


# The scale each function gives for the raw output r (z_b = scale * x_b + shift).
REFERENCE_SCALES = {
    "exp": np.exp,
    "softplus": softplus,  # the reference's F.softplus(s)
    "sigmoid": lambda r: sigmoid(r + 2.0) + 1e-3,  # torch.sigmoid(s + 2.) + 1e-3
    "tanh_exp": lambda r: np.exp(2.0 * np.tanh(r / 2.0)),  # torch.exp(2. * torch.tanh(s / 2.))
    "tanh": lambda r: np.exp(3.0 * np.tanh(r / 3.0)),
    "shifted_softplus": lambda r: softplus(r + np.log(np.e - 1.0)) + 1e-3,
    "glow_sigmoid": lambda r: sigmoid(r + 2.0),
}


@pytest.mark.parametrize("scale_fn", sorted(REFERENCE_SCALES))
def test_scale_functions_are_the_stated_formulas(scale_fn):
    shift, raw = np.array([0.3, -1.2]), np.array([-2.5, 1.7])
    coupling = ts.AffineCoupling(constant_network(np.concatenate([shift, raw])),
                                 scale_fn=scale_fn, dtype="float64")
    x = np.random.RandomState(0).randn(3, 4)
    z, v = coupling.inverse_and_log_det(x)
    scale = REFERENCE_SCALES[scale_fn](raw)
    np.testing.assert_allclose(z[:, 2:], x[:, 2:] * scale + shift, rtol=1e-12)
    np.testing.assert_allclose(z[:, :2], x[:, :2])
    np.testing.assert_allclose(v, np.full(3, np.log(scale).sum()), rtol=1e-12)


def test_softplus_scale_is_stable_far_in_the_tail():
    coupling = ts.AffineCoupling(constant_network([0.0, -200.0], inputs=1), scale_fn="softplus",
                                 num_identity=1, dtype="float64")
    _, v = coupling.inverse_and_log_det(np.ones([2, 2]))
    np.testing.assert_allclose(v, [-200.0, -200.0], rtol=1e-12)  # log softplus(r) ~ r


def test_an_unknown_scale_function_lists_the_choices():
    with pytest.raises(ValueError, match="tanh_exp"):
        ts.AffineCoupling(scale_fn="softmax")


# ------------------------------------------------------------------------------------------------
# The point-cloud transformer: the reference's pre-norm DenseTransformer.


def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def attention(x, layer):
    wq, bq = layer._query_dense.kernel.numpy(), layer._query_dense.bias.numpy()
    wk, bk = layer._key_dense.kernel.numpy(), layer._key_dense.bias.numpy()
    wv, bv = layer._value_dense.kernel.numpy(), layer._value_dense.bias.numpy()
    wo, bo = layer._output_dense.kernel.numpy(), layer._output_dense.bias.numpy()
    q = np.einsum("bnd,dhk->bnhk", x, wq) + bq
    k = np.einsum("bnd,dhk->bnhk", x, wk) + bk
    v = np.einsum("bnd,dhk->bnhk", x, wv) + bv
    logits = np.einsum("bnhk,bmhk->bhnm", q, k) / np.sqrt(q.shape[-1])
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    out = np.einsum("bhnm,bmhk->bnhk", weights, v)
    return np.einsum("bnhk,hkd->bnd", out, wo) + bo


def reference_set_transformer(x, net):
    """in_linear, pre-norm blocks (x + attn(norm1 x); x + ff(norm2 x), GELU as
    x sigmoid(1.702 x)), out_norm, out_linear: the reference's DenseTransformer."""
    h = x @ net.embed.kernel.numpy() + net.embed.bias.numpy()
    for block in net.blocks:
        n1 = layer_norm(h, block.norm_attention.gamma.numpy(), block.norm_attention.beta.numpy())
        h = h + attention(n1, block.attention)
        n2 = layer_norm(h, block.norm_ff.gamma.numpy(), block.norm_ff.beta.numpy())
        inner = n2 @ block.ff_in.kernel.numpy() + block.ff_in.bias.numpy()
        inner = inner * sigmoid(1.702 * inner)
        h = h + inner @ block.ff_out.kernel.numpy() + block.ff_out.bias.numpy()
    h = layer_norm(h, net.norm.gamma.numpy(), net.norm.beta.numpy())
    return h @ net.out.kernel.numpy() + net.out.bias.numpy()


def test_set_transformer_is_the_reference_network():
    keras.utils.set_random_seed(3)
    net = ts.nn.SetTransformer(3, d_model=8, num_heads=2, num_layers=2, d_ff=16,
                               dtype="float64")
    net.build((None, 5, 2))
    rng = np.random.RandomState(0)
    for w in net.weights:  # random everything (the output layer starts at zero)
        w.assign(rng.randn(*w.shape) * 0.5)
    x = rng.randn(4, 5, 2)
    np.testing.assert_allclose(net(x).numpy(), reference_set_transformer(x, net), rtol=1e-10,
                               atol=1e-12)


def test_point_cloud_flows_use_the_reference_transformer_and_softplus():
    flow = ts.architectures.permute_flow(num_steps=1, d_model=8, num_heads=2, d_ff=8)
    couplings = [t for t in flow.chain if isinstance(t, ts.AffineCoupling)]
    assert couplings and all(t.scale_fn == "softplus" for t in couplings)
    for t in couplings:
        assert t.network.norm_first and t.network.epsilon == 1e-5
        assert t.network.activation == "sigmoid_gelu"


# ------------------------------------------------------------------------------------------------
# ActNorm's initialisation and Squeeze2D's channel order.


def test_actnorm_initialises_from_the_unbiased_standard_deviation():
    x = np.random.RandomState(1).randn(5, 3, 3, 2) * [1.0, 4.0] + [2.0, -1.0]
    layer = ts.ActNorm(dtype="float64")
    layer.inverse_and_log_det(x, training=True)
    np.testing.assert_allclose(layer.shift.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(layer.log_scale.numpy(),
                               np.log(x.std(axis=(0, 1, 2), ddof=1) + 1e-6), rtol=1e-12)


@pytest.mark.parametrize("order", ["position", "channel"])
def test_squeeze_channel_orders(order):
    x = np.arange(2 * 4 * 6 * 3, dtype=np.float64).reshape(2, 4, 6, 3)
    squeeze = ts.Squeeze2D(order=order, dtype="float64")
    z = squeeze.inverse(x).numpy()
    for r in range(2):
        for s in range(2):
            for ch in range(3):
                k = ch * 4 + 2 * r + s if order == "channel" else (2 * r + s) * 3 + ch
                np.testing.assert_array_equal(z[:, :, :, k], x[:, r::2, s::2, ch])
    np.testing.assert_array_equal(squeeze.forward(z).numpy(), x)


def test_image_presets_squeeze_as_the_reference():
    flow = ts.architectures.multiscale_flow("small")
    squeezes = [t for t in flow.chain if isinstance(t, ts.Squeeze2D)]
    assert squeezes and all(t.order == "channel" for t in squeezes)
