"""Resident memory of a process that compiles N distinct functions and drops them.

    python benchmarks/xla_cache_growth.py          # tf.function(jit_compile=True)
    python benchmarks/xla_cache_growth.py --no-xla # plain tf.function, for comparison

Each function closes over a variable of its own and has a different number of layers, so each
is a new program; function and variable are deleted and garbage-collected before the next.
Plain tf.functions free their graphs; XLA's programs stay (TensorFlow's compilation cache has
no eviction), which is why tests/isolation.py runs XLA-compiling tests in recycled processes.
"""

import argparse
import gc

import tensorflow as tf


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def compile_and_drop(n: int, jit_compile: bool, offset: int = 0) -> None:
    for i in range(offset, offset + n):
        w = tf.Variable(tf.random.normal([64, 64]))

        def f(x, w=w, depth=i % 7 + 3, shift=float(i)):
            for k in range(depth):
                x = tf.tanh(x @ w + (k + shift))
            return tf.reduce_sum(x)

        tf.function(f, jit_compile=jit_compile)(tf.ones([32, 64]))
        del f, w
    gc.collect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-xla", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=100)
    args = parser.parse_args()
    compile_and_drop(5, not args.no_xla)
    print(f"after 5 functions: {rss_mb():.0f} MB")
    for r in range(args.rounds):
        compile_and_drop(args.per_round, not args.no_xla, offset=5 + r * args.per_round)
        print(f"after {5 + (r + 1) * args.per_round} functions: {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
