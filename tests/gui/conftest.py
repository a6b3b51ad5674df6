"""GUI test fixtures: settings and logs isolated in tmp, a check that fails any test leaving a thread
running, a demo project (made once, copied per test), a main window at 1366×768, screenshots."""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import inspector.gui  # noqa: F401 - torch before Qt, as in the application
from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.synth import SyntheticLine

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "gui"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """Preferences, window geometry (QSettings), the log file and ~ all live in this test's tmp folder."""
    monkeypatch.setenv("INSPECTOR_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("INSPECTOR_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the demo's default folder is ~/Inspector/…
    yield tmp_path


@pytest.fixture(autouse=True)
def no_threads_left(qapp):
    """Fails the test when a QThread made by the GUI, or a live-pipeline thread, is still running after
    it (its windows closed). The leftover is then waited for, so it cannot spoil the next test."""
    from inspector.gui.workers import running_threads

    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 0.5  # a thread that is just returning from its last line
    while time.monotonic() < deadline and (running_threads() or _new_live_threads(before)):
        qapp.processEvents()
        time.sleep(0.01)
    leftover = [t.objectName() for t in running_threads()] + [t.name for t in _new_live_threads(before)]
    for t in running_threads():
        t.wait(30_000)
    assert not leftover, f"threads left running after the test: {leftover}"


def _new_live_threads(before) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t not in before and t.is_alive() and t.name.startswith("live-")]


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """The demo project as `inspector demo` makes it: 18 labelled parts and an active first model."""
    from inspector.core.demo_project import make_demo_project

    return make_demo_project(tmp_path_factory.mktemp("demo") / "template", user="demo")


@pytest.fixture
def project_path(demo_template, tmp_path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(demo_template, dest)
    return dest


def add_flagged_parts(path: Path, n: int, seed: int = 5, suggestion: str | None = "scratch") -> list[int]:
    """Unreviewed parts as the live view queues them (with a model suggestion)."""
    line = SyntheticLine(size=(128, 128), defect_rate=0.5, seed=seed)
    ids = []
    with Project.open(path) as p:
        for i in range(n):
            part = line.part(i)
            ids.append(p.add_image(encode_png(part.image), source="live:test", captured_at=time.time(),
                                   suggestion=suggestion, suggestion_score=0.55).sample_id)
            time.sleep(0.002)  # distinct added_at: newest-first order is then well defined
    return ids


@pytest.fixture
def session(project_path):
    from inspector.gui.session import Session

    s = Session.open(project_path, "Ana")
    yield s
    s.close(timeout_s=10)


@pytest.fixture
def window(session, qtbot):
    from inspector.gui.main_window import MainWindow

    w = MainWindow(session)  # not qtbot.addWidget: pytest-qt would delete it before it stopped its threads
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    close_window(w, qtbot)


STATION_PW = "station-secret"


def staff(path: Path) -> None:
    """The accounts of a station: root (admin), eve (engineer), otto (operator), each with STATION_PW."""
    from inspector.core import accounts

    with Project.open(path) as p:
        accounts.add(p, "root", "admin", STATION_PW, by=None)
        admin = accounts.login(p, "root", STATION_PW)
        accounts.add(p, "eve", "engineer", STATION_PW, by=admin)
        accounts.add(p, "otto", "operator", STATION_PW, by=admin)


@pytest.fixture
def station(project_path, qtbot):
    """The demo project with staff(), open in the main window (on its log-in page)."""
    from inspector.gui.main_window import MainWindow
    from inspector.gui.session import Session

    staff(project_path)
    w = MainWindow(Session.open(project_path, "whoever"))
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    yield w
    close_window(w, qtbot)


def close_window(w, qtbot, timeout_ms: int = 20_000) -> float:
    """Close as a user does; waits until every thread stopped and the window is gone. Returns seconds."""
    t0 = time.monotonic()
    w.close()
    qtbot.waitUntil(lambda: w._closed, timeout=timeout_ms)
    return time.monotonic() - t0


def shot(widget, name: str) -> Path:
    """Save a screenshot for people to look at (artifacts/ is ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path


def image_is_not_blank(path: Path) -> bool:
    from PySide6.QtGui import QImage

    img = QImage(str(path))
    arr = np.array([[img.pixelColor(x, y).lightness() for x in range(0, img.width(), 17)]
                    for y in range(0, img.height(), 17)])
    return img.width() > 100 and arr.std() > 5


def error_dialogs() -> list:
    """Error dialogs on screen now (they are non-blocking message boxes)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    return [w for w in QApplication.topLevelWidgets()
            if isinstance(w, QMessageBox) and w.objectName() == "errorDialog" and w.isVisible()]


@pytest.fixture(autouse=True)
def close_dialogs(qapp):
    yield
    for w in error_dialogs():
        w.close()


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
