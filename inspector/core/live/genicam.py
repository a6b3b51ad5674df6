"""genicam:// — GigE Vision and USB3 Vision cameras through Aravis (GenICam), Linux.

    genicam://                       the first camera found
    genicam://192.168.0.20           by address, or by Aravis device id / serial ("Basler-21234567")
    ?exposure_us=5000&gain=2&pixel_format=Mono8&roi=0,0,640,480&fps=30&trigger=free|software|line1

Settings are applied one by one when the camera opens; one the camera refuses (out of range, not a
feature of this model) is listed as refused (`refused`, shown when the source opens) and the rest
still apply. A pixel format the pipeline cannot convert is one ConfigError before acquisition.
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
import time
from pathlib import Path

import cv2
import numpy as np

from inspector.core.errors import ConfigError
from inspector.core.live.roi import Roi
from inspector.core.live.source_base import Source, SourceError

_SYSTEM_GI = (Path("/usr/lib/python3/dist-packages/gi"), Path("/usr/lib64/python3/site-packages/gi"))
# pixel format → conversion to RGB
_CONVERT = {"Mono8": None, "Mono16": None, "RGB8": None, "RGB8Packed": None, "BGR8": cv2.COLOR_BGR2RGB,
            "BayerRG8": cv2.COLOR_BayerRG2RGB, "BayerBG8": cv2.COLOR_BayerBG2RGB,
            "BayerGR8": cv2.COLOR_BayerGR2RGB, "BayerGB8": cv2.COLOR_BayerGB2RGB}
_OPTIONS = {"exposure_us": float, "gain": float, "pixel_format": str, "roi": str, "fps": float, "trigger": str,
            "buffers": int}


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
    can_stall = True

    def __init__(self, device: str | None = None, *, exposure_us: float | None = None, gain: float | None = None,
                 pixel_format: str | None = None, roi: str | None = None, fps: float | None = None,
                 trigger: str = "free", buffers: int = 8):
        super().__init__()
        trigger = (trigger or "free").lower()
        if trigger not in ("free", "software") and not (trigger.startswith("line") and trigger[4:].isdigit()):
            raise ConfigError(f"GenICam trigger {trigger!r} is not known — use free, software or line1 (line2, …)")
        if pixel_format is not None and pixel_format not in _CONVERT:
            raise ConfigError(f"pixel format {pixel_format} is not supported — use one of "
                              f"{', '.join(sorted(_CONVERT))}")
        self.device = device or None
        self.exposure_us, self.gain, self.pixel_format, self.fps = exposure_us, gain, pixel_format, fps
        self.region = Roi.parse(roi) if roi else None
        self.trigger, self.buffers = trigger, max(2, buffers)
        self.live = trigger != "software"  # software: the camera waits for us, like a file
        self.name = f"genicam://{device or ''}"
        self.refused: list[str] = []
        self.lost_frames = 0
        self.lost_packets = 0
        self.frames = 0
        self._cam = self._stream = None
        self._last_id: int | None = None
        self._index = 0  # frames the camera sent since it was opened first (block ids unwrapped)
        self._pending_trigger = False

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
        self._format = fmt
        stream = cam.create_stream(None, None)
        if stream is None:
            raise SourceError(f"GenICam camera {self.device or ''}: no stream could be opened — retrying")
        size = cam.get_payload()
        for _ in range(self.buffers):
            stream.push_buffer(Aravis.Buffer.new_allocate(size))
        cam.start_acquisition()
        self._cam, self._stream, self._last_id = cam, stream, None
        self.name = f"genicam://{self.device or cam.get_device_id()}"

    def _apply(self, cam) -> None:
        """Each setting on its own: a refused one is noted, the others still apply."""
        steps = []
        if self.pixel_format is not None:
            steps.append(("pixel_format", lambda: cam.set_pixel_format_from_string(self.pixel_format),
                          lambda: cam.get_pixel_format_as_string() == self.pixel_format))
        if self.region is not None:
            r = self.region
            steps.append(("roi", lambda: cam.set_region(r.x, r.y, r.w, r.h),
                          lambda: tuple(cam.get_region()) == (r.x, r.y, r.w, r.h)))
        if self.exposure_us is not None:
            steps.append(("exposure_us", lambda: cam.set_exposure_time(self.exposure_us),
                          lambda: abs(cam.get_exposure_time() - self.exposure_us) <= max(1.0, 0.01 * self.exposure_us)))
        if self.gain is not None:
            steps.append(("gain", lambda: cam.set_gain(self.gain), lambda: abs(cam.get_gain() - self.gain) < 0.01))
        if self.trigger == "free":
            steps.append(("trigger", cam.clear_triggers, lambda: True))
            if self.fps is not None:
                steps.append(("fps", lambda: cam.set_frame_rate(self.fps),
                              lambda: abs(cam.get_frame_rate() - self.fps) < 0.01 * self.fps))
        else:
            source = "Software" if self.trigger == "software" else f"Line{self.trigger[4:]}"
            steps.append(("trigger", lambda: cam.set_trigger(source), lambda: True))
        for name, do, took in steps:
            try:
                outside = _outside(cam, name, self)
                if outside:
                    self.refused.append(f"{name} ({outside})")
                    continue
                do()
                ok = took()
            except Exception as e:  # noqa: BLE001 - GLib.Error from the camera
                self.refused.append(f"{name} ({_msg(e)})")
                continue
            if not ok:
                self.refused.append(f"{name} (the camera kept its own value)")

    def read(self, timeout: float = 0.5):
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


def _outside(cam, name: str, src: "GenicamSource") -> str | None:
    """Why a value lies outside what the camera says it takes (its bounds, its sensor), else None."""
    try:
        if name in ("gain", "exposure_us", "fps"):
            value = {"gain": src.gain, "exposure_us": src.exposure_us, "fps": src.fps}[name]
            lo, hi = {"gain": cam.get_gain_bounds, "exposure_us": cam.get_exposure_time_bounds,
                      "fps": cam.get_frame_rate_bounds}[name]()
            if not lo <= value <= hi:
                return f"{value:g} is outside the camera's {lo:g} to {hi:g}"
        elif name == "roi":
            w, h = cam.get_sensor_size()
            r = src.region
            if r.x + r.w > w or r.y + r.h > h:
                return f"{r} does not fit the {w}×{h} sensor"
    except Exception:  # noqa: BLE001 - a camera without bounds: let it decide
        return None
    return None


def _msg(e: Exception) -> str:
    text = getattr(e, "message", None) or str(e)
    return text.split(": ", 1)[-1].strip()


def from_spec(spec: str) -> GenicamSource:
    from inspector.core.live.source_base import parse_options
    rest = spec[len("genicam://"):]
    device, _, query = rest.partition("?")
    return GenicamSource(device.strip("/") or None, **parse_options(query, _OPTIONS, spec))
