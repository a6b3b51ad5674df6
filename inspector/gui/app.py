"""The application: QApplication setup, logging and the error dialog, fonts, and the controller that
moves between the start page (new / open / demo) and a project's main window."""
from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import inspector.gui  # noqa: F401 - imports torch before Qt (Windows DLL load order)
from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QLineEdit

from inspector.core import accounts
from inspector.core.demo_project import make_demo_project
from inspector.core.errors import InspectorError
from inspector.gui.logs import install_excepthook, report_exception, setup_logging, show_error
from inspector.gui.main_window import MainWindow
from inspector.gui.session import Session
from inspector.gui.settings import Preferences, load_preferences, save_preferences
from inspector.gui.start_page import StartPage
from inspector.gui.tasks import task
from inspector.gui.workers import TaskRunner

log = logging.getLogger(__name__)
BASE_POINT_SIZE = 10.0
LARGE_SCALE = 1.4


def create_qapp(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Inspector")
    app.setOrganizationName("Inspector")
    app.setStyle("Fusion")  # the same look on every shop-floor PC
    return app


def apply_font(app: QApplication, large: bool) -> None:
    """Large: readable at arm's length on a touch screen; bigger text and bigger touch targets."""
    f = QFont(app.font())
    f.setPointSizeF(BASE_POINT_SIZE * (LARGE_SCALE if large else 1.0))
    app.setFont(f)
    pad = 10 if large else 4
    app.setStyleSheet(f"QPushButton {{ padding: {pad}px {pad + 6}px; }} "
                      f"QTabBar::tab {{ padding: {pad}px {3 * pad}px; }}")


def default_demo_dir() -> Path:
    return Path.home() / "Inspector" / time.strftime("demo-%Y%m%d-%H%M%S")


class Controller(QObject):
    """Start page ⇄ main window; owns the preferences of this run."""

    def __init__(self, app: QApplication, prefs: Preferences | None = None):
        super().__init__()
        self.app = app
        self.prefs = prefs or load_preferences()
        self.window: MainWindow | None = None
        self.start_page: StartPage | None = None
        self.runner = TaskRunner(self)  # for work before a project is open (making the demo)
        apply_font(app, self.prefs.large_font)

    def current_widget(self):
        return self.window if self.window is not None else self.start_page

    # -- the start page -----------------------------------------------------------------------------------
    def show_start(self) -> StartPage:
        self.start_page = StartPage(self.prefs)
        self.start_page.demo_requested.connect(lambda: self.make_demo())
        self.start_page.new_requested.connect(self.ask_new)
        self.start_page.open_requested.connect(self.ask_open)
        self.start_page.show()
        return self.start_page

    def ask_user(self) -> bool:
        """The inspector's name, asked at start (prefilled with the last one)."""
        name, ok = QInputDialog.getText(None, "Inspector", "Who is inspecting? Every label is saved with this name.",
                                        QLineEdit.EchoMode.Normal, self.prefs.user)
        if ok and name.strip():
            self.prefs.user = name.strip()
            return True
        return False

    def ask_open(self, path: str = "") -> None:
        if not path:
            path = QFileDialog.getExistingDirectory(self.current_widget(), "Open an Inspector project",
                                                    str(Path.home() / "Inspector"))
        if path:
            self.open_project(path)

    def ask_new(self) -> None:
        path = QFileDialog.getExistingDirectory(self.current_widget(), "New project: pick or make an empty folder",
                                                str(Path.home()))
        if not path:
            return
        from inspector.core.project import Project

        try:
            Project.init(path).close()
        except InspectorError as e:
            show_error(self.current_widget(), str(e))
            return
        self.open_project(path)

    # -- the demo -----------------------------------------------------------------------------------------
    def make_demo(self, root: str | Path | None = None, on_ready=None):
        """Build a demo project on a worker thread, then open it. Returns the task."""
        root = Path(root) if root else default_demo_dir()
        if self.window is not None:
            self.window.close()  # the demo replaces the open project
        if self.start_page is None or not self.start_page.isVisible():
            self.show_start()
        page = self.start_page
        page.set_busy(f"Preparing the demo project in {root} …")

        def ready(path) -> None:
            window = self.open_project(path)
            if window is not None:  # the demo starts inspecting at once: there is nothing to set up
                window.live_panel.start()
                # one line that fits a 1366-px screen beside the permanent status fields
                window.statusBar().showMessage("Demo: label flagged parts on Review (Space = OK, 1–4 = defects), "
                                               "then Train and Activate — or Fit anomaly model from OK parts alone.",
                                               30_000)
            if on_ready is not None:
                on_ready(self.window)

        def failed(message: str) -> None:
            page.set_busy(None)
            show_error(page, message)

        return self.runner.run(task(make_demo_project, root, user=self.prefs.user or "demo"), "demo", on_progress=page.on_progress,
                               on_result=ready, on_error=failed)

    # -- a project ----------------------------------------------------------------------------------------
    def open_project(self, path: str | Path) -> MainWindow | None:
        try:
            session = Session.open(path, self.prefs.user or "", self.prefs)
        except InspectorError as e:
            show_error(self.current_widget(), str(e))
            return None
        except Exception as e:  # noqa: BLE001 - a damaged project: a dialog, never a traceback
            show_error(self.current_widget(), report_exception(e, "opening a project"))
            return None
        if self.window is not None:
            self.window.close()
        self.prefs.remember_project(session.root)
        save_preferences(self.prefs)
        self.window = MainWindow(session)
        self.window.open_requested.connect(self._from_window)
        self.window.large_font_toggled.connect(self.set_large_font)
        self.window.closed.connect(lambda w=self.window: self._window_closed(w))
        self.window.show()
        if self.start_page is not None:
            self.start_page.close()
            self.start_page = None
        log.info("opened project %s as %s", session.root, session.user)
        return self.window

    def _window_closed(self, window) -> None:
        if self.window is window:
            self.window = None

    def _from_window(self, what: str) -> None:
        {"new": self.ask_new, "open": lambda: self.ask_open(""), "demo": self.make_demo}[what]()

    def set_large_font(self, on: bool) -> None:
        self.prefs.large_font = on
        save_preferences(self.prefs)
        apply_font(self.app, on)

    def shutdown(self, timeout_s: float = 30.0) -> None:
        self.runner.shutdown(timeout_s)
        save_preferences(self.prefs)


def run_app(project: str | None = None, *, demo: bool = False, demo_dir: str | None = None,
            argv: list[str] | None = None) -> int:
    """`inspector` (last project, else the start page), `inspector demo`, or a given project."""
    app = create_qapp(argv)
    app.setAttribute(Qt.ApplicationAttribute.AA_DontShowIconsInMenus, False)
    path = setup_logging()
    log.info("Inspector starting; log file %s", path)
    controller = Controller(app)
    install_excepthook(controller.current_widget)
    prefs = controller.prefs
    if demo:
        if not controller.ask_user():
            return 0
        controller.make_demo(demo_dir)
    elif project or (prefs.last_project and (Path(prefs.last_project) / "project.sqlite").is_file()):
        path = project or prefs.last_project
        # a station with accounts opens on its log-in page: no name to type first
        asked = accounts.folder_has_accounts(path) or controller.ask_user()
        if not asked or controller.open_project(path) is None:
            controller.show_start()
    else:
        controller.show_start()
    code = app.exec()
    controller.shutdown()
    return code
