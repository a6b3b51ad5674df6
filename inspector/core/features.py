"""Frozen-backbone features for the `head` preset: computed once per image, cached by image hash."""
from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from inspector.core.arrays import ArrayDataset


class FeatureCache:
    """Feature vectors keyed by (backbone id, image key) in a small SQLite file.

    It is a cache: deleting the file loses nothing but time.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS features (backbone TEXT, key TEXT, vec BLOB,"
                         " PRIMARY KEY (backbone, key))")

    def get(self, backbone: str, keys: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                rows = self._db.execute(
                    f"SELECT key, vec FROM features WHERE backbone=? AND key IN ({','.join('?' * len(chunk))})",
                    [backbone, *chunk]).fetchall()
                out.update((k, np.frombuffer(v, np.float32)) for k, v in rows)
        return out

    def put(self, backbone: str, items: dict[str, np.ndarray]) -> None:
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO features VALUES (?, ?, ?)",
                                 [(backbone, k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()])

    def close(self) -> None:
        self._db.close()


def backbone_id(model: torch.nn.Module, pre: dict) -> str:
    """Identifies what produced a feature: the backbone's exact weights and preprocessing, so a
    warm start from a fine-tuned version never reuses ImageNet features."""
    h = hashlib.sha256(json.dumps(pre, sort_keys=True).encode())
    for name, t in model.state_dict().items():
        if not name.startswith("classifier."):
            h.update(name.encode())
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class _FeaturesGraph(torch.nn.Module):
    """uint8 N×H×W×C in, pooled features out: the preprocessing travels inside the ONNX graph."""

    def __init__(self, model: torch.nn.Module, pre: dict):
        super().__init__()
        self.model = model
        c = pre["channels"]
        self.register_buffer("mean", torch.tensor(pre["mean"]).view(1, c, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(pre["std"]).view(1, c, 1, 1) * 255.0)

    def standardized(self, image: torch.Tensor) -> torch.Tensor:
        return (image.permute(0, 3, 1, 2).float() - self.mean) / self.std

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model.forward_features(self.standardized(image))


def _export(graph: torch.nn.Module, pre: dict, output: str) -> bytes:
    """The graph (uint8 N×H×W×C "image" in, `output` out, any batch size) as ONNX bytes."""
    from inspector.core.classifier import ONNX_OPSET

    h, w = pre["size"]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(graph.eval(), (torch.zeros(1, h, w, pre["channels"], dtype=torch.uint8),), buf, dynamo=False,
                          opset_version=ONNX_OPSET, input_names=["image"], output_names=[output],
                          dynamic_axes={"image": {0: "batch"}, output: {0: "batch"}})
    return buf.getvalue()


def user_cache_dir() -> Path:
    """Per-user cache (INSPECTOR_CACHE_DIR, else XDG_CACHE_HOME or ~/.cache, /inspector)."""
    env = os.environ.get("INSPECTOR_CACHE_DIR")
    base = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inspector"
    base.mkdir(parents=True, exist_ok=True)
    return base


_SESSIONS: dict[str, object] = {}  # backbone id -> session: train and val (and the next run) share one export


def _onnx_features(model: torch.nn.Module, pre: dict, onnx_path: Path | None, bid: str):
    """An ONNX Runtime session computing features: about 4x faster than PyTorch eager on a CPU.
    The exported graph is kept beside the cache so later runs skip the export."""
    from inspector.core.onnx_sessions import onnx_session

    if bid in _SESSIONS:
        return _SESSIONS[bid]

    if onnx_path is None or not onnx_path.is_file():
        data = _export(_FeaturesGraph(model, pre), pre, "features")
        if onnx_path is not None:
            tmp = onnx_path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, onnx_path)
    else:
        data = onnx_path.read_bytes()
    if len(_SESSIONS) >= 2:
        _SESSIONS.pop(next(iter(_SESSIONS)))
    _SESSIONS[bid] = onnx_session(data, gpu=False)
    return _SESSIONS[bid]


@torch.inference_mode()
def extract_features(model: torch.nn.Module, ds: ArrayDataset, pre: dict, device: torch.device, *,
                     cache: FeatureCache | None = None, cancel=None,
                     progress: Callable[[int, int], None] | None = None, batch_size: int = 32) -> torch.Tensor:
    """Pooled backbone features (N×D float32 on the CPU) for every image of ds. The model must
    be in eval mode with its backbone weights final (they are part of the cache key)."""
    bid = backbone_id(model, pre)
    have = cache.get(bid, ds.keys) if cache is not None else {}
    todo = [i for i, k in enumerate(ds.keys) if k not in have]
    model.eval()
    if not todo:
        run = None
    elif device.type == "cpu":
        folder = cache.path.parent if cache is not None else user_cache_dir()
        sess = _onnx_features(model, pre, folder / f"backbone-{bid}.onnx", bid)
        run = lambda batch: sess.run(["features"], {"image": batch})[0]  # noqa: E731
    else:
        graph = _FeaturesGraph(model, pre).to(device).eval()
        run = lambda batch: graph(torch.from_numpy(batch).to(device)).float().cpu().numpy()  # noqa: E731
    new: dict[str, np.ndarray] = {}
    total = len(ds)
    for s in range(0, len(todo), batch_size):
        if cancel is not None:
            cancel.check()
        idx = todo[s:s + batch_size]
        f = run(np.ascontiguousarray(ds.images[idx]))
        new.update((ds.keys[i], f[j]) for j, i in enumerate(idx))
        if progress is not None:
            progress(total - len(todo) + s + len(idx), total)
    if cache is not None and new:
        cache.put(bid, new)
    have.update(new)
    return torch.from_numpy(np.stack([have[k] for k in ds.keys]).astype(np.float32))


class _LowerGraph(_FeaturesGraph):
    """uint8 N×H×W×C in, the map after one stage out (the frozen part of an Accurate run)."""

    def __init__(self, model: torch.nn.Module, pre: dict, stage: int):
        super().__init__(model, pre)
        self.stage = stage

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.model.forward_stages(self.standardized(image), [self.stage])[0]


def lower_maps(model: torch.nn.Module, pre: dict, stage: int, device: torch.device) -> Callable[[np.ndarray], torch.Tensor]:
    """A function from uint8 N×H×W×C images to the float16 maps after `stage` (on the CPU): through ONNX
    Runtime on a CPU (PyTorch eager took 38 ms an ELPV cell for stages 0-4 on the 2-core VM), else on the device.
    They are not cached on disk: a map is ~40 KB an image, and each run draws its own augmented copies."""
    from inspector.core.onnx_sessions import onnx_session

    graph = _LowerGraph(model, pre, stage).eval()
    if device.type != "cpu":
        return eager_maps(graph, device)
    with torch.inference_mode():
        sess = onnx_session(_export(graph, pre, "map"), gpu=False)
    return lambda images: torch.from_numpy(sess.run(["map"], {"image": np.ascontiguousarray(images)})[0]).half()


def eager_maps(graph: torch.nn.Module, device: torch.device) -> Callable[[np.ndarray], torch.Tensor]:
    """The frozen stages in PyTorch on `device`. Under no_grad when called, not only when built: the maps are
    the trained stages' input, and a map carrying the frozen stages' autograd graph would keep every batch's
    activations alive (and send gradients into weights meant to stay put). Not inference_mode: its tensors
    cannot be saved for the backward pass of the stages that train on them."""
    graph.to(device)

    def run(images: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return graph(torch.from_numpy(np.ascontiguousarray(images)).to(device)).half().cpu()
    return run
