"""Batch augmentation on tensors (no per-sample PIL round trips): flips, small rotations and
shifts, brightness and contrast — changes a real part on a real line can show."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from inspector.core.train_config import AugmentConfig


def augment_batch(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """x: N×C×H×W float in 0..1 on any device. Returns a new tensor; x is not modified."""
    n = x.shape[0]

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(x.device)

    if cfg.hflip:
        x = torch.where((rand(n) < 0.5).view(n, 1, 1, 1), x.flip(-1), x)
    if cfg.vflip:
        x = torch.where((rand(n) < 0.5).view(n, 1, 1, 1), x.flip(-2), x)
    if cfg.rotate_deg or cfg.shift:
        angle = (rand(n) * 2 - 1) * math.radians(cfg.rotate_deg)
        shift = (rand(n, 2) * 2 - 1) * cfg.shift * 2  # affine_grid works in [-1, 1] units
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                             torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if cfg.brightness or cfg.contrast:
        c = 1 + (rand(n, 1, 1, 1) * 2 - 1) * cfg.contrast
        b = (rand(n, 1, 1, 1) * 2 - 1) * cfg.brightness
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = ((x - mean) * c + mean + b).clamp_(0, 1)
    return x
