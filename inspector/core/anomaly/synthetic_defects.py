"""Synthetic defects drawn into good parts, so that a fit can judge candidate settings by what they
catch without any real defect image: thin scratches and cracks (1–4 px wide), spots, cut-and-paste
patches from other parts, texture swaps and soft brightness blobs, sized from 0.05 % to 5 % of the part
and placed inside the inspected region (the ignore mask is respected).

Contrast follows the image's own spread of grey levels, so a defect is about as visible on a dark cast
part as on a bright machined one: faint enough that settings differ in what they catch, strong enough that
a person would reject the part."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KINDS = ("scratch", "crack", "spot", "patch", "texture", "blob")
# (name, smallest and largest share of the part's area)
SIZES = (("small", 0.0005, 0.003), ("medium", 0.003, 0.015), ("large", 0.015, 0.05))
LINE_EXTENT = 1.5  # a scratch or crack is this many times sqrt(its size's area) long


@dataclass(frozen=True)
class DrawnDefect:
    image: np.ndarray  # the part with the defect, same shape and dtype as the input
    mask: np.ndarray  # H×W bool, True where the defect is
    kind: str
    size: str
    width_px: int  # line width for scratches and cracks, else 0


def _grey(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else img[..., :3].mean(axis=2)


def _place(rng: np.random.Generator, allowed: np.ndarray | None, h: int, w: int, margin: int) -> tuple[int, int]:
    """A centre (x, y) inside the inspected region, away from the border by `margin` where possible."""
    m = max(0, min(margin, h // 2 - 1, w // 2 - 1))
    if allowed is not None:
        ys, xs = np.nonzero(allowed[m:h - m, m:w - m] if m else allowed)
        if len(ys):
            k = int(rng.integers(len(ys)))
            return int(xs[k]) + m, int(ys[k]) + m
    return int(rng.integers(m, max(m + 1, w - m))), int(rng.integers(m, max(m + 1, h - m)))


def _contrast(rng: np.random.Generator, grey: np.ndarray, strength: tuple[float, float]) -> float:
    """A signed grey-level step: a share of the part's spread, at least 14 levels, dark or bright."""
    spread = float(np.percentile(grey, 95) - np.percentile(grey, 5))
    step = max(14.0, rng.uniform(*strength) * max(spread, 20.0))
    mean = float(grey.mean())
    # mostly the direction that has room (dark defects on bright parts), sometimes the other
    dark = rng.random() < (0.75 if mean > 100 else 0.35)
    return -step if dark else step


def _polyline(rng, cx, cy, length, wander, h, w) -> np.ndarray:
    """Points of a line of about `length` px through (cx, cy), bending by `wander` radians per step."""
    steps = max(2, int(length / 6))
    angle = rng.uniform(0, np.pi)
    seg = length / steps
    pts = [(0.0, 0.0)]
    for _ in range(steps):
        angle += rng.normal(0, wander)
        x, y = pts[-1]
        pts.append((x + seg * np.cos(angle), y + seg * np.sin(angle)))
    p = np.array(pts)
    p -= p.mean(0)
    p += (cx, cy)
    p[:, 0] = p[:, 0].clip(0, w - 1)
    p[:, 1] = p[:, 1].clip(0, h - 1)
    return p


def _line_mask(shape, pts: np.ndarray, width: int) -> np.ndarray:
    """Anti-aliased float mask of a polyline, 1 on the line."""
    m = np.zeros(shape, np.uint8)
    shift = 4  # sub-pixel coordinates
    p = np.round(pts * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(m, [p], False, 255, thickness=max(1, int(width)), lineType=cv2.LINE_AA, shift=shift)
    return m.astype(np.float32) / 255.0


def _apply_step(img: np.ndarray, alpha: np.ndarray, step: float) -> np.ndarray:
    """img + step where alpha is 1, blended where alpha is between 0 and 1."""
    top = 65535.0 if img.dtype == np.uint16 else 255.0
    f = img.astype(np.float32)
    a = alpha if img.ndim == 2 else alpha[..., None]
    return np.clip(f + a * step, 0, top).astype(img.dtype)


def _blend(img: np.ndarray, other: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    a = alpha if img.ndim == 2 else alpha[..., None]
    return (img.astype(np.float32) * (1 - a) + other.astype(np.float32) * a).astype(img.dtype)


def _ellipse_alpha(shape, cx, cy, rx, ry, angle, feather: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(rx)), max(1, int(ry))), float(angle), 0, 360, 255, -1, cv2.LINE_AA)
    a = m.astype(np.float32) / 255.0
    if feather > 0:
        a = cv2.GaussianBlur(a, (0, 0), feather)
    return a


def draw_defect(img: np.ndarray, rng: np.random.Generator, kind: str, size: str = "medium", *,
                allowed: np.ndarray | None = None, donor: np.ndarray | None = None) -> DrawnDefect:
    """One defect of `kind` and `size` (see SIZES) drawn into a copy of img (grey or RGB, uint8 or uint16).
    allowed: H×W bool of the inspected region (the defect's centre lies inside it); donor: another good
    part for cut-and-paste (the image itself, elsewhere, when None)."""
    if kind not in KINDS:
        raise ValueError(f"unknown synthetic defect kind {kind!r}")
    lo, hi = next((a, b) for n, a, b in SIZES if n == size)
    h, w = img.shape[:2]
    area = float(rng.uniform(lo, hi)) * h * w
    grey = _grey(img).astype(np.float32)
    width = 0
    if kind in ("scratch", "crack"):
        width = int(rng.integers(1, 5))  # 1–4 px
        # A line's size is its extent, as for the other kinds (a spot of that area is sqrt(area) across), not its
        # painted area: area / width made a "small" 2-px crack 1,250 px long on a 5 MP part, visible at any input
        # size, so the search kept 216 px and missed real 120-px cracks (AUROC 0.43; bench/RESULTS.md).
        length = min(max(LINE_EXTENT * np.sqrt(area), 6.0), 0.9 * np.hypot(h, w))
        cx, cy = _place(rng, allowed, h, w, int(length / 3))
        pts = _polyline(rng, cx, cy, length, 0.05 if kind == "scratch" else 0.45, h, w)
        alpha = _line_mask((h, w), pts, width)
        if kind == "crack" and length > 40:  # a side branch
            k = int(rng.integers(1, len(pts) - 1))
            branch = _polyline(rng, *pts[k], length * rng.uniform(0.2, 0.4), 0.5, h, w)
            branch += pts[k] - branch[0]
            branch[:, 0] = branch[:, 0].clip(0, w - 1)
            branch[:, 1] = branch[:, 1].clip(0, h - 1)
            alpha = np.maximum(alpha, _line_mask((h, w), branch, max(1, width - 1)))
        out = _apply_step(img, alpha, _contrast(rng, grey, (0.35, 0.8)))
    elif kind in ("spot", "blob"):
        r = np.sqrt(area / np.pi)
        ratio = rng.uniform(0.5, 1.0)
        rx, ry = r / np.sqrt(ratio), r * np.sqrt(ratio)
        cx, cy = _place(rng, allowed, h, w, int(rx))
        soft = kind == "blob"
        alpha = _ellipse_alpha((h, w), cx, cy, rx, ry, rng.uniform(0, 180), r * (0.5 if soft else 0.12))
        out = _apply_step(img, alpha, _contrast(rng, grey, (0.25, 0.5) if soft else (0.3, 0.7)))
    else:  # patch / texture: a region replaced by other content of the same kind of surface
        side_y = int(np.clip(np.sqrt(area * rng.uniform(0.5, 2.0)), 4, h - 2))
        side_x = int(np.clip(area / side_y, 4, w - 2))
        cx, cy = _place(rng, allowed, h, w, max(side_x, side_y) // 2)
        x0, y0 = int(np.clip(cx - side_x // 2, 0, w - side_x)), int(np.clip(cy - side_y // 2, 0, h - side_y))
        src = donor if kind == "patch" and donor is not None else img
        if src.shape[:2] != img.shape[:2] or src.dtype != img.dtype or src.ndim != img.ndim:
            src = img
        sh, sw = src.shape[:2]
        if kind == "texture":
            # the same surface turned by 90° (or mirrored when the region is not square enough)
            take = max(side_x, side_y)
            take_y, take_x = min(take, sh), min(take, sw)
            sx, sy = int(rng.integers(0, sw - take_x + 1)), int(rng.integers(0, sh - take_y + 1))
            piece = np.rot90(src[sy:sy + take_y, sx:sx + take_x]).copy()
            piece = cv2.resize(piece, (side_x, side_y), interpolation=cv2.INTER_LINEAR)
        else:
            sx, sy = int(rng.integers(0, sw - side_x + 1)), int(rng.integers(0, sh - side_y + 1))
            piece = src[sy:sy + side_y, sx:sx + side_x].copy()
            if rng.random() < 0.5:
                piece = piece[::-1, ::-1].copy()
        if piece.ndim == 2 and img.ndim == 3:
            piece = np.repeat(piece[..., None], img.shape[2], axis=2)
        canvas = img.copy()
        canvas[y0:y0 + side_y, x0:x0 + side_x] = piece.reshape(canvas[y0:y0 + side_y, x0:x0 + side_x].shape)
        alpha = _ellipse_alpha((h, w), x0 + side_x / 2, y0 + side_y / 2, side_x / 2, side_y / 2, 0,
                               max(1.0, min(side_x, side_y) * 0.08))
        out = _blend(img, canvas, alpha)
    mask = alpha > 0.5
    if allowed is not None:
        mask &= allowed
    return DrawnDefect(out, mask, kind, size, width)


def defect_plan(count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """`count` (kind, size) pairs covering every kind and size about equally, in a shuffled order."""
    pairs = [(k, s[0]) for k in KINDS for s in SIZES]
    out = [pairs[i % len(pairs)] for i in range(count)]
    rng.shuffle(out)
    return out
