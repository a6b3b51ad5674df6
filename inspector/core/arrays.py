"""In-memory training data: every image decoded and resized once, kept as uint8."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from inspector.core.errors import ImageDecodeError
from inspector.core.imageio import decode_image, read_image_bytes

log = logging.getLogger(__name__)


@dataclass
class ArrayDataset:
    """images: N×H×W×C uint8; labels: N int64 class indices; keys: one id per image (its hash)."""

    images: np.ndarray
    labels: np.ndarray
    keys: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, one-line reason): not loaded

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: Sequence[int] | np.ndarray) -> "ArrayDataset":
        idx = np.asarray(idx, dtype=np.int64)
        return ArrayDataset(self.images[idx], self.labels[idx], [self.keys[i] for i in idx], list(self.skipped))


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
    """Decode and resize images in a small thread pool (decoders and cv2 release the GIL). An image that
    cannot be read or decoded (a damaged or missing file) is left out, listed in .skipped and logged as
    one warning: one bad file must not stop a training run."""
    n = len(paths)
    out = np.empty((n, int(size[0]), int(size[1]), channels), np.uint8)
    max_side = max(int(size[0]), int(size[1]))
    failed: dict[int, str] = {}

    def one(i: int) -> None:
        if cancel is not None and cancel.is_set():
            return
        try:
            data = read_image_bytes(paths[i])
            out[i] = prepare(decode_image(data, name=Path(paths[i]).name, max_side=max_side), size, channels)
        except ImageDecodeError as e:
            failed[i] = str(e)
        except OSError as e:
            failed[i] = f"cannot read the file ({e.strerror or e})"

    workers = max(1, min(4, os.cpu_count() or 1))
    with ThreadPoolExecutor(workers) as pool:
        for done, _ in enumerate(pool.map(one, range(n)), 1):
            if progress is not None and (done % 64 == 0 or done == n):
                progress(done, n)
    if cancel is not None:
        cancel.check()
    labels, keys = np.asarray(labels, dtype=np.int64), list(keys)
    if not failed:
        return ArrayDataset(out, labels, keys)
    keep = np.array([i for i in range(n) if i not in failed], dtype=np.int64)
    skipped = [(str(paths[i]), failed[i]) for i in sorted(failed)]
    log.warning("skipped %d unreadable image(s) of %d: %s", len(skipped), n,
                "; ".join(f"{p}: {why}" for p, why in skipped), extra={"skipped": skipped})
    return ArrayDataset(out[keep], labels[keep], [keys[i] for i in keep], skipped)
