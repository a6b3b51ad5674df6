"""Starting the desktop application from the command line, with a clear message when it cannot."""
from __future__ import annotations

import sys


def run_gui(project: str | None = None, *, demo: bool = False, demo_dir: str | None = None) -> int:
    import torch  # noqa: F401 - before PySide6: torch's DLLs fail to load on Windows once Qt's are loaded

    try:
        from inspector.gui.app import run_app
    except ImportError as e:
        print(f"error: the desktop application cannot start ({e}) — reinstall Inspector, "
              "or use the command line (`inspector --help`, `inspector demo --headless`)", file=sys.stderr)
        return 2
    return run_app(project, demo=demo, demo_dir=demo_dir)
