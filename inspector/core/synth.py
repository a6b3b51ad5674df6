"""Synthetic production line: turned steel flanges on a conveyor belt, some with known defects.

Deterministic from (seed, index). The project's own test and demo data, and the virtual camera's source.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inspector.core.errors import ConfigError, InspectorError
from inspector.core.imageio import encode_png

DEFECT_TYPES = ("scratch", "spot", "crack", "missing")
GOOD = "good"


@dataclass
class SynthPart:
    index: int
    label: str  # "good" or one of DEFECT_TYPES
    image: np.ndarray  # H×W×3 uint8 RGB
    mask: np.ndarray  # H×W uint8, 255 inside the defect
    bbox: tuple[int, int, int, int] | None  # x0, y0, x1, y1 with x1/y1 exclusive (mask[y0:y1, x0:x1])


def _disc(d: np.ndarray, radius: float) -> np.ndarray:
    """Antialiased inside-ness of a circle (1 inside, 0 outside, ramp over one pixel)."""
    return np.clip(radius - d + 0.5, 0.0, 1.0)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    n = rng.standard_normal(shape).astype(np.float32).reshape(-1, shape[-1])
    n = cv2.GaussianBlur(n, (0, 0), sigma).reshape(shape)
    return n / (n.std() + 1e-6)


class SyntheticLine:
    """A production line that makes one flange design; `part(i)` is the i-th part off the line.

    Everything that does not change from part to part (geometry, textures, noise fields) is
    built once here, so a part costs only a few vector operations and two affine warps.
    """

    def __init__(self, *, size: tuple[int, int] = (256, 256), defect_rate: float = 0.2,
                 defect_types: Sequence[str] = DEFECT_TYPES, seed: int = 0):
        h, w = int(size[0]), int(size[1])
        if min(h, w) < 32:
            raise ConfigError(f"synthetic image size {size} is too small — use at least 32×32 pixels")
        if not 0.0 <= defect_rate <= 1.0:
            raise ConfigError(f"defect rate {defect_rate} is outside 0..1 — give a fraction such as 0.2")
        unknown = [t for t in defect_types if t not in DEFECT_TYPES]
        if unknown or not defect_types:
            raise ConfigError(f"unknown defect types {unknown or '(none given)'} — choose from {', '.join(DEFECT_TYPES)}")
        self.size = (h, w)
        self.defect_rate = float(defect_rate)
        self.defect_types = tuple(defect_types)
        self.seed = int(seed)
        rng = np.random.default_rng([self.seed, 0])  # parts use [seed, 1, index]: never the same stream
        self._build_geometry()
        self._build_textures(rng)

    # --- built once per line -----------------------------------------------------------------

    def _build_geometry(self) -> None:
        h, w = self.size
        s = self._s = float(min(h, w))
        self._c = ((w - 1) / 2.0, (h - 1) / 2.0)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dx, dy = xx - self._c[0], yy - self._c[1]
        r = np.hypot(dx, dy)
        self._r, self._theta = r, np.arctan2(dy, dx)
        self._xn, self._yn = dx / (s / 2), dy / (s / 2)  # −1..1 across the frame, for light gradients
        self._R, self._hub = 0.36 * s, 0.19 * s
        self._outer_cw = max(1.5, 0.022 * s)
        self._bore = (self._c[0], self._c[1], 0.105 * s, max(1.5, 0.016 * s))
        pitch, rb, cb = 0.275 * s, 0.034 * s, max(1.2, 0.011 * s)
        self._bolts = [(self._c[0] + pitch * math.cos(a), self._c[1] + pitch * math.sin(a), rb, cb)
                       for a in np.arange(6) * (math.pi / 3) + math.pi / 6]
        # keyway slot in the bore (along +x): makes the part's rotation visible, as on a real flange
        kw, kd = 0.045 * s, 0.035 * s
        key = np.clip(kw / 2 - np.abs(dy) + 0.5, 0, 1) * np.clip(self._bore[2] + kd - dx + 0.5, 0, 1) * (dx > 0)
        self._key = key.astype(np.float32)

    def _holes_solid_and_normals(self, skip: int | None):
        """Solid coverage, normal x/y and chamfer weight with every hole, or with bolt hole `skip` not drilled."""
        r, th = self._r, self._theta
        t = 0.7  # horizontal normal component on a 45° chamfer
        solid = _disc(r, self._R) * (1 - self._key)
        band = np.clip(r - (self._R - self._outer_cw), 0, 1) * (r < self._R + 1)
        nx, ny = band * np.cos(th) * t, band * np.sin(th) * t
        cham = band.copy()
        hub = np.exp(-((r - self._hub) / 0.8) ** 2)  # outer wall of the raised hub: a thin lit/shaded ring
        nx += hub * np.cos(th) * 0.9
        ny += hub * np.sin(th) * 0.9
        holes = [self._bore] + [b for i, b in enumerate(self._bolts) if i != skip]
        for hx, hy, hr, hc in holes:
            ddx = (np.arange(self.size[1], dtype=np.float32) - hx)[None, :]
            ddy = (np.arange(self.size[0], dtype=np.float32) - hy)[:, None]
            d = np.sqrt(ddx ** 2 + ddy ** 2) + 1e-6
            solid *= 1 - _disc(d, hr)
            b = np.clip(hr + hc - d, 0, 1) * (d > hr - 1)
            nx -= b * ddx / d * t  # the chamfer slopes down into the hole: normal leans towards its centre
            ny -= b * ddy / d * t
            cham = np.maximum(cham, b)
        return solid.astype(np.float32), nx.astype(np.float32), ny.astype(np.float32), cham.astype(np.float32)

    def _build_textures(self, rng: np.random.Generator) -> None:
        h, w = self.size
        r = self._r
        # turned face: concentric tool marks = noise along the radius only. Two independent ring
        # textures, mixed with random weights per part, so no two parts carry the same marks.
        n = int(self._s) * 2 + 8
        ridx = np.minimum((r * 2).astype(np.int32), n - 1)
        rings = [(4.0 * _smooth_noise(rng, (n,), 1.2) + 4.0 * _smooth_noise(rng, (n,), 12.0))[ridx] for _ in range(2)]
        grain = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.6)
        base = 146 + 1.5 * grain + 8.0 * (r < self._hub)
        c2, s2 = np.cos(2 * self._theta), np.sin(2 * self._theta)
        # variant 0: all holes; variant k+1: bolt hole k not drilled ("missing")
        self._maps, self._solid, self._shadow = [], [], []
        for skip in [None, *range(len(self._bolts))]:
            solid, nx, ny, cham = self._holes_solid_and_normals(skip)
            flat = solid * (1 - cham)
            g0 = (base + 10.0 * cham).astype(np.float32)
            self._maps.append(np.stack([g0, nx, ny, c2 * flat, s2 * flat, *rings]).reshape(7, -1))
            self._solid.append(solid)
            self._shadow.append(cv2.GaussianBlur(solid, (0, 0), 0.012 * self._s + 0.5))
        # faces where a scratch or spot may sit: solid, off the chamfers, away from edges
        solid, _, _, cham = self._holes_solid_and_normals(None)
        face = ((solid > 0.999) & (cham < 0.01)).astype(np.uint8)
        k = 2 * max(1, round(0.008 * self._s)) + 1
        self._inside = solid > 0.99
        self._k3 = np.ones((3, 3), np.uint8)
        self._face = cv2.erode(face, np.ones((k, k), np.uint8))
        if not self._face.any():  # tiny images: chamfers cover everything, any solid pixel will do
            self._face = self._inside.astype(np.uint8)
        self._face_px = np.argwhere(self._face > 0)
        # conveyor belt: dark rubber with fabric weave, lengthwise wear streaks and dust
        bh, bw = 2 * h, w + w // 2
        fine = cv2.GaussianBlur(rng.standard_normal((bh, bw)).astype(np.float32), (0, 0), 0.7)
        mott = _smooth_noise(rng, (bh, bw), 0.06 * self._s)
        streak = np.repeat(_smooth_noise(rng, (1, bw), 1.5), bh, axis=0)
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        weave = np.sin(xx * 1.9) * np.sin(yy * 1.9)
        belt = 50 + 6 * fine + 3 * mott + 2.5 * streak + 2.0 * weave
        for _ in range(int(bh * bw / 4000)):
            y, x = rng.integers(0, bh), rng.integers(0, bw)
            cv2.circle(belt, (int(x), int(y)), int(rng.integers(0, 2)), float(rng.uniform(75, 120)), -1, cv2.LINE_AA)
        self._belt = belt.astype(np.float32)
        self._belt_tint = np.array([0.92, 1.0, 0.97], np.float32)  # greenish-grey rubber
        self._steel_tint = np.array([0.97, 1.0, 1.04], np.float32)  # steel is a touch blue
        self._noise = rng.standard_normal((2 * h, 2 * w, 3)).astype(np.float32)
        self._stain = _smooth_noise(rng, (int(0.2 * self._s) + 16,) * 2, 0.008 * self._s)  # bigger than any spot
        self._vignette = (1 - 0.10 * (self._xn ** 2 + self._yn ** 2) / 2).astype(np.float32)

    # --- one part ----------------------------------------------------------------------------

    def part(self, index: int, label: str | None = None) -> SynthPart:
        """The index-th part; same (seed, index, label) gives the same pixels. `label` forces a class."""
        if index < 0:
            raise ValueError("part index must be >= 0")
        if label is not None and label != GOOD and label not in DEFECT_TYPES:
            raise ConfigError(f"unknown part label '{label}' — use good or one of {', '.join(DEFECT_TYPES)}")
        h, w = self.size
        s = self._s
        rng = np.random.default_rng([self.seed, 1, index])
        # Always draw in this order, so a forced label keeps the pose, light and belt of the
        # same index: part(i, "good") and part(i, "scratch") differ only by the defect.
        roll, pick = rng.random(), int(rng.integers(len(self.defect_types)))
        if label is None:
            label = self.defect_types[pick] if roll < self.defect_rate else GOOD
        angle = rng.uniform(0, 2 * math.pi)
        scale = rng.uniform(0.97, 1.03)
        shift = rng.uniform(-0.04, 0.04, 2) * s
        phi = math.radians(225) + rng.normal(0, 0.12)  # light from the upper left, a little jitter
        gain = float(np.clip(rng.normal(1.0, 0.06), 0.85, 1.15))
        grad = rng.normal(0, 0.06, 2)
        belt_off = (int(rng.integers(0, h)), int(rng.integers(0, w // 2)))
        noise_off = (int(rng.integers(0, h)), int(rng.integers(0, w)))
        wb = rng.normal(1.0, 0.012, 3).astype(np.float32)

        # light direction seen from the part's own (unrotated) frame
        lx, ly = math.cos(phi - angle), math.sin(phi - angle)
        hole = int(rng.integers(len(self._bolts)))
        variant = hole + 1 if label == "missing" else 0
        mix = rng.uniform(0, 2 * math.pi)
        # gray = base + diffuse light on chamfers + anisotropic "bow-tie" sheen of turned metal + tool marks
        coef = np.array([1.0, 80.0 * lx, 80.0 * ly, 13.0 * math.cos(2 * (phi - angle)),
                         13.0 * math.sin(2 * (phi - angle)), math.cos(mix), math.sin(mix)], np.float32)
        for _ in range(5):  # redraw a defect that would vanish in the warp (only happens on tiny images)
            gray = (coef @ self._maps[variant]).reshape(h, w)
            mask = np.zeros((h, w), np.float32)
            if label == "scratch":
                self._scratch(rng, gray, mask)
            elif label == "spot":
                self._spot(rng, gray, mask, lx, ly)
            elif label == "crack":
                self._crack(rng, gray, mask)
            elif label == "missing":
                hx, hy, hr, hc = self._bolts[hole]
                cv2.circle(mask, (round(hx), round(hy)), round(hr + hc), 1.0, -1)
            # a 3×3 block of defect on solid metal always survives the warp's bilinear sampling
            if label in (GOOD, "missing") or cv2.erode(((mask > 0.5) & self._inside).astype(np.uint8), self._k3).any():
                break

        # place the part on the belt: rotate about the part centre, scale, shift
        ca, sa = math.cos(angle) * scale, math.sin(angle) * scale
        cx, cy = self._c
        m = np.array([[ca, -sa, cx + shift[0] - ca * cx + sa * cy],
                      [sa, ca, cy + shift[1] - sa * cx - ca * cy]], np.float32)
        warped = cv2.warpAffine(cv2.merge([gray, self._solid[variant], mask]), m, (w, h), flags=cv2.INTER_LINEAR)
        ms = m.copy()
        ms[:, 2] += (-math.cos(phi) * 0.02 * s, -math.sin(phi) * 0.02 * s)  # shadow falls away from the light
        shadow = cv2.warpAffine(self._shadow[variant], ms, (w, h), flags=cv2.INTER_LINEAR)

        # Composite in one channel (fast), colour only at the end: belt and steel differ in tint.
        metal, alpha, dmask = cv2.split(warped)
        lum = self._belt[belt_off[0]:belt_off[0] + h, belt_off[1]:belt_off[1] + w] * (1 - 0.45 * shadow)
        lum += (metal - lum) * alpha
        lum *= (gain + grad[0] * self._xn + grad[1] * self._yn) * self._vignette
        tint = wb * self._belt_tint, wb * (self._steel_tint - self._belt_tint)
        img = cv2.merge([lum * (tint[0][c] + tint[1][c] * alpha) for c in range(3)])
        noise = self._noise[noise_off[0]:noise_off[0] + h, noise_off[1]:noise_off[1] + w]
        img += noise * (1.2 + img * 0.012)  # read noise + shot noise growing with brightness
        image = np.clip(img, 0, 255).astype(np.uint8)

        if label == GOOD:
            return SynthPart(index, label, image, np.zeros((h, w), np.uint8), None)
        out_mask = ((dmask > 0.5) & (alpha > 0.5)).astype(np.uint8) * 255
        ys, xs = np.nonzero(out_mask)
        bbox = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1) if xs.size else None
        return SynthPart(index, label, image, out_mask, bbox)

    # --- defects, drawn in the part's own frame ----------------------------------------------

    def _face_point(self, rng: np.random.Generator) -> np.ndarray:
        y, x = self._face_px[rng.integers(len(self._face_px))]
        return np.array([x, y], np.float64)

    def _on_face(self, pts: np.ndarray) -> np.ndarray:
        xi = np.clip(np.round(pts[:, 0]).astype(int), 0, self.size[1] - 1)
        yi = np.clip(np.round(pts[:, 1]).astype(int), 0, self.size[0] - 1)
        return self._face[yi, xi] > 0

    def _scratch(self, rng, gray, mask) -> None:
        s = self._s
        for _ in range(50):  # a few tries until a scratch of useful length fits on the face
            p0 = self._face_point(rng)
            a = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.12, 0.28) * s
            bend = rng.normal(0, 0.08) * length
            t = np.linspace(0, 1, 16)[:, None]
            d, n = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
            pts = p0 + t * length * d + (4 * t * (1 - t)) * bend * n
            ok = self._on_face(pts)
            keep = int(np.argmin(ok)) if not ok.all() else len(pts)
            if keep >= 8:
                pts = pts[:keep]
                break
        poly = [np.round(pts * 4).astype(np.int32)]  # 2 fractional bits: smooth antialiased line
        line = np.zeros_like(gray)
        cv2.polylines(line, poly, False, 1.0, 1, cv2.LINE_AA, shift=2)
        halo = np.zeros_like(gray)
        cv2.polylines(halo, poly, False, 1.0, 3, cv2.LINE_AA, shift=2)
        amp = rng.uniform(40, 65) * (1 if rng.random() < 0.6 else -0.8)  # catches the light, or a dull groove
        gray += amp * (0.75 * line + 0.25 * halo)
        cv2.polylines(mask, poly, False, 1.0, 3, cv2.LINE_8, shift=2)

    def _spot(self, rng, gray, mask, lx: float, ly: float) -> None:
        s = self._s
        rad = max(1.5, rng.uniform(0.016, 0.032) * s)
        aspect, rot = rng.uniform(0.6, 1.0), rng.uniform(0, math.pi)
        pad = int(math.ceil(2.2 * rad))
        h, w = self.size
        for _ in range(50):
            cx, cy = self._face_point(rng)
            if pad <= cx < w - pad and pad <= cy < h - pad:
                break
        yy, xx = np.mgrid[-pad:pad + 1, -pad:pad + 1].astype(np.float32)
        u = (xx * math.cos(rot) + yy * math.sin(rot)) / rad
        v = (-xx * math.sin(rot) + yy * math.cos(rot)) / (rad * aspect)
        q2 = u * u + v * v
        sl = (slice(int(cy) - pad, int(cy) + pad + 1), slice(int(cx) - pad, int(cx) + pad + 1))
        if rng.random() < 0.5:  # stain / corrosion: dark, ragged edge
            k = self._stain.shape[0] - (2 * pad + 1)
            oy, ox = rng.integers(0, max(k, 1), 2)
            tex = self._stain[oy:oy + 2 * pad + 1, ox:ox + 2 * pad + 1]
            blob = np.exp(-q2) * np.clip(0.8 + 0.35 * tex, 0.4, 1.3)
            gray[sl] -= rng.uniform(55, 80) * blob
            mask[sl] = np.maximum(mask[sl], ((blob > 0.3) | (q2 < 0.5)).astype(np.float32))
        else:  # dent: a shallow bowl, lit on the side away from the light and shaded on the other
            hgt = -np.exp(-q2)
            gy, gx = np.gradient(hgt)
            gray[sl] += rng.uniform(60, 85) * rad * (-gx * lx - gy * ly) - 15 * np.exp(-q2 * 0.6)
            mask[sl] = np.maximum(mask[sl], (q2 < 1.3).astype(np.float32))

    def _crack(self, rng, gray, mask) -> None:
        s = self._s
        step = float(np.clip(s / 128, 0.7, 2.0))  # about 2 px at 256, finer on small images
        need = 7 if s >= 128 else 4
        for _ in range(50):
            # cracks start where stress concentrates: at a bolt hole's edge, or at the rim
            from_hole = rng.random() < 0.7
            hx, hy, hr, _ = self._bolts[rng.integers(len(self._bolts))] if from_hole else (*self._c, self._R, 0)
            a = rng.uniform(0, 2 * math.pi)
            d = np.array([math.cos(a), math.sin(a)])
            outward = 1 if from_hole else -1
            p = np.array([hx, hy]) + d * (hr + 0.6 * outward)
            heading, pts = a if outward > 0 else a + math.pi, [p.copy()]
            for _ in range(max(need, int(rng.uniform(0.07, 0.14) * s / step))):
                heading += rng.normal(0, 0.45)
                heading = 0.7 * heading + 0.3 * (a if outward > 0 else a + math.pi)  # keeps its course
                p = p + step * np.array([math.cos(heading), math.sin(heading)])
                if not self._inside[int(np.clip(p[1], 0, self.size[0] - 1)), int(np.clip(p[0], 0, self.size[1] - 1))]:
                    break
                pts.append(p.copy())
            if len(pts) >= need:
                break
        poly = np.round(np.array(pts) * 4).astype(np.int32)
        line = np.zeros_like(gray)
        cv2.polylines(line, [poly], False, 1.0, 1, cv2.LINE_AA, shift=2)
        cv2.polylines(line, [poly[: max(2, len(poly) // 3)]], False, 1.0, 2, cv2.LINE_AA, shift=2)  # wider at its origin
        gray -= rng.uniform(60, 90) * np.minimum(line, 1.0)
        cv2.polylines(mask, [poly], False, 1.0, 3, cv2.LINE_8, shift=2)


def write_imagefolder(out: str | Path, count: int, *, seed: int = 0, defect_rate: float = 0.2,
                      size: tuple[int, int] = (256, 256), balanced: bool = False) -> dict:
    """Write `count` parts as an ImageFolder (out/<class>/part_NNNNNN.png) with masks and ground_truth.csv.

    Masks go to out/masks/<defect>/<same name>.png; the CSV (file,label,mask,x0,y0,x1,y1, paths
    relative to out) is the ground truth. balanced=True cycles through the classes so each gets
    count/(1+len(DEFECT_TYPES)) parts; otherwise labels follow defect_rate.
    """
    if count < 0:
        raise ConfigError(f"part count {count} is negative — give 0 or more")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InspectorError(f"{out}: folder is not empty — choose a new or empty folder for the synthetic data")
    line = SyntheticLine(size=size, defect_rate=defect_rate, seed=seed)
    classes = (GOOD, *DEFECT_TYPES)
    for c in classes:
        (out / c).mkdir(parents=True, exist_ok=True)
        if c != GOOD:
            (out / "masks" / c).mkdir(parents=True, exist_ok=True)
    per_class = dict.fromkeys(classes, 0)
    rows = []
    for i in range(count):
        part = line.part(i, classes[i % len(classes)] if balanced else None)
        name = f"part_{i:06d}.png"
        (out / part.label / name).write_bytes(encode_png(part.image))
        per_class[part.label] += 1
        if part.label == GOOD:
            rows.append([f"{GOOD}/{name}", GOOD, "", "", "", "", ""])
            continue
        mask_rel = f"masks/{part.label}/{name}"
        (out / mask_rel).write_bytes(encode_png(part.mask))
        rows.append([f"{part.label}/{name}", part.label, mask_rel, *part.bbox])
    with open(out / "ground_truth.csv", "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["file", "label", "mask", "x0", "y0", "x1", "y1"])
        wr.writerows(rows)
    return {"count": count, "per_class": per_class, "out": str(out)}


def contact_sheet(parts: Sequence[SynthPart], cols: int = 4, outline: bool = True) -> np.ndarray:
    """Tile parts into one RGB image with their label, and the defect mask outlined in red."""
    h, w = parts[0].image.shape[:2]
    rows = math.ceil(len(parts) / cols)
    sheet = np.full((rows * (h + 4) + 4, cols * (w + 4) + 4, 3), 255, np.uint8)
    for k, p in enumerate(parts):
        tile = p.image.copy()
        if outline and p.mask.any():
            contours, _ = cv2.findContours(p.mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(tile, contours, -1, (255, 40, 40), 1)
        cv2.putText(tile, f"{p.index} {p.label}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1, cv2.LINE_AA)
        y, x = 4 + (k // cols) * (h + 4), 4 + (k % cols) * (w + 4)
        sheet[y:y + h, x:x + w] = tile
    return sheet
