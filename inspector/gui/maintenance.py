"""Retention and maintenance in the app: the Project menu's dialog (the project's retention settings,
"Run maintenance now", the last report) and the schedule that runs core/maintenance.py every
`every_h` hours on a worker thread with its own project connection — never on the GUI thread."""
from __future__ import annotations

import sqlite3
import time

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QLabel, QPushButton,
                               QSpinBox, QVBoxLayout)

from inspector.core import maintenance, retention
from inspector.core.errors import InspectorError
from inspector.gui.logs import show_error

CHECK_EVERY_MS = 10 * 60 * 1000  # is a run due? (cheap: one small file read)
FIRST_CHECK_MS = 60 * 1000  # not while the project is still opening


def _maintenance_task(root, vacuum: str):
    def run(progress, cancel):
        from inspector.core.project import Project

        with Project.open(root) as p:
            return maintenance.run_maintenance(p, vacuum=vacuum, progress=progress, cancel=cancel)
    return run


class MaintenanceScheduler(QObject):
    """Owned by the main window; the one place the app starts maintenance."""

    finished = Signal(object)  # the MaintenanceReport

    def __init__(self, session, parent_widget, *, first_check_ms: int = FIRST_CHECK_MS,
                 check_every_ms: int = CHECK_EVERY_MS):
        super().__init__(parent_widget)
        self.session = session
        self.window = parent_widget
        # Both timers belong to this object, so they die with the window; stop() ends them at close.
        self._timer = QTimer(self)
        self._timer.setInterval(check_every_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()
        self._first = QTimer(self)
        self._first.setSingleShot(True)
        self._first.timeout.connect(self.check)
        self._first.start(first_check_ms)

    def stop(self) -> None:
        self._timer.stop()
        self._first.stop()

    @property
    def running(self) -> bool:
        return self.session.runner.busy("maintenance")

    def check(self) -> None:
        """Run when the schedule says so; while the line runs, prune but do not compact (VACUUM would
        hold the results log's write lock from the recorder for as long as it takes)."""
        try:
            due = maintenance.due(self.session.project)
        except InspectorError:
            return
        except sqlite3.ProgrammingError:  # the project was closed (the window is closing): no more checks
            self.stop()
            return
        if due and not self.running:
            self.run_now(scheduled=True)

    def run_now(self, *, scheduled: bool = False):
        if self.running:
            self.session.say("Maintenance is already running")
            return None
        vacuum = "never" if self.session.live.running else "auto"
        self.session.say("Maintenance: pruning by the retention settings, checking the databases…")
        return self.session.runner.run(_maintenance_task(self.session.root, vacuum), "maintenance",
                                       on_result=self._done, on_error=self._failed)

    def _done(self, report) -> None:
        if report.queue_dropped or report.queue_discarded or report.images_pruned:
            self.session.samples_added()
        self.session.say(f"Maintenance: {report.line()}")
        if not report.ok:
            show_error(self.window, f"Maintenance: {report.line()}")
        self.finished.emit(report)

    def _failed(self, message: str) -> None:
        show_error(self.window, f"Maintenance did not finish: {message}")


def _describe(last: dict | None) -> str:
    if not last:
        return "Maintenance has not run on this project yet."
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(last.get("at", 0)))
    checks = ", ".join(f"{k} {v}" for k, v in (last.get("integrity") or {}).items()) or "not checked"
    return (f"Last run {when}: {last.get('results_deleted', 0)} result rows past retention, "
            f"{last.get('queue_dropped', 0) + last.get('queue_discarded', 0)} unreviewed parts over the limit, "
            f"{last.get('images_pruned', 0)} images of discarded parts removed; integrity: {checks}.")


class MaintenanceDialog(QDialog):
    """The project's retention settings (saved on OK) and a button that runs maintenance now."""

    def __init__(self, session, scheduler: MaintenanceScheduler, parent=None):
        super().__init__(parent)
        self.session, self.scheduler = session, scheduler
        self.setWindowTitle("Retention and maintenance")
        policy = retention.load_policy(session.project)
        self.results_days = self._spin(policy.results_days, 0, 100_000, " days", "keep for ever")
        self.review_max = self._spin(policy.review_queue_max, 0, 10_000_000, " parts", "no limit")
        self.discarded_days = self._spin(policy.discarded_days, 0, 100_000, " days", "keep")
        self.every_h = QDoubleSpinBox()
        self.every_h.setRange(0, 10_000)
        self.every_h.setDecimals(1)
        self.every_h.setSuffix(" h")
        self.every_h.setSpecialValueText("only when asked")
        self.every_h.setValue(policy.every_h)
        form = QFormLayout()
        form.addRow("Keep live results for", self.results_days)
        form.addRow("Parts waiting for review, at most", self.review_max)
        form.addRow("Keep images of discarded parts for", self.discarded_days)
        form.addRow("Run maintenance every", self.every_h)
        note = QLabel("Over the limit, the oldest unreviewed parts go first; labelled parts are never removed. "
                      "A discarded part keeps its row and history, only its image goes.")
        note.setWordWrap(True)
        self.last = QLabel(_describe(maintenance.last_report(session.project)))
        self.last.setWordWrap(True)
        self.run_button = QPushButton("Run maintenance now")
        self.run_button.setToolTip("Prune by these settings (saved first), compact the databases when worth it, "
                                   "check their integrity — in the background")
        self.run_button.clicked.connect(self._run)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.last)
        lay.addWidget(self.run_button)
        lay.addWidget(buttons)
        scheduler.finished.connect(self._report)
        self.setMinimumWidth(560)

    def _spin(self, value: int, low: int, high: int, suffix: str, zero: str) -> QSpinBox:
        s = QSpinBox()
        s.setRange(low, high)
        s.setSuffix(suffix)
        s.setSpecialValueText(zero)
        s.setValue(int(value))
        return s

    def save(self) -> bool:
        try:
            retention.save_policy(self.session.project, results_days=self.results_days.value(),
                                  review_queue_max=self.review_max.value(),
                                  discarded_days=self.discarded_days.value(), every_h=self.every_h.value())
        except InspectorError as e:
            show_error(self, str(e))
            return False
        return True

    def accept(self) -> None:
        if self.save():
            super().accept()

    def _run(self) -> None:
        if self.save() and self.scheduler.run_now() is not None:
            self.run_button.setEnabled(False)
            self.last.setText("Maintenance is running in the background…")

    def _report(self, report) -> None:
        self.run_button.setEnabled(True)
        self.last.setText(_describe(report.to_dict()))

    def done(self, result: int) -> None:  # noqa: D401 - Qt's name
        try:
            self.scheduler.finished.disconnect(self._report)
        except (RuntimeError, TypeError):
            pass
        super().done(result)
