"""User preferences: a small typed JSON file in the user's config folder. QSettings holds only
window geometry. INSPECTOR_CONFIG_DIR / INSPECTOR_LOG_DIR move both folders (tests use tmp)."""
from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from inspector.core import durable

log = logging.getLogger(__name__)

PREFS_FILE = "preferences.json"
DEFAULT_SOURCE = "synthetic://line?fps=8&size=256&defect_rate=0.35&seed=11"


def _home_dir(env: str, windows: tuple[str, str], mac: str, xdg: tuple[str, str]) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    if sys.platform == "win32":
        return Path(os.environ.get(windows[0]) or Path.home() / "AppData" / "Roaming") / windows[1]
    if sys.platform == "darwin":
        return Path.home() / "Library" / mac
    return Path(os.environ.get(xdg[0]) or Path.home() / xdg[1]) / "inspector"


def config_dir() -> Path:
    return _home_dir("INSPECTOR_CONFIG_DIR", ("APPDATA", "Inspector"), "Application Support/Inspector",
                     ("XDG_CONFIG_HOME", ".config"))


def log_dir() -> Path:
    base = _home_dir("INSPECTOR_LOG_DIR", ("LOCALAPPDATA", "Inspector"), "Logs/Inspector",
                     ("XDG_STATE_HOME", ".local/state"))
    return base if os.environ.get("INSPECTOR_LOG_DIR") or sys.platform == "darwin" else base / "logs"


@dataclass
class Preferences:
    user: str = ""
    last_project: str = ""
    recent_projects: list[str] = field(default_factory=list)
    large_font: bool = False
    source: str = DEFAULT_SOURCE
    trigger: str = "free"
    roi: str = ""
    show_heatmap: bool = True
    review_per_minute: int = 30  # flagged parts a minute the live view may add to the review queue
    train_preset: str = "head"

    def remember_project(self, path: str | Path) -> None:
        path = str(Path(path))
        self.last_project = path
        self.recent_projects = [path] + [p for p in self.recent_projects if p != path][:7]


def load_preferences(path: Path | None = None) -> Preferences:
    """The saved preferences; a missing or damaged file (or a wrong-typed value) gives defaults."""
    path = path or config_dir() / PREFS_FILE
    prefs = Preferences()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return prefs
    except (OSError, ValueError) as e:
        log.warning("preferences %s unreadable (%s); using defaults", path, e)
        return prefs
    if not isinstance(data, dict):
        return prefs
    for f in fields(Preferences):
        if f.name not in data:
            continue
        value, default = data[f.name], getattr(prefs, f.name)
        if isinstance(default, bool) and not isinstance(value, bool):
            continue
        if isinstance(default, list):
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                setattr(prefs, f.name, value)
        elif type(value) is type(default):
            setattr(prefs, f.name, value)
        else:
            log.warning("preference %s=%r has the wrong type; keeping %r", f.name, value, default)
    return prefs


def save_preferences(prefs: Preferences, path: Path | None = None) -> None:
    """Atomic: a crash mid-save leaves the old file, never half of one."""
    path = path or config_dir() / PREFS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        durable.write_text(path, json.dumps(asdict(prefs), indent=2))
    except OSError as e:  # preferences are a convenience: never stop the operator for them
        log.warning("cannot save preferences to %s: %s", path, e)


def geometry_settings():
    """QSettings (INI in the config folder) for window geometry and splitter positions only."""
    from PySide6.QtCore import QSettings

    config_dir().mkdir(parents=True, exist_ok=True)
    return QSettings(str(config_dir() / "window.ini"), QSettings.Format.IniFormat)
