"""Training configuration: every knob of a run, validated, and saved with the model as JSON."""
from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from inspector.core.errors import ConfigError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
# Momentum when the config leaves it unset: the seed's 0.9 for SGD with momentum, none for RMSprop
# (PyTorch's and Keras's default there).
DEFAULT_MOMENTUM = {"momentum": 0.9, "nesterov": 0.9, "rmsprop": 0.0}
MODES = ("head", "finetune", "scratch")
SCHEDULES = ("constant", "cosine")
STANDARDIZE = ("fixed", "dataset", "none")
# What each standardization does, for help texts (CLI and GUI).
STANDARDIZE_HELP = {"fixed": "the network's own fixed mean and std",
                    "dataset": "mean and std measured on the training images",
                    "none": "pixel / 255 only, as the seed feeds its MLP"}


@dataclass
class AugmentConfig:
    """Augmentations that keep an inspection image plausible: a part may be flipped or sit a
    little rotated or shifted, and lighting drifts; colours and geometry are not distorted."""

    hflip: bool = True
    vflip: bool = True
    rotate_deg: float = 10.0
    shift: float = 0.05  # fraction of the image size
    brightness: float = 0.1  # +- additive, in 0..1 pixel units
    contrast: float = 0.1  # +- relative

    @property
    def enabled(self) -> bool:
        return bool(self.hflip or self.vflip or self.rotate_deg or self.shift
                    or self.brightness or self.contrast)


@dataclass
class TrainConfig:
    arch: str = "effnet-lite0"
    mode: str = "head"  # head: frozen pretrained backbone; finetune: its upper stages or all; scratch: random init
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 1e-3
    # momentum: classical (heavy-ball) SGD momentum; nesterov: Nesterov's; rmsprop: its momentum term.
    # None = the optimizer's default (DEFAULT_MOMENTUM); the other optimizers have no momentum setting.
    momentum: float | None = None
    weight_decay: float = 0.0  # L2
    l1: float = 0.0
    dropout: float = 0.2
    schedule: str = "constant"
    standardize: str = "fixed"  # input standardization: one of STANDARDIZE (see STANDARDIZE_HELP)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    early_stopping: int = 0  # patience in epochs without a better validation score; 0 = off
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision, CUDA only
    input_size: list[int] | None = None  # [h, w]; None = the architecture's default
    label_smoothing: float = 0.0
    head_warmup_epochs: int = 30  # finetune: train the head on frozen features first (0 = off)
    # finetune: the stem and this many of EfficientNet-Lite0's 7 stages keep their ImageNet weights; their output
    # is computed once per image (and per augmented copy) and only the stages above train. 0 = end to end.
    frozen_stages: int = 0
    # the OK/NG cut-off is set for this share of false rejects on the good validation parts (core/decision.py)
    frr_target: float = 0.01
    # Fast and Accurate: local evidence for fine defects (nets/local_evidence.py): on, off, or auto (on when a good
    # class has at least 5 training parts and there are at most 1,000 training images)
    local_evidence: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.augment, dict):
            self.augment = _from_dict(AugmentConfig, self.augment, "augment")
        self.validate()

    def validate(self) -> None:
        from inspector.core.nets import ARCHITECTURES

        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ConfigError(msg)

        need(self.arch in ARCHITECTURES, f"unknown architecture {self.arch!r} — choose one of {', '.join(ARCHITECTURES)}")
        need(self.mode in MODES, f"unknown mode {self.mode!r} — choose one of {', '.join(MODES)}")
        need(self.mode == "scratch" or self.arch == "effnet-lite0",
             f"mode {self.mode!r} needs a pretrained network — use --arch effnet-lite0 or --mode scratch")
        need(self.optimizer in OPTIMIZERS, f"unknown optimizer {self.optimizer!r} — choose one of {', '.join(OPTIMIZERS)}")
        need(self.schedule in SCHEDULES, f"unknown schedule {self.schedule!r} — choose one of {', '.join(SCHEDULES)}")
        need(self.standardize in STANDARDIZE, f"unknown standardize {self.standardize!r} — choose one of {', '.join(STANDARDIZE)}")
        need(isinstance(self.epochs, int) and 1 <= self.epochs <= 10_000, "epochs must be a whole number from 1 to 10000")
        need(isinstance(self.batch_size, int) and 1 <= self.batch_size <= 4096, "batch size must be from 1 to 4096")
        need(0 < self.lr <= 10, "learning rate must be above 0 and at most 10 (typical: 1e-4 to 1e-1)")
        need(self.momentum is None or (isinstance(self.momentum, (int, float)) and 0 <= self.momentum < 1),
             "momentum must be in [0, 1)")
        need(self.momentum is None or self.optimizer in DEFAULT_MOMENTUM,
             f"optimizer {self.optimizer} has no momentum setting — momentum applies to "
             f"{', '.join(DEFAULT_MOMENTUM)}")
        need(self.optimizer != "nesterov" or effective_momentum(self) > 0,
             "nesterov needs a momentum above 0 (e.g. 0.9) — or use optimizer sgd")
        need(self.weight_decay >= 0 and self.l1 >= 0, "L1 and L2 (weight decay) must be zero or positive")
        need(0 <= self.dropout < 1, "dropout must be in [0, 1)")
        need(0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)")
        need(isinstance(self.head_warmup_epochs, int) and self.head_warmup_epochs >= 0,
             "head warm-up epochs must be zero (off) or a positive whole number")
        need(isinstance(self.frozen_stages, int) and 0 <= self.frozen_stages <= 6,
             "frozen stages must be a whole number from 0 (train the whole network) to 6")
        need(not self.frozen_stages or self.mode == "finetune",
             "frozen stages apply to mode finetune (Accurate) only — set them to 0")
        need(self.early_stopping >= 0, "early stopping patience must be zero (off) or positive")
        need(isinstance(self.frr_target, (int, float)) and 0 <= self.frr_target < 0.5,
             "target false-reject rate must be a fraction from 0 to below 0.5, such as 0.01 (1 %)")
        need(self.local_evidence in ("auto", "on", "off"), "local evidence must be auto, on or off")
        if self.local_evidence == "on":
            from inspector.core.nets.local_evidence import supported
            need(supported(self), "local evidence works with Fast, or Accurate with frozen stages, on effnet-lite0 "
                                   "with standardize fixed — set it to auto or off")
        need(self.device in ("auto", "cpu", "cuda", "mps"), "device must be auto, cpu, cuda or mps")
        if self.input_size is not None:
            ok = (len(self.input_size) == 2 and all(isinstance(v, int) and 16 <= v <= 2048 for v in self.input_size))
            need(ok, "input size must be two whole numbers [height, width] from 16 to 2048")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return _from_dict(cls, d, "training config")


def effective_momentum(cfg: TrainConfig) -> float:
    """The momentum the optimizer runs with: the one set, or its default (0 where it has none)."""
    if cfg.optimizer not in DEFAULT_MOMENTUM:
        return 0.0
    return float(DEFAULT_MOMENTUM[cfg.optimizer] if cfg.momentum is None else cfg.momentum)


def _from_dict(cls, d: dict, what: str):
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"unknown {what} setting(s): {', '.join(unknown)} — allowed: {', '.join(sorted(names))}")
    try:
        return cls(**d)
    except TypeError as e:  # wrong value types slip past dataclass construction as TypeError
        raise ConfigError(f"bad {what}: {e}") from None


def presets_dir() -> Path:
    """Where the shipped presets are: models/presets/ of the frozen app's bundle, inspector/presets/
    of an installed wheel (setup.py copies them there), or models/presets/ of the repository."""
    meipass = getattr(sys, "_MEIPASS", None)
    if meipass:
        return Path(meipass) / "models" / "presets"
    package = Path(__file__).resolve().parents[1]
    installed = package / "presets"
    return installed if installed.is_dir() else package.parent / "models" / "presets"


def load_presets() -> dict[str, dict]:
    """Ready-made settings shipped as JSON (the GUI shows their labels: Fast, Accurate, …)."""
    out = {}
    for f in sorted(presets_dir().glob("*.json")):
        try:
            d = json.loads(f.read_text(encoding="utf-8"))
            name = d["name"]
            if not isinstance(name, str) or not isinstance(d.get("train"), dict):
                raise TypeError("no name or train settings")
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"training preset {f} is damaged ({e}) — reinstall Inspector, or fix or remove "
                              "that file") from None
        out[name] = d
    if not out:
        raise ConfigError(f"no training presets found in {presets_dir()} — reinstall Inspector")
    return out


def preset(name: str, **overrides) -> TrainConfig:
    presets = load_presets()
    if name not in presets:
        raise ConfigError(f"unknown preset {name!r} — choose one of {', '.join(presets)}")
    d = dict(presets[name]["train"])
    d.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig.from_dict(d)
