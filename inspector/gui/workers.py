"""Thin QObject workers that run plain core functions on their own QThread (Orange3's task contract:
fn(progress, cancel) -> result) and turn progress, results and failures into Qt signals.

A worker never touches a widget; it emits `finished` from a `finally:` so its thread always ends.
Every QThread made here is remembered, so a test can fail when one is left running."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from inspector.core.cancel import CancelToken
from inspector.core.errors import Cancelled
from inspector.gui.logs import report_exception

log = logging.getLogger(__name__)

TaskFn = Callable[[Callable[[Any], None], CancelToken], Any]
_THREADS: list[QThread] = []


def running_threads() -> list[QThread]:
    """QThreads started by this module that are still running (finished ones are forgotten)."""
    alive = []
    for t in list(_THREADS):
        try:
            running = t.isRunning()
        except RuntimeError:  # its C++ object is gone: certainly not running
            running = False
        if running:
            alive.append(t)
        else:
            _THREADS.remove(t)
    return alive


class TaskWorker(QObject):
    started = Signal()
    progressed = Signal(object)  # the core's progress dataclasses, as they come
    result_ready = Signal(object)
    cancelled = Signal()
    errored = Signal(str)  # one line for the operator; the traceback is in the log
    finished = Signal()  # always, last

    def __init__(self, fn: TaskFn, name: str):
        super().__init__()
        self.fn, self.name = fn, name
        self.cancel = CancelToken()

    @Slot()
    def run(self) -> None:
        try:
            self.started.emit()
            result = self.fn(self.progressed.emit, self.cancel)
            self.result_ready.emit(result)
        except Cancelled:
            self.cancelled.emit()
        except Exception as e:  # noqa: BLE001 - every failure becomes errored(str), none kills the thread silently
            self.errored.emit(report_exception(e, self.name))
        finally:
            self.finished.emit()


class Task(QObject):
    """One run of a function on its own QThread. Its signals are re-emitted on the GUI thread."""

    started = Signal()
    progressed = Signal(object)
    result_ready = Signal(object)
    cancelled = Signal()
    errored = Signal(str)
    finished = Signal()

    def __init__(self, fn: TaskFn, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.thread = QThread()
        self.thread.setObjectName(name)
        self.worker = TaskWorker(fn, name)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        for sig in ("started", "progressed", "result_ready", "cancelled", "errored", "finished"):
            getattr(self.worker, sig).connect(getattr(self, sig))
        # Direct: the thread must be able to end while the GUI thread is blocked waiting for it.
        self.worker.finished.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.started_at = 0.0

    def start(self) -> "Task":
        _THREADS.append(self.thread)
        self.started_at = time.monotonic()
        self.thread.start()
        return self

    def cancel(self) -> None:
        self.worker.cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self.worker.cancel.is_set()

    def is_running(self) -> bool:
        return self.thread.isRunning()

    def wait(self, ms: int) -> bool:
        return self.thread.wait(max(0, int(ms)))


class TaskRunner(QObject):
    """Starts tasks and keeps a reference to each until its thread has ended (a QThread collected
    while running aborts the process). shutdown() cancels all and waits with a deadline."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._tasks: list[Task] = []
        self.accepting = True

    def run(self, fn: TaskFn, name: str, *, on_result=None, on_error=None, on_progress=None,
            on_cancel=None, on_finished=None, cleanup: bool = False) -> Task | None:
        """Start fn on its own thread; None once the runner is closing (the window is being closed),
        unless it is a cleanup task (stopping the live view) that closing itself needs."""
        if not self.accepting and not cleanup:
            log.info("task %s not started: closing", name)
            return None
        task = Task(fn, name, self)
        for signal, slot in ((task.result_ready, on_result), (task.errored, on_error),
                             (task.progressed, on_progress), (task.cancelled, on_cancel),
                             (task.finished, on_finished)):
            if slot is not None:
                signal.connect(slot)
        task.finished.connect(self._task_finished)
        self._tasks.append(task)
        task.start()
        if len(self._tasks) == 1:
            self.busy_changed.emit(True)
        log.info("task started: %s", name)
        return task

    @Slot()
    def _task_finished(self) -> None:
        task = self.sender()
        if isinstance(task, Task):
            self._forget(task)

    def _forget(self, task: Task) -> None:
        task.wait(5000)  # finished was emitted from its last line: the thread ends in microseconds
        if task in self._tasks:
            self._tasks.remove(task)
            log.info("task ended: %s (%.1f s)", task.name, time.monotonic() - task.started_at)
            task.deleteLater()
            if not self._tasks:
                self.busy_changed.emit(False)

    def tasks(self, name: str | None = None) -> list[Task]:
        return [t for t in self._tasks if name is None or t.name == name]

    def busy(self, name: str | None = None) -> bool:
        return any(t.is_running() for t in self.tasks(name))

    def cancel_all(self) -> None:
        for t in self._tasks:
            t.cancel()

    def close(self) -> None:
        """Start nothing new and cancel what runs (the window is closing)."""
        self.accepting = False
        self.cancel_all()

    def shutdown(self, timeout_s: float = 10.0) -> bool:
        """Cancel every task and wait for all threads; True when all ended within the timeout."""
        self.close()
        deadline = time.monotonic() + timeout_s
        ok = True
        for t in list(self._tasks):
            left = int(1000 * max(0.0, deadline - time.monotonic()))
            if not t.wait(left):
                log.error("task %s did not stop within %.0f s", t.name, timeout_s)
                ok = False
        return ok
