"""Stochastic transforms: both directions sample; V = log p(x | z) - log q(z | x)."""

__all__: list[str] = []
