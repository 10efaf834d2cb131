"""The 2-D benchmark flow (4 affine couplings, MLP 200-100) in four TensorFlow forms.

* tfp_survae: `Flow` of `AffineCoupling` + `Reverse`, as the paper's baseline.
* hand-written: the same math with Keras Dense layers and a single-pass coupling, no library.
* TFP: `tfb.RealNVP` bijectors (which run each network twice per log_prob).
All three compute the same log-density for the same weights (checked in `check_same_math`).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts

tfb, tfd = tfp.bijectors, tfp.distributions
HIDDEN = (200, 100)
HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def couplings(num_couplings: int = 4, hidden=HIDDEN, dims: int = 2) -> list:
    """Affine couplings (exp scale) with the order reversed between them."""
    transforms = []
    for i in range(num_couplings):
        transforms.append(ts.AffineCoupling(ts.MLP(hidden, 2 * (dims - dims // 2)),
                                            scale_fn="exp"))
        if i < num_couplings - 1:
            transforms.append(ts.Reverse())
    return transforms


def survae_flow(num_couplings: int = 4, hidden=HIDDEN) -> ts.Flow:
    return ts.Flow(ts.StandardNormal([2]), couplings(num_couplings, hidden))


def abs_flow() -> ts.Flow:
    """The paper's AbsFlow: Abs (sign 1/2), scale by 1/4 then logit, the couplings."""
    onto_reals = tfb.Chain([tfb.Scale(4.0), tfb.Sigmoid()])
    return ts.Flow(ts.StandardNormal([2]),
                   [ts.Abs(), ts.BijectorTransform(onto_reals)] + couplings())


def augmented_flow() -> ts.Flow:
    """Augment two standard-normal dimensions, then couplings over the 4-D space."""
    return ts.Flow(ts.StandardNormal([4]), [ts.Augment(2)] + couplings(dims=4))


def sliced_flow() -> ts.Flow:
    """The couplings, then Slice keeping the first dimension with a normal decoder (MLP
    200-100) for the second: a surjective flow onto a one-dimensional standard normal."""
    decoder = ts.ConditionalNormal([1], ts.MLP(HIDDEN, 2))
    return ts.Flow(ts.StandardNormal([1]), couplings() + [ts.Slice(1, decoder=decoder)])


def _mlp(hidden):
    return keras.Sequential([keras.layers.Dense(u, activation="relu") for u in hidden]
                            + [keras.layers.Dense(2)])


class HandWrittenFlow(keras.Model):
    """The benchmark flow written directly in TensorFlow: no tfp_survae, no TFP."""

    def __init__(self, num_couplings: int = 4, hidden=HIDDEN):
        super().__init__()
        self.nets = [_mlp(hidden) for _ in range(num_couplings)]
        for net in self.nets:
            net.build((None, 1))
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def log_prob(self, x):
        total = 0.0
        for i, net in enumerate(self.nets):
            x_a, x_b = x[:, :1], x[:, 1:]
            shift, log_scale = tf.split(net(x_a), 2, axis=-1)
            x = tf.concat([x_a, x_b * tf.exp(log_scale) + shift], axis=-1)
            total += tf.reduce_sum(log_scale, axis=-1)
            if i < len(self.nets) - 1:
                x = tf.reverse(x, axis=[-1])
        return total + tf.reduce_sum(-0.5 * tf.square(x) - HALF_LOG_TWO_PI, axis=-1)

    def call(self, x):
        return self.log_prob(x)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.log_prob(x))
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


class TFPRealNVP(tf.Module):
    """The benchmark flow from TFP bijectors; the networks are Keras layers called in lambdas.

    tfb.RealNVP's forward scales and shifts (x_b * exp(s) + t), which is the inverse direction
    of the other forms, so each coupling is `tfb.Invert(RealNVP)` to compute the same density.
    """

    def __init__(self, num_couplings: int = 4, hidden=HIDDEN):
        super().__init__()
        self.nets = [_mlp(hidden) for _ in range(num_couplings)]
        bijectors = []
        for i, net in enumerate(self.nets):
            net.build((None, 1))
            bijectors.append(tfb.Invert(tfb.RealNVP(
                num_masked=1,
                shift_and_log_scale_fn=lambda x, _, net=net: tuple(tf.split(net(x), 2, -1)))))
            if i < num_couplings - 1:
                bijectors.append(tfb.Permute([1, 0]))
        # The list runs from data to latent; Chain's forward applies it right to left.
        self.distribution = tfd.TransformedDistribution(
            tfd.MultivariateNormalDiag(tf.zeros(2)), tfb.Chain(bijectors))

    @property
    def trainable_variables(self):
        return [v for net in self.nets for v in net.trainable_variables]

    def log_prob(self, x):
        return self.distribution.log_prob(x)


def copy_weights(source_nets, target_nets):
    for source, target in zip(source_nets, target_nets):
        target.set_weights(source.get_weights())


def check_same_math(x) -> float:
    """Largest |difference| of log p(x) between the three forms with the same weights."""
    keras.utils.set_random_seed(0)
    flow = survae_flow()
    for w in flow.trainable_weights:  # away from the zero start of the output layers
        w.assign(w + 0.02 * tf.random.normal(w.shape))
    nets = [t.network for t in flow.chain if isinstance(t, ts.AffineCoupling)]
    hand, tfp_flow = HandWrittenFlow(), TFPRealNVP()
    for net, hand_net, tfp_net in zip(nets, hand.nets, tfp_flow.nets):
        weights = [w.numpy() for w in net.weights]
        hand_net.set_weights(weights)
        tfp_net.set_weights(weights)
    reference = flow.log_prob(x).numpy()
    return float(max(np.abs(hand.log_prob(x).numpy() - reference).max(),
                     np.abs(tfp_flow.log_prob(x).numpy() - reference).max()))
