"""Networks that parameterise couplings, classifiers, encoders and decoders."""

from tfp_survae.nn.mlp import MLP

__all__ = ["MLP"]
