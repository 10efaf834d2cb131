"""The paper's image experiment (App. I.3): MaxPoolFlow vs the multi-scale slicing baseline.

Both flows dequantize (uniform or variational), squeeze, and run scales of 1x1 convolutions and
DenseNet couplings; between scales the baseline slices off channels (`Slice`) and MaxPoolFlow
max-pools (`MaxPool2D`). Paper, bits/dim (baseline / MaxPoolFlow): CIFAR-10 3.08 / 3.09,
ImageNet32 4.00 / 4.01, ImageNet64 3.70 / 3.74.

    python examples/images.py                      # --small: 8x8 digits, CPU, a few minutes
    python examples/images.py --dataset mnist --data_dir ~/tensorflow_datasets --preset small
    python examples/images.py --dataset cifar10 --preset cifar10 --data_dir ...   # GPU-weeks

The CPU preset uses the scikit-learn digits (8x8, 8-bit after rescaling) and the "small" flows
(2 scales x 2 steps, narrow DenseNets); the paper's presets have 105 M parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

import tfp_survae as ts
from results_dir import add_output_arguments, output_dir

PAPER_BPD = {"cifar10": (3.08, 3.09), "downsampled_imagenet/32x32": (4.00, 4.01),
             "downsampled_imagenet/64x64": (3.70, 3.74)}


def datasets(args):
    if args.dataset == "digits":
        from small_data import digits, split

        train, test = split(digits())
        make = lambda a, shuffle: tf.data.Dataset.from_tensor_slices(a).shuffle(  # noqa: E731
            len(a), seed=args.seed).batch(args.batch_size) if shuffle else \
            tf.data.Dataset.from_tensor_slices(a).batch(256)
        return make(train, True), make(test, False), (8, 8, 1), len(train) // args.batch_size
    train = ts.data.image_dataset(args.dataset, "train", args.batch_size, data_dir=args.data_dir,
                                  seed=args.seed)
    test_split = "validation" if args.dataset.startswith("downsampled") else "test"
    test = ts.data.image_dataset(args.dataset, test_split, 64, data_dir=args.data_dir,
                                 shuffle=False, flip=False)
    return train, test, ts.data.IMAGE_DATASETS[args.dataset], None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits",
                        choices=["digits", *ts.data.IMAGE_DATASETS])
    parser.add_argument("--preset", default="small", choices=sorted(ts.architectures.IMAGE_PRESETS))
    parser.add_argument("--data_dir", default=None)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--iwbo_k", type=int, default=10)
    parser.add_argument("--max_steps", type=int, default=None, help="cap steps per epoch")
    add_output_arguments(parser, "images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "images")

    train, test, shape, steps = datasets(args)
    if args.max_steps:
        train = train.take(args.max_steps)
        steps = args.max_steps
    warmup = args.warmup if args.warmup is not None else (5000 if args.preset != "small" else 200)
    schedule = ts.training.WarmupExponentialDecay(args.lr, warmup, decay_rate=0.995,
                                                  decay_steps=steps or 1000)
    results = {}
    for name, build in (("multiscale_flow", ts.architectures.multiscale_flow),
                        ("maxpool_flow", ts.architectures.maxpool_flow)):
        keras.utils.set_random_seed(args.seed)
        flow = build(args.preset, image_shape=shape)
        flow.compile(keras.optimizers.Adamax(schedule))
        grid = ts.training.SampleGrid(os.path.join(args.output, f"{name}_samples.png"),
                                      every=max(1, args.epochs), num_samples=36)
        start = time.perf_counter()
        flow.fit(train, epochs=args.epochs, verbose=0, callbacks=[grid])
        seconds = time.perf_counter() - start
        elbo = ts.evaluation.evaluate(flow, test, verbose=0)["bits_per_dim"]
        iwbo = ts.evaluation.evaluate(flow, test, k=args.iwbo_k, verbose=0)["bits_per_dim"]
        results[name] = {"bits_per_dim_elbo": elbo, f"bits_per_dim_iwbo_{args.iwbo_k}": iwbo,
                         "seconds": seconds,
                         "parameters": ts.architectures.count_trainable_parameters(flow)}
        print(f"{name:16s} bits/dim {iwbo:.3f} (IWBO k={args.iwbo_k}; ELBO {elbo:.3f})"
              f"   {results[name]['parameters']:,} parameters   {seconds:.0f} s", flush=True)
    if args.dataset in PAPER_BPD:
        print(f"paper: baseline {PAPER_BPD[args.dataset][0]}, MaxPoolFlow "
              f"{PAPER_BPD[args.dataset][1]}")
    os.makedirs(args.output, exist_ok=True)
    with open(os.path.join(args.output, "results.json"), "w") as f:
        json.dump({"settings": vars(args), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
