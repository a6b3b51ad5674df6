"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant): MBConv blocks, ReLU6, no squeeze-excitation.

Matches the TensorFlow reference so the ImageNet checkpoint (``efficientnet_weights``) works:
TF "same" padding (asymmetric on stride-2 convs), BatchNorm eps 1e-3, stem 32 / head 1280.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

# TF's batch_norm_epsilon. Many checkpoint channels have running_var < 1e-3, so eps matters:
# 1e-5 (PyTorch's default) drops the ImageNet classifier's confidence on test renders.
BN_EPS = 1e-3
NUM_FEATURES = 1280

# One row per stage: (blocks, kernel, first stride, expand ratio, output channels).
# Lite0 has width and depth multipliers 1.0, so this is the B0 table without SE.
STAGE_TABLE = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
# What forward_stages(x, [i]) returns for stage i (output stride w.r.t. the input, channels).
STAGE_STRIDES = (2, 4, 8, 16, 16, 32, 32)
STAGE_CHANNELS = tuple(row[4] for row in STAGE_TABLE)
# The last (deepest) stage at each output stride: the usual taps for feature pyramids.
STAGE_AT_STRIDE = {2: 0, 4: 1, 8: 2, 16: 4, 32: 6}


class SamePad(nn.Module):
    """TF "same" padding for a stride-2 conv: total k - s (or k - 1 on odd sizes), extra on the right.

    For stride 1 this equals symmetric k//2 padding, so only stride-2 convs use this module.
    Sizes are read from the tensor at run time, so any input size works; in an ONNX trace
    they become constants, which is fine because only the batch axis is dynamic.
    """

    def __init__(self, kernel: int, stride: int):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def _amount(self, size: int) -> tuple[int, int]:
        total = max((math.ceil(size / self.stride) - 1) * self.stride + self.kernel - size, 0)
        return total // 2, total - total // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            # Under ONNX tracing the sizes are tensors and become constants here, as intended.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            height, width = int(x.shape[-2]), int(x.shape[-1])
        top, bottom = self._amount(height)
        left, right = self._amount(width)
        if top == bottom == left == right == 0:
            return x
        return F.pad(x, (left, right, top, bottom))


class ConvBN(nn.Module):
    """Conv (no bias) -> BatchNorm -> optional ReLU6, with TF "same" padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True):
        super().__init__()
        self.pad = SamePad(kernel, stride) if stride > 1 else None
        padding = 0 if stride > 1 else kernel // 2
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True) if act else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = self.pad(x)
        x = self.bn(self.conv(x))
        return self.act(x) if self.act is not None else x


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise -> 1x1 linear project (+ identity)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = c_in * expand
        self.expand = ConvBN(c_in, mid, 1) if expand != 1 else None
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        # No stochastic depth: it only matters when training long schedules from scratch.
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0. Expects 3-channel input normalised as
    ``default_preprocessing("effnet-lite0")`` says (224x224 is the trained size)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, stride=2)
        stages, c_in = [], 32
        for blocks, kernel, stride, expand, c_out in STAGE_TABLE:
            stage = [MBConv(c_in if i == 0 else c_out, c_out, kernel, stride if i == 0 else 1,
                            expand) for i in range(blocks)]
            stages.append(nn.Sequential(*stage))
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.head = ConvBN(c_in, NUM_FEATURES, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(NUM_FEATURES, num_classes)
        self.num_features = NUM_FEATURES
        self._init_weights()

    def _init_weights(self) -> None:
        # As in the reference: He-normal (fan-out) convs, uniform(1/sqrt(fan_out)) classifier.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        bound = 1.0 / math.sqrt(self.classifier.out_features)
        nn.init.uniform_(self.classifier.weight, -bound, bound)
        nn.init.zeros_(self.classifier.bias)

    def forward_stages(self, x: torch.Tensor, stages: Sequence[int]) -> list[torch.Tensor]:
        """Feature maps after the requested stages, in the order asked.

        Stage i has output stride STAGE_STRIDES[i] = (2, 4, 8, 16, 16, 32, 32) and
        STAGE_CHANNELS[i] = (16, 24, 40, 80, 112, 192, 320) channels; e.g. stage 2 is the
        stride-8 map (40 ch) and stage 4 the stride-16 map (112 ch) at 224 input: 28x28 and
        14x14. Nothing after the deepest requested stage is computed.
        """
        wanted = [int(s) for s in stages]
        if not wanted or any(s < 0 or s >= len(self.stages) for s in wanted):
            raise ValueError(f"stage indices must be in 0..{len(self.stages) - 1}, got {list(stages)}")
        found: dict[int, torch.Tensor] = {}
        x = self.stem(x)
        for i in range(max(wanted) + 1):
            x = self.stages[i](x)
            if i in wanted:
                found[i] = x
        return [found[s] for s in wanted]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled head features (N, 1280), before dropout and the classifier."""
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.pool(self.head(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.forward_features(x)))

    def backbone_parameters(self) -> Iterator[nn.Parameter]:
        """Everything but the classifier (stem, stages, 1x1 head conv)."""
        for name, p in self.named_parameters():
            if not name.startswith("classifier."):
                yield p

    def head_parameters(self) -> Iterator[nn.Parameter]:
        return self.classifier.parameters()
