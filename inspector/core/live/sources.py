"""Where live frames come from, behind one interface: USB/UVC cameras, RTSP and HTTP streams, video
files, hot folders and the synthetic line. `open_source(spec)` turns a --source string into one."""
from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import cv2

from inspector.core.errors import ConfigError
from inspector.core.live.credentials import redact  # noqa: F401 - also the name the GUI and tests use
# the interface and errors, re-exported: callers open sources and catch their errors through this module
from inspector.core.live.source_base import (  # noqa: F401
    CorruptFrame, Source, SourceEnded, SourceError, SourceStalled, parse_options, to_rgb,
)


class CaptureSource(Source):
    """Anything OpenCV's VideoCapture opens: a camera index, an RTSP URL, a video file.
    Files: loop restarts at the end; realtime paces frames at the file's frame rate (then the
    file behaves like a camera: live, newest frame only)."""

    def __init__(self, target: int | str, name: str, *, kind: str, loop: bool = False, realtime: bool = False):
        super().__init__()
        self.target, self.name, self.kind = target, name, kind
        self.loop = loop
        self.live = kind != "file" or realtime
        self.can_stall = kind != "file"
        self._pending: Future | None = None  # a camera read still running after read() timed out
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

    def _grab(self, timeout: float):
        """cap.read() within timeout: a camera or stream read runs on a helper thread, so a read that
        hangs (a stream that stalled) returns None here and the pipeline can see the stall. The read
        still running is picked up by the next call."""
        if self.kind == "file":
            return self._cap.read()
        if self._pending is None:
            fut: Future = Future()
            cap = self._cap

            def run() -> None:
                try:
                    fut.set_result(cap.read())
                except BaseException as e:  # noqa: BLE001 - handed to the reader
                    fut.set_exception(e)

            threading.Thread(target=run, name="capture-read", daemon=True).start()
            self._pending = fut
        try:
            got = self._pending.result(timeout=max(0.0, timeout))
        except FutureTimeout:
            return None
        self._pending = None
        return got

    def read(self, timeout: float = 0.5):
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        got = self._grab(timeout)
        if got is None:
            return None
        ok, frame = got
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
        cap, pending, self._cap, self._pending = self._cap, self._pending, None, None
        if cap is None:
            return
        if pending is not None and not pending.done():  # a read still hangs: release once it returns
            pending.add_done_callback(lambda _f: cap.release())
        else:
            cap.release()


def _is(p: Path, test: str) -> bool:
    """Path.exists/is_dir/is_file, False for a name the OS refuses (too long, a NUL byte): not a path."""
    try:
        return getattr(p, test)()
    except (OSError, ValueError):
        return False


def open_source(spec: str | Source) -> Source:
    """A --source string as a Source (not opened yet):
      0, 1, camera:0           USB/UVC camera by index
      rtsp://…                  RTSP stream (OpenCV/FFmpeg)
      http://… https://…        MJPEG stream (multipart) or a JPEG snapshot URL polled
      PATH.avi[?loop=1&realtime=1]   video file
      FOLDER[?existing=0&poll=0.2&done=1&remember=0]   hot folder: images already there, then new ones as
                                they arrive; done=1 moves each to FOLDER/done/ once read, else the folder
                                remembers what was inspected across restarts (remember=0: this run only)
      synthetic://line?fps=30&defect_rate=0.1&seed=1&size=256&mode=parts|belt&count=N&cache=N&defects=crack,missing
      genicam://[ADDRESS or ID]?exposure_us=&gain=&pixel_format=&roi=x,y,w,h&fps=&trigger=free|software|line1
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
    if lower.startswith("genicam://"):
        from inspector.core.live.genicam import from_spec  # GigE Vision / USB3 Vision through Aravis

        return from_spec(spec)
    if lower.startswith(("http://", "https://", "rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://")):
        from inspector.core.live.credentials import resolve

        name = redact(spec)
        url = resolve(spec)  # user@host: the password remembered for it, from the secrets file
        if lower.startswith(("http://", "https://")):
            from inspector.core.live.http_stream import HttpSource

            src = HttpSource(url)
            src.name = name
            return src
        return CaptureSource(url, name, kind="stream")
    index = spec[len("camera:"):] if lower.startswith("camera:") else spec
    if index.isdigit():
        return CaptureSource(int(index), f"camera:{int(index)}", kind="camera")
    path, _, query = spec.partition("?") if not _is(Path(spec), "exists") else (spec, "", "")
    p = Path(path).expanduser()
    if _is(p, "is_dir"):
        from inspector.core.live.folder import FolderSource

        return FolderSource(p, **parse_options(query, {"existing": bool, "poll": float, "settle": float, "done": bool,
                                                  "remember": bool, "rescan": float}, spec))
    if _is(p, "is_file"):
        return CaptureSource(str(p), str(p), kind="file", **parse_options(query, {"loop": bool, "realtime": bool}, spec))
    raise ConfigError(f"source {spec!r} is not a camera index, a URL, an existing video file or folder, "
                      "or synthetic://line — check the spelling or the path")
