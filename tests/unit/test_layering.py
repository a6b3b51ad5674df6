"""inspector/core is the product without a screen: it must import with Qt unavailable."""
import pkgutil
import subprocess
import sys

import inspector.core

BLOCK_QT = """
import importlib, pkgutil, sys
class _NoQt:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph', 'PyQt5', 'PyQt6'):
            raise ImportError(f'{name} is blocked: inspector.core must not import Qt')
sys.meta_path.insert(0, _NoQt())
import inspector.core
for m in pkgutil.walk_packages(inspector.core.__path__, 'inspector.core.'):
    importlib.import_module(m.name)
print('ok', len(list(pkgutil.walk_packages(inspector.core.__path__, 'inspector.core.'))))
"""


def test_core_imports_without_qt():
    out = subprocess.run([sys.executable, "-c", BLOCK_QT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    n = len(list(pkgutil.walk_packages(inspector.core.__path__, "inspector.core.")))
    assert out.stdout.strip() == f"ok {n}" and n >= 10
