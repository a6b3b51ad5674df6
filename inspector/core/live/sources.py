"""Where live frames come from, behind one interface: USB/UVC cameras, RTSP and HTTP streams, video
files, hot folders and the synthetic line. `open_source(spec)` turns a --source string into one."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qsl

import cv2
import numpy as np

from inspector.core.errors import ConfigError, InspectorError


class SourceError(InspectorError):
    """The source cannot be opened or was lost (unplugged, stream cut, file unreadable); retried."""


class CorruptFrame(SourceError):
    """One frame could not be decoded; it is skipped and counted, the source stays open."""


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

    def __init__(self) -> None:
        self.dropped = 0

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


class CaptureSource(Source):
    """Anything OpenCV's VideoCapture opens: a camera index, an RTSP URL, a video file.
    Files: loop restarts at the end; realtime paces frames at the file's frame rate (then the
    file behaves like a camera: live, newest frame only)."""

    def __init__(self, target: int | str, name: str, *, kind: str, loop: bool = False, realtime: bool = False):
        super().__init__()
        self.target, self.name, self.kind = target, name, kind
        self.loop = loop
        self.live = kind != "file" or realtime
        self._realtime = kind == "file" and realtime
        self._cap = None
        self._n = 0
        self._t0 = 0.0
        self._period = 0.0

    def open(self) -> None:
        if self.kind == "file" and not Path(self.target).is_file():
            raise SourceError(f"video file {self.target} is missing — check the path")
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            what = {"camera": f"camera {self.target} is not available (unplugged or in use by another program)",
                    "file": f"video file {self.target} cannot be read (unknown codec or damaged)",
                    "stream": f"stream {self.name} cannot be opened (address, network or credentials)"}[self.kind]
            raise SourceError(what + " — retrying")
        if self.kind != "file":
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # drivers that honour it hand out fresh frames, not a queue
        fps = cap.get(cv2.CAP_PROP_FPS) if self._realtime else 0.0
        self._period = 1.0 / fps if fps and 1 <= fps <= 1000 else (1 / 30 if self._realtime else 0.0)
        self._cap, self._n, self._t0 = cap, 0, time.perf_counter()

    def read(self, timeout: float = 0.5):
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, frame = self._cap.read()
        if not ok and self.kind == "file":
            if not self.loop or self._n == 0:
                if self._n == 0:
                    raise SourceError(f"video file {self.target} has no readable frames — re-export it")
                raise SourceEnded()
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok or frame is None:
            raise SourceError(f"{self.name}: no frame (camera unplugged or stream cut) — reconnecting")
        self._n += 1
        if self._period:
            wait = self._t0 + self._n * self._period - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        return to_rgb(frame), {"index": self._n - 1}

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _options(query: str, allowed: dict[str, type], spec: str) -> dict:
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


def open_source(spec: str | Source) -> Source:
    """A --source string as a Source (not opened yet):
      0, 1, camera:0           USB/UVC camera by index
      rtsp://…                  RTSP stream (OpenCV/FFmpeg)
      http://… https://…        MJPEG stream (multipart) or a JPEG snapshot URL polled
      PATH.avi[?loop=1&realtime=1]   video file
      FOLDER[?existing=0&poll=0.2]   hot folder: images already there, then new ones as they arrive
      synthetic://line?fps=30&defect_rate=0.1&seed=1&size=256&mode=parts|belt&count=N&cache=N&defects=crack,missing
    """
    if isinstance(spec, Source):
        return spec
    spec = str(spec).strip()
    if not spec:
        raise ConfigError("no source given — use a camera index, a stream URL, a video file, a folder or synthetic://line")
    lower = spec.lower()
    if lower.startswith("synthetic://"):
        from inspector.core.live.synthetic import SyntheticSource

        return SyntheticSource.from_spec(spec)
    if lower.startswith(("http://", "https://")):
        from inspector.core.live.http_stream import HttpSource

        return HttpSource(spec)
    if lower.startswith(("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://")):
        return CaptureSource(spec, _redact(spec), kind="stream")
    index = spec[len("camera:"):] if lower.startswith("camera:") else spec
    if index.isdigit():
        return CaptureSource(int(index), f"camera:{int(index)}", kind="camera")
    path, _, query = spec.partition("?") if not Path(spec).exists() else (spec, "", "")
    p = Path(path).expanduser()
    if p.is_dir():
        from inspector.core.live.folder import FolderSource

        return FolderSource(p, **_options(query, {"existing": bool, "poll": float, "settle": float}, spec))
    if p.is_file():
        return CaptureSource(str(p), str(p), kind="file", **_options(query, {"loop": bool, "realtime": bool}, spec))
    raise ConfigError(f"source {spec!r} is not a camera index, a URL, an existing video file or folder, "
                      "or synthetic://line — check the spelling or the path")


def _redact(url: str) -> str:
    """The URL without a password, for logs and the results table."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url
