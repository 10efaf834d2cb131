"""NeuTra: Hamiltonian Monte Carlo preconditioned by a flow fitted by variational inference.

Hoffman et al. (2019), "NeuTra-lizing Bad Geometry in Hamiltonian Monte Carlo Using Neural
Transport", https://arxiv.org/abs/1903.03704. A coupling flow is fitted to a strongly bent banana
by `tfp.vi.fit_surrogate_posterior` (examples/variational_inference.py); `flow.as_bijector()`
then maps HMC's state from the flow's latent space, where the target looks nearly Gaussian, to
the data space (`tfp.mcmc.TransformedTransitionKernel`). Both samplers adapt their step size
(dual averaging) and take the same number of leapfrog steps; the script prints the effective
sample size (`tfp.mcmc.effective_sample_size`, across chains, the worse coordinate) per
gradient evaluation of the target, and plots both samplers' draws over the target's contours.

    python examples/neutra.py --update-results
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from results_dir import add_output_arguments, output_dir
from variational_inference import (
    CONTOURS,
    banana_log_prob,
    fit_surrogate,
    save_figure,
    target_grid,
)

tfd = tfp.distributions


def run_hmc(target_log_prob, *, bijector, num_chains, num_results, num_burnin, leapfrog, seed):
    """Adapted HMC, plain or through `bijector`; returns (samples [results, chains, 2],
    acceptance rate)."""
    hmc = tfp.mcmc.HamiltonianMonteCarlo(target_log_prob, step_size=0.1,
                                         num_leapfrog_steps=leapfrog)
    kernel = hmc if bijector is None else tfp.mcmc.TransformedTransitionKernel(hmc, bijector)
    kernel = tfp.mcmc.DualAveragingStepSizeAdaptation(
        kernel, num_adaptation_steps=int(0.8 * num_burnin), target_accept_prob=0.75)

    def accepted(_, results):
        inner = results.inner_results
        return (inner.inner_results if bijector is not None else inner).is_accepted

    @tf.function
    def chain():
        return tfp.mcmc.sample_chain(
            num_results, current_state=tf.zeros([num_chains, 2]), kernel=kernel,
            num_burnin_steps=num_burnin, trace_fn=accepted, seed=seed)

    samples, is_accepted = chain()
    return samples.numpy(), float(tf.reduce_mean(tf.cast(is_accepted, tf.float32)))


def ess_per_gradient(samples, leapfrog) -> tuple[float, float]:
    """The worse coordinate's effective sample size across chains, and it per gradient
    evaluation of the target (results x chains x leapfrog steps)."""
    ess = tfp.mcmc.effective_sample_size(samples, cross_chain_dims=1).numpy()
    num_results, num_chains = samples.shape[:2]
    worst = float(ess.min())
    return worst, worst / (num_results * num_chains * leapfrog)


def plot(samples, target_log_prob, path, titles):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys, _, log_p = target_grid(target_log_prob, (-7.0, 7.0), (-6.0, 30.0))
    fig, axes = plt.subplots(1, len(samples), figsize=(4.5 * len(samples), 4.5), sharey=True)
    for ax, draws, title in zip(axes, samples, titles):
        ax.contour(xs, ys, log_p, levels=CONTOURS, colors="grey", linewidths=0.8)
        points = draws.reshape(-1, 2)[:4000]
        ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(-7, 7)
        ax.set_ylim(-6, 30)
    save_figure(fig, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bend", type=float, default=1.0)
    parser.add_argument("--vi_steps", type=int, default=3000)
    parser.add_argument("--chains", type=int, default=16)
    parser.add_argument("--results", type=int, default=1000)
    parser.add_argument("--burnin", type=int, default=500)
    parser.add_argument("--leapfrog", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    add_output_arguments(parser, "tfp")
    args = parser.parse_args(argv)
    args.output = output_dir(parser, args, "tfp")

    target = functools.partial(banana_log_prob, bend=args.bend)
    start = time.perf_counter()
    flow, _ = fit_surrogate(target, steps=args.vi_steps, sample_size=128, lr=3e-3,
                            seed=args.seed)
    print(f"fitted the flow by VI in {time.perf_counter() - start:.1f} s")

    results, draws = {}, []
    for name, bijector in [("hmc", None), ("neutra_hmc", flow.as_bijector())]:
        start = time.perf_counter()
        samples, acceptance = run_hmc(target, bijector=bijector, num_chains=args.chains,
                                      num_results=args.results, num_burnin=args.burnin,
                                      leapfrog=args.leapfrog, seed=(args.seed, 5))
        ess, per_gradient = ess_per_gradient(samples, args.leapfrog)
        results[name] = {"ess": ess, "ess_per_gradient": per_gradient,
                         "acceptance": acceptance, "seconds": time.perf_counter() - start,
                         "mean": samples.reshape(-1, 2).mean(0).tolist()}
        draws.append(samples)
        print(f"{name:>10}: ESS {ess:8.1f} ({per_gradient:.4f} per gradient evaluation), "
              f"acceptance {acceptance:.2f}, mean {np.round(results[name]['mean'], 3)}")
    ratio = results["neutra_hmc"]["ess_per_gradient"] / results["hmc"]["ess_per_gradient"]
    results["ratio"] = ratio
    print(f"NeuTra gives {ratio:.1f}x the effective samples per gradient evaluation of HMC")
    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "neutra_banana.png")
    plot(draws, target, path, [
        f"HMC: ESS/grad {results['hmc']['ess_per_gradient']:.4f}",
        f"NeuTra HMC: ESS/grad {results['neutra_hmc']['ess_per_gradient']:.4f}"])
    with open(os.path.join(args.output, "neutra_banana.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
