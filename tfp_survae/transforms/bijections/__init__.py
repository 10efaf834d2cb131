"""Bijections: exact, deterministic both ways, V = log |det dz/dx|."""

from tfp_survae.transforms.bijections.actnorm import ActNorm
from tfp_survae.transforms.bijections.bijector import BijectorTransform
from tfp_survae.transforms.bijections.coupling import AffineCoupling
from tfp_survae.transforms.bijections.permutations import Permute, Reverse

__all__ = ["ActNorm", "AffineCoupling", "BijectorTransform", "Permute", "Reverse"]
