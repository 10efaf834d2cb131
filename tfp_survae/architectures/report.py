"""Parameter counts of the paper's architectures, beside the reference implementation's."""

from __future__ import annotations

from tfp_survae import _tensors
from tfp_survae.architectures.images import maxpool_flow, multiscale_flow
from tfp_survae.architectures.point_clouds import permute_flow, sort_flow

__all__ = ["REFERENCE_PARAMETERS", "count_trainable_parameters", "parameter_report"]

# Trainable parameters of the official PyTorch models (survae_flows, experiments/).
REFERENCE_PARAMETERS = {
    "cifar10 multiscale_flow": 105_023_968,
    "cifar10 maxpool_flow": 105_023_968,
    "spatial_mnist permute_flow": 6_428_992,
    "spatial_mnist sort_flow": 6_480_192,
}


def parameter_report(print_fn=print) -> dict:
    """Builds each paper preset, prints its parameter count beside the reference's, returns them.

    Building the two CIFAR-10 flows takes a few seconds and about 1 GB of memory.
    """
    builders = {
        "cifar10 multiscale_flow": lambda: multiscale_flow("cifar10"),
        "cifar10 maxpool_flow": lambda: maxpool_flow("cifar10"),
        "spatial_mnist permute_flow": permute_flow,
        "spatial_mnist sort_flow": sort_flow,
    }
    counts = {}
    print_fn(f"{'model':30s} {'tfp_survae':>14s} {'reference':>14s} {'ratio':>7s}")
    for name, build in builders.items():
        counts[name] = count_trainable_parameters(build())
        reference = REFERENCE_PARAMETERS[name]
        print_fn(f"{name:30s} {counts[name]:14,d} {reference:14,d} {counts[name] / reference:7.4f}")
    return counts


def count_trainable_parameters(model) -> int:
    """Trainable parameters (what the reference code reports; Keras' count_params() also counts
    non-trainable state such as ActNorm's initialisation flag)."""
    return sum(_tensors.num_elements(w.shape) for w in model.trainable_weights)

