"""Stochastic transforms: both directions sample; V = log p(x | z) - log q(z | x)."""

from tfp_survae.transforms.stochastic.permutation import StochasticPermutation
from tfp_survae.transforms.stochastic.vae import VAE

__all__ = ["StochasticPermutation", "VAE"]
