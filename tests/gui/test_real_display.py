"""The real application on a real X server, as `make run` starts it: not the offscreen platform every
other GUI test uses. Xvfb stands in for the desktop; xdotool types and presses keys like a user; the
screenshot is of the X screen (ImageMagick `import`), not a widget grab. Skipped, with the reason, where
Xvfb, xdotool or ImageMagick's `import` is missing; `.ci/run` installs them (Debian) so CI runs it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from inspector.core.imageio import decode_image

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "gui"
TOOLS = ("Xvfb", "xdotool", "import")
pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 (Xvfb) test: Linux only"),
    pytest.mark.skipif(not all(shutil.which(t) for t in TOOLS),
                       reason="needs Xvfb, xdotool and ImageMagick (`apt-get install xvfb xdotool imagemagick`)"),
]


@pytest.fixture
def x_display():
    """A fresh Xvfb at 1366×768 (a common shop-floor panel) on a free display number; its DISPLAY."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1366x768x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()  # Xvfb writes the display number once it accepts clients
    if not number:
        xvfb.kill()
        pytest.fail(f"Xvfb did not start: {xvfb.communicate()[1].decode(errors='replace')[-500:]}")
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(10)


def _xdo(display: str, *args: str) -> str:
    out = subprocess.run(["xdotool", *args], env={**os.environ, "DISPLAY": display},
                         capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def _wait_window(display: str, pattern: str, app: subprocess.Popen, timeout_s: float) -> str:
    """The id of the first visible window whose title matches `pattern` (a regex); fails if the app exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _xdo(display, "search", "--onlyvisible", "--name", pattern)
        if found:
            return found.split()[0]
        if app.poll() is not None:
            pytest.fail(f"the application exited ({app.returncode}) before a window {pattern!r} showed: "
                        f"{app.communicate()[1][-2000:]}")
        time.sleep(0.5)
    pytest.fail(f"no window {pattern!r} within {timeout_s:.0f} s")


def _inspector_command() -> list[str]:
    script = Path(sys.executable).parent / "inspector"  # the console script `make run` starts
    return [str(script)] if script.is_file() else [sys.executable, "-m", "inspector.cli.main"]


def test_the_demo_opens_on_a_real_x_display_and_closes_cleanly(x_display, tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb"}
    env.pop("WAYLAND_DISPLAY", None)
    app = subprocess.Popen([*_inspector_command(), "demo", "--dir", str(tmp_path / "demo")], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The first thing `inspector demo` shows: who is inspecting. Typed as a user would.
        dialog = _wait_window(x_display, "^Inspector$", app, timeout_s=180)
        _xdo(x_display, "windowfocus", "--sync", dialog)
        _xdo(x_display, "type", "--delay", "30", "Ana")
        _xdo(x_display, "key", "Return")
        window = _wait_window(x_display, "^Inspector — demo — Ana$", app, timeout_s=300)
        time.sleep(4)  # the demo inspects at once: let a few parts reach the screen

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = ARTIFACTS / "real_display_demo.png"
        subprocess.run(["import", "-window", "root", str(shot)], env=env, check=True, timeout=60,
                       capture_output=True)
        rgb = decode_image(shot.read_bytes())
        assert rgb.shape[:2] == (768, 1366), rgb.shape
        # The main window covers the screen (Xvfb's bare root is black) and holds drawn text and widgets.
        black = np.all(rgb < 8, axis=2).mean()
        assert black < 0.2, f"{black:.0%} of the screen is black: the window did not cover it ({shot})"
        assert rgb.std() > 20, f"the screenshot is nearly uniform: nothing was drawn ({shot})"

        _xdo(x_display, "windowfocus", "--sync", window)
        _xdo(x_display, "key", "--window", window, "ctrl+q")  # File ▸ Quit
        try:
            _, stderr = app.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the application did not exit within 120 s of Ctrl+Q")
        assert app.returncode == 0, f"exit code {app.returncode}: {stderr[-2000:]}"
        for bad in ("QThread: Destroyed", "Traceback", "Could not load the Qt platform plugin"):
            assert bad not in stderr, stderr[-2000:]
    finally:
        if app.poll() is None:
            app.kill()
            app.communicate()
