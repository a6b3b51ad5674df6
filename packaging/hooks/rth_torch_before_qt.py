"""Runtime hook: whenever PySide6 is about to load, load torch first.

Qt's DLLs loaded before torch's make torch fail on Windows ("DLL initialization routine failed"
for c10.dll). Custom runtime hooks run before PyInstaller's own, and PyInstaller's PySide6 hook
imports QtCore at start-up, so in the bundle this loads torch at every start (about 2-3 s of
the start-up time, measured in bench/startup.py), spawned worker processes included.
"""
import importlib.abc
import sys


class _TorchBeforeQt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in ("PySide6", "shiboken6") and "torch" not in sys.modules:
            sys.meta_path.remove(self)  # once is enough, and no recursion while torch imports
            import torch  # noqa: F401
        return None  # the normal finders import PySide6 itself


sys.meta_path.insert(0, _TorchBeforeQt())
