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
    triggered: int  # parts: ok + not_ok + not_inspected (once each has its verdict)
    inspected: int  # parts a model decided: ok + not_ok
    ok: int
    dropped: int  # frames replaced before inference (newest-frame slot) or skipped by the source
    corrupt: int
    not_ok: int  # the model said not ok
    not_inspected: int  # triggered parts no model decided (queue full, inference error, corrupt frame, no model)
    not_inspected_reasons: dict  # {reason: n}
    not_inspected_as: str  # how those count: not_ok (rejected, the default) or ok
    rejected: int  # parts the line should reject: not_ok, plus not_inspected when they count as not ok
    reconnects: int
    stalls: int  # times the source was open but sent no frame for stall_s (then reconnected)
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
        self.reconnects = self.errors = self.stalls = 0
        self.not_inspected = 0
        self.not_inspected_reasons: dict[str, int] = {}
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

    def skipped(self, reason: str, t: float) -> None:
        """A triggered part that got no model verdict (its result row says not_inspected)."""
        with self._lock:
            self.not_inspected += 1
            self.not_inspected_reasons[reason] = self.not_inspected_reasons.get(reason, 0) + 1
            self.last_t = t

    def timings(self) -> tuple[list[float], list[float]]:
        with self._lock:
            return list(self._latency), list(self._infer)


def percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def snapshot(c: Counters, *, state: str, model_version, backend, dropped: int, recorder,
             not_inspected_as: str = "not_ok") -> LiveStats:
    lat, inf = c.timings()
    with c._lock:
        skipped, reasons = c.not_inspected, dict(c.not_inspected_reasons)
    review = recorder.review if recorder is not None else None
    now = time.perf_counter()
    elapsed = (now - c.first_t) if c.first_t is not None else 0.0
    span = (c.last_t - c.first_t) if c.first_t is not None and c.last_t is not None else 0.0
    return LiveStats(
        state=state, model_version=model_version, backend=backend, frames_read=c.frames_read, triggered=c.triggered,
        inspected=c.inspected, ok=c.inspected - c.not_ok, dropped=dropped, corrupt=c.corrupt, not_ok=c.not_ok,
        not_inspected=skipped, not_inspected_reasons=reasons, not_inspected_as=not_inspected_as,
        rejected=c.not_ok + (skipped if not_inspected_as == "not_ok" else 0), reconnects=c.reconnects, stalls=c.stalls,
        queued_for_review=review.queued if review else 0, review_duplicates=review.duplicates if review else 0,
        review_rate_limited=review.rate_limited if review else 0, unrecorded=recorder.unrecorded if recorder else 0,
        errors=c.errors + (recorder.errors if recorder else 0),
        elapsed_s=round(elapsed, 3), fps=round(c.inspected / span, 3) if span > 0 else 0.0,
        latency_ms_p50=percentile(lat, 50), latency_ms_p95=percentile(lat, 95),
        infer_ms_p50=percentile(inf, 50), infer_ms_p95=percentile(inf, 95))
