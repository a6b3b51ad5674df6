"""synthetic://line — a virtual camera over the synthetic production line, so the whole pipeline
runs with no hardware. mode=parts: every frame is the next part, centred. mode=belt: per part, `gap`
frames of empty belt, then the part slides in, stops under the camera for `dwell` frames, slides out.
defects=crack,missing: the line makes only these defect types (default: all of synth.DEFECT_TYPES).
corrupt=0.05: that share of frames arrives as a damaged JPEG that does not decode (CorruptFrame), as a
flaky camera link would send it, so failing closed can be tested and benchmarked."""
from __future__ import annotations

import time
from urllib.parse import urlsplit

import cv2
import numpy as np

from inspector.core.errors import ConfigError
from inspector.core.live.source_base import CorruptFrame, Source, SourceEnded, parse_options
from inspector.core.synth import DEFECT_TYPES, SyntheticLine

_OPTIONS = {"fps": float, "defect_rate": float, "seed": int, "size": int, "mode": str, "count": int,
            "travel": int, "dwell": int, "gap": int, "cache": int, "defects": str, "corrupt": float}


class SyntheticSource(Source):
    def __init__(self, *, fps: float = 0.0, defect_rate: float = 0.2, seed: int = 0, size: int = 256,
                 mode: str = "parts", count: int = 0, travel: int = 4, dwell: int = 2, gap: int = 3,
                 cache: int = 0, defects: str | None = None, corrupt: float = 0.0, name: str | None = None):
        super().__init__()
        if mode not in ("parts", "belt"):
            raise ConfigError(f"synthetic mode {mode!r} is not known — use parts or belt")
        if fps < 0 or count < 0 or travel < 1 or dwell < 0 or gap < 0 or cache < 0:
            raise ConfigError("synthetic options fps, count, dwell, gap, cache must be >= 0 and travel >= 1")
        if not 0.0 <= corrupt <= 1.0:
            raise ConfigError(f"synthetic option corrupt={corrupt} is a share of frames — use 0 to 1, e.g. corrupt=0.05")
        self.corrupt = float(corrupt)
        self._corrupt_rng = np.random.default_rng([seed, 13])
        types = [t.strip() for t in defects.split(",") if t.strip()] if defects is not None else list(DEFECT_TYPES)
        self.line = SyntheticLine(size=(size, size), defect_rate=defect_rate, seed=seed, defect_types=types)
        self.fps, self.mode, self.count = float(fps), mode, int(count)
        self.travel, self.dwell, self.gap = int(travel), int(dwell), int(gap)
        self.name = name or f"synthetic://line?mode={mode}&seed={seed}"
        self.live = self.fps > 0  # paced like a camera; at full speed it waits for the pipeline instead
        self._k = 0
        self._t0 = 0.0
        self._cached: tuple[int, object] | None = None
        # cache=N: parts 0..N-1 are drawn once, at open, and shown in turn; the camera then costs the
        # CPU about what a real one does (nothing but a copy), which is what a benchmark of the
        # pipeline itself wants. Parts and labels repeat every N frames.
        self.cache = int(cache)
        self._pool: list = []
        rng = np.random.default_rng([seed, 7])
        h = w = int(size)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r = np.hypot(xx - (w - 1) / 2, yy - (h - 1) / 2)
        # the flange reaches ~0.43 of the frame from its centre (radius, scale and shift jitter)
        self._disc = np.clip(0.45 * min(h, w) - r, 0, 1)[:, :, None].astype(np.float32)
        base = 50 + 4 * rng.standard_normal((h, w)).astype(np.float32)
        self._belt = np.clip(base[:, :, None] * np.array([0.92, 1.0, 0.97], np.float32), 0, 255)
        self._noise = (2.0 * rng.standard_normal((2 * h, 2 * w, 3))).astype(np.float32)
        self._rng = rng

    @classmethod
    def from_spec(cls, spec: str) -> "SyntheticSource":
        try:
            u = urlsplit(spec)
        except ValueError:  # e.g. an unclosed "[" read as an IPv6 address
            u = None
        if u is None or u.netloc != "line" or u.path not in ("", "/"):
            raise ConfigError(f"synthetic source {spec!r} is not known — use synthetic://line?fps=30&defect_rate=0.1")
        return cls(name=spec, **parse_options(u.query, _OPTIONS, spec))

    @property
    def cycle(self) -> int:
        """Frames per part in belt mode."""
        return 2 * self.travel + self.dwell + self.gap

    def open(self) -> None:
        if self.cache and not self._pool:
            self._pool = [self.line.part(i) for i in range(self.cache)]
        self._t0 = time.perf_counter() - self._k / self.fps if self.fps else 0.0

    def _part(self, i: int):
        return self._pool[i % self.cache] if self._pool else self.line.part(i)

    def read(self, timeout: float = 0.5):
        if self.fps:
            due = self._t0 + self._k / self.fps
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            elif now - due > 1.0 / self.fps:  # the reader was late: those frames passed unseen
                skip = int((now - self._t0) * self.fps) - self._k
                self.dropped += skip
                self._k += skip
        k = self._k
        if self.mode == "parts":
            if self.count and k >= self.count:
                raise SourceEnded()
            self._k += 1
            p = self._part(k)
            self._maybe_corrupt(k, {"index": k, "part": p.index, "label": p.label})
            return p.image.copy() if self._pool else p.image, {"index": k, "part": p.index, "label": p.label}
        part, phase = divmod(k, self.cycle)
        if self.count and part >= self.count:
            raise SourceEnded()
        self._k += 1
        self._maybe_corrupt(k, {"index": k})
        return self._belt_frame(part, phase)

    def _maybe_corrupt(self, k: int, meta: dict) -> None:
        """corrupt=p: this frame's bytes arrive damaged — a JPEG start marker and noise — and are
        decoded like a stream's frame would be; they do not decode, so the frame is corrupt."""
        if not self.corrupt or self._corrupt_rng.random() >= self.corrupt:
            return
        data = b"\xff\xd8\xff\xe0" + self._corrupt_rng.bytes(256)
        if cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is None:
            raise CorruptFrame(f"{self.name}: frame {k} is not a decodable image ({len(data)} bytes)", meta)

    def _belt_frame(self, part: int, phase: int):
        h, w = self._belt.shape[:2]
        t, d = self.travel, self.dwell
        phase -= self.gap  # the belt is empty first, so a presence trigger learns the empty belt
        if phase < 0:
            dx = None
        elif phase < t:
            dx = -round(w * (t - 1 - phase) / t)  # arriving from the left; centred on the last step
        elif phase < t + d:
            dx = 0
        elif phase < 2 * t + d:
            dx = round(w * (phase - t - d + 1) / t)
        else:
            dx = None
        meta = {"index": self._k - 1, "part": None, "label": None}
        p = None
        if dx is not None and abs(dx) < w:
            if self._cached is None or self._cached[0] != part:
                self._cached = (part, self._part(part))
            p = self._cached[1]
            meta.update(part=p.index, label=p.label, offset=dx)
        return self._on_belt(None if p is None else p.image, dx or 0), meta

    def centred(self, image: np.ndarray) -> np.ndarray:
        """A part's image (the line's, size × size) as this camera shows it centred on the belt: what a
        presence trigger inspects. The demo's labelled parts are drawn so, like the frames a user labels
        from the Live tab; a model trained on the line's bare images calls every belt frame NG."""
        return self._on_belt(image, 0)

    def _on_belt(self, image: np.ndarray | None, dx: int) -> np.ndarray:
        h, w = self._belt.shape[:2]
        frame = self._belt.copy()
        if image is not None and abs(dx) < w:
            dst = slice(max(0, dx), min(w, w + dx))
            src = slice(max(0, -dx), min(w, w - dx))
            m = self._disc[:, src]
            frame[:, dst] += (image[:, src].astype(np.float32) - frame[:, dst]) * m
        oy, ox = self._rng.integers(0, h), self._rng.integers(0, w)
        frame += self._noise[oy:oy + h, ox:ox + w]
        return np.clip(frame, 0, 255).astype(np.uint8)
