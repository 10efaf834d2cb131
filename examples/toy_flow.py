"""Train a 4-coupling flow on one of the paper's 2-D data sets and plot its density.

The baseline of the paper's 2-D experiment (App. I.1): 4 affine couplings with the order reversed
between them, each coupling network an MLP 1 -> 200 -> 100 -> 2, a standard normal base, Adam
1e-3, batch 128, 10 epochs over 128,000 points (10,000 iterations). The couplings use the
library's default soft-clamped scale (`--scale_fn tanh`); the paper's exp scale (`--scale_fn
exp`) is less stable. Prints the train and test negative log-likelihood in nats and writes a
density plot.

    python examples/toy_flow.py --dataset checkerboard       # writes outputs/toy/
"""

from __future__ import annotations

import argparse
import os
import time

import keras

import tfp_survae as ts
from results_dir import add_output_arguments, output_dir


def baseline_flow(num_couplings: int = 4, hidden=(200, 100), scale_fn: str = "tanh") -> ts.Flow:
    transforms = []
    for i in range(num_couplings):
        transforms.append(ts.AffineCoupling(ts.MLP(hidden, 2), scale_fn=scale_fn))
        if i < num_couplings - 1:
            transforms.append(ts.Reverse())
    return ts.Flow(ts.StandardNormal([2]), transforms)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="checkerboard", choices=ts.data.TOY_DATASETS)
    parser.add_argument("--train_samples", type=int, default=128_000)
    parser.add_argument("--test_samples", type=int, default=128_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale_fn", default="tanh",
                        choices=sorted(ts.AffineMap.SCALE_FNS))
    add_output_arguments(parser, "toy")
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "toy")

    keras.utils.set_random_seed(args.seed)
    train = ts.data.toy_dataset(args.dataset, args.train_samples, args.batch_size, seed=args.seed)
    test = ts.data.toy_dataset(args.dataset, args.test_samples, 4096, seed=args.seed + 1,
                               shuffle=False)
    flow = baseline_flow(scale_fn=args.scale_fn)
    flow.compile(keras.optimizers.Adam(args.lr))
    print(f"Flow on {args.dataset}: {flow.count_params():,} parameters")

    start = time.perf_counter()
    history = flow.fit(train, epochs=args.epochs, verbose=2)
    print(f"trained in {time.perf_counter() - start:.1f} s")

    train_nll = history.history["loss"][-1]
    test_nll = ts.evaluation.evaluate(flow, test, verbose=0)["nll"]
    print(f"train NLL (last epoch): {train_nll:.3f} nats")
    print(f"test NLL: {test_nll:.3f} nats")

    path = os.path.join(args.output, f"{args.dataset}_flow_density.png")
    ts.plotting.plot_density_2d(flow.log_prob, path, title=f"{args.dataset}: {test_nll:.2f} nats")
    print(f"wrote {path}")
    return test_nll


if __name__ == "__main__":
    main()
