"""The networks Inspector trains, built from the JSON architecture dict saved with each model.

``build_network(arch)`` is the only way the rest of the project makes a network;
``default_arch`` and ``default_preprocessing`` say what each architecture needs.
"""
from __future__ import annotations

import copy
import math
from typing import Any

from torch import nn

from inspector.core.errors import ConfigError

ARCHITECTURES = ("mlp", "cnn", "effnet-lite0")

# Defaults per architecture; "num_classes" is always given by the caller.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "mlp": {"in_shape": [1, 28, 28], "hidden": 50, "dropout": 0.0},
    "cnn": {"in_channels": 3, "width": 32, "dropout": 0.2},
    # local: None, or the levels of local evidence (nets/local_evidence.py: banks fitted on good parts)
    "effnet-lite0": {"dropout": 0.2, "pretrained": True, "local": None},
}

# What each network expects, in 0..1 pixel units: x = (pixel / 255 - mean) / std.
_PREPROCESSING: dict[str, dict[str, Any]] = {
    # The seed feeds transforms.ToTensor() output unchanged: pixel / 255, no normalisation.
    "mlp": {"size": [28, 28], "channels": 1, "mean": [0.0], "std": [1.0]},
    # Trained from scratch, so any fixed affine map works; 0.5 / 0.25 puts typical pixels
    # in about -2..2. 128 px keeps CPU training fast and still shows small defects.
    "cnn": {"size": [128, 128], "channels": 3, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
    # The checkpoint was trained with TF's EfficientNet-Lite preprocessing, (pixel - 127) / 128
    # in 0..255 units, not the ImageNet mean/std. Measured: images with ImageNet's pixel
    # statistics give the stem BatchNorm's recorded variance within x0.66 this way but x3.3
    # with ImageNet mean/std (tests/unit/test_nets.py checks both).
    "effnet-lite0": {"size": [224, 224], "channels": 3,
                     "mean": [127 / 255] * 3, "std": [128 / 255] * 3},
}


def _check_name(name: Any) -> str:
    if name not in ARCHITECTURES:
        raise ConfigError(f"Unknown network architecture {name!r}; choose one of {', '.join(ARCHITECTURES)}.")
    return name


def default_arch(name: str, num_classes: int, in_channels: int | None = None) -> dict:
    """The full architecture dict for ``name`` with every default filled in.

    ``in_channels=None`` means the architecture's own default (1 for mlp, 3 otherwise), so
    ``default_arch("mlp", 10)`` is exactly the seed's network. effnet-lite0 takes 3 channels only.
    """
    arch = {"name": _check_name(name), "num_classes": num_classes, **copy.deepcopy(_DEFAULTS[name])}
    if in_channels is not None:
        if name == "mlp":
            arch["in_shape"][0] = in_channels
        elif name == "cnn":
            arch["in_channels"] = in_channels
        elif in_channels != 3:
            raise ConfigError(f"effnet-lite0 takes 3-channel (RGB) input, not {in_channels}; "
                              "convert grayscale images to RGB or choose cnn.")
    return _validated(arch)


def default_preprocessing(name: str) -> dict:
    """{"size": [h, w], "channels": 1 or 3, "mean": [...], "std": [...]} the network expects."""
    return copy.deepcopy(_PREPROCESSING[_check_name(name)])


def _int(arch: dict, key: str, low: int, high: int) -> int:
    value = arch[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"Network setting {key} must be a whole number from {low} to {high}, got {value!r}.")
    return value


def _validated(arch: dict) -> dict:
    """A copy of ``arch`` with defaults added; ConfigError on any unknown key or bad value."""
    if not isinstance(arch, dict):
        raise ConfigError(f"The network architecture must be a JSON object, got {type(arch).__name__}.")
    name = _check_name(arch.get("name"))
    if "num_classes" not in arch:
        raise ConfigError("The network architecture lacks num_classes; retrain or fix config.json.")
    full = {"name": name, "num_classes": None, **copy.deepcopy(_DEFAULTS[name])}
    unknown = sorted(set(arch) - set(full))
    if unknown:
        raise ConfigError(f"Unknown setting(s) {', '.join(unknown)} for network {name}; "
                          f"allowed: {', '.join(sorted(full))}.")
    full.update(copy.deepcopy(arch))
    _int(full, "num_classes", 1, 100_000)
    dropout = full["dropout"]
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigError(f"Network setting dropout must be a number from 0 to below 1, got {dropout!r}.")
    full["dropout"] = float(dropout)
    if name == "mlp":
        shape = full["in_shape"]
        if (not isinstance(shape, (list, tuple)) or len(shape) != 3
                or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape)
                or math.prod(shape) > 16_777_216):
            raise ConfigError(f"Network setting in_shape must be [channels, height, width] of "
                              f"positive whole numbers, got {shape!r}.")
        full["in_shape"] = list(shape)
        _int(full, "hidden", 1, 65_536)
    elif name == "cnn":
        _int(full, "in_channels", 1, 64)
        _int(full, "width", 4, 256)
    else:
        if not isinstance(full["pretrained"], bool):
            raise ConfigError(f"Network setting pretrained must be true or false, got {full['pretrained']!r}.")
        if full["local"] is not None:
            full["local"] = _local_levels(full["local"])
    return full


def _local_levels(levels: Any) -> list[dict]:
    from inspector.core.nets.efficientnet_lite import STAGE_CHANNELS

    bad = ConfigError("Network setting local must be a list of levels {stages, grid, size, bank, pca}; "
                      "retrain, or fix config.json.")
    if not isinstance(levels, list) or not 1 <= len(levels) <= 4:
        raise bad
    out = []
    for lv in levels:
        if not isinstance(lv, dict) or set(lv) != {"stages", "grid", "size", "bank", "pca"}:
            raise bad
        stages, size = lv["stages"], lv["size"]
        ok = (isinstance(stages, list) and stages and all(isinstance(s, int) and 2 <= s <= 5 for s in stages)
              and lv["grid"] in (8, 16, 32) and isinstance(size, list) and len(size) == 2
              and all(isinstance(v, int) and 32 <= v <= 2048 and v % 32 == 0 for v in size)
              and isinstance(lv["bank"], int) and 1 <= lv["bank"] <= 100_000
              and isinstance(lv["pca"], int) and 1 <= lv["pca"] <= sum(STAGE_CHANNELS[s] for s in stages))
        if not ok:
            raise bad
        out.append({k: copy.deepcopy(lv[k]) for k in ("stages", "grid", "size", "bank", "pca")})
    return out


def build_network(arch: dict) -> nn.Module:
    """The network described by ``arch`` (see default_arch), in training mode.

    ConfigError for an unknown architecture or a bad value; with effnet-lite0 and
    ``"pretrained": true`` the ImageNet weights are loaded from the installed package
    (never downloaded) and the classifier stays fresh unless num_classes is 1000.
    """
    a = _validated(arch)
    if a["name"] == "mlp":
        from inspector.core.nets.mlp import MLP
        return MLP(a["in_shape"], a["hidden"], a["num_classes"], a["dropout"])
    if a["name"] == "cnn":
        from inspector.core.nets.cnn import SmallCNN
        return SmallCNN(a["in_channels"], a["num_classes"], a["width"], a["dropout"])
    from inspector.core.nets.efficientnet_lite import EfficientNetLite0
    if a["local"]:
        from inspector.core.nets.local_evidence import LocalEvidenceLite0
        model = LocalEvidenceLite0(a["num_classes"], a["dropout"], a["local"])
    else:
        model = EfficientNetLite0(a["num_classes"], a["dropout"])
    if a["pretrained"]:
        from inspector.core.nets.efficientnet_weights import load_pretrained
        load_pretrained(model)
    return model
