"""PyTorch peers of the benchmark flows: zuko's RealNVP, and plain PyTorch written here with
the identical architectures (the 2-D coupling flow, an AbsFlow and an augmented flow)."""

from __future__ import annotations

import math

import torch
from torch import nn

HALF_LOG_TWO_PI = 0.5 * math.log(2 * math.pi)


def mlp(inputs, outputs, hidden=(200, 100)):
    layers, width = [], inputs
    for units in hidden:
        layers += [nn.Linear(width, units), nn.ReLU()]
        width = units
    return nn.Sequential(*layers, nn.Linear(width, outputs))


class CouplingFlow(nn.Module):
    """Affine couplings (MLP 200-100) with the order reversed between them; normal base.

    `abs=True` prepends the AbsFlow's Abs (sign 1/2) and scale-then-logit range map;
    `augment=k` prepends Augment(k) with a standard normal encoder (a lower bound).
    """

    def __init__(self, dim=2, num_couplings=4, hidden=(200, 100), abs=False, augment=0):
        super().__init__()
        self.abs, self.augment = abs, augment
        self.dim = dim + augment
        self.split = self.dim // 2
        self.nets = nn.ModuleList(
            mlp(self.split, 2 * (self.dim - self.split), hidden) for _ in range(num_couplings))

    def log_prob(self, x):
        total = torch.zeros(x.shape[0])
        if self.abs:
            x = x.abs()
            total = total - x.shape[1] * math.log(2.0)
            x = x / 4.0  # scale onto (0, 1), then logit
            total = total - x.shape[1] * math.log(4.0)
            total = total - (torch.log(x) + torch.log1p(-x)).sum(-1)
            x = torch.log(x) - torch.log1p(-x)
        if self.augment:
            e = torch.randn(x.shape[0], self.augment)
            total = total + (0.5 * e.square() + HALF_LOG_TWO_PI).sum(-1)
            x = torch.cat([x, e], -1)
        for i, net in enumerate(self.nets):
            x_a, x_b = x[:, : self.split], x[:, self.split:]
            shift, log_scale = net(x_a).chunk(2, -1)
            x = torch.cat([x_a, x_b * log_scale.exp() + shift], -1)
            total = total + log_scale.sum(-1)
            if i < len(self.nets) - 1:
                x = x.flip(-1)
        return total - (0.5 * x.square() + HALF_LOG_TWO_PI).sum(-1)

    @torch.no_grad()
    def sample(self, n):
        z = torch.randn(n, self.dim)
        for i, net in reversed(list(enumerate(self.nets))):
            if i < len(self.nets) - 1:
                z = z.flip(-1)
            z_a, z_b = z[:, : self.split], z[:, self.split:]
            shift, log_scale = net(z_a).chunk(2, -1)
            z = torch.cat([z_a, (z_b - shift) * (-log_scale).exp()], -1)
        if self.augment:
            z = z[:, : self.dim - self.augment]
        if self.abs:
            z = 4.0 * torch.sigmoid(z)
            z = z * (2 * torch.randint(0, 2, z.shape) - 1)
        return z


class ZukoFlow(nn.Module):
    """zuko's RealNVP-style coupling flow (NICE with affine transforms), 4 couplings, MLP
    200-100, behind the same log_prob / sample interface."""

    def __init__(self):
        super().__init__()
        import zuko

        self.flow = zuko.flows.NICE(features=2, transforms=4, hidden_features=(200, 100))

    def log_prob(self, x):
        return self.flow().log_prob(x)

    @torch.no_grad()
    def sample(self, n):
        return self.flow().sample((n,))
