"""Anomaly model versions on disk: config.json + bank.safetensors + features.onnx (+ ignore_mask.png),
saved and verified through the project's model registry; and the project's ignore mask."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from inspector.core.anomaly.features import FeatureRunner, build_extractor
from inspector.core.anomaly.model import AnomalyConfig, AnomalyModel
from inspector.core.anomaly.threshold import Calibration
from inspector.core.errors import ModelError, ProjectError
from inspector.core.imageio import decode_image, encode_png, read_image_bytes
from inspector.core.image_store import write_file_atomically

KIND = "anomaly"
BANK_FILE = "bank.safetensors"
ONNX_FILE = "features.onnx"
MASK_FILE = "ignore_mask.png"
PROJECT_MASK = "anomaly_ignore_mask.png"  # in the project folder: white (non-zero) = ignore


# -- the project's ignore mask ------------------------------------------------------------------------
def ignore_mask_path(project) -> Path:
    return Path(project.root) / PROJECT_MASK


def read_ignore_mask(project) -> np.ndarray | None:
    """H×W uint8 (255 = ignore) or None when the project has no mask."""
    p = ignore_mask_path(project)
    if not p.is_file():
        return None
    return _mask_from_rgb(decode_image(read_image_bytes(p), name=p.name))


def write_ignore_mask(project, mask: np.ndarray | None) -> Path:
    """Store (or with None, remove) the project's ignore mask. Non-zero pixels are ignored. It is
    drawn on the image frame and stretched to each image's size; models copy it when they are fitted."""
    p = ignore_mask_path(project)
    if mask is None:
        if p.is_file():
            p.unlink()
            project.record("mask.clear", {"file": PROJECT_MASK})
        return p
    m = np.asarray(mask)
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.ndim != 2 or m.size == 0:
        raise ProjectError(f"an ignore mask must be a 2-D image, got shape {np.shape(mask)} — draw it on the part image")
    check_ignore_mask((m > 0).astype(np.uint8))
    png = encode_png(((m > 0) * 255).astype(np.uint8))
    write_file_atomically(p, png)
    project.record("mask.set", {"file": PROJECT_MASK, "sha256": hashlib.sha256(png).hexdigest(),
                                "ignored": round(float((m > 0).mean()), 4)})
    return p


def check_ignore_mask(mask) -> None:
    """Refuse a mask that leaves (almost) nothing to inspect: every part would pass unseen."""
    if mask is None:
        return
    inspected = float((mask == 0).mean())
    if inspected < 0.002:
        raise ProjectError(f"the ignore mask covers {1 - inspected:.1%} of the part, leaving nothing to inspect — "
                          "paint only fixtures and labels white (`inspector anomaly mask --set`), or --clear it")


def _mask_from_rgb(rgb: np.ndarray) -> np.ndarray:
    return ((rgb.max(axis=2) if rgb.ndim == 3 else rgb) > 127).astype(np.uint8) * 255


# -- saving -------------------------------------------------------------------------------------------
def model_config(model: AnomalyModel) -> dict:
    """What config.json holds besides the registry's own fields."""
    return {
        "backbone": "effnet-lite0 (ImageNet, frozen)",
        "anomaly": model.cfg.to_dict(),
        "scales": model.scales,
        "ref_side": model.ref_side,
        "pos_scale": model.pos_scale,
        "coverage": model.coverage,
        "bank": {"entries": int(model.bank.shape[0]), "dim": int(model.bank.shape[1]),
                 "feature_dim": int(model.mean.shape[0])},
        "calibration": model.calibration.to_dict() if model.calibration is not None else None,
        "ignore_mask": model.ignore_mask is not None,
        "head": model.head,
        "baseline": list(model.baseline.shape) if model.baseline is not None else None,
        "info": model.info,
    }


def model_writers(model: AnomalyModel) -> dict:
    if model.onnx is None:
        raise ModelError("this anomaly model has no ONNX feature graph to save — refit it")

    def bank(p: Path) -> None:
        tensors = {"bank": model.bank.contiguous(), "bank_ids": model.bank_ids.contiguous(),
                   "mean": model.mean.contiguous(), "basis": model.basis.contiguous()}
        if model.baseline is not None:
            tensors["baseline"] = torch.from_numpy(model.baseline).contiguous()
        save_file(tensors, str(p))

    writers = {BANK_FILE: bank, ONNX_FILE: lambda p: Path(p).write_bytes(model.onnx)}
    if model.ignore_mask is not None:
        writers[MASK_FILE] = lambda p: Path(p).write_bytes(encode_png(model.ignore_mask))
    return writers


def save_model(registry, model: AnomalyModel, *, summary: dict | None = None, parent: str | None = None,
               extra: dict | None = None):
    cal = model.calibration
    summ = {"arch": "patchcore-effnet-lite0", "bank_size": int(model.bank.shape[0]),
            "threshold": cal.threshold if cal else None, "frr_target": cal.frr_target if cal else None,
            "train": model.info.get("train_images"), "val": len(cal.scores) if cal else 0, **(summary or {})}
    return registry.save(KIND, dict(model_config(model), **(extra or {})), model_writers(model),
                         summary=summ, parent=parent)


# -- loading ------------------------------------------------------------------------------------------
def require_anomaly(registry, version: str | None = None):
    """The version asked for, or the active anomaly model; verified against its recorded hashes (a
    corrupt or edited file raises ModelError)."""
    if version:
        mv = registry.get(version)
        if mv.kind != KIND:
            raise ModelError(f"model {version} is a {mv.kind}, not an anomaly model — pass an anomaly version "
                             "(see `inspector models list`)")
    else:
        mv = registry.active(KIND)
        if mv is None:
            raise ModelError("no active anomaly model in this project — fit one (`inspector anomaly fit`) or pass --model")
    return registry.verify(mv.version)


def load_model(registry, version: str | None = None, backend: str = "auto", threads: int | None = None) -> AnomalyModel:
    mv = require_anomaly(registry, version)
    return load_model_dir(mv.path, registry.read_config(mv.version), backend, threads)


def load_model_dir(path: str | Path, config: dict, backend: str = "auto", threads: int | None = None) -> AnomalyModel:
    """Load a version folder whose hashes were already checked (load_model does that)."""
    path = Path(path)
    name = config.get("version", path.name)
    try:
        tensors = load_file(str(path / BANK_FILE))
        bank, ids, mean, basis = (tensors[k] for k in ("bank", "bank_ids", "mean", "basis"))
        baseline = tensors["baseline"] if config.get("baseline") else None
    except Exception as e:  # header damage, truncation or a missing tensor all mean: unusable
        raise ModelError(f"model {name}: {BANK_FILE} is unreadable ({str(e).splitlines()[0][:160]}) — "
                         "refit the anomaly model or roll back") from None
    b = config["bank"]
    if (tuple(bank.shape) != (b["entries"], b["dim"]) or mean.shape[0] != b["feature_dim"]
            or tuple(basis.shape) != (b["feature_dim"], b["dim"] - (2 if config.get("pos_scale") else 0))
            or ids.shape[0] != b["entries"]
            or not torch.isfinite(bank).all()
            or (baseline is not None and (list(baseline.shape) != list(config["baseline"])
                                          or not torch.isfinite(baseline).all()))):
        raise ModelError(f"model {name}: {BANK_FILE} does not match its config.json (bank {tuple(bank.shape)}) — "
                         "refit the anomaly model or roll back")
    cfg = AnomalyConfig.from_dict(config["anomaly"])
    runner = None
    if backend in ("auto", "onnx"):
        try:
            runner = FeatureRunner(path / ONNX_FILE, threads=threads)
        except (ModelError, ImportError):
            if backend == "onnx":
                raise
    if runner is None:  # the extractor is the frozen ImageNet network, so PyTorch can rebuild it exactly
        runner = FeatureRunner(torch_model=build_extractor(cfg.extractor_dict()))
    mask = None
    if config.get("ignore_mask"):
        mask = _mask_from_rgb(decode_image(read_image_bytes(path / MASK_FILE), name=MASK_FILE))
    cal = Calibration.from_dict(config["calibration"]) if config.get("calibration") else None
    onnx = (path / ONNX_FILE).read_bytes() if (path / ONNX_FILE).is_file() else None
    model = AnomalyModel(cfg, scales=config["scales"], ref_side=config["ref_side"], mean=mean.numpy(),
                         basis=basis.numpy(), bank=bank, bank_ids=ids, coverage=config["coverage"], runner=runner,
                         onnx=onnx, calibration=cal, ignore_mask=mask, info=config.get("info"),
                         head=config.get("head"), pos_scale=config.get("pos_scale", 0.0),
                         baseline=baseline.numpy() if baseline is not None else None)
    model.version = name
    return model
