"""Decode stored images shrunk to a size (thumbnails, the Review's large view)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inspector.core.errors import InspectorError


def decode_images(items: list[tuple[int, Path]], max_side: int, *, progress=None, cancel=None) -> dict[int, np.ndarray]:
    """{sample id: RGB image fitting max_side}; a file that cannot be read is left out, the others still come."""
    import cv2

    from inspector.core.imageio import decode_image

    out: dict[int, np.ndarray] = {}
    for sample_id, path in items:
        if cancel is not None:
            cancel.check()
        try:
            img = decode_image(path, max_side=max_side)
        except InspectorError:
            continue
        h, w = img.shape[:2]
        s = max_side / max(h, w)
        if s < 1:
            img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        out[sample_id] = np.ascontiguousarray(img)
    return out
