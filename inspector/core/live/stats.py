"""Live counters and timings of a pipeline run, kept in bounded memory, read as a snapshot."""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

WINDOW = 20_000  # latency samples kept for percentiles: memory stays flat on endless runs


@dataclass(frozen=True)
class LiveStats:
    state: str
    model_version: str | None
    backend: str | None
    frames_read: int
    triggered: int
    inspected: int
    dropped: int  # frames replaced before inference (newest-frame slot) or skipped by the source
    corrupt: int
    not_ok: int
    reconnects: int
    queued_for_review: int
    review_duplicates: int
    review_rate_limited: int
    unrecorded: int  # verdicts the results log could not take
    errors: int
    elapsed_s: float
    fps: float  # verdicts per second, first frame to last verdict
    latency_ms_p50: float | None  # capture to verdict
    latency_ms_p95: float | None
    infer_ms_p50: float | None  # model time per frame
    infer_ms_p95: float | None

    def as_dict(self) -> dict:
        return asdict(self)


class Counters:
    """Each counter is written by one pipeline thread; the timing windows share a lock."""

    def __init__(self) -> None:
        self.frames_read = self.triggered = self.inspected = self.corrupt = self.not_ok = 0
        self.reconnects = self.errors = 0
        self.first_t: float | None = None
        self.last_t: float | None = None
        self._lock = threading.Lock()
        self._latency: deque[float] = deque(maxlen=WINDOW)
        self._infer: deque[float] = deque(maxlen=WINDOW)

    def frame_read(self, t: float) -> None:
        self.frames_read += 1
        if self.first_t is None:
            self.first_t = t

    def verdict(self, ok: bool, latency_ms: float, infer_ms: float, t: float) -> None:
        with self._lock:
            self.inspected += 1
            self.not_ok += not ok
            self.last_t = t
            self._latency.append(latency_ms)
            self._infer.append(infer_ms)

    def timings(self) -> tuple[list[float], list[float]]:
        with self._lock:
            return list(self._latency), list(self._infer)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def snapshot(c: Counters, *, state: str, model_version, backend, dropped: int, recorder) -> LiveStats:
    lat, inf = c.timings()
    review = recorder.review if recorder is not None else None
    now = time.perf_counter()
    elapsed = (now - c.first_t) if c.first_t is not None else 0.0
    span = (c.last_t - c.first_t) if c.first_t is not None and c.last_t is not None else 0.0
    return LiveStats(
        state=state, model_version=model_version, backend=backend, frames_read=c.frames_read, triggered=c.triggered,
        inspected=c.inspected, dropped=dropped, corrupt=c.corrupt, not_ok=c.not_ok, reconnects=c.reconnects,
        queued_for_review=review.queued if review else 0, review_duplicates=review.duplicates if review else 0,
        review_rate_limited=review.rate_limited if review else 0, unrecorded=recorder.unrecorded if recorder else 0,
        errors=c.errors + (recorder.errors if recorder else 0),
        elapsed_s=round(elapsed, 3), fps=round(c.inspected / span, 3) if span > 0 else 0.0,
        latency_ms_p50=percentile(lat, 50), latency_ms_p95=percentile(lat, 95),
        infer_ms_p50=percentile(inf, 50), infer_ms_p95=percentile(inf, 95))
