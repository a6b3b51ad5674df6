"""Frozen-backbone features for the `head` preset: computed once per image, cached by image hash."""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
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


def backbone_id(arch: dict, pre: dict) -> str:
    """Identifies what produced a feature: the pretrained weights and the exact preprocessing."""
    desc = json.dumps({"arch": arch["name"], "weights": "imagenet", "pre": pre}, sort_keys=True)
    return hashlib.sha256(desc.encode()).hexdigest()[:16]


@torch.inference_mode()
def extract_features(model: torch.nn.Module, ds: ArrayDataset, pre: dict, device: torch.device, *,
                     cache: FeatureCache | None = None, cancel=None,
                     progress: Callable[[int, int], None] | None = None, batch_size: int = 32) -> torch.Tensor:
    """Pooled backbone features (N×D float32 on the CPU) for every image of ds."""
    bid = backbone_id({"name": "effnet-lite0"}, pre)
    have = cache.get(bid, ds.keys) if cache is not None else {}
    todo = [i for i, k in enumerate(ds.keys) if k not in have]
    c = pre["channels"]
    mean = torch.tensor(pre["mean"], device=device).view(1, c, 1, 1)
    std = torch.tensor(pre["std"], device=device).view(1, c, 1, 1)
    model.eval()
    new: dict[str, np.ndarray] = {}
    total = len(ds)
    for s in range(0, len(todo), batch_size):
        if cancel is not None:
            cancel.check()
        idx = todo[s:s + batch_size]
        x = torch.from_numpy(ds.images[idx]).to(device).permute(0, 3, 1, 2).float().div_(255.0)
        x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
        f = model.forward_features(x).float().cpu().numpy()
        new.update((ds.keys[i], f[j]) for j, i in enumerate(idx))
        if progress is not None:
            progress(total - len(todo) + s + len(idx), total)
    if cache is not None and new:
        cache.put(bid, new)
    have.update(new)
    return torch.from_numpy(np.stack([have[k] for k in ds.keys]).astype(np.float32))
