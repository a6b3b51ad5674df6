"""What a live pipeline runs: one station's source, trigger, region, model and recording settings."""
from __future__ import annotations

from dataclasses import dataclass, field

from inspector.core.errors import ConfigError
from inspector.core.live.frames import NOT_INSPECTED_AS
from inspector.core.live.review import ReviewPolicy
from inspector.core.live.roi import Roi
from inspector.core.live.sources import Source
from inspector.core.live.triggers import Trigger

NOT_INSPECTED_SETTING = "live.not_inspected_as"  # project meta: how parts not inspected count (not_ok | ok)


@dataclass
class LiveConfig:
    source: str | Source
    trigger: str | Trigger = "free"
    roi: str | Roi | tuple | None = None
    model: str | None = None  # pin a version; None = the line model (registry.line_version), followed when it changes
    model_kind: str | None = None  # with model None: follow the active version of this kind only
    backend: str = "auto"  # auto (ONNX Runtime, CUDA when present, else PyTorch) | onnx | torch
    threads: int | None = None  # inference threads; None = all cores but one (runners.default_threads)
    max_batch: int = 4  # the most waiting frames one inference call takes
    queue_size: int = 8  # triggered frames of a live source that may wait (the oldest go beyond)
    max_frames: int | None = None  # stop after reading this many frames
    record: bool = True  # results log + review queue
    review: ReviewPolicy = field(default_factory=ReviewPolicy)
    reconnect_s: tuple[float, float] = (0.5, 10.0)  # first and longest wait between reopen attempts
    watch_s: float = 1.0  # how often the active model is checked
    # how a triggered part that no model decided counts: "not_ok" (rejected, fail closed) or "ok";
    # None = the project's setting live.not_inspected_as (default not_ok)
    not_inspected_as: str | None = None
    stall_s: float = 2.0  # an open camera or stream with no frame for this long is STALLED and reconnected
    # where each triggered part's ID comes from: plc | file | counter | barcode[:x,y,w,h] (core/line/part_ids.py);
    # None = none (a PLC trigger still passes the ID it was given)
    part_id: str | None = None
    # who runs the line, recorded on the run and on every verdict (the account, or the computer's user
    # without accounts); None = the project's logged-in actor, else the computer's user
    user: str | None = None


def parse_not_inspected_as(value: str) -> str:
    """not_ok / ng / rejected → "not_ok"; ok / good / accepted → "ok"."""
    v = str(value).strip().lower()
    if v in ("not_ok", "ng", "nok", "not-ok", "reject", "rejected"):
        return NOT_INSPECTED_AS[0]
    if v in ("ok", "good", "accept", "accepted"):
        return NOT_INSPECTED_AS[1]
    raise ConfigError(f"a part that was not inspected counts as {value!r}? — use ng (the default, fail closed) or ok")
