"""The main window: one tab per panel, menus, status bar, and a close that stops every thread."""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QTabWidget

from inspector import __version__
from inspector.gui import project_actions
from inspector.gui.analysis_panel import AnalysisPanel
from inspector.gui.anomaly_view import AnomalyHook, default_backend
from inspector.gui.live_panel import LivePanel
from inspector.gui.logs import log_path
from inspector.gui.maintenance import MaintenanceDialog, MaintenanceScheduler
from inspector.gui.models_panel import ModelsPanel
from inspector.gui.review_panel import ReviewPanel
from inspector.gui.screens import fit_to_screen
from inspector.gui.settings import geometry_settings
from inspector.gui.station import StationGuard
from inspector.gui.train_panel import TrainPanel

log = logging.getLogger(__name__)
CLOSE_DEADLINE_S = 20.0

SHORTCUTS = (("Ctrl+1 … Ctrl+5", "Live, Review, Train, Models, Analysis"),
             ("F5", "Live: start / stop"), ("T", "Live: inspect the next picture"), ("H", "Live: heatmap on/off"),
             ("Space", "Review: the part is OK"), ("1 … 9", "Review: label with that defect class"),
             ("Backspace", "Review: skip"), ("Delete", "Review: discard (not a usable picture)"),
             ("Ctrl+Z", "Review: undo the last label"), ("Ctrl+T", "Train: start training"),
             ("Ctrl+I", "Import a folder of labelled images"), ("Ctrl+N / Ctrl+O", "New / open project"),
             ("Ctrl+Shift+F", "Large font on/off"))


class MainWindow(QMainWindow):
    open_requested = Signal(str)  # "new", "open" or "demo": handled by the application controller
    large_font_toggled = Signal(bool)
    closed = Signal()

    def __init__(self, session, parent=None, *, anomaly_backend="default"):
        super().__init__(parent)
        self.session = session
        self.setWindowTitle(f"Inspector — {session.project.name} — {session.user}")
        self.setMinimumSize(1024, 600)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.live_panel = LivePanel(session)
        self.review_panel = ReviewPanel(session)
        self.train_panel = TrainPanel(session)
        self.models_panel = ModelsPanel(session)
        self.analysis_panel = AnalysisPanel(session)
        self.panels = {"live": self.live_panel, "review": self.review_panel, "train": self.train_panel,
                       "models": self.models_panel, "analysis": self.analysis_panel}
        for title, panel in zip(("Live", "Review", "Train", "Models", "Analysis"), self.panels.values()):
            self.tabs.addTab(panel, title)
        self.tabs.currentChanged.connect(self._tab_changed)
        backend = default_backend() if anomaly_backend == "default" else anomaly_backend
        self.anomaly = AnomalyHook(session, self.review_panel, self.analysis_panel, backend, self)
        self.setCentralWidget(self.tabs)
        self.maintenance = MaintenanceScheduler(session, self)  # retention on its schedule, off the GUI thread
        self._build_menus()
        self._build_status()
        self.station = StationGuard(self)  # log-in page, Account menu, auto-lock, role guard, Audit view
        session.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        session.models_changed.connect(self._update_status)
        session.samples_changed.connect(self._update_status)
        session.runner.busy_changed.connect(lambda _: self._update_status())
        self.review_panel.labelled.connect(lambda *_: self._update_status())
        self._closing = False
        self._closed = False
        self._close_started = 0.0
        self._close_timer = QTimer(self)
        self._close_timer.setInterval(100)
        self._close_timer.timeout.connect(self._continue_close)
        self._restore_geometry()
        self._update_status()
        # What opening the project moved to quarantine (never deleted): said until the next message.
        self.recovery_line = session.project.recovery.line()
        if self.recovery_line:
            log.warning("%s: %s", session.root, self.recovery_line)
            self.statusBar().showMessage(self.recovery_line)

    # -- building -----------------------------------------------------------------------------------------
    def _action(self, menu, text, fn, shortcut=None, tip="") -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
        a.setStatusTip(tip)
        a.triggered.connect(fn)
        menu.addAction(a)
        return a

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "&New project…", lambda: self.open_requested.emit("new"), "Ctrl+N")
        self._action(m, "&Open project…", lambda: self.open_requested.emit("open"), "Ctrl+O")
        self._action(m, "New &demo project", lambda: self.open_requested.emit("demo"))
        m.addSeparator()
        self._action(m, "&Quit", self.close, "Ctrl+Q")
        m = self.menuBar().addMenu("&Project")
        imp = self._action(m, "&Import labelled images…", lambda: project_actions.import_folder(self, self.session),
                           "Ctrl+I", "A folder with one sub-folder per class (good/ or ok/ for OK parts)")
        add_class = self._action(m, "&Add a class…", lambda: project_actions.add_class(self, self.session))
        retention = self._action(m, "&Retention and maintenance…", self.show_maintenance, tip="How long results "
                                 "and parts are kept; prune, compact and check the databases now or on a schedule")
        # what gui/station.py disables for a role that may not (with a tooltip saying who may)
        self.guarded_actions = [(imp, "import"), (add_class, "classes.edit"), (retention, "settings.edit")]
        m = self.menuBar().addMenu("&View")
        for i, title in enumerate(("Live", "Review", "Train", "Models", "Analysis")):
            self._action(m, title, lambda _=False, i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")
        m.addSeparator()
        self.large_font_action = self._action(m, "&Large font (touch screen)", lambda on: self.large_font_toggled.emit(on),
                                              "Ctrl+Shift+F")
        self.large_font_action.setCheckable(True)
        self.large_font_action.setChecked(self.session.prefs.large_font)
        m = self.menuBar().addMenu("&Help")
        self._action(m, "&Keyboard shortcuts", self.show_shortcuts, "F1")
        self._action(m, "Open the &log folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_path().parent))))
        self._action(m, "&About Inspector", lambda: QMessageBox.about(
            self, "About Inspector", f"Inspector {__version__}\nProject: {self.session.root}\nLog: {log_path()}"))

    def _build_status(self) -> None:
        self.model_label = QLabel()
        self.user_label = QLabel(f"Inspector: {self.session.user}")
        self.task_label = QLabel()
        for w in (self.task_label, self.model_label, self.user_label):
            w.setContentsMargins(10, 0, 10, 0)
            self.statusBar().addPermanentWidget(w)

    def show_maintenance(self) -> MaintenanceDialog:
        dialog = MaintenanceDialog(self.session, self.maintenance, self)
        dialog.open()
        return dialog

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{rows}</table>")

    def _tab_changed(self, index: int) -> None:
        panel = self.tabs.widget(index)
        # Keys must reach the panel's shortcuts, not the tab bar.
        (panel.list if panel is self.review_panel else panel).setFocus()

    def show_panel(self, name: str) -> None:
        self.tabs.setCurrentWidget(self.panels[name])

    def _update_status(self) -> None:
        actives = self.session.registry.active_versions()
        if len(actives) > 1:
            self.model_label.setText(f"Line: anomaly {actives['anomaly']} + classifier {actives['classifier']}")
        else:
            self.model_label.setText(f"Active model: {next(iter(actives.values()), 'none')}")
        waiting = self.session.project.count_samples(status="unreviewed")  # index-only: cheap at any size
        self.tabs.setTabText(1, f"Review ({waiting})" if waiting else "Review")
        busy = {"train": "Training…", "import": "Importing…", "embedding": "Computing features…",
                "export": "Exporting…"}
        names = [t.name for t in self.session.runner.tasks() if t.name in busy]
        self.task_label.setText(busy[names[0]] if names else "")

    # -- geometry -----------------------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        g = geometry_settings().value("main/geometry")
        if g is not None:
            self.restoreGeometry(g)
        else:
            fit_to_screen(self, 1366, 768)

    def _save_geometry(self) -> None:
        s = geometry_settings()
        s.setValue("main/geometry", self.saveGeometry())
        s.sync()

    # -- closing: stop every thread, never hang -----------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._closed:
            event.accept()
            return
        if not self._closing:
            self._closing = True
            self._close_started = time.monotonic()
            self._save_geometry()
            self.session.save_prefs()
            self.maintenance.stop()
            self.statusBar().showMessage("Stopping the live view and background work…")
            self.session.runner.close()
            self.train_panel.cancel_training()
            self.setEnabled(False)
            self._close_timer.start()  # a close() from inside closeEvent would be ignored by Qt
        event.ignore()

    def _continue_close(self) -> None:
        live = self.session.live
        if live.running and not live.busy:
            live.stop()
        # A task counts until its `finished` has reached this thread (the runner forgets it then), not only
        # until its thread ends: its panel's handlers read the project, which session.close() closes. Seen in
        # CI: a training cancelled by the close ended its thread, the project was closed, then the Train
        # panel's finished handler ran on a closed database.
        busy = live.busy or live.running or bool(self.session.runner.tasks())
        late = time.monotonic() - self._close_started > CLOSE_DEADLINE_S
        if busy and not late:
            return
        self._close_timer.stop()
        if late:
            log.error("closing with work still running after %.0f s", CLOSE_DEADLINE_S)
        self.session.close(timeout_s=30.0 if late else 2.0)
        self._closed = True
        self.close()
        self.closed.emit()
