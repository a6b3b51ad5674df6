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


# -- the import graph of inspector/ (imports inside functions count too: they run sooner or later) ------
def _import_graph() -> dict[str, set[str]]:
    import ast
    from pathlib import Path

    root = Path(inspector.core.__file__).resolve().parents[1]
    mods = {}
    for f in root.rglob("*.py"):
        parts = list(f.relative_to(root.parent).with_suffix("").parts)
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, f in mods.items():
        is_pkg = f.name == "__init__.py"
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = m.split(".") if is_pkg else m.split(".")[:-1]
                    base = ".".join(here[: len(here) - (node.level - 1)] + ([base] if base else []))
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                r = resolve(t) if t.split(".")[0] == "inspector" else None
                if r and r != m and not m.startswith(r + "."):  # a module importing its own package
                    edges[m].add(r)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_no_import_cycles():
    """A cycle makes import order matter and hides which module owns what (issue 10)."""
    assert _cycles(_import_graph()) == []


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_gui_never_imports_cli_and_core_never_imports_gui():
    edges = _import_graph()
    wrong = sorted(f"{m} -> {t}" for m, ts in edges.items() for t in ts
                   if (m.startswith("inspector.gui") and t.startswith("inspector.cli"))
                   or (m.startswith("inspector.core") and (t.startswith(("inspector.gui", "inspector.cli")))))
    assert wrong == []


def test_core_has_no_module_named_for_the_gui():
    names = [m.name for m in pkgutil.walk_packages(inspector.core.__path__, "inspector.core.")]
    assert [n for n in names if "gui" in n.rsplit(".", 1)[-1] or "widget" in n] == []


def test_the_live_onnx_path_does_not_import_torch():
    """A CPU line runs ONNX Runtime only: importing PyTorch costs ~2 s and ~300 MB (bench/live.py)."""
    code = ("import sys; import inspector.core.live.pipeline, inspector.core.live.runners, inspector.core.predictor, "
            "inspector.core.onnx_sessions; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
