"""The picture of the porting tutorial: the density of the paper's 2-D coupling flow computed by
the reference code's formulas (NumPy, weights in PyTorch's layout) and by the tfp_survae flow the
weights were ported into, and their difference.

The weights are drawn as PyTorch initialises `nn.Linear` (uniform in +-1/sqrt(fan_in)), with the
last layers scaled up so the density has some shape; no training is involved. Run from the
repository root:

    python docs/img/make_porting.py          # writes docs/img/tutorials/porting.png
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tfp_survae as ts  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SIZES = [1, 200, 100, 2]           # the paper's coupling network: 1 -> 200 -> 100 -> 2


def torch_like_layers(rng, last_scale=4.0):
    """[(weight [out, in], bias [out])] drawn as torch.nn.Linear initialises them."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        bound = 1.0 / np.sqrt(fan_in) * (last_scale if i == len(SIZES) - 2 else 1.0)
        layers.append((rng.uniform(-bound, bound, (fan_out, fan_in)),
                       rng.uniform(-bound, bound, fan_out)))
    return layers


def reference_log_prob(x, couplings):
    """The reference code's Flow.log_prob for [coupling, Reverse] x 4 (data to latent), with
    AffineCouplingBijection's formulas: condition on the first ceil(D/2) entries, network output
    read as [unconstrained scale | shift] (ElementwiseParams(2)), scale = exp."""
    total = np.zeros(len(x))
    for i, layers in enumerate(couplings):
        k = -(-x.shape[1] // 2)
        h = x[:, :k]
        for j, (w, b) in enumerate(layers):
            h = h @ w.T + b
            h = np.maximum(h, 0.0) if j < len(layers) - 1 else h
        params = h.reshape(len(x), 2, -1).transpose(0, 2, 1)
        scale, shift = np.exp(params[..., 0]), params[..., 1]
        x = np.concatenate([x[:, :k], scale * x[:, k:] + shift], axis=1)
        total += np.log(scale).sum(axis=1)
        if i < len(couplings) - 1:
            x = x[:, ::-1]
    return total - 0.5 * (x**2).sum(axis=1) - np.log(2.0 * np.pi)


def port(couplings):
    """The tfp_survae flow with the same weights: kernels transposed, output halves swapped."""
    transforms = []
    for i, layers in enumerate(couplings):
        net = ts.MLP(SIZES[1:-1], SIZES[-1], dtype="float64")
        net.build((None, SIZES[0]))
        weights = []
        for j, (w, b) in enumerate(layers):
            kernel, bias = w.T, b
            if j == len(layers) - 1:                         # [scale | shift] -> [shift | scale]
                half = kernel.shape[1] // 2
                kernel = np.concatenate([kernel[:, half:], kernel[:, :half]], axis=1)
                bias = np.concatenate([bias[half:], bias[:half]])
            weights += [kernel, bias]
        net.set_weights(weights)
        transforms.append(ts.AffineCoupling(net, scale_fn="exp", dtype="float64"))
        if i < len(couplings) - 1:
            transforms.append(ts.Reverse(dtype="float64"))
    return ts.Flow(ts.StandardNormal([2], dtype="float64"), transforms, dtype="float64")


def main():
    rng = np.random.RandomState(3)
    couplings = [torch_like_layers(rng) for _ in range(4)]
    flow = port(couplings)
    axis = np.linspace(-4.0, 4.0, 200)
    xx, yy = np.meshgrid(axis, axis)
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    reference = reference_log_prob(grid, couplings).reshape(xx.shape)
    ported = flow.log_prob(grid).numpy().reshape(xx.shape)
    difference = np.abs(ported - reference)

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8))
    vmax = float(np.percentile(np.exp(reference), 99.5))
    for ax, values, title in ((axes[0], np.exp(reference), "reference formulas (NumPy)"),
                              (axes[1], np.exp(ported), "ported tfp_survae flow")):
        ax.pcolormesh(axis, axis, values, shading="auto", cmap="viridis", vmin=0, vmax=vmax)
        ax.set_title(f"{title}: p(x)", fontsize=9)
    image = axes[2].pcolormesh(axis, axis, np.log10(difference + 1e-18), shading="auto",
                               cmap="magma")
    fig.colorbar(image, ax=axes[2], fraction=0.046)
    axes[2].set_title(f"log10 |difference of log p(x)|, largest {difference.max():.1e}",
                      fontsize=9)
    for ax in axes:
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    os.makedirs(os.path.join(HERE, "tutorials"), exist_ok=True)
    path = os.path.join(HERE, "tutorials", "porting.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"largest difference {difference.max():.2e}; wrote {path}")


if __name__ == "__main__":
    main()
