"""Networks that parameterise couplings, classifiers, encoders and decoders."""

from tfp_survae.nn.circular import CircularEmbedding
from tfp_survae.nn.densenet import DenseBlock, DenseNet, GatedConv
from tfp_survae.nn.heads import ElementwiseParams
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
    "MLP",
    "SetTransformer",
    "TransformerBlock",
]
