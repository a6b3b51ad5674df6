"""Runtime hook: whenever PySide6 is about to load, load torch first.

Qt's DLLs loaded before torch's make torch fail on Windows ("DLL initialization routine failed"
for c10.dll). Custom runtime hooks run before PyInstaller's own, and PyInstaller's PySide6 hook
imports QtCore at start-up, so in the bundle this loads torch at every start (about 2.2 s of CPU,
see bench/RESULTS.md), spawned workers included. Not in multiprocessing's helper processes (the
resource tracker, the fork server): they never load torch, so Qt first cannot hurt them.
"""
import importlib.abc
import sys


class _TorchBeforeQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("PySide6", "shiboken6") and "torch" not in sys.modules:
            sys.meta_path.remove(self)  # once is enough, and no recursion while torch imports
            import torch  # noqa: F401
        return None  # the normal finders import PySide6 itself


def _multiprocessing_helper() -> bool:
    # started as `inspector [flags] -c "from multiprocessing.resource_tracker import main; ..."`
    return any(arg.startswith(("from multiprocessing.", "import sys; from multiprocessing.")) for arg in sys.argv[1:])


if not _multiprocessing_helper():
    sys.meta_path.insert(0, _TorchBeforeQt())
