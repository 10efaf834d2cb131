"""Tutorial pictures composed from the committed results of the examples (nothing is trained).

Reads the PNG and JSON files under examples/results/ (written by the example scripts) and
writes one picture per tutorial under docs/img/tutorials/. Run from the repository root:

    python docs/img/make_gallery.py

The pictures of the conditional, distributed and porting tutorials come from their own scripts
(docs/img/make_conditional.py, make_distributed.py, make_porting.py).
"""

from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, os.pardir, os.pardir, "examples", "results")
OUT = os.path.join(HERE, "tutorials")


def result(*parts):
    return os.path.join(RESULTS, *parts)


def panels(images, titles, path, rows=1, width=3.0, suptitle=None):
    """Places PNG files side by side (row-major) with a title above each."""
    columns = -(-len(images) // rows)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, width * rows + 0.3),
                             squeeze=False)
    for ax, image, title in zip(axes.ravel(), images, titles):
        ax.imshow(mpimg.imread(image))
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    for ax in axes.ravel()[len(images):]:
        ax.set_axis_off()
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


def symmetric_2d():
    """Flow (top) and AbsFlow (bottom) densities of the first seed on the four data sets (each
    panel's own title is that seed's test NLL)."""
    names = ["checkerboard", "corners", "eight_gaussians", "four_circles"]
    images, titles = [], []
    for model, label in (("flow", "Flow"), ("abs_flow", "AbsFlow")):
        for name in names:
            images.append(result("symmetric_2d", f"{name}_{model}.png"))
            titles.append(f"{label}, {name.replace('_', ' ')}")
    panels(images, titles, os.path.join(OUT, "symmetric-2d.png"), rows=2, width=2.6)


def images():
    table = json.load(open(result("images", "results.json")))["results"]
    panels([result("images", "multiscale_flow_samples.png"),
            result("images", "maxpool_flow_samples.png")],
           [f"multi-scale (Slice): {table['multiscale_flow']['bits_per_dim_iwbo_10']:.3f} bits/dim",
            f"MaxPoolFlow: {table['maxpool_flow']['bits_per_dim_iwbo_10']:.3f} bits/dim"],
           os.path.join(OUT, "dequantization-images.png"), width=3.2)


def point_clouds():
    table = json.load(open(result("point_clouds", "results.json")))["results"]
    panels([result("point_clouds", "data.png"),
            result("point_clouds", "permute_flow_samples.png"),
            result("point_clouds", "sort_flow_samples.png")],
           ["test clouds (8x8 digits)",
            f"PermuteFlow: PPLL {table['permute_flow']['ppll_iwbo_100']:.2f} (IWBO)",
            f"SortFlow: PPLL {table['sort_flow']['ppll_iwbo_100']:.2f} (exact)"],
           os.path.join(OUT, "point-clouds.png"), width=3.0)


def copy_figure(source, name):
    """Re-saves an example's figure under docs/img/tutorials (same pixels, PNG)."""
    image = mpimg.imread(source)
    path = os.path.join(OUT, name)
    plt.imsave(path, image)
    print(f"wrote {path}")


def serving():
    """Throughput and latency of the load test, from examples/results/serving/results.json."""
    table = json.load(open(result("serving", "results.json")))
    names = {"abs_flow": "AbsFlow (exact)", "augmented_flow": "augmented flow (bound)"}
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    labels = [names[k] for k in names]
    axes[0].bar(labels, [table[k]["requests_per_second"] for k in names], color="tab:blue")
    axes[0].set_title("requests per second (8 clients, 2-core CPU)", fontsize=9)
    width = 0.35
    for offset, key, label in ((-width / 2, "p50_ms", "p50"), (width / 2, "p99_ms", "p99")):
        axes[1].bar([i + offset for i in range(len(names))], [table[k][key] for k in names],
                    width, label=label)
    axes[1].set_xticks(range(len(names)), labels)
    axes[1].set_title("latency, ms", fontsize=9)
    axes[1].legend(fontsize=8)
    wrong = sum(table[k]["wrong_answers"] for k in names)
    requests = sum(table[k]["requests"] for k in names)
    fig.suptitle(f"{requests:,} requests, a quarter of them bad: {wrong} wrong answers",
                 fontsize=10)
    for ax in axes:
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    path = os.path.join(OUT, "serving.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    symmetric_2d()
    images()
    point_clouds()
    copy_figure(result("tfp", "vi_banana.png"), "variational-inference.png")
    copy_figure(result("tfp", "neutra_banana.png"), "neutra-hmc.png")
    serving()
