"""JAX peers of the benchmark models: hand-written JAX + optax, and FlowJAX's coupling flow.

The hand-written models compute the same functions as `models_tf` (4 affine couplings with an
MLP 200-100 and the exp scale, the order reversed between them; the AbsFlow's Abs with p(s) =
1/2 and x / 4 then logit; the augmented flow's two standard-normal dimensions). Training is
Adam 1e-3 (optax) on batches of 128, either one `jax.jit` call per step or `steps` steps per
call through `lax.scan` over a [steps, 128, D] block.

    pip install jax optax flowjax surjectors      # the benchmark's JAX peers
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

HIDDEN = (200, 100)
BATCH_FOR_INIT = 128
LOG_2PI = float(np.log(2 * np.pi))


def _dense(key, n_in, n_out):
    bound = np.sqrt(6.0 / (n_in + n_out))  # glorot uniform, as Keras
    return {"w": jax.random.uniform(key, (n_in, n_out), minval=-bound, maxval=bound),
            "b": jnp.zeros(n_out)}


def _mlp_params(key, n_in, n_out, hidden=HIDDEN):
    sizes = [n_in, *hidden, n_out]
    keys = jax.random.split(key, len(sizes) - 1)
    return [_dense(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def _mlp(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def init_couplings(key, dims, num=4):
    half = dims // 2
    return [_mlp_params(k, half, 2 * (dims - half)) for k in jax.random.split(key, num)]


def couplings_log_det(params, x):
    """The coupling stack from data to latent: (z, sum of log-dets)."""
    dims = x.shape[-1]
    half = dims // 2
    total = jnp.zeros(x.shape[0])
    for i, p in enumerate(params):
        x_a, x_b = x[:, :half], x[:, half:]
        shift, log_scale = jnp.split(_mlp(p, x_a), 2, axis=-1)
        x = jnp.concatenate([x_a, x_b * jnp.exp(log_scale) + shift], axis=-1)
        total = total + log_scale.sum(-1)
        if i < len(params) - 1:
            x = x[:, ::-1]
    return x, total


def couplings_forward(params, z):
    """The coupling stack from latent to data (the sampling direction)."""
    half = z.shape[-1] // 2
    for i, p in reversed(list(enumerate(params))):
        if i < len(params) - 1:
            z = z[:, ::-1]
        z_a, z_b = z[:, :half], z[:, half:]
        shift, log_scale = jnp.split(_mlp(p, z_a), 2, axis=-1)
        z = jnp.concatenate([z_a, (z_b - shift) * jnp.exp(-log_scale)], axis=-1)
    return z


def coupling_sample(params, key, n):
    return couplings_forward(params, jax.random.normal(key, (n, 2)))


def abs_sample(params, key, n):
    key_z, key_s = jax.random.split(key)
    u = jax.nn.sigmoid(coupling_sample(params, key_z, n))
    signs = jnp.where(jax.random.bernoulli(key_s, 0.5, (n, 2)), 1.0, -1.0)
    return signs * 4.0 * u


def augmented_sample(params, key, n):
    return couplings_forward(params, jax.random.normal(key, (n, 4)))[:, :2]


SAMPLERS = {"coupling flow": coupling_sample, "AbsFlow": abs_sample,
            "augmented flow": augmented_sample}


def normal_log_prob(z):
    return -0.5 * (z**2).sum(-1) - 0.5 * z.shape[-1] * LOG_2PI


def coupling_log_prob(params, x, key=None):
    z, log_det = couplings_log_det(params, x)
    return normal_log_prob(z) + log_det


def abs_log_prob(params, x, key=None):
    """Abs with p(s | z) = 1/2 (V = -D log 2), then u = |x| / 4 onto R by the logit."""
    u = jnp.abs(x) / 4.0
    y = jnp.log(u) - jnp.log1p(-u)
    log_det = (-jnp.log(4.0) - jnp.log(u) - jnp.log1p(-u)).sum(-1) - x.shape[-1] * np.log(2.0)
    return coupling_log_prob(params, y) + log_det


def augmented_log_prob(params, x, key):
    """Augment two N(0, 1) dimensions: V = -log q(e)."""
    e = jax.random.normal(key, x.shape)
    return coupling_log_prob(params, jnp.concatenate([x, e], -1)) - normal_log_prob(e)


MODELS = {  # name: (log_prob, data dimensions of the couplings)
    "coupling flow": (coupling_log_prob, 2),
    "AbsFlow": (abs_log_prob, 2),
    "augmented flow": (augmented_log_prob, 4),
}


class HandWritten:
    """One of MODELS trained by optax Adam, per step or `steps` per `lax.scan` call."""

    def __init__(self, name, seed=0):
        self.log_prob, dims = MODELS[name]
        self.params = init_couplings(jax.random.PRNGKey(seed), dims)
        self.optimizer = optax.adam(1e-3)
        self.state = self.optimizer.init(self.params)
        self.key = jax.random.PRNGKey(seed + 1)

        def loss(params, x, key):
            return -self.log_prob(params, x, key).mean()

        def step(carry, x):
            params, state, key = carry
            key, sub = jax.random.split(key)
            value, grads = jax.value_and_grad(loss)(params, x, sub)
            updates, state = self.optimizer.update(grads, state, params)
            return (optax.apply_updates(params, updates), state, key), value

        self.step = jax.jit(step)
        self.scan = jax.jit(lambda carry, xs: jax.lax.scan(step, carry, xs))
        self.jit_log_prob = jax.jit(lambda params, x, key: self.log_prob(params, x, key))
        self.jit_sample = jax.jit(SAMPLERS[name], static_argnums=2)

    def train(self, blocks, per_call):
        """Runs every batch of `blocks` ([calls, per_call, 128, D]); returns seconds."""
        carry = (self.params, self.state, self.key)
        start = time.perf_counter()
        if per_call == 1:
            for block in blocks:
                for x in block:
                    carry, loss = self.step(carry, x)
        else:
            for block in blocks:
                carry, loss = self.scan(carry, block)
        jax.block_until_ready(loss)
        seconds = time.perf_counter() - start
        self.params, self.state, self.key = carry
        return seconds


def _scan_of(loss, optimizer):
    """(params, state), blocks -> the carry and losses after one optax step per batch."""
    def step(carry, x):
        params, state = carry
        value, grads = jax.value_and_grad(loss)(params, x)
        updates, state = optimizer.update(grads, state, params)
        return (optax.apply_updates(params, updates), state), value

    return lambda carry, xs: jax.lax.scan(step, carry, xs)


class _ScanTrainer:
    """`train(blocks, per_call)`: one `self.scan` call per block; returns seconds."""

    def train(self, blocks, per_call):
        carry = (self.params, self.state)
        start = time.perf_counter()
        for block in blocks:
            carry, loss = self.scan(carry, block)
        jax.block_until_ready(loss)
        seconds = time.perf_counter() - start
        self.params, self.state = carry
        return seconds


class FlowJAXCoupling(_ScanTrainer):
    """FlowJAX's `coupling_flow` (Affine, width 200, depth 2, 4 layers), trained as FlowJAX's
    own loop does, with `steps` steps per `lax.scan` call."""

    def __init__(self, seed=0):
        import equinox as eqx
        import paramax
        from flowjax.bijections import Affine
        from flowjax.distributions import Normal
        from flowjax.flows import coupling_flow

        flow = coupling_flow(jax.random.PRNGKey(seed), base_dist=Normal(jnp.zeros(2)),
                             transformer=Affine(), flow_layers=4, nn_width=200, nn_depth=2)
        params, static = eqx.partition(
            flow, eqx.is_inexact_array,
            is_leaf=lambda leaf: isinstance(leaf, paramax.NonTrainable))
        self.params = params
        self.optimizer = optax.adam(1e-3)
        self.state = self.optimizer.init(params)

        def loss(params, x):
            return -paramax.unwrap(eqx.combine(params, static)).log_prob(x).mean()

        self.scan = eqx.filter_jit(_scan_of(loss, self.optimizer))


class SurjectorsSliced(_ScanTrainer):
    """The sliced flow of `models_tf.sliced_flow` in the surjectors package (haiku, distrax):
    4 masked affine couplings (MLP 200-100, exp scale, masks alternating), then `Slice` keeping
    the first dimension with a normal decoder (MLP 200-100) for the second, a standard normal
    on the kept one. Adam 1e-3 (optax), `steps` steps per `lax.scan` call."""

    def __init__(self, seed=0):
        import distrax
        import haiku as hk
        import surjectors
        from surjectors.nn import make_mlp

        def bijector_fn(params):
            shift, log_scale = jnp.split(params, 2, -1)
            return distrax.ScalarAffine(shift, jnp.exp(log_scale))

        def decoder(z):
            mean, log_scale = jnp.split(make_mlp([*HIDDEN, 2])(z), 2, -1)
            return distrax.Independent(distrax.Normal(mean, jnp.exp(log_scale)), 1)

        def model(method, **kwargs):
            layers = [surjectors.MaskedCoupling(mask=jnp.array([i % 2 == 0, i % 2 == 1]),
                                                conditioner=make_mlp([*HIDDEN, 4]),
                                                bijector_fn=bijector_fn, event_ndims=1)
                      for i in range(4)]
            base = distrax.Independent(distrax.Normal(jnp.zeros(1), jnp.ones(1)), 1)
            flow = surjectors.TransformedDistribution(
                base, surjectors.Chain(layers + [surjectors.Slice(1, decoder)]))
            return flow(method, **kwargs)

        self.model = hk.transform(model)
        x = jnp.zeros((BATCH_FOR_INIT, 2))
        self.params = self.model.init(jax.random.PRNGKey(seed), method="log_prob", y=x)
        self.optimizer = optax.adam(1e-3)
        self.state = self.optimizer.init(self.params)

        def loss(params, x):
            return -self.model.apply(params, None, method="log_prob", y=x).mean()

        self.scan = jax.jit(_scan_of(loss, self.optimizer))
