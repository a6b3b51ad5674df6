"""A multi-camera station's views, saved in the project: each view is a name (top, side…), a source,
a region and a model. A project with views is inspected by core/live/station.py: all views triggered
together, one result per part. Set with `inspector station` or the Live tab's Views… dialog, both through
put_view / drop_view here (same checks, same messages); light to import (the GUI reads it)."""
from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from inspector.core.errors import ConfigError
from inspector.core.live.roi import Roi

VIEWS_KEY = "live.views"  # project meta: the station's views as a JSON list (none: a one-camera station)
MODEL_KINDS = ("anomaly", "classifier")  # a view following that kind's active model (runners.RUNNERS' keys)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


@dataclass
class ViewConfig:
    name: str
    source: str
    roi: str | None = None  # x,y,w,h; None = the whole picture
    # None = the line model, followed when it changes; "anomaly" / "classifier" = the active model of
    # that kind, followed; anything else = that version, pinned (e.g. a model trained on side pictures)
    model: str | None = None

    def describe(self) -> str:
        from inspector.core.live.credentials import redact  # a password in an address is never shown
        return (f"{self.name}: {redact(self.source)}" + (f"  region {self.roi}" if self.roi else "")
                + f"  model {self.model or 'the line model'}")


def check_views(views: list[ViewConfig]) -> list[ViewConfig]:
    """The views as given, or a one-line ConfigError: a bad or repeated name, no source, a bad region."""
    seen: set[str] = set()
    for v in views:
        if not _NAME.match(v.name or ""):
            raise ConfigError(f"view name {v.name!r}: use letters, digits, - or _ (up to 32), e.g. top or side")
        if v.name.lower() in seen:
            raise ConfigError(f"view {v.name!r} is named twice — each view of a station needs its own name")
        seen.add(v.name.lower())
        if not str(v.source or "").strip():
            raise ConfigError(f"view {v.name}: no source — give a camera index, stream URL, video file or folder")
        Roi.parse(v.roi)
    return views


def views_from_json(text: str | None) -> list[ViewConfig]:
    if not text:
        return []
    try:
        return check_views([ViewConfig(**{k: d.get(k) for k in ("name", "source", "roi", "model")})
                            for d in json.loads(text)])
    except (ValueError, TypeError, AttributeError):
        raise ConfigError("the project's station views are damaged — set them again with `inspector station`") from None


def load_views(project) -> list[ViewConfig]:
    return views_from_json(project.get_meta(VIEWS_KEY))


def save_views(project, views: list[ViewConfig], user: str | None = None) -> None:
    project.set_meta(VIEWS_KEY, json.dumps([asdict(v) for v in check_views(views)]), user)


def check_model(view: ViewConfig, versions: list[str]) -> None:
    """A pinned model must be one of the project's versions (versions: registry.list()'s names)."""
    if view.model is None or view.model in MODEL_KINDS or view.model in versions:
        return
    raise ConfigError(f"view {view.name}: there is no model {view.model!r} — give a version "
                      f"({', '.join(versions) or 'none trained yet'}), anomaly or classifier, or none for the line model")


def check_source_form(view: ViewConfig) -> None:
    """The address's form only (the camera need not be plugged in yet). Looks at the path when the source
    is a file or folder, and imports the source's module: the GUI calls this off its thread."""
    from inspector.core.live.sources import open_source
    try:
        open_source(view.source)
    except ConfigError as e:
        raise ConfigError(f"view {view.name}: {e}") from None


def put_view(views: list[ViewConfig], new: ViewConfig, versions: list[str] | None = None) -> list[ViewConfig]:
    """The views with `new` added, or replacing the view of its name (the list is checked, not saved)."""
    if not str(new.source or "").strip():
        raise ConfigError(f"view {new.name}: give its source (camera index, stream URL, video file or folder)")
    if versions is not None:
        check_model(new, versions)
    out = [new if v.name.lower() == new.name.lower() else v for v in views]
    if new not in out:
        out.append(new)
    return check_views(out)


def drop_view(views: list[ViewConfig], name: str) -> list[ViewConfig]:
    kept = [v for v in views if v.name.lower() != name.lower()]
    if len(kept) == len(views):
        raise ConfigError(f"there is no view {name!r} — the views are: {', '.join(v.name for v in views) or 'none'}")
    return kept


def parse_assignments(items: list[str] | None, what: str) -> dict[str, str]:
    """["top=video.mp4", "side=rtsp://…"] → {"top": "video.mp4", …}; a missing '=' is a one-line error."""
    out: dict[str, str] = {}
    for item in items or []:
        name, eq, value = str(item).partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"{what} {item!r} is not NAME=VALUE, e.g. top=video.mp4")
        if name.strip() in out:
            raise ConfigError(f"view {name.strip()!r} is named twice — each view of a station needs its own name")
        out[name.strip()] = value.strip()
    return out
