"""Networks that parameterise couplings, classifiers, encoders and decoders."""

from tfp_survae.nn.circular import CircularEmbedding
from tfp_survae.nn.densenet import DenseBlock, DenseNet, GatedConv
from tfp_survae.nn.heads import ElementwiseParams
from tfp_survae.nn.lipschitz import LipschitzMLP, lipswish
from tfp_survae.nn.made import MADE
from tfp_survae.nn.mlp import MLP
from tfp_survae.nn.transformer import SetTransformer, TransformerBlock, sigmoid_gelu

__all__ = [
    "MADE",
    "sigmoid_gelu",
    "CircularEmbedding",
    "DenseBlock",
    "DenseNet",
    "ElementwiseParams",
    "GatedConv",
    "LipschitzMLP",
    "lipswish",
    "MLP",
    "SetTransformer",
    "TransformerBlock",
]
