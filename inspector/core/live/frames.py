"""The plain records the live pipeline passes around: frames, verdicts, results and events."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# Pipeline states, in the order a normal run goes through them. STALLED: the source is open but no
# frame came for LiveConfig.stall_s; the pipeline reconnects.
IDLE, STARTING, WARMING_UP, RUNNING, RECONNECTING, STALLED, FINISHED, STOPPED, FAILED = (
    "idle", "starting", "warming_up", "running", "reconnecting", "stalled", "finished", "stopped", "failed")

# Why a triggered part got no verdict from a model (a `not_inspected` result row). Fail closed: the
# part still gets a row, and counts as NG unless the project says otherwise (live.not_inspected_as).
QUEUE_FULL, INFERENCE_ERROR, CORRUPT_FRAME, NO_MODEL, STOPPING = (
    "queue_full", "inference_error", "corrupt_frame", "no_model", "stopping")
NOT_INSPECTED_REASONS = (QUEUE_FULL, INFERENCE_ERROR, CORRUPT_FRAME, NO_MODEL, STOPPING)
NOT_INSPECTED_AS = ("not_ok", "ok")  # how a part that was not inspected counts (project setting)


@dataclass(frozen=True)
class Frame:
    """One image off a source. id: the pipeline's read counter (0, 1, 2, … per run; the source's own
    frame number, if any, is meta["index"]); captured_at: wall time (time.time()) for the log;
    t: time.perf_counter() for latencies."""

    id: int
    image: np.ndarray  # H×W×3 uint8 RGB
    captured_at: float
    t: float
    source: str
    meta: dict = field(default_factory=dict)  # what the source knows: file name, synthetic part index/label…


@dataclass(frozen=True)
class Verdict:
    """A model's answer for one image. score is the not-ok score, 0.5 = the decision threshold:
    the total probability of defect classes (classifier) or the normalized anomaly score (anomaly)."""

    ok: bool
    score: float
    label: str | None  # class name (classifier); None for an anomaly model
    confidence: float | None  # probability of `label`
    scores: dict[str, float]  # per-class probabilities (classifier), empty otherwise
    model_version: str
    heatmap: np.ndarray | None = None  # anomaly map, H×W float32, 0.5 = threshold (anomaly models)
    not_inspected: str | None = None  # a reason from NOT_INSPECTED_REASONS: no model decided; ok is the setting

    @classmethod
    def not_inspected_as(cls, reason: str, counts_as: str, model_version: str | None) -> "Verdict":
        """The verdict of a part no model looked at: ok only when the project counts such parts as OK."""
        ok = counts_as == "ok"
        return cls(ok, 0.0 if ok else 1.0, None, None, {}, model_version or "", None, reason)


@dataclass(frozen=True)
class InspectionResult:
    """A verdict on a frame, with its timings. latency_ms = capture to verdict."""

    frame: Frame
    roi: tuple[int, int, int, int] | None  # x, y, w, h actually cropped; None = whole frame
    verdict: Verdict
    infer_ms: float  # model time per frame (batch time / batch size)
    latency_ms: float
    batch_size: int
    views: tuple["ViewResult", ...] = ()  # a multi-camera station's part: each view's own result (station.py)
    user: str | None = None  # who ran the line when this verdict was made (a handover changes it mid-run)

    @property
    def crop(self) -> np.ndarray:
        if self.roi is None:
            return self.frame.image
        x, y, w, h = self.roi
        return self.frame.image[y:y + h, x:x + w]


@dataclass(frozen=True)
class ViewResult:
    """One view's share of a station's part: its result, or None when it gave none; reason (naming the
    view) when it did not decide the part."""

    name: str
    result: InspectionResult | None
    reason: str | None = None

    def as_dict(self) -> dict:
        """The view's entry in the results log's `views` column and in the line outputs' messages."""
        r = self.result
        d = {"view": self.name, "verdict": "not_inspected" if self.reason else ("ok" if r.verdict.ok else "not_ok")}
        if r is not None:
            v = r.verdict
            d.update(source=r.frame.source, frame_id=r.frame.id, model_version=v.model_version or None,
                     roi=list(r.roi) if r.roi else None, latency_ms=round(r.latency_ms, 3))
            if not v.not_inspected:
                d.update({"class": v.label, "score": round(float(v.score), 4),
                          "confidence": None if v.confidence is None else round(float(v.confidence), 4),
                          "infer_ms": round(r.infer_ms, 3)})
        if self.reason:
            d["reason"] = self.reason
        return d


@dataclass(frozen=True)
class PipelineEvent:
    """A state change or a notable happening; message is one line for a status bar.
    kinds: state, source_error, source_open, source_ended, source_stalled, model_loading, model_swapped,
    model_error, record_error, frame_corrupt, not_inspected."""

    kind: str
    state: str
    message: str = ""
    at: float = field(default_factory=time.time)
