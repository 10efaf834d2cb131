"""Density estimation head to head: tfp_survae's spline and autoregressive flows against zuko's.

Three tasks, all in-process: unconditional two moons (scikit-learn's `make_moons`, noise
0.05), the conditional two-moons simulator of simulation-based inference (Greenberg et al.
2019, p(x | theta) for theta ~ U(-1, 1)^2, written here in NumPy), and data on the torus
[-pi, pi)^2 (`torus`, a mixture of three von Mises components, one across the seam). Every
model trains with Adam 1e-3, batch 256, the same number of steps and the same sizes (3 layers,
MLP/MADE 64-64, 8 bins):

* tfp_survae `masked_autoregressive_flow` with spline transformers (the architecture of zuko's
  `NSF`, an autoregressive spline flow) and with affine transformers (zuko's `MAF`);
* tfp_survae `neural_spline_flow` (spline couplings with LU layers, Durkan et al.'s NSF);
* zuko `NSF` and `MAF`, when torch and zuko are installed (`pip install torch zuko`);
* on the torus: tfp_survae `circular_spline_flow` (circular spline couplings) and an
  autoregressive flow of `CircularSplineMap`s (the architecture of zuko's `NCSF`), against
  zuko `NCSF`;
* on two moons, continuous normalizing flows (`two moons, CNF`): tfp_survae `continuous_flow`
  against zuko `CNF`, both with an MLP of 64-64 units, the exact trace and Dormand-Prince at
  rtol = atol = 1e-5, for `--cnf-steps` steps (they cost far more per step).

`--tasks torus` runs one task. Each library's time per step is measured after a warm-up of 64
steps that also compiles tfp_survae's program (32 steps per compiled execution), over a
multiple of 32 steps, so it holds no compilation.

Prints test NLL (mean and range over seeds) and training time per step, and writes
results.json: per task, the rows, the settings and the machine with its load average at the
start (a run of some tasks keeps the other tasks' results in the file).

    python examples/density_estimation.py --update-results
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfp_survae as ts
from results_dir import add_output_arguments, output_dir

SIZES = dict(layers=3, hidden=(64, 64), bins=8, bound=5.0)


def two_moons(n, seed):
    from sklearn.datasets import make_moons

    x, _ = make_moons(n, noise=0.05, random_state=seed)
    return x.astype("float32"), None


def conditional_two_moons(n, seed):
    """The SBI two-moons simulator: x | theta, theta ~ U(-1, 1)^2."""
    rng = np.random.RandomState(seed)
    theta = rng.uniform(-1.0, 1.0, (n, 2))
    angle = rng.uniform(-np.pi / 2, np.pi / 2, n)
    radius = rng.normal(0.1, 0.01, n)
    p = np.stack([radius * np.cos(angle) + 0.25, radius * np.sin(angle)], 1)
    shift = np.stack([-np.abs(theta[:, 0] + theta[:, 1]) / np.sqrt(2),
                      (-theta[:, 0] + theta[:, 1]) / np.sqrt(2)], 1)
    return (p + shift).astype("float32"), theta.astype("float32")


def torus(n, seed):
    """Angles (phi, psi) in [-pi, pi)^2: three von Mises components, psi bent by sin(phi); the
    second component straddles the seam at +-pi."""
    rng = np.random.RandomState(seed)
    centres = np.array([[-2.0, 1.0], [1.0, 3.0], [2.5, -1.5]])
    k = rng.randint(0, 3, n)
    phi = rng.vonmises(centres[k, 0], 4.0)
    psi = rng.vonmises(centres[k, 1] + 0.8 * np.sin(phi), 6.0)
    wrapped = np.mod(np.stack([phi, psi], 1) + np.pi, 2 * np.pi) - np.pi
    return wrapped.astype("float32"), None


TASKS = {"two moons": (two_moons, None), "conditional two moons": (conditional_two_moons, 2),
         "torus": (torus, None), "two moons, CNF": (two_moons, None)}
ZUKO = {"two moons": ("zuko NSF", "zuko MAF"), "conditional two moons": ("zuko NSF", "zuko MAF"),
        "torus": ("zuko NCSF",), "two moons, CNF": ("zuko CNF",)}
WARM_UP = 64  # steps before the timed ones; tfp_survae compiles its program in them
CNF_TOLERANCE = 1e-5  # rtol and atol of both CNFs' solvers


def circular_autoregressive_flow(layers, hidden, bins):
    """zuko's NCSF architecture: autoregressive circular splines, the order reversed between
    them, a uniform base on the torus."""
    transforms = []
    for i in range(layers):
        transforms.append(ts.MaskedAutoregressive(map=ts.CircularSplineMap(num_bins=bins),
                                                  hidden_units=hidden))
        if i < layers - 1:
            transforms.append(ts.Reverse())
    half = np.full([2], np.pi, np.float32)
    base = tfp.distributions.Independent(tfp.distributions.Uniform(-half, half), 1)
    return ts.Flow(base, transforms)


def survae_models(task, context):
    s = SIZES
    if task == "two moons, CNF":
        return {"tfp_survae continuous_flow": lambda: ts.architectures.continuous_flow(
            2, hidden_units=s["hidden"], rtol=CNF_TOLERANCE, atol=CNF_TOLERANCE)}
    if task == "torus":
        return {
            "tfp_survae circular_spline_flow (coupling)": lambda: ts.architectures.
            circular_spline_flow(2, num_layers=s["layers"], hidden_units=s["hidden"],
                                 num_bins=s["bins"]),
            "tfp_survae circular MAF (NCSF's architecture)": lambda:
            circular_autoregressive_flow(s["layers"], s["hidden"], s["bins"]),
        }
    return {
        "tfp_survae MAF (spline)": lambda: ts.architectures.masked_autoregressive_flow(
            2, num_layers=s["layers"], hidden_units=s["hidden"], transformer="spline",
            num_bins=s["bins"], bound=s["bound"], condition_size=context),
        "tfp_survae MAF (affine)": lambda: ts.architectures.masked_autoregressive_flow(
            2, num_layers=s["layers"], hidden_units=s["hidden"], condition_size=context),
        "tfp_survae NSF (coupling)": lambda: ts.architectures.neural_spline_flow(
            2, num_layers=s["layers"], hidden_units=s["hidden"], num_bins=s["bins"],
            bound=s["bound"], condition_size=context),
    }


def timed_steps(steps):
    """The steps timed after the warm-up: a multiple of 32, so that tfp_survae's last
    execution is as long as the others (a shorter one would compile a second program)."""
    return max(32, (steps - WARM_UP) // 32 * 32)


def train_survae(build, x, c, x_test, c_test, steps, batch, seed):
    keras.utils.set_random_seed(seed)
    flow = build()
    data = {"x": x} if c is None else {"x": x, "condition": c}
    dataset = tf.data.Dataset.from_tensor_slices(data).shuffle(len(x), seed=seed).batch(
        batch, drop_remainder=True).repeat()
    flow.compile(keras.optimizers.Adam(1e-3), steps_per_execution=32)
    flow.fit(dataset, steps_per_epoch=WARM_UP, epochs=1, verbose=0)  # compile and warm up
    timed = timed_steps(steps)
    start = time.perf_counter()
    flow.fit(dataset, steps_per_epoch=timed, epochs=1, verbose=0)
    seconds = (time.perf_counter() - start) / timed
    nll = -float(np.mean(flow.log_prob(x_test, condition=c_test)))
    return nll, seconds


def train_zuko(name, x, c, x_test, c_test, steps, batch, seed):
    import torch
    import zuko

    torch.manual_seed(seed)
    s = SIZES
    context = 0 if c is None else c.shape[1]
    if name == "zuko CNF":
        flow = zuko.flows.CNF(2, context, hidden_features=s["hidden"], rtol=CNF_TOLERANCE,
                              atol=CNF_TOLERANCE)
    elif name.endswith("NCSF"):
        flow = zuko.flows.NCSF(2, context, transforms=s["layers"], hidden_features=s["hidden"],
                               bins=s["bins"])
    elif name.endswith("NSF"):
        flow = zuko.flows.NSF(2, context, transforms=s["layers"], hidden_features=s["hidden"],
                              bins=s["bins"])
    else:
        flow = zuko.flows.MAF(2, context, transforms=s["layers"], hidden_features=s["hidden"])
    optimizer = torch.optim.Adam(flow.parameters(), lr=1e-3)
    xt, ct = torch.tensor(x), None if c is None else torch.tensor(c)
    rng = np.random.RandomState(seed)

    def step():
        index = torch.tensor(rng.randint(0, len(x), batch))
        dist = flow(None if ct is None else ct[index])
        loss = -dist.log_prob(xt[index]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(WARM_UP):
        step()
    timed = timed_steps(steps)
    start = time.perf_counter()
    for _ in range(timed):
        step()
    seconds = (time.perf_counter() - start) / timed
    with torch.no_grad():
        dist = flow(None if c_test is None else torch.tensor(c_test))
        nll = -float(dist.log_prob(torch.tensor(x_test)).mean())
    return nll, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--cnf-steps", type=int, default=1000,
                        help="training steps of the continuous flows (two moons, CNF)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--train", type=int, default=20_000)
    parser.add_argument("--test", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    add_output_arguments(parser, "density_estimation")
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "density_estimation")
    has_zuko = bool(importlib.util.find_spec("zuko") and importlib.util.find_spec("torch"))
    results, runs_of = {}, {}
    for task in args.tasks:
        simulate, context = TASKS[task]
        x, c = simulate(args.train, 100)
        x_test, c_test = simulate(args.test, 200)
        rows = {}
        runs_of[task] = {"settings": {**vars(args), "tasks": [task]}, "machine": machine()}
        steps = args.cnf_steps if task == "two moons, CNF" else args.steps
        runs = {name: (lambda seed, b=build: train_survae(b, x, c, x_test, c_test, steps,
                                                          args.batch, seed))
                for name, build in survae_models(task, context).items()}
        if has_zuko:
            for name in ZUKO[task]:
                runs[name] = (lambda seed, n=name: train_zuko(n, x, c, x_test, c_test,
                                                              steps, args.batch, seed))
        for name, run in runs.items():
            outcomes = [run(seed) for seed in args.seeds]
            nll = [o[0] for o in outcomes]
            rows[name] = {"test_nll": nll, "test_nll_mean": float(np.mean(nll)),
                          "ms_per_step": float(np.median([o[1] for o in outcomes]) * 1e3)}
            print(f"{task:22s} {name:46s} test NLL {np.mean(nll):7.3f} "
                  f"[{min(nll):.3f}, {max(nll):.3f}]   {rows[name]['ms_per_step']:.2f} ms/step",
                  flush=True)
        results[task] = rows
    if not has_zuko:
        print("zuko and torch are not installed: only tfp_survae's rows were run.")
    path = os.path.join(args.output, "results.json")
    kept = {"results": {}, "runs": {}}
    if os.path.exists(path):
        with open(path) as f:
            kept = json.load(f)
    with open(path, "w") as f:
        json.dump({"results": {**kept["results"], **results}, "runs": {**kept["runs"], **runs_of}},
                  f, indent=2)
    return results


def machine() -> dict:
    """The processor, its cores and the load average (1, 5, 15 minutes) when a task starts."""
    cpu = platform.processor() or "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    return {"cpu": cpu, "cores": os.cpu_count(),
            "load_average": [round(v, 2) for v in os.getloadavg()]}


if __name__ == "__main__":
    main()
