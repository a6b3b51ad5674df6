"""Anomaly heatmap overlays: the part image with the normalized score map in colour where it is high,
the threshold (0.5) outlined and the peak marked."""
from __future__ import annotations

import cv2
import numpy as np


def overlay(img: np.ndarray, score_map: np.ndarray, peak: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 image; score_map: H×W, 0.5 = threshold. Colour fades in from typical good (0.25) to the
    threshold, so a good part stays readable and a flagged region stands out."""
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    m = np.clip(score_map.astype(np.float32), 0.0, 1.0)
    colour = cv2.applyColorMap((m * 255).astype(np.uint8), cv2.COLORMAP_JET)[:, :, ::-1].astype(np.float32)
    alpha = (np.clip((m - 0.25) / 0.25, 0.0, 1.0) * 0.6)[:, :, None]
    out = (img.astype(np.float32) * (1 - alpha) + colour * alpha).astype(np.uint8)
    above = (m >= 0.5).astype(np.uint8)
    if above.any():
        contours, _ = cv2.findContours(above, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 1)
        if peak is not None:
            r = max(4, min(out.shape[:2]) // 30)
            cv2.circle(out, (int(peak[0]), int(peak[1])), r, (255, 0, 255), 1, cv2.LINE_AA)
    return np.ascontiguousarray(out)
