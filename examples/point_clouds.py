"""The paper's point-cloud experiment (App. I.2): PermuteFlow vs SortFlow.

PermuteFlow is exchangeable by stochastic permutations (a lower bound, evaluated with the IWBO);
SortFlow canonicalises the order with an inference `Sort` (exact). The metric is the per-point
log-likelihood, PPLL = log p(cloud) / 50. Paper, SpatialMNIST: PermuteFlow -5.30 (IWBO,
k=1000), SortFlow -5.53.

    python examples/point_clouds.py                  # --small: digit clouds, CPU, minutes
    python examples/point_clouds.py --full --data_dir ~/tensorflow_datasets   # SpatialMNIST

`--small` uses the 1,797 scikit-learn digits as 50-point clouds and narrow flows; `--full` builds
SpatialMNIST from tfds MNIST and the paper's flows (32 steps, transformers d_model 64), which want
a GPU (about 40 GPU-hours each for the paper's 500 epochs).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import keras
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfp_survae as ts  # noqa: E402
from results_dir import add_output_arguments, output_dir  # noqa: E402

PAPER_PPLL = {"permute_flow": -5.30, "sort_flow": -5.53}
SMALL = dict(num_steps=4, d_model=32, num_heads=4, d_ff=64)


def load(args):
    if args.full:
        train = ts.data.spatial_mnist("train", data_dir=args.data_dir, cache_dir=args.cache_dir)
        test = ts.data.spatial_mnist("test", data_dir=args.data_dir, cache_dir=args.cache_dir)
        return train, test
    from small_data import digit_point_clouds, split

    return split(digit_point_clouds())


def plot_clouds(samples, path, rows=4):
    fig, axes = plt.subplots(rows, rows, figsize=(6, 6), dpi=100)
    for ax, cloud in zip(axes.ravel(), samples):
        ax.scatter(cloud[:, 0], cloud[:, 1], s=4)
        ax.set_xlim(0, 28)
        ax.set_ylim(0, 28)
        ax.set_axis_off()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="SpatialMNIST and the paper's flows")
    parser.add_argument("--data_dir", default=None, help="tfds data_dir holding mnist")
    parser.add_argument("--cache_dir", default=None, help="where to cache the point clouds")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--iwbo_k", type=int, default=None)
    parser.add_argument("--max_steps", type=int, default=None, help="cap steps per epoch")
    parser.add_argument("--flow_steps", type=int, default=None,
                        help="coupling steps per flow (default: 32 full, 4 small)")
    add_output_arguments(parser, "point_clouds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "point_clouds")
    epochs = args.epochs or (500 if args.full else 30)
    iwbo_k = args.iwbo_k or (1000 if args.full else 100)
    settings = {} if args.full else dict(SMALL)
    if args.flow_steps:
        settings["num_steps"] = args.flow_steps

    train, test = load(args)
    steps = len(train) // args.batch_size
    if args.max_steps:
        steps = min(steps, args.max_steps)
    schedule = ts.training.WarmupExponentialDecay(args.lr, warmup_steps=min(2000, 10 * steps),
                                                  decay_rate=0.995, decay_steps=steps)
    results = {}
    for name, build in (("permute_flow", ts.architectures.permute_flow),
                        ("sort_flow", ts.architectures.sort_flow)):
        keras.utils.set_random_seed(args.seed)
        flow = build(**settings)
        flow.compile(keras.optimizers.Adam(schedule))
        data = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train), seed=args.seed)
        data = data.batch(args.batch_size, drop_remainder=True).take(steps)
        start = time.perf_counter()
        flow.fit(data, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        test_data = tf.data.Dataset.from_tensor_slices(test).batch(256)
        elbo = ts.evaluation.evaluate(flow, test_data, verbose=0)["nll"]
        bound = ts.evaluation.evaluate(flow, test_data, k=iwbo_k, verbose=0)["nll"]
        results[name] = {"ppll_elbo": -elbo / 50, f"ppll_iwbo_{iwbo_k}": -bound / 50,
                         "exact": flow.is_exact, "seconds": seconds,
                         "parameters": ts.architectures.count_trainable_parameters(flow)}
        plot_clouds(flow.sample(16, seed=(1, 2)).numpy(),
                    os.path.join(args.output, f"{name}_samples.png"))
        print(f"{name:13s} PPLL {-bound / 50:7.3f} ({'exact' if flow.is_exact else f'IWBO k={iwbo_k}'}"
              f"; ELBO {-elbo / 50:7.3f})   paper {PAPER_PPLL[name]:.2f}   {seconds:.0f} s",
              flush=True)
    plot_clouds(test[:16], os.path.join(args.output, "data.png"))
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump({"settings": {**vars(args), "epochs": epochs}, "results": results,
                   "paper_ppll": PAPER_PPLL}, f, indent=2)
    return results


if __name__ == "__main__":
    main()
