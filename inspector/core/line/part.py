"""PartResult: what the line outputs say about one part, made once from the pipeline's result."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

OK, NOT_OK, NOT_INSPECTED = "ok", "not_ok", "not_inspected"


@dataclass(frozen=True)
class PartResult:
    """seq: the station's part counter (1, 2, …, per run of the outputs); verdict: ok | not_ok |
    not_inspected; passed: what the reject gate does (a part not inspected passes only when the
    project counts such parts as OK); score: the not-ok score, 0.5 = threshold, None when no model
    decided; at: capture time (unix seconds); latency_ms: capture to verdict."""

    station: str
    seq: int
    part_id: str | None
    verdict: str
    passed: bool
    score: float | None
    defect_class: str | None
    model_version: str
    at: float
    latency_ms: float
    reason: str | None = None  # why it was not inspected
    plc: bool = False  # the PLC triggered it (the handshake waits for this result)
    views: list | None = None  # a multi-camera station: each view's verdict (ViewResult.as_dict); None for one camera
    user: str | None = None  # the account that ran the line when the verdict was made (as the results log)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class PartCounters:
    inspected: int = 0  # a model decided (ok + not_ok)
    ng: int = 0  # not_ok verdicts
    not_inspected: int = 0
    parts: int = 0  # every part with a result

    def add(self, part: PartResult) -> None:
        self.parts += 1
        if part.verdict == NOT_INSPECTED:
            self.not_inspected += 1
        else:
            self.inspected += 1
            self.ng += part.verdict == NOT_OK


def part_of(result, station: str, seq: int) -> PartResult:
    """From a live InspectionResult (core.live.frames)."""
    v, meta = result.verdict, result.frame.meta
    verdict = NOT_INSPECTED if v.not_inspected else (OK if v.ok else NOT_OK)
    defect = None if v.ok or v.not_inspected else (v.label or "anomaly")
    return PartResult(station, seq, meta.get("part_id"), verdict, bool(v.ok),
                      None if v.not_inspected else round(float(v.score), 4), defect, v.model_version or "",
                      result.frame.captured_at or time.time(), round(float(result.latency_ms), 3), v.not_inspected,
                      "plc_request" in meta, [v.as_dict() for v in result.views] or None, result.user)
