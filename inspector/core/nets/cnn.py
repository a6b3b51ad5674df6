"""A small CNN trained from scratch: conv-BN-ReLU blocks, global average pooling, linear head."""
from __future__ import annotations

import torch
from torch import nn


def _conv_bn_relu(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class SmallCNN(nn.Module):
    """Seven 3x3 conv-BN-ReLU blocks, total stride 16, channels width..8*width.

    Stride-2 convolutions do the downsampling (cheaper than conv + max-pool at full
    resolution); global average pooling makes it work at any input size >= 32 px (the last
    map is then 2x2). At 128x128 and width 32 it costs about 0.17 GMAC per image.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 2, width: int = 32,
                 dropout: float = 0.2):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _conv_bn_relu(in_channels, w, 2),   # stride 2
            _conv_bn_relu(w, 2 * w, 2),         # stride 4
            _conv_bn_relu(2 * w, 2 * w, 1),
            _conv_bn_relu(2 * w, 4 * w, 2),     # stride 8
            _conv_bn_relu(4 * w, 4 * w, 1),
            _conv_bn_relu(4 * w, 8 * w, 2),     # stride 16
            _conv_bn_relu(8 * w, 8 * w, 1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(8 * w, num_classes)
        self.num_features = 8 * w
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, 8*width), before dropout and the classifier."""
        return self.pool(self.features(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))

    def backbone_parameters(self):
        return self.features.parameters()

    def head_parameters(self):
        return self.classifier.parameters()
