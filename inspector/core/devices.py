"""Where tensors run: CUDA when present, then Apple MPS, then the CPU."""
from __future__ import annotations

from contextlib import contextmanager

import torch

from inspector.core.errors import ConfigError


def select_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError("CUDA was asked for but no CUDA GPU is available — use --device auto or cpu")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("MPS was asked for but is not available — use --device auto or cpu")
    return torch.device(requested)


@contextmanager
def torch_threads(n: int | None):
    """Run a block with n intra-op threads. Tiny models (the seed's MLP, a linear head) are much
    faster on one thread: with more, every small op pays a thread hand-off, and on a busy
    2-core PC that hand-off costs more than the op (measured: 0.6 s vs 10 s for the seed MLP)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
