"""What every live source is: the Source interface, its errors, and the helpers source modules share.
A leaf of inspector.core.live: it imports none of the source modules, so they can all import it
(sources.open_source imports them to build a source from a --source string)."""
from __future__ import annotations

from urllib.parse import parse_qsl

import cv2
import numpy as np

from inspector.core.errors import ConfigError, InspectorError


class SourceError(InspectorError):
    """The source cannot be opened or was lost (unplugged, stream cut, file unreadable); retried."""


class CorruptFrame(SourceError):
    """One frame could not be decoded; the source stays open. The pipeline counts it and, when the
    trigger fired on it, logs the part as not inspected (corrupt_frame). meta: what the source knows."""

    def __init__(self, message: str, meta: dict | None = None):
        super().__init__(message)
        self.meta = dict(meta or {})


class SourceStalled(SourceError):
    """The source is open but sent nothing for its stall time; the pipeline reconnects."""


class SourceEnded(Exception):
    """A finite source (a video file without loop, a counted synthetic run) has no more frames."""


class Source:
    """open() may raise SourceError; read(timeout) returns (image RGB uint8, meta) or None when no
    frame came within timeout, and raises CorruptFrame, SourceError or SourceEnded.

    live: frames come at the source's own pace and the pipeline keeps only the newest; otherwise
    the source waits for the pipeline (nothing dropped). backlog: frames are already waiting (a
    folder), so several may be batched. dropped: frames the source itself had to skip."""

    name = "source"
    live = True
    backlog = False
    can_stall = False  # a camera or stream: open but silent for stall_s means STALLED (files, folders wait)

    def __init__(self) -> None:
        self.dropped = 0
        self.stall_s = 2.0  # set by the pipeline (LiveConfig.stall_s)

    def open(self) -> None:
        pass

    def read(self, timeout: float = 0.5) -> tuple[np.ndarray, dict] | None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """OpenCV's BGR / grey / BGRA frames as RGB uint8."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def parse_options(query: str, allowed: dict[str, type], spec: str) -> dict:
    """A source URL's query as typed options; an unknown key or a bad value is a one-line ConfigError."""
    out = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise ConfigError(f"source {spec!r}: unknown option {key!r} — allowed: {', '.join(sorted(allowed))}")
        try:
            typ = allowed[key]
            out[key] = value.lower() in ("1", "true", "yes", "on", "") if typ is bool else typ(value)
        except ValueError:
            raise ConfigError(f"source {spec!r}: option {key}={value!r} is not a {allowed[key].__name__}") from None
    return out
