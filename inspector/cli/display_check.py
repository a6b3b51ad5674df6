"""Before the desktop application makes its QApplication: can Qt's X11 (xcb) platform plugin load here?

Qt aborts the process when it cannot ("Could not load the Qt platform plugin xcb … libxcb-cursor0 is
needed"), and the pip wheel of PySide6 carries Qt but not the X11 client libraries it links. This
module finds the shared libraries the plugin lacks (with `ldd`, or by loading the plugin in a child
process where there is no `ldd`) and turns them into one line: the `apt-get install` to run.

Imports no Qt: it runs before PySide6's libraries are loaded. Used by `inspector/cli/gui_entry.py`,
`inspector --self-test` and, through DEBIAN_PACKAGES, the README and packaging/linux/install.sh.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# What PySide6-Essentials' xcb plugin (and the Qt libraries it links) needs on Debian 12 / Ubuntu 22.04+,
# found with `ldd PySide6/Qt/plugins/platforms/libqxcb.so` on a bare Debian. Keep in step with
# README.md, packaging/linux/install.sh, packaging/README.md and .ci/run (a unit test checks).
DEBIAN_PACKAGES = (
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0", "libxcb-render-util0",
    "libxcb-randr0", "libxcb-shape0", "libxcb-sync1", "libxcb-xfixes0", "libxcb-shm0", "libxcb-xkb1",
    "libx11-xcb1", "libxkbcommon-x11-0", "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3",
    "libglib2.0-0", "fonts-dejavu-core",
)
APT_LINE = "sudo apt-get install -y " + " ".join(DEBIAN_PACKAGES)

# The environment variable that points the check at another plugin file (tests; a custom Qt).
PLUGIN_ENV = "INSPECTOR_QT_XCB_PLUGIN"


def platforms_qt_will_try(env: dict | os._Environ = os.environ) -> list[str]:
    """The platform plugins Qt tries, in order, as QGuiApplication picks them on Linux."""
    names = [n.split(":")[0].strip() for n in env.get("QT_QPA_PLATFORM", "").split(";")]
    names = [n for n in names if n]
    if names:
        return names
    if env.get("XDG_SESSION_TYPE") == "wayland" and env.get("WAYLAND_DISPLAY"):
        return ["wayland", "xcb"]  # Qt 6 prefers Wayland in a Wayland session and falls back to xcb
    return ["xcb"]


def xcb_plugin_path() -> Path | None:
    """PySide6's libqxcb.so (in the venv, or inside the frozen bundle); None where there is none."""
    override = os.environ.get(PLUGIN_ENV)
    if override:
        return Path(override)
    spec = importlib.util.find_spec("PySide6")  # finds the package without loading Qt
    for root in (spec.submodule_search_locations or []) if spec else []:
        for qt in ("Qt", ""):  # the wheel's layout; some builds put plugins/ beside the package
            path = Path(root) / qt / "plugins" / "platforms" / "libqxcb.so"
            if path.is_file():
                return path
    return None


def linked_libraries(plugin: Path) -> dict[str, str | None]:
    """`ldd plugin`: every shared library it loads, directly or not, and where (None: not found)."""
    out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=60).stdout
    found: dict[str, str | None] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "=>":
            found[parts[0]] = None if parts[2] == "not" else parts[2]
    return found


def missing_libraries(plugin: Path) -> list[str]:
    """The shared libraries `plugin` (or a library it links) needs that this system cannot find."""
    if shutil.which("ldd"):
        return sorted(name for name, path in linked_libraries(plugin).items() if path is None)
    # No ldd (a very small system): dlopen the plugin in a child process; the loader names the first missing one.
    probe = "import ctypes, sys; ctypes.CDLL(sys.argv[1])"
    proc = subprocess.run([sys.executable, "-c", probe, str(plugin)], capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        return []
    found = re.findall(r"([\w.+-]+\.so[\w.]*): cannot open shared object file", proc.stderr)
    last = (proc.stderr.strip().splitlines() or [f"{plugin} did not load"])[-1]
    return sorted(set(found)) or [last]


def display_problem(env: dict | os._Environ = os.environ) -> str | None:
    """One line saying what to do when the desktop application cannot open a window here; None when it can
    (or when this check cannot tell: another OS, another platform plugin)."""
    if not sys.platform.startswith("linux"):
        return None
    platforms = platforms_qt_will_try(env)
    if platforms[0] != "xcb":
        return None  # offscreen, wayland, eglfs…: not the plugin this check knows
    if not env.get("DISPLAY"):
        return ("error: no X display to open the window on (DISPLAY is not set) — start Inspector from a "
                "desktop session, or use the command line (`inspector --help`, `inspector demo --headless`)")
    plugin = xcb_plugin_path()
    if plugin is None:
        return None  # a Qt without the xcb plugin: Qt says so itself
    if not plugin.is_file():
        return f"error: the Qt display plugin {plugin} does not exist — reinstall Inspector"
    missing = missing_libraries(plugin)
    if not missing:
        return None
    if any(name.startswith("libQt6") for name in missing):
        return (f"error: the desktop application's Qt libraries are incomplete ({', '.join(missing)} not found) "
                "— reinstall Inspector")
    return (f"error: the desktop application needs system libraries this computer lacks "
            f"({', '.join(missing)}) — install them with: {APT_LINE}")


# The X11 client libraries the frozen Linux bundle carries (packaging/inspector.spec): the xcb utility
# libraries a desktop may lack. libxcb, libX11, OpenGL, fontconfig and D-Bus stay the system's own
# (every X desktop has them, and libGL must match the machine's graphics driver).
BUNDLED_PATTERN = re.compile(r"^(libxcb-[\w-]+|libX11-xcb|libxkbcommon-x11)\.so\.\d+$")


def libraries_to_bundle(plugin: Path | None = None) -> list[str]:
    """Paths, on this build machine, of the libraries of BUNDLED_PATTERN the xcb plugin links. Raises
    SystemExit (one line with the apt-get line) when one is missing: a bundle must not ship without it."""
    plugin = plugin or xcb_plugin_path()
    if plugin is None or not sys.platform.startswith("linux"):
        return []
    linked = linked_libraries(plugin)
    missing = sorted(name for name, path in linked.items() if path is None)
    if missing:
        raise SystemExit(f"error: this build machine lacks {', '.join(missing)}, which the Linux bundle must "
                         f"carry — install them with: {APT_LINE}")
    qt_dir = str(plugin.resolve().parents[2])
    return sorted(path for name, path in linked.items()
                  if BUNDLED_PATTERN.match(name) and not path.startswith(qt_dir))
