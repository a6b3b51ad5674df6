"""Helpers every command module uses: opening a project the way the CLI reports it, and printing a
result as text or --json. A leaf module (imports nothing of inspector.cli), so command modules and
main.py share it without importing each other."""
from __future__ import annotations

import json
import sys


def open_project(path):
    """Project.open, plus one line on stderr when opening moved files to quarantine (stdout stays
    clean for --json)."""
    from inspector.core.project import Project

    p = Project.open(path)
    line = p.recovery.line()
    if line:
        print(f"note: {line}", file=sys.stderr)
    return p


def emit(args, obj: dict, text: str) -> None:
    """The result: one JSON line with --json, else the text."""
    print(json.dumps(obj, default=str) if getattr(args, "json", False) else text)
