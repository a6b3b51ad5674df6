"""The plain records the live pipeline passes around: frames, verdicts, results and events."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# Pipeline states, in the order a normal run goes through them.
IDLE, STARTING, WARMING_UP, RUNNING, RECONNECTING, FINISHED, STOPPED, FAILED = (
    "idle", "starting", "warming_up", "running", "reconnecting", "finished", "stopped", "failed")


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


@dataclass(frozen=True)
class InspectionResult:
    """A verdict on a frame, with its timings. latency_ms = capture to verdict."""

    frame: Frame
    roi: tuple[int, int, int, int] | None  # x, y, w, h actually cropped; None = whole frame
    verdict: Verdict
    infer_ms: float  # model time per frame (batch time / batch size)
    latency_ms: float
    batch_size: int

    @property
    def crop(self) -> np.ndarray:
        if self.roi is None:
            return self.frame.image
        x, y, w, h = self.roi
        return self.frame.image[y:y + h, x:x + w]


@dataclass(frozen=True)
class PipelineEvent:
    """A state change or a notable happening; message is one line for a status bar.
    kinds: state, source_error, source_open, source_ended, model_loading, model_swapped, model_error,
    record_error."""

    kind: str
    state: str
    message: str = ""
    at: float = field(default_factory=time.time)
