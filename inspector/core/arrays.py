"""In-memory training data: every image decoded and resized once, kept as uint8."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inspector.core.imageio import decode_image, read_image_bytes


@dataclass
class ArrayDataset:
    """images: N×H×W×C uint8; labels: N int64 class indices; keys: one id per image (its hash)."""

    images: np.ndarray
    labels: np.ndarray
    keys: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: Sequence[int] | np.ndarray) -> "ArrayDataset":
        idx = np.asarray(idx, dtype=np.int64)
        return ArrayDataset(self.images[idx], self.labels[idx], [self.keys[i] for i in idx])


def prepare(img: np.ndarray, size: Sequence[int], channels: int) -> np.ndarray:
    """An RGB uint8 image as the network sees it: resized to size (h, w), 1 or 3 channels."""
    h, w = int(size[0]), int(size[1])
    if img.shape[0] != h or img.shape[1] != w:
        shrink = img.shape[0] > h or img.shape[1] > w
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if channels == 1:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[:, :, None]
    return np.ascontiguousarray(img)


def load_arrays(paths: Sequence[str | Path], labels: Sequence[int], keys: Sequence[str], size: Sequence[int],
                channels: int, progress: Callable[[int, int], None] | None = None,
                cancel=None) -> ArrayDataset:
    """Decode and resize images in a small thread pool (decoders and cv2 release the GIL)."""
    n = len(paths)
    out = np.empty((n, int(size[0]), int(size[1]), channels), np.uint8)
    max_side = max(int(size[0]), int(size[1]))

    def one(i: int) -> None:
        if cancel is not None and cancel.is_set():
            return
        data = read_image_bytes(paths[i])
        out[i] = prepare(decode_image(data, name=Path(paths[i]).name, max_side=max_side), size, channels)

    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(one, range(n)), 1):
            if progress is not None and (done % 64 == 0 or done == n):
                progress(done, n)
    if cancel is not None:
        cancel.check()
    return ArrayDataset(out, np.asarray(labels, dtype=np.int64), list(keys))
