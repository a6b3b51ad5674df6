"""Which live frames go to the review queue (not ok, low confidence, near the threshold), and the
rate limit and look-alike filter that keep a stuck defective part from flooding it."""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from inspector.core.errors import ProjectError
from inspector.core.imageio import encode_png
from inspector.core.live.frames import Verdict


@dataclass
class ReviewPolicy:
    enabled: bool = True
    not_ok: bool = True  # every not-ok verdict is worth a look
    min_confidence: float = 0.6  # a classifier less sure than this
    near_threshold: float = 0.1  # |score - 0.5| below this
    max_per_minute: int = 12
    dedup_window_s: float = 300.0
    # 256-bit difference hash: the same part seen again with sensor noise differs by <= ~15 bits,
    # two different synthetic flanges by >= 45 (measured on 60 parts), so 24 separates them.
    dedup_bits: int = 24

    def reason(self, v: Verdict) -> str | None:
        """Why this verdict deserves a human look, or None."""
        if not self.enabled or v.not_inspected:  # no model looked at it: nothing to suggest
            return None
        if self.not_ok and not v.ok:
            return "not_ok"
        if v.confidence is not None and v.confidence < self.min_confidence:
            return "low_confidence"
        if abs(v.score - 0.5) < self.near_threshold:
            return "near_threshold"
        return None


def difference_hash(image: np.ndarray, n: int = 16) -> np.ndarray:
    """n×n-bit dHash (brightness gradient signs on a tiny grey copy): survives noise and small
    exposure changes, differs for a different part or pose."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    small = cv2.resize(gray, (n + 1, n), interpolation=cv2.INTER_AREA).astype(np.int16)
    return np.packbits(small[:, 1:] > small[:, :-1])


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(a ^ b).sum())


class ReviewQueue:
    """Stores review-worthy crops as unreviewed project samples with the model's suggestion.
    Call offer() from one thread (the pipeline's recorder)."""

    def __init__(self, project, policy: ReviewPolicy, source_name: str, clock=time.monotonic):
        self.project = project
        self.policy = policy
        self.source = f"live:{source_name}"
        self._clock = clock
        self._recent: deque[tuple[float, np.ndarray]] = deque(maxlen=1024)  # (time, hash) of queued frames
        self._stamps: deque[float] = deque()  # times of queued frames in the last minute
        self._classes = {c.name for c in project.classes()}
        self.queued = 0
        self.duplicates = 0
        self.rate_limited = 0

    def offer(self, crop: np.ndarray, verdict: Verdict, captured_at: float) -> int | None:
        """The new sample id, or None when the frame was not worth queueing, a look-alike of one
        queued recently, or over the rate limit."""
        if self.policy.reason(verdict) is None:
            return None
        now = self._clock()
        while self._recent and now - self._recent[0][0] > self.policy.dedup_window_s:
            self._recent.popleft()
        while self._stamps and now - self._stamps[0] > 60.0:
            self._stamps.popleft()
        h = difference_hash(crop)
        if any(hamming(h, old) <= self.policy.dedup_bits for _, old in self._recent):
            self.duplicates += 1
            return None
        if len(self._stamps) >= self.policy.max_per_minute:
            self.rate_limited += 1
            return None
        label = verdict.label if verdict.label in self._classes else None
        score = verdict.confidence if verdict.confidence is not None else verdict.score
        try:
            added = self.project.add_image(encode_png(np.ascontiguousarray(crop)), source=self.source,
                                           captured_at=captured_at, suggestion=label, suggestion_score=score)
        except ProjectError:
            # a class renamed or deleted since training: keep the frame, without the suggestion
            added = self.project.add_image(encode_png(np.ascontiguousarray(crop)), source=self.source,
                                           captured_at=captured_at, suggestion_score=score)
        self._recent.append((now, h))
        self._stamps.append(now)
        if added.duplicate:
            self.duplicates += 1
        else:
            self.queued += 1
        return added.sample_id
