"""Starting the desktop application from the command line, with a clear message when it cannot."""
from __future__ import annotations

import sys


def run_gui(project: str | None = None, *, demo: bool = False, demo_dir: str | None = None) -> int:
    import torch  # noqa: F401 - before PySide6: torch's DLLs fail to load on Windows once Qt's are loaded

    from inspector.cli.display_check import APT_LINE, display_problem

    # Before Qt is loaded: Qt aborts the process (a core dump, no advice) when its X11 plugin cannot load.
    problem = display_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    try:
        from inspector.gui.app import run_app
    except ImportError as e:
        if "cannot open shared object file" in str(e):  # a system library Qt links (libGL, libEGL…) is missing
            print(f"error: the desktop application needs a system library this computer lacks ({e}) "
                  f"— install them with: {APT_LINE}", file=sys.stderr)
        else:
            print(f"error: the desktop application cannot start ({e}) — reinstall Inspector, "
                  "or use the command line (`inspector --help`, `inspector demo --headless`)", file=sys.stderr)
        return 2
    return run_app(project, demo=demo, demo_dir=demo_dir)
