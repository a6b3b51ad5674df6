"""Optimizers by name, with L2 as weight decay; L1 is added to the loss by the training loop."""
from __future__ import annotations

from collections.abc import Iterable

import torch

from inspector.core.train_config import TrainConfig


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    wd = cfg.weight_decay
    match cfg.optimizer:
        case "sgd":
            return torch.optim.SGD(params, lr=cfg.lr, weight_decay=wd)
        case "momentum":
            return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=True, weight_decay=wd)
        case "adagrad":
            return torch.optim.Adagrad(params, lr=cfg.lr, weight_decay=wd)
        case "rmsprop":
            return torch.optim.RMSprop(params, lr=cfg.lr, momentum=0.0, alpha=0.99, weight_decay=wd)
        case "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=wd)
        case "adamw":
            return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=wd)
    raise AssertionError(cfg.optimizer)  # TrainConfig.validate() rejects other names


def l1_penalty(model: torch.nn.Module) -> torch.Tensor:
    """Sum of |w| over trainable weight matrices and kernels (biases and norms are left alone)."""
    terms = [p.abs().sum() for n, p in model.named_parameters() if p.requires_grad and p.dim() > 1]
    return torch.stack(terms).sum() if terms else torch.zeros(())


def make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig, steps: int):
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    return None
