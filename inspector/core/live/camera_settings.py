"""One GenICam camera setting at a time: exposure, gain, pixel format, region (OffsetX/Y, Width/Height),
frame rate and trigger mode. apply() sets one on an open Aravis camera and reads back what the camera
took; a value outside the camera's bounds, a feature this model lacks or a pixel format Inspector
cannot convert comes back refused with a one-line reason, and nothing else changes. read() gives the
camera's current values with their bounds and choices (the Live tab's Camera… dialog shows them).

Names are Inspector's source options (exposure_us, gain, pixel_format, roi, fps, trigger, offset_x, …);
the GenICam SFNC names (ExposureTime, Gain, PixelFormat, OffsetX, Width, AcquisitionFrameRate,
TriggerSource) are accepted as well, e.g. `inspector run --camera-set ExposureTime=5000`."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from inspector.core.errors import ConfigError
from inspector.core.live.roi import Roi

# pixel formats Inspector converts to RGB (genicam.py's _to_rgb)
CONVERTIBLE = ("Mono8", "Mono16", "RGB8", "RGB8Packed", "BGR8", "BayerRG8", "BayerBG8", "BayerGR8", "BayerGB8")
REGION_PARTS = ("offset_x", "offset_y", "width", "height")
# the order settings are applied in when a camera opens: the format and the region first (they bound
# the exposure and the frame rate on many cameras), the trigger before the frame rate it may disable
ORDER = ("pixel_format", "roi", *REGION_PARTS, "exposure_us", "gain", "trigger", "fps")
# settings that change the buffers' size: acquisition stops while they change (cameras lock them)
PAYLOAD = ("pixel_format", "roi", *REGION_PARTS)
_TYPES = {"exposure_us": float, "gain": float, "fps": float, "pixel_format": str, "roi": str, "trigger": str,
          "offset_x": int, "offset_y": int, "width": int, "height": int}
_ALIASES = {"exposuretime": "exposure_us", "exposuretimeabs": "exposure_us", "exposure": "exposure_us",
            "gain": "gain", "pixelformat": "pixel_format", "offsetx": "offset_x", "offsety": "offset_y",
            "width": "width", "height": "height", "acquisitionframerate": "fps", "framerate": "fps",
            "triggersource": "trigger", "triggermode": "trigger", "region": "roi"}


@dataclass(frozen=True)
class Applied:
    """One setting's outcome: ok, and the value the camera has now (read back), or the reason it was refused."""

    name: str
    asked: object
    ok: bool
    now: object = None
    reason: str = ""

    @property
    def message(self) -> str:
        if self.ok:
            return f"camera {self.name} = {_show(self.now)}"
        return f"camera {self.name} {_show(self.asked)} refused: {self.reason}" + (
            f" (still {_show(self.now)})" if self.now is not None else "")


def canonical(name: str) -> str:
    """Inspector's name for a setting (exposure_us) from it or its GenICam name (ExposureTime)."""
    key = name.strip()
    if key in _TYPES:
        return key
    found = _ALIASES.get(key.lower().replace("_", ""))
    if found is None:
        raise ConfigError(f"camera setting {name!r} is not known — use one of ExposureTime, Gain, PixelFormat, "
                          "OffsetX, OffsetY, Width, Height, AcquisitionFrameRate, TriggerSource (free, software, line1)")
    return found


def parse(name: str, text) -> tuple[str, object]:
    """(canonical name, typed value); a typo is one ConfigError line."""
    key = canonical(name)
    typ = _TYPES[key]
    try:
        value = typ(str(text).strip()) if typ is not str else str(text).strip()
    except ValueError:
        raise ConfigError(f"camera setting {name}={text!r} needs a {'whole ' if typ is int else ''}number") from None
    if key == "trigger":
        value = parse_trigger(value)
    elif key == "roi":
        value = ",".join(str(v) for v in _roi_tuple(Roi.parse(value)))
    elif key == "pixel_format" and not value:
        raise ConfigError("camera setting PixelFormat needs a format, e.g. Mono8")
    return key, value


def parse_trigger(text: str) -> str:
    t = (text or "free").strip().lower()
    t = {"off": "free", "freerun": "free", "free-run": "free", "continuous": "free"}.get(t, t)
    if t not in ("free", "software") and not (t.startswith("line") and t[4:].isdigit()):
        raise ConfigError(f"GenICam trigger {text!r} is not known — use free, software or line1 (line2, …)")
    return t


def parse_pairs(pairs: list[str]) -> dict[str, object]:
    """NAME=VALUE strings (`--camera-set`) as {canonical name: value}, later ones winning."""
    out: dict[str, object] = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"--camera-set {pair!r} is not NAME=VALUE — e.g. --camera-set ExposureTime=5000")
        key, typed = parse(name, value)
        out[key] = typed
    return out


def with_settings(spec: str, settings: dict[str, object]) -> str:
    """A genicam:// source with these settings in its query (replacing the same ones)."""
    if not settings:
        return spec
    if not spec.lower().startswith("genicam://"):
        raise ConfigError(f"--camera-set needs a genicam:// source, not {spec!r}")
    base, _, query = spec.partition("?")
    options = dict(parse_qsl(query, keep_blank_values=True))
    if any(k in settings for k in REGION_PARTS) and "roi" in settings:
        settings = {k: v for k, v in settings.items() if k != "roi"} | {"roi": settings["roi"]}
    options.update({k: _show(v) for k, v in settings.items()})
    return f"{base}?{urlencode(options, safe=',')}"


# -- on an open Aravis camera -------------------------------------------------------------------------
def apply(cam, name: str, value) -> Applied:
    """Set one setting on an open Aravis camera and read back what it took. Never raises for the
    camera's refusal: that is Applied(ok=False, reason=one line)."""
    try:
        now = _get(cam, name)
    except Exception:  # noqa: BLE001 - a feature this camera does not have
        now = None
    try:
        why = _outside(cam, name, value)
        if why:
            return Applied(name, value, False, now, why)
        _set(cam, name, value)
        took = _get(cam, name)
    except Exception as e:  # noqa: BLE001 - GLib.Error from the camera: not a feature, not an entry, locked
        try:
            now = _get(cam, name)
        except Exception:  # noqa: BLE001
            pass
        return Applied(name, value, False, now, error_text(e))
    if not _same(name, took, value):
        return Applied(name, value, False, took, "the camera kept its own value")
    return Applied(name, value, True, took)


def read(cam) -> dict:
    """The camera's settings now: {name: {"value", and "min"/"max" or "choices" where the camera says}}."""
    out: dict[str, dict] = {}

    def put(name, fn):
        try:
            out[name] = fn()
        except Exception:  # noqa: BLE001 - not a feature of this camera: left out
            pass

    put("exposure_us", lambda: _bounded(cam.get_exposure_time(), cam.get_exposure_time_bounds()))
    put("gain", lambda: _bounded(cam.get_gain(), cam.get_gain_bounds()))
    put("fps", lambda: _bounded(cam.get_frame_rate(), cam.get_frame_rate_bounds()))
    put("pixel_format", lambda: {"value": cam.get_pixel_format_as_string(), "choices": [
        f for f in cam.dup_available_pixel_formats_as_strings() if f in CONVERTIBLE]})
    put("roi", lambda: {"value": _region(cam), "sensor": tuple(cam.get_sensor_size())})
    put("trigger", lambda: {"value": _trigger(cam), "choices": trigger_choices(cam)})
    return out


def trigger_choices(cam) -> list[str]:
    sources = list(cam.dup_available_trigger_sources() or [])
    return ["free"] + (["software"] if "Software" in sources else []) + [
        s.lower() for s in sources if s.lower().startswith("line") and s[4:].isdigit()]


def error_text(e: Exception) -> str:
    """A GLib error's own words without its domain prefix ('arv-gc-error-quark: [Gain] …')."""
    text = getattr(e, "message", None) or str(e)
    return text.split(": ", 1)[-1].strip()


def _set(cam, name: str, value) -> None:
    if name == "exposure_us":
        cam.set_exposure_time(float(value))
    elif name == "gain":
        cam.set_gain(float(value))
    elif name == "fps":
        cam.set_frame_rate(float(value))
    elif name == "pixel_format":
        cam.set_pixel_format_from_string(value)
    elif name == "roi" or name in REGION_PARTS:
        cam.set_region(*_target_region(cam, name, value))
    elif name == "trigger":
        if value == "free":
            cam.clear_triggers()
        else:
            cam.set_trigger("Software" if value == "software" else f"Line{value[4:]}")
    else:
        raise ValueError(f"{name} is not a camera setting")


def _get(cam, name: str):
    if name == "exposure_us":
        return cam.get_exposure_time()
    if name == "gain":
        return cam.get_gain()
    if name == "fps":
        return cam.get_frame_rate()
    if name == "pixel_format":
        return cam.get_pixel_format_as_string()
    if name == "roi":
        return ",".join(str(v) for v in _region(cam))
    if name in REGION_PARTS:
        return _region(cam)[REGION_PARTS.index(name)]
    if name == "trigger":
        return _trigger(cam)
    return None


def _same(name: str, took, value) -> bool:
    if name == "exposure_us":
        return abs(took - value) <= max(1.0, 0.01 * value)
    if name == "gain":
        return abs(took - value) < 0.01
    if name == "fps":
        return abs(took - value) < 0.01 * value
    return took == value


def _outside(cam, name: str, value) -> str | None:
    """Why a value lies outside what the camera takes (its bounds, its sensor, Inspector's formats), else None."""
    if name == "pixel_format":
        if value not in CONVERTIBLE:
            offered = [f for f in _quiet(cam.dup_available_pixel_formats_as_strings, []) if f in CONVERTIBLE]
            return f"Inspector cannot convert {value} — use one of {', '.join(offered or CONVERTIBLE)}"
        offered = _quiet(cam.dup_available_pixel_formats_as_strings, None)
        if offered is not None and value not in offered:
            return f"this camera does not offer {value} — it offers {', '.join(f for f in offered if f in CONVERTIBLE)}"
        return None
    if name == "trigger":
        choices = _quiet(lambda: trigger_choices(cam), None)
        if choices is not None and value not in choices:
            return f"this camera has no {value} trigger — use one of {', '.join(choices)}"
        return None
    try:
        if name in ("gain", "exposure_us", "fps"):
            lo, hi = {"gain": cam.get_gain_bounds, "exposure_us": cam.get_exposure_time_bounds,
                      "fps": cam.get_frame_rate_bounds}[name]()
            if not lo <= value <= hi:
                return f"{value:g} is outside the camera's {lo:g} to {hi:g}"
        elif name == "roi" or name in REGION_PARTS:
            x, y, w, h = _target_region(cam, name, value)
            sw, sh = cam.get_sensor_size()
            if x < 0 or y < 0 or w <= 0 or h <= 0 or x + w > sw or y + h > sh:
                return f"{x},{y},{w},{h} does not fit the {sw}×{sh} sensor"
    except ConfigError as e:
        return str(e)
    except Exception:  # noqa: BLE001 - a camera without bounds: let it decide
        return None
    return None


def _target_region(cam, name: str, value) -> tuple[int, int, int, int]:
    if name == "roi":
        return _roi_tuple(Roi.parse(value))
    region = list(_region(cam))
    region[REGION_PARTS.index(name)] = int(value)
    return tuple(region)


def _region(cam) -> tuple[int, int, int, int]:
    r = cam.get_region()
    return tuple(int(v) for v in r)


def _roi_tuple(r: Roi) -> tuple[int, int, int, int]:
    return r.x, r.y, r.w, r.h


def _trigger(cam) -> str:
    if cam.get_string("TriggerMode") != "On":
        return "free"
    source = cam.get_trigger_source() or ""
    return "software" if source == "Software" else source.lower()


def _bounded(value, bounds) -> dict:
    lo, hi = bounds
    return {"value": value, "min": lo, "max": hi}


def _quiet(fn, default):
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return default


def _show(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)
