"""Class names, colours and keyboard shortcuts: what is allowed and what new classes get by default."""
from __future__ import annotations

import colorsys
import re

from inspector.core.errors import ProjectError

OK_COLORS = ("#2ca02c", "#66bb6a", "#1b7a3a")
# Tableau-like colours that stay apart from each other and from the ok green.
DEFECT_COLORS = ("#d62728", "#ff7f0e", "#1f77b4", "#9467bd", "#e377c2", "#8c564b", "#17becf", "#bcbd22",
                 "#7f7f7f", "#f0c808", "#0b3c8c", "#a05195")
OK_SHORTCUTS = ("0",)
DEFECT_SHORTCUTS = tuple("123456789")

# Folder of unlabelled images in an export (import reads it back without a label), so not a class name.
UNLABELLED_FOLDER = "_unlabelled"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Class names become export folder names, so nothing a file system (Windows included) refuses.
_BAD_NAME_CHARS = set('/\\:*?"<>|')


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or name != name.strip():
        raise ProjectError(f"class name {name!r} is not allowed — use a non-empty name without surrounding spaces")
    if name in (".", "..") or name.startswith(".") or any(c in _BAD_NAME_CHARS or ord(c) < 32 for c in name):
        raise ProjectError(f"class name {name!r} is not allowed — it must not start with '.' or contain "
                           "/ \\ : * ? \" < > | or control characters")
    if name == UNLABELLED_FOLDER:
        raise ProjectError(f"class name {name!r} is reserved for unlabelled images — pick another name")
    return name


def check_kind(kind: str) -> str:
    if kind not in ("ok", "defect"):
        raise ProjectError(f"class kind {kind!r} is not allowed — use 'ok' or 'defect'")
    return kind


def check_color(color: str) -> str:
    if not isinstance(color, str) or not _COLOR.match(color):
        raise ProjectError(f"colour {color!r} is not allowed — use #rrggbb, e.g. #d62728")
    return color.lower()


def check_shortcut(shortcut: str) -> str:
    if not isinstance(shortcut, str) or len(shortcut) != 1 or shortcut.isspace():
        raise ProjectError(f"shortcut {shortcut!r} is not allowed — use a single key such as 1 or q")
    return shortcut


def pick_color(kind: str, used: set[str]) -> str:
    """The first palette colour no class uses yet; beyond the palette, evenly spread hues."""
    palette = OK_COLORS + DEFECT_COLORS if kind == "ok" else DEFECT_COLORS
    for c in palette:
        if c not in used:
            return c
    i = len(used)
    while True:
        r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.75, 0.85)
        c = f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"
        if c not in used:
            return c
        i += 1


def pick_shortcut(kind: str, used: set[str]) -> str | None:
    """"0" for the ok class, "1".."9" for defects; None once they are all taken."""
    order = OK_SHORTCUTS + DEFECT_SHORTCUTS if kind == "ok" else DEFECT_SHORTCUTS
    for s in order:
        if s not in used:
            return s
    return None
