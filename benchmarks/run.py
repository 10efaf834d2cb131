"""The benchmark suite: speed and memory side by side with the alternatives, and cost curves.

    python benchmarks/run.py                  # everything; writes benchmarks/RESULTS.md
    python benchmarks/run.py --quick --output /tmp/RESULTS.md     # a smoke run: tiny sizes,
                                                                  # the first model of each table
    python benchmarks/run.py --sections jax   # replaces section 8 of RESULTS.md, keeps the rest

The PyTorch comparisons need torch and zuko in the same environment
(`pip install torch==2.13.0 zuko`), the JAX ones jax and optax; without them those sections say
so and the rest runs. The GPU section (`--sections gpu`, `benchmarks/gpu.py`) measures on a GPU
only; `--quick` runs its code on the CPU. Times are wall-clock; variants of a comparison run
interleaved in one process, warm-up excluded, and report the median with the min-max range.
Memory figures come from separate processes (peak resident set, TensorFlow included).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import gpu  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from models_tf import (  # noqa: E402
    HandWrittenFlow,
    TFPRealNVP,
    abs_flow,
    augmented_flow,
    check_same_math,
    sliced_flow,
    survae_flow,
)
from timing import (  # noqa: E402
    Variant,
    interleave,
    machine,
    run_isolated,
    run_streaming,
    timed,
)

import tfp_survae as ts  # noqa: E402

BATCH = 128


# ------------------------------------------------------------------------------------------
# Training variants of the 2-D flow.


def toy_batches(num_batches, batch=BATCH):
    data = ts.data.sample_toy("checkerboard", num_batches * batch)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch, drop_remainder=True).cache()


class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self.start


def fit_variant(name, model, steps_per_call, units, jit=False, group="", optimizer=None,
                compiled_execution=None):
    """Keras fit, timed from the epoch's start to its end (no fit set-up or tf.data teardown).
    The optimizer is Keras' Adam(1e-3) unless given; `compiled_execution` is passed on to
    `Flow.compile` when given."""
    extra = {} if compiled_execution is None else {"compiled_execution": compiled_execution}
    model.compile(optimizer or keras.optimizers.Adam(1e-3), steps_per_execution=steps_per_call,
                  jit_compile=jit, **extra)
    data = toy_batches(units)
    timer = EpochTimer()

    def run(n):
        model.fit(data.take(n), epochs=1, verbose=0, callbacks=[timer])
        return timer.seconds

    return Variant(name, run, group)


def loop_variant(name, log_prob, variables, steps_per_call, units, jit=False, group="",
                 batch=BATCH):
    """A hand-written tf.function running `steps_per_call` training steps per call."""
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(variables)
    iterator = iter(toy_batches(min(units, 64), batch).repeat())

    @tf.function(jit_compile=jit)
    def step(x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(log_prob(x))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    @tf.function
    def steps(iterator):
        loss = tf.constant(0.0)
        for _ in tf.range(steps_per_call):
            loss = step(next(iterator))
        return loss

    def run(n):
        if n % steps_per_call:
            raise ValueError(f"{n} steps do not divide into calls of {steps_per_call}.")
        start = time.perf_counter()
        if steps_per_call == 1:
            for _ in range(n):
                loss = step(next(iterator))
        else:
            for _ in range(n // steps_per_call):
                loss = steps(iterator)
        loss.numpy()
        return time.perf_counter() - start

    return Variant(name, run, group)


def first_model_if_quick(args, models: dict) -> dict:
    """`models`, or only its first entry in a `--quick` smoke run: the sections' code runs on
    one model there (the others share it)."""
    return dict(list(models.items())[:1]) if args.quick else models


def overhead_section(args) -> str:
    units, reps = (64, 1) if args.quick else (320, args.repetitions)
    x = ts.data.sample_toy("checkerboard", 64)
    difference = check_same_math(x)
    variants = []
    per_call = (32,) if args.quick else (1, 32)  # the smoke run: one group of variants
    for s in per_call:
        keras.utils.set_random_seed(0)
        flow = survae_flow()
        variants.append(fit_variant(f"tfp_survae Flow.fit, {s}/call", flow, s, units, group=s))
        variants.append(fit_variant(f"hand-written Keras fit, {s}/call", HandWrittenFlow(), s,
                                    units, group=s))
        flow2 = survae_flow()
        variants.append(loop_variant(f"tfp_survae log_prob, own loop, {s}/call", flow2.log_prob,
                                     flow2.trainable_variables, s, units, group=s))
        hand = HandWrittenFlow()
        variants.append(loop_variant(f"hand-written, own loop, {s}/call", hand.log_prob,
                                     hand.trainable_variables, s, units, group=s))
        realnvp = TFPRealNVP()
        variants.append(loop_variant(f"TFP RealNVP, own loop, {s}/call", realnvp.log_prob,
                                     realnvp.trainable_variables, s, units, group=s))
        variants.append(fit_variant(f"tfp_survae Flow.fit + XLA, {s}/call", survae_flow(), s,
                                    units, jit=True, group=s))
    results = interleave(variants, units, reps)
    lines = [
        "## 1. Abstraction overhead: the 2-D flow (4 affine couplings, MLP 200-100, batch 128)",
        "",
        f"Training steps, {units} per repetition, {reps} interleaved repetitions after a "
        f"warm-up. The three forms compute the same log-density for the same weights (largest "
        f"difference {difference:.1e}).",
        "",
        "| variant | ms / step (median) | range | vs hand-written at the same steps/call |",
        "|---|---|---|---|",
    ]
    for v in variants:
        r = results[v.name]
        partner = (f"hand-written Keras fit, {v.group}/call" if "fit" in v.name
                   else f"hand-written, own loop, {v.group}/call")
        ratio = r["median_ms"] / results[partner]["median_ms"]
        lines.append(f"| {v.name} | {r['median_ms']:.3f} | {r['min_ms']:.3f}-{r['max_ms']:.3f} "
                     f"| {ratio:.2f}x |")
    if len(per_call) > 1:
        fit1 = results["tfp_survae Flow.fit, 1/call"]["median_ms"]
        fit32 = results["tfp_survae Flow.fit, 32/call"]["median_ms"]
        xla32 = results["tfp_survae Flow.fit + XLA, 32/call"]["median_ms"]
        lines += ["", f"Flow.fit defaults: 32 steps per call is {fit1 / fit32:.2f}x faster than "
                  f"1; XLA at 32 steps per call takes {xla32 / fit32:.2f}x the time without it, "
                  "so `jit_compile` stays Keras' \"auto\" (off on CPUs)."]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# PyTorch peers.


def torch_trainer(model, data, units, fused=False, compiled=False):
    """`run(n)`: n PyTorch Adam steps (1e-3) on the batches of `data` [units, 128, D]."""
    import torch

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused)

    def loss_fn(x):
        return -model.log_prob(x).mean()

    step_loss = torch.compile(loss_fn) if compiled else loss_fn

    def run(n):
        start = time.perf_counter()
        for i in range(n):
            optimizer.zero_grad(set_to_none=True)
            step_loss(data[i % units]).backward()
            optimizer.step()
        return time.perf_counter() - start
    return run


def torch_section(args) -> str:
    if not (importlib.util.find_spec("torch") and importlib.util.find_spec("zuko")):
        return ("## 2. Against PyTorch\n\nNot run: torch and zuko are not installed in this "
                "environment (`pip install torch==2.13.0 zuko`).")
    import models_torch as pt
    import torch

    torch.manual_seed(0)
    units, reps = (32, 1) if args.quick else (192, args.repetitions)
    data = torch.tensor(ts.data.sample_toy("checkerboard", units * BATCH).reshape(units, BATCH, 2))

    def torch_train(model, fused=False, compiled=False):
        return torch_trainer(model, data, units, fused=fused, compiled=compiled)

    models = {
        "coupling flow": (survae_flow, lambda: pt.CouplingFlow()),
        "AbsFlow": (abs_flow, lambda: pt.CouplingFlow(abs=True)),
        "augmented flow": (augmented_flow, lambda: pt.CouplingFlow(augment=2)),
    }
    lines = ["## 2. Against PyTorch (CPU build of torch, same process, interleaved)", "",
             f"Training: Adam 1e-3, batch 128, {units} steps per repetition, {reps} repetitions. "
             "Speed-up = PyTorch time / tfp_survae time (tfp_survae: `Flow.fit` with its default "
             "32 steps per call).", "",
             "| model | variant | ms / step (median) | range | tfp_survae speed-up |",
             "|---|---|---|---|---|"]
    models = first_model_if_quick(args, models)
    for label, (build_tf, build_torch) in models.items():
        variants = [fit_variant("tfp_survae Flow.fit, 32/call", build_tf(), 32, units),
                    fit_variant("tfp_survae Flow.fit, 1/call", build_tf(), 1, units),
                    Variant("PyTorch eager", torch_train(build_torch())),
                    Variant("PyTorch fused Adam", torch_train(build_torch(), fused=True))]
        if label == "coupling flow":
            variants.append(Variant("zuko RealNVP (NICE, affine)", torch_train(pt.ZukoFlow())))
        if not args.quick:
            variants.append(Variant("PyTorch torch.compile", torch_train(build_torch(),
                                                                          compiled=True)))
        results = {}
        for v in variants:  # torch.compile can fail on some machines: say so, run the rest
            try:
                v.run(2)
            except Exception as error:  # noqa: BLE001
                results[v.name] = f"failed: {type(error).__name__}"
        live = [v for v in variants if v.name not in results]
        results.update(interleave(live, units, reps))
        ours = results["tfp_survae Flow.fit, 32/call"]["median_ms"]
        for v in variants:
            r = results[v.name]
            if isinstance(r, str):
                lines.append(f"| {label} | {v.name} | {r} | | |")
                continue
            lines.append(f"| {label} | {v.name} | {r['median_ms']:.3f} | {r['min_ms']:.3f}-"
                         f"{r['max_ms']:.3f} | {r['median_ms'] / ours:.2f}x |")
    lines += ["", throughput_table(args, models)]
    return "\n".join(lines)


def throughput_table(args, models) -> str:
    import torch

    reps = 1 if args.quick else args.repetitions
    lines = ["log_prob and sampling throughput, examples per second; tfp_survae through "
             "`flow.log_prob_function()` / `sample_function()` (compiled with XLA), and through a "
             "plain `tf.function` for reference; speed-up = tfp_survae / PyTorch:", "",
             "| model | operation | batch | tfp_survae | plain tf.function | PyTorch | speed-up |",
             "|---|---|---|---|---|---|---|"]
    for label, (build_tf, build_torch) in models.items():
        flow, model = build_tf(), build_torch()
        fast_log_prob, fast_sample = flow.log_prob_function(), flow.sample_function()
        log_prob = tf.function(lambda x: flow.log_prob(x, seed=(1, 2)))
        sample = tf.function(lambda n: flow.sample(n, seed=(1, 2)))
        seed = tf.constant([1, 2])
        for op, batch in (("log_prob", 128), ("log_prob", 4096), ("sample", 4096)):
            x_np = ts.data.sample_toy("checkerboard", batch)
            x_tf, x_torch = tf.constant(x_np), torch.tensor(x_np)
            calls = 20 if batch <= 128 else 5
            if args.quick:
                calls = 2
            if op == "log_prob":
                fast_fn = lambda: fast_log_prob(x_tf).numpy()  # noqa: E731
                tf_fn = lambda: log_prob(x_tf).numpy()  # noqa: E731
                torch_fn = lambda: model.log_prob(x_torch)  # noqa: E731
            else:
                count = tf.constant(batch)
                fast_fn = lambda: fast_sample(count, seed).numpy()  # noqa: E731
                tf_fn = lambda: sample(count).numpy()  # noqa: E731
                torch_fn = lambda: model.sample(batch)  # noqa: E731

            def repeat(fn):
                def run(n):
                    with torch.no_grad():
                        return timed(lambda: [fn() for _ in range(n)])
                return run

            trio = [Variant("fast", repeat(fast_fn)), Variant("tf", repeat(tf_fn)),
                    Variant("torch", repeat(torch_fn))]
            result = interleave(trio, calls, reps)
            rate = {k: batch / (result[k]["median_ms"] / 1e3) for k in result}
            lines.append(f"| {label} | {op} | {batch} | {rate['fast']:,.0f} | {rate['tf']:,.0f} | "
                         f"{rate['torch']:,.0f} | {rate['fast'] / rate['torch']:.2f}x |")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------
# Image scale, IWBO memory, cost curves.


def image_section(args) -> str:
    preset = "small" if args.quick else "cifar10"
    size = 16 if args.quick else None
    batches = (4,) if args.quick else (8, 32)
    lines = [f"## 3. Image scale: the {preset} presets, one step of each kind (CPU)", "",
             "Seconds per call after the first (which traces, and compiles under XLA; its time "
             "is in the last column). Each configuration in its own process; peak resident set "
             "includes TensorFlow (about 0.7 GB on its own).", "",
             "| model | batch | XLA | train step s | log_prob s | sample s | peak RSS GB | "
             "first calls (train/log_prob/sample) s |", "|---|---|---|---|---|---|---|---|"]
    for pooling, name in (("slice", "multiscale_flow"), ("max", "maxpool_flow")):
        for batch in batches:
            for xla in (False, True):
                r = run_isolated("image", timeout=args.image_timeout, preset=preset,
                                 pooling=pooling, batch=batch, xla=xla, image_size=size,
                                 repetitions=1 if args.quick else 2)
                if "error" in r:
                    lines.append(f"| {name} | {batch} | {xla} | {r['error']} | | | | |")
                    continue
                lines.append(
                    f"| {name} ({r['parameters']:,} params) | {batch} | {xla} | "
                    f"{r['train_step_s']:.3f} | {r['log_prob_s']:.3f} | {r['sample_s']:.3f} | "
                    f"{r['peak_rss_kb'] / 2**20:.2f} | {r['train_step_first_s']:.0f} / "
                    f"{r['log_prob_first_s']:.0f} / {r['sample_first_s']:.0f} |")
    return "\n".join(lines)


def iwbo_section(args) -> str:
    k, batch = (20, 16) if args.quick else (1000, 128)
    lines = [f"## 4. IWBO with k = {k} on a batch of {batch} (augmented 2-D flow)", "",
             "| chunk (batch_k) | seconds | peak RSS GB | growth over the resting process GB |",
             "|---|---|---|---|"]
    for chunk in (k // 10, k):
        r = run_isolated("iwbo", k=k, batch_k=chunk, batch=batch)
        if "error" in r:
            lines.append(f"| {chunk} | {r['error']} | | |")
            continue
        lines.append(f"| {chunk} | {r['seconds']:.3f} | {r['peak_rss_kb'] / 2**20:.2f} | "
                     f"{(r['peak_rss_kb'] - r['rest_rss_kb']) / 2**20:.2f} |")
    return "\n".join(lines)


def cost_section(args) -> str:
    units, reps = (64, 1) if args.quick else (256, max(3, args.repetitions - 2))
    lines = ["## 5. Cost curves", "",
             "The 2-D flow trained by its own loop, 32 steps per call; time per step and per "
             "example.", "", "| batch | ms / step | us / example |", "|---|---|---|"]
    batches = (32, 256) if args.quick else (32, 64, 128, 256, 512, 1024, 2048, 4096)
    per_example = []
    for batch in batches:
        flow = survae_flow()
        variant = loop_variant("batch", flow.log_prob, flow.trainable_variables, 32, units,
                               batch=batch)
        r = interleave([variant], units, reps)["batch"]
        per_example.append(r["median_ms"] * 1e3 / batch)
        lines.append(f"| {batch} | {r['median_ms']:.3f} | {per_example[-1]:.2f} |")
    lines += ["", linearity_note(batches, per_example), "",
              "| couplings | ms / step (batch 128) | ms / step / coupling |", "|---|---|---|"]
    layers = (4, 8) if args.quick else (4, 8, 16, 32, 64)
    for n in layers:
        flow = survae_flow(num_couplings=n)
        variant = loop_variant("layers", flow.log_prob, flow.trainable_variables, 32, units)
        r = interleave([variant], units, reps)["layers"]
        lines.append(f"| {n} | {r['median_ms']:.3f} | {r['median_ms'] / n:.3f} |")
    lines += ["", "The image flow (`maxpool_flow(\"small\")`, RGB, batch 8): one training step by "
              "image size.", "", "| image size | train step s | per pixel us |", "|---|---|---|"]
    for size in ((8, 16) if args.quick else (8, 16, 32, 64)):
        r = run_isolated("image", preset="small", pooling="max", batch=8, xla=False,
                         image_size=size, repetitions=1 if args.quick else 3)
        if "error" in r:
            lines.append(f"| {size} | {r['error']} | |")
            continue
        lines.append(f"| {size} | {r['train_step_s']:.4f} | "
                     f"{r['train_step_s'] * 1e6 / (size * size * 3 * 8):.3f} |")
    return "\n".join(lines)


def linearity_note(batches, per_example) -> str:
    flat_from = next((b for b, p in zip(batches, per_example)
                      if p <= 1.25 * per_example[-1]), batches[-1])
    return (f"Cost per example falls from {per_example[0]:.1f} us at batch {batches[0]} to "
            f"{per_example[-1]:.1f} us at batch {batches[-1]}: below batch {flat_from} a fixed "
            f"per-step cost (dispatch, small matrix products) dominates; from batch {flat_from} "
            "on, time grows about linearly with the batch (within 25% of the largest batch's "
            "per-example cost).")


def profile_section(args) -> str:
    from profile_step import profile_table

    steps, reps = (64, 1) if args.quick else (320, args.repetitions)
    return "\n".join([
        "## 7. Where a training step goes (the 2-D flow, batch 128)", "",
        "Each phase timed alone, 32 steps per compiled call in TensorFlow, eagerly in PyTorch, "
        "interleaved (`benchmarks/profile_step.py`). The TensorFlow rows are the time the "
        "PyTorch comparison above is made of; see the analysis in docs/benchmarks.md.", "",
        *profile_table(steps, reps)])


# ------------------------------------------------------------------------------------------
# JAX peers and compiled executions.


def fit_blocks(name, units, per_call):
    """Checkerboard batches as numpy blocks [units / per_call, per_call, 128, D]."""
    data = ts.data.sample_toy("checkerboard", units * BATCH).reshape(units, BATCH, 2)
    return data.reshape(units // per_call, per_call, BATCH, 2)


def program_variant(flow, blocks):
    """`Flow.fit`'s compiled program alone on pre-staged [32, 128, D] blocks, as the JAX
    `lax.scan` rows get them: no tf.data pull, no Keras loop."""
    flow.compile(keras.optimizers.Adam(1e-3), compiled_execution=True)
    flow.fit(toy_batches(32), epochs=1, verbose=0)  # builds the optimizer and the function
    run_stacked = flow.train_function.run_stacked
    staged = [tf.constant(block, tf.float32) for block in blocks]

    def run(n):
        start = time.perf_counter()
        for block in staged[: n // 32]:
            logs = run_stacked(block)
        float(logs["loss"])
        return time.perf_counter() - start

    return Variant("tfp_survae compiled program alone, pre-staged blocks", run)


def jax_section(args) -> str:
    if not (importlib.util.find_spec("jax") and importlib.util.find_spec("optax")):
        return ("## 8. Against JAX\n\nNot run: jax and optax are not installed in this "
                "environment (`pip install jax optax flowjax surjectors`).")
    import models_jax as mj

    units, reps = (64, 1) if args.quick else (640, args.repetitions)
    has_flowjax = importlib.util.find_spec("flowjax") is not None
    has_surjectors = importlib.util.find_spec("surjectors") is not None
    has_torch = importlib.util.find_spec("torch") is not None
    builders = first_model_if_quick(args, {"coupling flow": survae_flow, "AbsFlow": abs_flow,
                                           "augmented flow": augmented_flow})
    lines = ["## 8. Against JAX: one compiled program per execution", "",
             f"Training: Adam 1e-3, batch 128, {units} steps per repetition, {reps} interleaved "
             "repetitions after a warm-up, medians. `Flow.fit` runs 32 steps per execution, "
             "either as one XLA program (`compiled_execution`, the CPU default for these small "
             "dense models) or as Keras' "
             "graph loop of single steps; the hand-written JAX models compute the same "
             "functions, and the sliced flow (the couplings, then `Slice` keeping one "
             "dimension with a normal decoder) is the surjective model against the surjectors "
             "package. Ratio = the variant's time / compiled `Flow.fit`'s.", "",
             "| model | variant | ms / step (median) | range | time vs compiled Flow.fit |",
             "|---|---|---|---|---|"]
    for label, build in builders.items():
        blocks = fit_blocks(label, units, 32)
        variants = [
            fit_variant("tfp_survae Flow.fit, compiled execution", build(), 32, units,
                        compiled_execution=True),
            fit_variant("tfp_survae Flow.fit, Keras loop", build(), 32, units,
                        compiled_execution=False),
        ]
        variants.append(program_variant(build(), blocks))
        model_1, model_32 = mj.HandWritten(label), mj.HandWritten(label)
        variants.append(Variant("JAX + optax, 1 jit call per step",
                                lambda n, m=model_1, b=blocks: m.train(b[: n // 32], 1)))
        variants.append(Variant("JAX + optax, 32 steps per lax.scan",
                                lambda n, m=model_32, b=blocks: m.train(b[: n // 32], 32)))
        if label == "coupling flow" and has_flowjax:
            flowjax_model = mj.FlowJAXCoupling()
            variants.append(Variant("FlowJAX coupling_flow, 32 per lax.scan",
                                    lambda n, m=flowjax_model, b=blocks: m.train(b[: n // 32],
                                                                                 32)))
        if has_torch:
            variants += _torch_variants(label, units)
        lines += _fit_rows(label, variants, units, reps)
    if has_surjectors:  # a surjective model: the couplings, then Slice with a decoder
        blocks = fit_blocks("sliced flow", units, 32)
        surjectors_model = mj.SurjectorsSliced()
        variants = [
            fit_variant("tfp_survae Flow.fit, compiled execution", sliced_flow(), 32, units,
                        compiled_execution=True),
            fit_variant("tfp_survae Flow.fit, Keras loop", sliced_flow(), 32, units,
                        compiled_execution=False),
            Variant("surjectors (haiku, distrax), 32 per lax.scan",
                    lambda n, m=surjectors_model, b=blocks: m.train(b[: n // 32], 32)),
        ]
        lines += _fit_rows("sliced flow", variants, units, reps)
    lines += ["", _image_compiled_table(args), "", _distributed_compiled_table(args)]
    return "\n".join(lines)


class _EpochClock(keras.callbacks.Callback):
    """Wall and CPU seconds (all the process's threads) of a fit's epochs, summed."""

    def on_train_begin(self, logs=None):
        self.wall = self.cpu = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.wall += time.perf_counter() - self._start[0]
        self.cpu += time.process_time() - self._start[1]


class _BatchWatcher(keras.callbacks.Callback):
    """A training-batch hook that does nothing: `fit` then sizes short epochs' executions for
    progress, as it does under a progress bar."""

    def on_train_batch_end(self, batch, logs=None):
        pass


def _fit_clocked(model, data, steps_per_execution=None, watched=False, **kwargs):
    """run() -> (wall, CPU seconds) of `model.fit(data, **kwargs)`'s epochs; `watched`: with a
    batch callback (`_BatchWatcher`)."""
    model.compile(keras.optimizers.Adam(1e-3), steps_per_execution=steps_per_execution,
                  compiled_execution=True)
    clock = _EpochClock()
    callbacks = [clock, _BatchWatcher()] if watched else [clock]

    def run():
        model.fit(data, verbose=0, callbacks=callbacks, **kwargs)
        return clock.wall, clock.cpu
    return run


def _program_clocked(model, blocks):
    """run() -> (wall, CPU seconds) of `program_variant` on all of `blocks`."""
    program = program_variant(model, blocks)

    def run():
        cpu = time.process_time()
        wall = program.run(len(blocks) * 32)
        return wall, time.process_time() - cpu
    return run


def _jax_clocked(model, blocks):
    def run():
        cpu = time.process_time()
        wall = model.train(blocks, 32)
        return wall, time.process_time() - cpu
    return run


def _clocked_rounds(runs: dict, reps: int) -> dict:
    """name -> [(wall, CPU seconds)] of `reps` interleaved rounds after one warm-up round."""
    for run in runs.values():
        run()
    times = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            times[name].append(run())
    return times


def _ratio_cells(times, name, reference):
    """Median ratios of wall and CPU time to `reference` over the rounds, and the rounds'."""
    walls = [a[0] / b[0] for a, b in zip(times[name], times[reference])]
    cpus = [a[1] / b[1] for a, b in zip(times[name], times[reference])]
    return (f"{np.median(walls):.2f} | {', '.join(f'{r:.2f}' for r in walls)} | "
            f"{np.median(cpus):.2f} | {', '.join(f'{r:.2f}' for r in cpus)}")


# XLA's YNNPACK fusions of matrix products: JAX's XLA makes them by default; TensorFlow 2.21's
# XLA only when this flag, read at the process's first XLA compile, asks for them.
YNNPACK_DOTS = "--xla_cpu_experimental_ynn_fusion_type=dot"
JAX_FIT = "JAX + optax, 32 steps per lax.scan"
MEMORY_MODELS = {"coupling flow": survae_flow, "AbsFlow": abs_flow,
                 "augmented flow": augmented_flow}


def fit_against_jax(label: str, units: int, reps: int, tf_xla_flags: str = "") -> dict:
    """name -> [(wall, CPU seconds)] of `reps` interleaved rounds of `Flow.fit` on in-memory
    data (three ways), of its compiled program alone on pre-staged blocks and of JAX + optax on
    the same batches, in this process. JAX compiles first; `tf_xla_flags`, when given, then
    become XLA_FLAGS for TensorFlow's XLA alone (each reads them at its first compile), so JAX
    keeps its own defaults."""
    import models_jax as mj

    blocks = fit_blocks(label, units, 32)
    jax_model = mj.HandWritten(label)
    jax_model.train(blocks[:1], 32)  # JAX's XLA reads XLA_FLAGS here
    if tf_xla_flags:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {tf_xla_flags}".strip()
    arrays = blocks.reshape(-1, 2).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(arrays).batch(BATCH).cache()
    build = MEMORY_MODELS[label]
    runs = {
        "Flow.fit, in-memory dataset (staged)": _fit_clocked(build(), dataset),
        "Flow.fit, arrays, shuffle=True (staged)": _fit_clocked(
            build(), arrays, batch_size=BATCH, shuffle=True),
        "Flow.fit, the dataset through .map (streaming)": _fit_clocked(
            build(), dataset.map(lambda x: x)),
        "the compiled program alone, pre-staged blocks": _program_clocked(build(), blocks),
        JAX_FIT: _jax_clocked(jax_model, blocks),
    }
    return _clocked_rounds(runs, reps)


def memory_section(args) -> str:
    """`Flow.fit` on in-memory data against JAX + optax with 32 steps per `lax.scan` (in this
    process, and in a fresh one whose TensorFlow's XLA makes YNNPACK fusions of the matrix
    products), and the cost of the chosen `steps_per_execution` on short epochs."""
    if not (importlib.util.find_spec("jax") and importlib.util.find_spec("optax")):
        return "## 12. Fit from memory against JAX\n\nNot run: jax and optax are not installed."
    units, reps = (64, 2) if args.quick else (640, args.repetitions)
    labels = list(first_model_if_quick(args, MEMORY_MODELS))
    lines = ["## 12. Fit from memory against JAX", "",
             f"Adam 1e-3, batch 128, {units} steps per round (one epoch), {reps} interleaved "
             "rounds after a warm-up, in one process. Ratio = the variant's time / "
             f"{JAX_FIT}'s in the same round (below 1: faster than JAX); wall-clock and CPU "
             "time (`time.process_time`, all threads); `Flow.fit` timed from its epoch's start "
             "to its end. TensorFlow's matrix products: its XLA's default (each product an "
             "operation of its own), then, in a fresh process, XLA's YNNPACK fusions "
             f"(`XLA_FLAGS={YNNPACK_DOTS}`, set for TensorFlow after JAX compiled, so JAX "
             "keeps its defaults, which include them).",
             "", "| model | TensorFlow's products | variant | wall ratio (median) | per round | "
             "CPU ratio (median) | per round |", "|---|---|---|---|---|---|---|"]
    for label in labels:
        default = fit_against_jax(label, units, reps)
        flagged = run_isolated("memory_fit", label=label, units=units, reps=reps,
                               tf_xla_flags=YNNPACK_DOTS)
        for dots, times in (("default", default), ("YNNPACK fusions", flagged)):
            if "error" in times:
                lines.append(f"| {label} | {dots} | failed: {times['error']} | | | | |")
                continue
            lines += [f"| {label} | {dots} | {name} | {_ratio_cells(times, name, JAX_FIT)} |"
                      for name in times if name != JAX_FIT]
    lines += ["", "The cost of the chosen `steps_per_execution` (coupling flow, arrays in "
              f"memory, {units} steps per round as epochs of the length shown; ratio = the "
              "chosen value's time / 32's; the chosen value's fit has a batch callback, so its "
              "short epochs run executions of a tenth, as under a progress bar; unwatched, "
              "`fit` keeps 32):", "",
              "| epoch | chosen | wall ratio (median) | per round | CPU ratio (median) | "
              "per round |", "|---|---|---|---|---|---|"]
    arrays = fit_blocks("coupling flow", units, 32).reshape(-1, 2).astype("float32")
    for steps in (32,) if args.quick else (32, 128):  # quick: 64 steps, one epoch length
        data = arrays[: steps * BATCH]
        runs = {"chosen": _fit_clocked(survae_flow(), data, batch_size=BATCH, watched=True,
                                       epochs=units // steps),
                "32": _fit_clocked(survae_flow(), data, 32, batch_size=BATCH,
                                   epochs=units // steps)}
        times = _clocked_rounds(runs, reps)
        chosen = max(1, min(32, steps // ts.training.PROGRESS_UPDATES))
        lines.append(f"| {steps} steps | {chosen} | {_ratio_cells(times, 'chosen', '32')} |")
    return "\n".join(lines)


def _fit_rows(label, variants, units, reps, results=None) -> list:
    """Table rows of `variants` timed interleaved; `results`, a dict, receives the timings."""
    results = {} if results is None else results
    results.update(interleave(variants, units, reps))
    ours = results["tfp_survae Flow.fit, compiled execution"]["median_ms"]
    return [f"| {label} | {v.name} | {results[v.name]['median_ms']:.3f} | "
            f"{results[v.name]['min_ms']:.3f}-{results[v.name]['max_ms']:.3f} | "
            f"{results[v.name]['median_ms'] / ours:.2f}x |" for v in variants]


def throughput_section(args) -> str:
    """log_prob and sampling of the 2-D flows, examples per second: tfp_survae's compiled
    functions, the same math hand-written in TensorFlow under XLA, and jitted JAX."""
    if not (importlib.util.find_spec("jax") and importlib.util.find_spec("optax")):
        return ("## 9. Evaluation and sampling against JAX\n\nNot run: jax and optax are not "
                "installed in this environment (`pip install jax optax`).")
    import profile_throughput as pt

    reps = 2 if args.quick else 10 * args.repetitions
    batches = (128,) if args.quick else (128, 1024, 4096)
    kinds = (pt.TFP_SURVAE, pt.HAND_XLA, pt.JAX)
    lines = ["## 9. Evaluation and sampling against JAX", "",
             "Examples per second (medians), tfp_survae through `flow.log_prob_function()` / "
             "`sample_function()` (argument checks in a graph, the model in an XLA program), "
             "the same math hand-written in TensorFlow on the flow's own networks under XLA, "
             f"and JAX through `jax.jit`; {reps} repetitions, each running every variant a few "
             "calls in turn (the order rotating). Ratio = tfp_survae's throughput / JAX's, the "
             "median of the repetitions' ratios with their range (neighbouring calls share the "
             "machine's load); CPU ratio = JAX's process CPU time per call / tfp_survae's.", "",
             "| model | operation | batch | tfp_survae | hand-written TF, XLA | JAX | ratio "
             "(range) | CPU ratio |", "|---|---|---|---|---|---|---|---|"]
    for label in first_model_if_quick(args, pt.BUILDERS):
        for op in ("log_prob", "sample"):
            for batch in batches:
                calls = pt.variants(label, op, batch, kinds)
                per = 2 if args.quick else pt.calls_per_repetition(batch)
                times = pt.measure(calls, per, reps)
                wall = {k: np.asarray(times[k][0]) for k in kinds}
                cpu = {k: float(np.median(times[k][1])) for k in kinds}
                rate = {k: batch / (np.median(wall[k]) / 1e3) for k in kinds}
                ratio = wall[pt.JAX] / wall[pt.TFP_SURVAE]
                lines.append(
                    f"| {label} | {op} | {batch} | {rate[pt.TFP_SURVAE]:,.0f} | "
                    f"{rate[pt.HAND_XLA]:,.0f} | {rate[pt.JAX]:,.0f} | "
                    f"{np.median(ratio):.2f}x ({ratio.min():.2f}-{ratio.max():.2f}) | "
                    f"{cpu[pt.JAX] / cpu[pt.TFP_SURVAE]:.2f}x |")
    return "\n".join(lines)


def _torch_variants(label, units):
    import models_torch as pt
    import torch

    data = torch.tensor(ts.data.sample_toy("checkerboard", units * BATCH)
                        .reshape(units, BATCH, 2))
    build = {"coupling flow": lambda: pt.CouplingFlow(), "AbsFlow": lambda: pt.CouplingFlow(
        abs=True), "augmented flow": lambda: pt.CouplingFlow(augment=2)}[label]

    variants = [Variant("PyTorch eager", torch_trainer(build(), data, units))]
    compiled = Variant("PyTorch torch.compile", torch_trainer(build(), data, units,
                                                              compiled=True))
    try:
        compiled.run(2)
        variants.append(compiled)
    except Exception:  # noqa: BLE001 (torch.compile needs a C compiler; say nothing then)
        pass
    return variants


def _on_off(variants, units, reps):
    """Median ms per step of the "compiled execution on" and "... off" variants."""
    results = interleave(variants, units, reps)
    return (results["compiled execution on"]["median_ms"],
            results["compiled execution off"]["median_ms"])


def _image_compiled_table(args) -> str:
    """The small image preset at two image sizes: compiled executions (one XLA program per
    step for a model with convolutions), Keras' loop, and Keras' loop with per-step XLA."""
    units, reps = (4, 1) if args.quick else (64, args.repetitions)
    settings = {"compiled execution": dict(compiled_execution=True),
                "Keras' loop": dict(compiled_execution=False),
                "Keras' loop, jit_compile=True": dict(compiled_execution=False, jit_compile=True)}
    lines = ["The small image preset (`maxpool_flow(\"small\")`, batch 16, "
             f"{units} steps), ms per step; ratio = compiled execution / Keras' loop:", "",
             "| image | parameters | " + " | ".join(settings) + " | ratio |",
             "|---|---|---|---|---|---|"]
    for size in ((8,) if args.quick else (8, 28)):
        images = np.random.RandomState(0).randint(0, 256, (units * 16, size, size, 1))
        data = tf.data.Dataset.from_tensor_slices(images.astype("int32")).batch(16).cache()
        variants = []
        for name, setting in settings.items():
            keras.utils.set_random_seed(0)
            flow = ts.architectures.maxpool_flow("small", image_shape=(size, size, 1))
            flow.compile(keras.optimizers.Adam(1e-3), **setting)
            timer = EpochTimer()

            def run(n, flow=flow, timer=timer):
                flow.fit(data.take(n), epochs=1, verbose=0, callbacks=[timer])
                return timer.seconds

            variants.append(Variant(name, run))
        results = interleave(variants, units, reps)
        ms = [results[name]["median_ms"] for name in settings]
        parameters = ts.architectures.count_trainable_parameters(flow)
        lines.append(f"| {size}x{size}x1 | {parameters:,} | "
                     + " | ".join(f"{m:.2f}" for m in ms) + f" | {ms[0] / ms[1]:.2f} |")
    return "\n".join(lines)


def _distributed_compiled_table(args) -> str:
    """`distributed_fit` on one replica (the default strategy), compiled executions on and
    off, 32 steps per execution, the coupling flow."""
    units, reps = (64, 1) if args.quick else (640, args.repetitions)
    data = ts.data.sample_toy("checkerboard", 64 * BATCH).astype("float32")

    def dataset_fn(_):
        return tf.data.Dataset.from_tensor_slices(data).batch(BATCH).cache().repeat()

    variants = []
    for enabled in (True, False):
        def run(n, enabled=enabled):
            timer = EpochTimer()  # the second epoch: no set-up or tracing
            ts.training.distributed_fit(survae_flow, dataset_fn, steps_per_epoch=n, epochs=2,
                                        steps_per_execution=32, compiled_execution=enabled,
                                        callbacks=[timer], verbose=0)
            return timer.seconds

        variants.append(Variant(f"compiled execution {'on' if enabled else 'off'}", run))
    on, off = _on_off(variants, units, reps)
    return ("`distributed_fit` on one replica (default strategy, coupling flow, "
            f"{units} steps, 32 per execution, the second epoch of each run): {on:.3f} ms per "
            f"step with compiled executions against {off:.3f} ms with `strategy.run` per step "
            f"(ratio {on / off:.2f}).")


AUTO_RULE = (
    "How `compiled_execution=\"auto\"` will be decided on GPUs (today "
    "`training.compiled.AUTO_DEVICE_TYPES = (\"CPU\",)`: GPUs keep Keras' loop): from this "
    "section's tables, for each kind of model, compiled executions against the faster of "
    "Keras' two loops on the same card. Dense models (one XLA program per execution) follow "
    "the 2-D flows' rows, convolutional models (one XLA program per step) the image presets' "
    "rows in both precisions. A kind whose compiled execution is faster by more than the "
    "repetitions' spread turns on for GPUs; a kind that is not keeps Keras' loop (then the rule "
    "in `training.compiled` becomes one per kind). A card decides for its class only: the "
    "change names the card and cites its table.")


def gpu_section(args) -> str:
    info = gpu.device()
    lines = ["## 6. GPU", ""]
    if info["type"] != "GPU" and not args.quick:
        return "\n".join(lines + [
            "Not measured in this run: no GPU was available to the machine that produced "
            "these results. On one, `python benchmarks/run.py --sections gpu` (its work within "
            f"`--gpu_budget {args.gpu_budget:.0f}` seconds, 8 minutes with start-up) times the "
            "image presets' training step (Keras' loop with and without per-step XLA, compiled "
            "executions; float32 and mixed_float16) with its FLOPs and achieved FLOP/s against "
            "the card's datasheet peak and a measured matrix product, and the 2-D flows' `fit` "
            "against JAX + optax on the same card. `--quick` runs the same code at tiny sizes "
            "on the CPU (the benchmark smoke test).", "", AUTO_RULE])
    deadline = time.perf_counter() + args.gpu_budget
    if info["type"] != "GPU":
        lines += ["No GPU here: the section's code at tiny sizes on the CPU (a smoke run, not a "
                  "GPU measurement).", ""]
    key, peaks = gpu.peak_for(info["name"])
    tf32 = tf.config.experimental.tensor_float_32_execution_enabled()
    size = 256 if info["type"] != "GPU" else 8192
    ceilings = {"float32": gpu.matmul_tflops(tf.float32, size),
                "mixed_float16": gpu.matmul_tflops(tf.float16, size)}
    details = ", ".join(f"{k} {v}" for k, v in info["details"].items() if k != "device_name")
    lines.append(f"Device: {info['name']}" + (f" ({details})" if details else "")
                 + f"; TF32 {'on' if tf32 else 'off'} for float32 products.")
    datasheet, units = {}, "n/a"
    if peaks:
        datasheet = {"float32": peaks[1] if tf32 and peaks[1] else peaks[0],
                     "mixed_float16": peaks[2]}
        units = (f"{datasheet['float32']:g} TFLOP/s for float32 "
                 f"({'TF32 tensor cores' if tf32 and peaks[1] else 'CUDA cores'}), "
                 f"{datasheet['mixed_float16']:g} for float16 (tensor cores)")
    lines += [f"Datasheet dense peaks ({key or 'none: the device is not in `gpu.PEAKS`'}): "
              f"{units}. Measured here, chained {size}x{size} products: "
              f"{ceilings['float32']:.3g} TFLOP/s in float32, "
              f"{ceilings['mixed_float16']:.3g} in float16.", ""]
    images, fits = [], {}
    lines += _gpu_image_table(args, deadline, datasheet, ceilings, images)
    lines += [""] + _gpu_fit_table(args, deadline, fits)
    lines += ["", AUTO_RULE, "", _auto_verdict(images, fits)]
    return "\n".join(lines)


def _against_keras(compiled, keras_loops) -> str:
    """"0.62x (apart)": compiled's median time over the faster Keras loop's, and whether the
    ranges of their repetitions are apart (compiled's slowest below the loop's fastest, or the
    reverse) or overlap."""
    keras_loops = list(keras_loops)
    if not keras_loops:
        return "n/a"
    best = min(keras_loops, key=lambda t: t[0])
    apart = compiled[2] < best[1] or compiled[1] > best[2]
    return f"{compiled[0] / best[0]:.2f}x ({'apart' if apart else 'overlapping'})"


def _auto_verdict(images, fits) -> str:
    """This run's numbers for the rule above: compiled execution against the faster Keras loop
    (time ratio, and whether the repetitions' ranges are apart), by kind of model."""
    parts = []
    for label, results in fits.items():
        times = {k: (v["median_ms"], v["min_ms"], v["max_ms"]) for k, v in results.items()}
        compiled = times.pop("tfp_survae Flow.fit, compiled execution")
        loops = [t for k, t in times.items() if "Keras' loop" in k]
        parts.append(f"{label} {_against_keras(compiled, loops)}")
    dense = "; ".join(parts) or "not measured"
    parts = []
    for pooling in ("slice", "max"):
        for precision in gpu.PRECISIONS:
            rows = {r["execution"]: (r["ms_per_step"], r["min_ms"], r["max_ms"])
                    for r in images if r["pooling"] == pooling and r["precision"] == precision
                    and "ms_per_step" in r}
            compiled = rows.pop("compiled execution", None)
            if compiled and rows:
                name = "maxpool_flow" if pooling == "max" else "multiscale_flow"
                parts.append(f"{name} {precision} {_against_keras(compiled, rows.values())}")
    convolutional = "; ".join(parts) or "not measured"
    return ("This run, compiled execution's time per step over the faster Keras loop's: "
            f"dense models (2-D flows): {dense}. Convolutional models (image presets): "
            f"{convolutional}.")


def _gpu_image_table(args, deadline, datasheet, ceilings, rows) -> list:
    reserve = 30 if args.quick else 150  # seconds kept for the 2-D flows
    budget = deadline - time.perf_counter() - reserve
    streamed, error = run_streaming("gpu_images", timeout=budget, quick=args.quick,
                                    budget_s=budget - 30)
    flops = {r["pooling"]: r["flops_per_step"] for r in streamed if "flops_per_step" in r}
    rows.extend(dict(r, flops_per_step=flops.get(r["pooling"])) for r in streamed
                if r["job"] == "time")
    first = streamed[0] if streamed else {}
    lines = [f"The image presets (\"{first.get('preset', '?')}\", "
             f"{first.get('parameters', 0):,} parameters), Adamax 1e-3, batch "
             f"{first.get('batch', '?')}, {first.get('steps_per_execution', '?')} steps per "
             "execution; ms per step over the timed executions after the first (whose seconds, "
             "tracing and compilation included, are in their own column). FLOPs per step: "
             "TensorFlow's graph cost analysis of the step's forward and backward pass in "
             "float32 (the optimizer's update not counted), used for both precisions; achieved "
             "FLOP/s against the datasheet peak and the measured product of the precision.", "",
             "| model | precision | execution | ms / step (median) | range | images / s | "
             "GFLOP / step | achieved TFLOP/s | of datasheet peak | of measured product | "
             "first execution s | peak GPU memory GB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        name = "maxpool_flow" if row["pooling"] == "max" else "multiscale_flow"
        head = f"| {name} | {row['precision']} | {row['execution']} |"
        if "skipped" in row or "error" in row:
            why = f"skipped: {row['skipped']}" if "skipped" in row else f"failed: {row['error']}"
            lines.append(f"{head} {why} | | | | | | | | |")
            continue
        ms, flops = row["ms_per_step"], row.get("flops_per_step")
        achieved = flops / (ms / 1e3) / 1e12 if flops else None
        peak = datasheet.get(row["precision"])

        def share(total, achieved=achieved):
            return f"{achieved / total:.1%}" if achieved and total else "n/a"

        memory = row.get("peak_memory_bytes")
        lines.append(
            f"{head} {ms:.2f} | {row['min_ms']:.2f}-{row['max_ms']:.2f} | "
            f"{row['batch'] / (ms / 1e3):,.0f} | "
            + (f"{flops / 1e9:,.4g} | {achieved:.3g} | " if flops else "n/a | n/a | ")
            + f"{share(peak)} | {share(ceilings[row['precision']])} | "
            f"{row['first_execution_s']:.0f} | "
            + (f"{memory / 2**30:.2f} |" if memory else "n/a |"))
    uncounted = [r for r in streamed if r["job"] == "flops" and "flops_per_step" not in r]
    for r in uncounted:
        lines += ["", f"FLOPs of the {r['pooling']} pooling preset not counted: "
                  f"{r.get('skipped') or r.get('error')}."]
    if error:
        lines += ["", f"The image run ended early: {error}."]
    return lines


def _gpu_fit_table(args, deadline, timings) -> list:
    units, reps = (64, 1) if args.quick else (320, 3)
    builders = {"coupling flow": survae_flow} if args.quick else {
        "coupling flow": survae_flow, "AbsFlow": abs_flow, "augmented flow": augmented_flow}
    tf_device = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    jax_device = "not installed"
    if importlib.util.find_spec("jax") and importlib.util.find_spec("optax"):
        import jax
        import models_jax as mj

        jax_device = jax.devices()[0].platform
    lines = [f"The 2-D flows: Adam 1e-3, batch 128, {units} steps per repetition, {reps} "
             "interleaved repetitions after a warm-up, 32 steps per execution; JAX "
             f"on {jax_device}, TensorFlow on {tf_device}. Ratio = the variant's time / "
             "compiled `Flow.fit`'s.", "",
             "| model | variant | ms / step (median) | range | time vs compiled Flow.fit |",
             "|---|---|---|---|---|"]
    for label, build in builders.items():
        if time.perf_counter() > deadline:
            lines.append(f"| {label} | skipped: time budget | | | |")
            continue
        blocks = fit_blocks(label, units, 32)
        variants = [fit_variant("tfp_survae Flow.fit, compiled execution", build(), 32, units,
                                compiled_execution=True)]
        if not args.quick:  # the smoke run meets Keras' loop in the image rows
            variants += [fit_variant(f"tfp_survae Flow.fit, Keras' loop, {name}", build(), 32,
                                     units, jit=jit, compiled_execution=False)
                         for name, jit in (("per-step XLA", True), ("no XLA", False))]
        if jax_device == tf_device:
            model_32 = mj.HandWritten(label)
            variants.append(Variant("JAX + optax, 32 steps per lax.scan",
                                    lambda n, m=model_32, b=blocks: m.train(b[: n // 32], 32)))
        if jax_device == tf_device and not args.quick:
            model_1 = mj.HandWritten(label)
            variants.append(Variant("JAX + optax, 1 jit call per step",
                                    lambda n, m=model_1, b=blocks: m.train(b[: n // 32], 1)))
        timings[label] = {}
        lines += _fit_rows(label, variants, units, reps, timings[label])
    if jax_device != tf_device:
        lines += ["", f"JAX rows not run: JAX here: {jax_device}; TensorFlow computes on "
                  f"{tf_device} (`pip install jax[cuda12] optax` for a GPU)."]
    return lines


SECTIONS = {"overhead": overhead_section, "torch": torch_section, "image": image_section,
            "iwbo": iwbo_section, "cost": cost_section, "gpu": gpu_section,
            "profile": profile_section, "jax": jax_section, "memory": memory_section,
            "throughput": throughput_section}


def versions() -> str:
    import tensorflow_probability as tfp

    found = [f"tensorflow {tf.__version__}", f"tensorflow-probability {tfp.__version__}",
             f"keras {keras.__version__}", f"tfp_survae {ts.__version__}"]
    for module in ("torch", "zuko", "jax", "optax", "flowjax", "surjectors"):
        if importlib.util.find_spec(module):
            found.append(f"{module} {__import__(module).__version__}")
    return ", ".join(found)


def _split_sections(text: str) -> tuple[str, dict]:
    """(the text before the first '## N.' heading, {N: the section's text})."""
    pieces = re.split(r"(?m)^(?=## \d+\. )", text)
    head, sections = pieces[0], {}
    for piece in pieces[1:]:
        sections[int(re.match(r"## (\d+)\.", piece).group(1))] = piece.rstrip("\n")
    return head, sections


def merge_sections(existing: str, parts: list, command: str, info: dict) -> str:
    """`existing` results with the sections in `parts` replaced (or added) by number; the other
    sections, the hand-written ones among them, are kept. Each new section says how it was run."""
    head, sections = _split_sections(existing)
    stamp = (f"Run by `{command}` on {time.strftime('%Y-%m-%d')}, {info['cpu']}, "
             f"{info['cores']} cores.")
    for part in parts:
        number = int(re.match(r"## (\d+)\.", part).group(1))
        heading, _, body = part.partition("\n")
        sections[number] = f"{heading}\n\n{stamp}\n{body}"
    return head + "\n\n".join(sections[n] for n in sorted(sections)) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--image_timeout", type=float, default=1800.0)
    parser.add_argument("--gpu_budget", type=float, default=450.0,
                        help="seconds for the GPU section (its image runs stop in time)")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args(argv)
    for device in tf.config.list_physical_devices("GPU"):  # TensorFlow beside JAX, workers
        tf.config.experimental.set_memory_growth(device, True)
    keras.utils.set_random_seed(0)
    info = machine()
    started = time.perf_counter()
    parts = []
    for name in args.sections:
        print(f"running {name} ...", flush=True)
        parts.append(SECTIONS[name](args))
        print(parts[-1] + "\n", flush=True)
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = [
        "# Benchmark results", "",
        f"Produced by `{command.strip()}` in {time.perf_counter() - started:.0f} s.", "",
        f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gib']} GiB; "
        f"{info['platform']}; Python {info['python']}.", "",
        f"Versions: {versions()}.", "",
        "Times are wall clock on this CPU: compare within a table, not across machines.", "",
    ]
    if set(args.sections) != set(SECTIONS) and os.path.exists(args.output):
        text = merge_sections(open(args.output).read(), parts, command.strip(), info)
    else:
        text = "\n".join(header) + "\n" + "\n\n".join(parts) + "\n"
    with open(args.output, "w") as f:
        f.write(text)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
