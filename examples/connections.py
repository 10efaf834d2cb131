"""Known models as SurVAE flows (paper Table 3, App. H.4), each a few lines of tfp_survae.

1. Augmented flow vs plain flow on 2-D data with disconnected modes (paper Fig. 8): `Augment`
   two standard-normal dimensions, then couplings over the 4-D space.
2. VAE vs a VAE with a flow prior on binarized digits: one `VAE` layer over a normal base, and
   the same layer over a `Flow` base (flows as priors, paper Eq. 3).
3. A CIF-style flow (continuously indexed flows): augment, a bijection of data and index, slice.
4. Uniform vs variational dequantization (Flow++) of a discrete 2-D set.

Prints a table (nats; bits/dim for the discrete set) and writes plots.

The 2-D models train as the paper's 2-D experiment: 10 epochs of 128,000 points, batch 128.

    python examples/connections.py                  # a few minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts
from results_dir import add_output_arguments, output_dir

tfb = tfp.bijectors


def couplings(dims, num=4, hidden=(200, 100), condition_shape=None):
    transforms = []
    for i in range(num):
        transforms.append(ts.AffineCoupling(
            ts.MLP(hidden, 2 * (dims - dims // 2)), condition_shape=condition_shape))
        if i < num - 1:
            transforms.append(ts.Reverse())
    return transforms


def fit(flow, data, epochs, lr=1e-3, batch_size=128):
    flow.compile(keras.optimizers.Adam(lr))
    dataset = tf.data.Dataset.from_tensor_slices(data).shuffle(len(data), seed=0)
    flow.fit(dataset.batch(batch_size), epochs=epochs, verbose=0)
    return flow


def test_nll(flow, data, k):
    dataset = tf.data.Dataset.from_tensor_slices(data).batch(1024)
    return ts.evaluation.evaluate(flow, dataset, k=k if not flow.is_exact else 1, verbose=0)


def augmented_vs_plain(args, out):
    train = ts.data.sample_toy("eight_gaussians", args.points_2d, seed=0)
    test = ts.data.sample_toy("eight_gaussians", args.points_2d // 4, seed=1)
    rows = {}
    for name, build in (
        ("flow", lambda: ts.Flow(ts.StandardNormal([2]), couplings(2))),
        ("augmented_flow", lambda: ts.Flow(ts.StandardNormal([4]),
                                           [ts.Augment(2)] + couplings(4))),
    ):
        keras.utils.set_random_seed(0)
        flow = fit(build(), train, args.epochs_2d)
        rows[name] = test_nll(flow, test, args.iwbo_k)["nll"]
        ts.plotting.plot_samples_2d(flow.sample(50_000, seed=(1, 1)).numpy(),
                                    os.path.join(out, f"eight_gaussians_{name}_samples.png"),
                                    title=f"{name}: {rows[name]:.3f} nats")
    return rows


def vae_vs_flow_prior(args, out):
    from small_data import binarized_digits, split

    train, test = split(binarized_digits())
    latent = 8
    rows = {}

    def vae_layer():
        encoder = ts.ConditionalNormal([latent], ts.MLP([256], 2 * latent))
        decoder = ts.ConditionalBernoulli([64], ts.MLP([256], 64))
        return ts.VAE(encoder, decoder)

    for name, base in (
        ("vae", lambda: ts.StandardNormal([latent])),
        ("vae_flow_prior", lambda: ts.Flow(ts.StandardNormal([latent]),
                                           couplings(latent, num=4, hidden=(64, 64)))),
    ):
        keras.utils.set_random_seed(0)
        flow = fit(ts.Flow(base(), [vae_layer()]), train, args.epochs_vae)
        result = test_nll(flow, test, args.iwbo_k)
        elbo = test_nll(flow, test, 1)
        rows[name] = {"elbo": elbo["nll"], f"iwbo_{args.iwbo_k}": result["nll"]}
        images = flow.sample(36, seed=(2, 2)).numpy().reshape(-1, 8, 8, 1)
        ts.plotting.save_image_grid(images, os.path.join(out, f"digits_{name}_samples.png"),
                                    num_values=2)
    return rows


def cif_flow(args, out):
    train = ts.data.sample_toy("four_circles", args.points_2d, seed=0)
    test = ts.data.sample_toy("four_circles", args.points_2d // 4, seed=1)
    rows = {}
    for name, build in (
        ("flow", lambda: ts.Flow(ts.StandardNormal([2]), couplings(2))),
        ("cif_flow", lambda: ts.Flow(ts.StandardNormal([2]), [
            ts.Augment(2, encoder=ts.ConditionalNormal([2], ts.MLP([64], 4))),
            *couplings(4, num=4),
            ts.Slice(2, decoder=ts.ConditionalNormal([2], ts.MLP([64], 4))),
            *couplings(2, num=2),
        ])),
    ):
        keras.utils.set_random_seed(0)
        flow = fit(build(), train, args.epochs_2d)
        rows[name] = test_nll(flow, test, args.iwbo_k)["nll"]
        ts.plotting.plot_density_2d(flow.log_prob, os.path.join(out, f"circles_{name}.png"),
                                    title=f"{name}: {rows[name]:.3f} nats")
    return rows


def dequantization(args, out):
    levels = 16
    points = ts.data.sample_toy("corners", args.points_2d, seed=0)
    discrete = np.clip(np.floor((points + 4.0) / 8.0 * levels), 0, levels - 1).astype(np.int32)
    train, test = discrete[: len(discrete) * 4 // 5], discrete[len(discrete) * 4 // 5:]
    onto_reals = ts.BijectorTransform(tfb.Sigmoid())  # logit of the dequantized point in (0, 1)
    rows = {}
    for name, first in (
        ("uniform", lambda: ts.UniformDequantization(levels)),
        ("variational", lambda: ts.VariationalDequantization(
            ts.architectures.dequantization_flow([2], num_steps=2, hidden_units=[64]), num_values=levels)),
    ):
        keras.utils.set_random_seed(0)
        flow = ts.Flow(ts.StandardNormal([2]), [first(), onto_reals] + couplings(2))
        flow = fit(flow, train, args.epochs_2d)
        rows[name] = {"bits_per_dim_elbo": test_nll(flow, test, 1)["bits_per_dim"],
                      f"bits_per_dim_iwbo_{args.iwbo_k}": test_nll(flow, test, args.iwbo_k)[
                          "bits_per_dim"]}
    return rows


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points_2d", type=int, default=128_000)
    parser.add_argument("--epochs_2d", type=int, default=10)
    parser.add_argument("--epochs_vae", type=int, default=60)
    parser.add_argument("--iwbo_k", type=int, default=100)
    add_output_arguments(parser, "connections")
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "connections")
    os.makedirs(args.output, exist_ok=True)
    results = {
        "augmented_vs_plain_nats": augmented_vs_plain(args, args.output),
        "vae_vs_flow_prior_nats": vae_vs_flow_prior(args, args.output),
        "cif_nats": cif_flow(args, args.output),
        "dequantization": dequantization(args, args.output),
    }
    print(json.dumps(results, indent=2))
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump({"settings": vars(args), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
