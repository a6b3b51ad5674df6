"""genicam:// — GigE Vision and USB3 Vision cameras through Aravis (GenICam), Linux.

    genicam://                       the first camera found
    genicam://192.168.0.20           by address, or by Aravis device id / serial ("Basler-21234567")
    ?exposure_us=5000&gain=2&pixel_format=Mono8&roi=0,0,640,480&fps=30&trigger=free|software|line1
    (also offset_x=, offset_y=, width=, height=: one side of the region, the rest as the camera has it)

Settings are applied one by one when the camera opens (camera_settings.py); one the camera refuses
(out of range, not a feature of this model, a pixel format Inspector cannot convert) is listed as
refused (`refused`, shown when the source opens) and the rest still apply. change() applies one
setting while the stream runs (the Live tab's Camera… dialog) and keeps it for reconnects.
trigger=free: the camera runs at fps; line1 (line2, …): the camera waits for its hardware trigger
input (the PLC wires it); software: a frame is taken each time the pipeline asks for one.

Lost frames are counted from buffers that arrived incomplete and from gaps in the camera's frame
ids (`lost_frames`, also in `dropped`); lost packets come from the GigE stream's statistics. An
unplugged camera stops sending: the pipeline sees the stall and reopens it with backoff.

Aravis is reached through PyGObject. In a virtual environment without it, the system's `gi`
(Debian: python3-gi, gir1.2-aravis-0.8) is loaded when it was built for this Python version."""
from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import cv2
import numpy as np

from inspector.core.errors import ConfigError
from inspector.core.live import camera_settings
from inspector.core.live.source_base import Source, SourceError

_SYSTEM_GI = (Path("/usr/lib/python3/dist-packages/gi"), Path("/usr/lib64/python3/site-packages/gi"))
# pixel format → conversion to RGB
_CONVERT = {"Mono8": None, "Mono16": None, "RGB8": None, "RGB8Packed": None, "BGR8": cv2.COLOR_BGR2RGB,
            "BayerRG8": cv2.COLOR_BayerRG2RGB, "BayerBG8": cv2.COLOR_BayerBG2RGB,
            "BayerGR8": cv2.COLOR_BayerGR2RGB, "BayerGB8": cv2.COLOR_BayerGB2RGB}
_OPTIONS = {"exposure_us": float, "gain": float, "pixel_format": str, "roi": str, "fps": float, "trigger": str,
            "buffers": int, "offset_x": int, "offset_y": int, "width": int, "height": int}


def aravis():
    """The Aravis module, or SourceError saying what to install."""
    try:
        import gi  # noqa: F401
    except ImportError:
        _load_system_gi()
    try:
        import gi
        gi.require_version("Aravis", "0.8")
        from gi.repository import Aravis
    except (ImportError, ValueError) as e:
        raise SourceError(f"GenICam cameras need Aravis ({e}) — install gir1.2-aravis-0.8 and python3-gi "
                          "(Debian/Ubuntu), or PyGObject in this environment") from None
    return Aravis


def _load_system_gi() -> None:
    """The distribution's gi package, loaded by its own path (not by putting all of dist-packages on
    sys.path, which would shadow this environment's packages), when its binary matches this Python."""
    tag = sys.implementation.cache_tag.replace("cpython-", "cpython-")  # e.g. cpython-311
    for folder in _SYSTEM_GI:
        if folder.is_dir() and any(tag in p.name for p in folder.glob("_gi*.so")):
            spec = importlib.util.spec_from_file_location("gi", folder / "__init__.py",
                                                          submodule_search_locations=[str(folder)])
            module = importlib.util.module_from_spec(spec)
            sys.modules["gi"] = module
            try:
                spec.loader.exec_module(module)
            except Exception:  # noqa: BLE001 - not usable: say so at import
                del sys.modules["gi"]
                continue
            return


class GenicamSource(Source):
    def __init__(self, device: str | None = None, *, exposure_us: float | None = None, gain: float | None = None,
                 pixel_format: str | None = None, roi: str | None = None, fps: float | None = None,
                 trigger: str = "free", buffers: int = 8, offset_x: int | None = None, offset_y: int | None = None,
                 width: int | None = None, height: int | None = None):
        super().__init__()
        self.trigger = camera_settings.parse_trigger(trigger)
        given = {"exposure_us": exposure_us, "gain": gain, "pixel_format": pixel_format, "fps": fps,
                 "roi": None if roi is None else camera_settings.parse("roi", roi)[1],
                 "offset_x": offset_x, "offset_y": offset_y, "width": width, "height": height}
        # what is applied each time the camera opens, in camera_settings.ORDER; a change from the Live
        # tab replaces its entry, so a reconnect keeps it
        self.settings = {k: given[k] for k in camera_settings.ORDER if k != "trigger" and given.get(k) is not None}
        self.device = device or None
        self.buffers = max(2, buffers)
        self.live = self.trigger != "software"  # software: the camera waits for us, like a file
        self.name = f"genicam://{device or ''}"
        self.refused: list[str] = []
        self.lost_frames = 0
        self.lost_packets = 0
        self.frames = 0
        self._cam = self._stream = None
        self._last_id: int | None = None
        self._index = 0  # frames the camera sent since it was opened first (block ids unwrapped)
        self._pending_trigger = False
        # the reader holds _io while it waits for a frame; a change takes _turn first, so the reader,
        # which passes through _turn before each wait, cannot take _io back before the change runs
        self._io = threading.Lock()
        self._turn = threading.Lock()

    @property
    def can_stall(self) -> bool:
        """A camera waiting for its hardware trigger is silent until the part comes: not a stall."""
        return not self.trigger.startswith("line")

    @property
    def open_note(self) -> str:
        return f" (refused: {'; '.join(self.refused)})" if self.refused else ""

    def open(self) -> None:
        Aravis = aravis()
        self._Aravis = Aravis
        try:
            cam = Aravis.Camera.new(self.device)
        except Exception as e:  # noqa: BLE001 - GLib.Error: not found, in use
            raise SourceError(f"GenICam camera {self.device or '(first found)'} is not reachable ({_msg(e)}) "
                              "— check the cable, address and that no other program holds it; retrying") from None
        self.refused = []
        self._apply(cam)
        fmt = cam.get_pixel_format_as_string()
        if fmt not in _CONVERT:
            raise ConfigError(f"the camera sends {fmt}, which Inspector cannot convert — set pixel_format= to one "
                              f"of {', '.join(f for f in cam.dup_available_pixel_formats_as_strings() if f in _CONVERT)}")
        with self._io:
            self._cam = cam
            self._start_stream()
        self.name = f"genicam://{self.device or cam.get_device_id()}"

    def _start_stream(self) -> None:
        cam, Aravis = self._cam, self._Aravis
        self._format = cam.get_pixel_format_as_string()
        stream = cam.create_stream(None, None)
        if stream is None:
            raise SourceError(f"GenICam camera {self.device or ''}: no stream could be opened — retrying")
        size = cam.get_payload()
        for _ in range(self.buffers):
            stream.push_buffer(Aravis.Buffer.new_allocate(size))
        cam.start_acquisition()
        self._stream, self._last_id = stream, None

    def _apply(self, cam) -> None:
        """Each setting on its own: a refused one is noted, the others still apply."""
        for name in camera_settings.ORDER:
            value = self.trigger if name == "trigger" else self.settings.get(name)
            if value is None:
                continue
            done = camera_settings.apply(cam, name, value)
            if not done.ok:
                self.refused.append(f"{name} ({done.reason})")

    # -- changed while the stream runs (the Live tab's Camera… dialog); any thread ---------------------
    def change(self, name: str, value) -> camera_settings.Applied:
        """Apply one setting to the open camera and read it back; refused: the camera keeps its value
        and the stream goes on. Format and region changes restart acquisition with new buffers."""
        name, value = camera_settings.parse(name, value)
        with self._turn, self._io:
            cam = self._cam
            if cam is None:
                return camera_settings.Applied(name, value, False, None,
                                               "the camera is not connected now — try again when it is")
            payload = name in camera_settings.PAYLOAD
            if payload:
                self._stop_stream()
            try:
                done = camera_settings.apply(cam, name, value)
            finally:
                if payload:
                    self._start_stream()
            if done.ok:
                self._remember(name, done.now)
            return done

    def state(self) -> dict:
        """The open camera's settings with their bounds and choices (camera_settings.read)."""
        with self._turn, self._io:
            if self._cam is None:
                raise SourceError("the GenICam camera is not connected now — try again when it is")
            return camera_settings.read(self._cam)

    def spec(self) -> str:
        """This source as a genicam:// string with its settings now (saved as the station's source)."""
        options = {k: camera_settings._show(v) for k, v in self.settings.items()}
        options["trigger"] = self.trigger
        if self.buffers != 8:
            options["buffers"] = str(self.buffers)
        return f"genicam://{self.device or ''}?{urlencode(options, safe=',')}"

    def _remember(self, name: str, now) -> None:
        if name == "trigger":
            self.trigger = now
            return
        if name in camera_settings.REGION_PARTS or name == "roi":
            for part in camera_settings.REGION_PARTS:
                self.settings.pop(part, None)
            name, now = "roi", camera_settings._get(self._cam, "roi")
        self.settings[name] = now
        self.settings = {k: self.settings[k] for k in camera_settings.ORDER if k in self.settings}

    def _stop_stream(self) -> None:
        try:
            self._cam.stop_acquisition()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        self._stream = None  # its buffers have the old size: a new stream gets new ones

    def read(self, timeout: float = 0.5):
        with self._turn:
            pass  # a change waiting for the camera goes first
        with self._io:
            return self._read(timeout)

    def _read(self, timeout: float):
        stream = self._stream
        if stream is None:
            raise SourceError("GenICam camera is not open")
        if self.trigger == "software" and not self._pending_trigger:
            self._cam.software_trigger()
            self._pending_trigger = True
        buf = stream.timeout_pop_buffer(max(1, int(timeout * 1e6)))
        self._pending_trigger = False  # answered, or lost on the way: the next read triggers again
        if buf is None:
            return None
        try:
            if buf.get_status() != self._Aravis.BufferStatus.SUCCESS:
                self.lost_frames += 1
                self.dropped += 1
                return None
            frame_id = buf.get_frame_id()
            if self._last_id is not None:
                delta = frame_id - self._last_id
                if delta <= 0 and self._last_id >= 0xFF00:  # GigE Vision 1.x block ids wrap 65535 → 1 (0 unused)
                    delta = frame_id + 0xFFFF - self._last_id
                if delta > 1:
                    self.lost_frames += delta - 1
                    self.dropped += delta - 1
                self._index += max(delta, 1)
            self._last_id = frame_id
            image = self._to_rgb(buf)
            self.frames += 1
            return image, {"index": self._index, "block_id": frame_id, "camera_ts_ns": buf.get_timestamp()}
        finally:
            stream.push_buffer(buf)

    def _to_rgb(self, buf) -> np.ndarray:
        w, h = buf.get_image_width(), buf.get_image_height()
        data = np.frombuffer(buf.get_data(), np.uint8)
        fmt = self._format
        if fmt == "Mono16":
            mono = (data[:w * h * 2].view("<u2").reshape(h, w) >> 8).astype(np.uint8)
            return cv2.cvtColor(mono, cv2.COLOR_GRAY2RGB)
        if fmt in ("RGB8", "RGB8Packed", "BGR8"):
            img = data[:w * h * 3].reshape(h, w, 3)
            return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if fmt == "BGR8" else img.copy()
        raw = data[:w * h].reshape(h, w)
        code = _CONVERT[fmt]
        return cv2.cvtColor(raw, code if code is not None else cv2.COLOR_GRAY2RGB)

    def close(self) -> None:
        with self._turn, self._io:
            cam, stream = self._cam, self._stream
            self._cam = self._stream = None
        if stream is not None:
            try:
                stats = stream.get_statistics()
                self.lost_packets += int(getattr(stats, "n_missing_packets", 0) or 0)
            except Exception:  # noqa: BLE001 - a USB3 stream has no packet statistics
                pass
        if cam is not None:
            try:
                cam.stop_acquisition()
            except Exception:  # noqa: BLE001 - unplugged: nothing to stop
                pass
        time.sleep(0)  # let GLib drop the stream thread


_msg = camera_settings.error_text


def from_spec(spec: str) -> GenicamSource:
    from inspector.core.live.source_base import parse_options
    rest = spec[len("genicam://"):]
    device, _, query = rest.partition("?")
    return GenicamSource(device.strip("/") or None, **parse_options(query, _OPTIONS, spec))
