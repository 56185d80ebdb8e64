"""Encoders behind a plain registry. Each has ``num_features`` and ``forward(x) -> (N, F)``."""

from siamkit.encoders.convnet import ConvNet
from siamkit.encoders.mlp import MLPEncoder
from siamkit.encoders.registry import create_encoder, encoder_spec, list_encoders, register_encoder
from siamkit.encoders.resnet import BasicBlock, ResNet

__all__ = [
    "BasicBlock",
    "ConvNet",
    "MLPEncoder",
    "ResNet",
    "create_encoder",
    "encoder_spec",
    "list_encoders",
    "register_encoder",
]
