"""Logging to a rotating file in the user's log folder, and an excepthook that shows the operator
a clear one-line dialog (never a traceback); the details go to the log."""
from __future__ import annotations

import logging
import sys
import threading
import traceback
from logging.handlers import RotatingFileHandler
from pathlib import Path

from inspector.core.errors import InspectorError
from inspector.gui.settings import log_dir

log = logging.getLogger("inspector")
LOG_NAME = "inspector.log"
_handler: RotatingFileHandler | None = None


def log_path() -> Path:
    return log_dir() / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Idempotent; returns the log file. Qt's own warnings are routed into the same file."""
    global _handler
    path = log_path()
    if _handler is not None and Path(_handler.baseFilename) == path.absolute():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    _handler = RotatingFileHandler(path, maxBytes=2_000_000, backupCount=5, encoding="utf-8")
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(_handler)
    root.setLevel(min(root.level or level, level))
    _route_qt_messages()
    return path


def _route_qt_messages() -> None:
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    levels = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
              QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
              QtMsgType.QtFatalMsg: logging.CRITICAL}

    def handler(kind, context, message):
        logging.getLogger("qt").log(levels.get(kind, logging.WARNING), message)

    global _qt_handler
    _qt_handler = handler  # Qt holds only a raw pointer: a collected handler would crash the next warning
    qInstallMessageHandler(handler)


_qt_handler = None


def user_message(exc: BaseException) -> str:
    """What the operator reads: an InspectorError as written; anything else a plain sentence."""
    if isinstance(exc, InspectorError):
        return str(exc)
    return (f"Inspector hit an unexpected problem ({type(exc).__name__}). Your labels and models are saved; "
            f"if it happens again, send the log file {log_path()} to your support contact.")


def report_exception(exc: BaseException, where: str = "") -> str:
    """Log the full traceback; return the one-line message for a dialog or status bar."""
    if isinstance(exc, InspectorError):
        log.warning("%s%s", f"{where}: " if where else "", exc)
    else:
        log.error("unexpected error%s\n%s", f" in {where}" if where else "",
                  "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return user_message(exc)


def show_error(parent, text: str, title: str = "Inspector"):
    """A non-blocking message box (window-modal): the event loop, the live view and tests keep running."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorDialog")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    _open_boxes.append(box)  # a box without a parent would otherwise be collected at once
    box.finished.connect(lambda *_: _open_boxes.remove(box) if box in _open_boxes else None)
    box.open()
    return box


_open_boxes: list = []


class _Bridge:
    """Hands an exception from any thread to the GUI thread, where the dialog is shown."""

    def __init__(self, window_getter):
        from PySide6.QtCore import QObject, Signal

        class Relay(QObject):
            raised = Signal(str)

        self.relay = Relay()
        self.window_getter = window_getter
        self.relay.raised.connect(self._show)
        self.shown: list[str] = []

    def _show(self, text: str) -> None:
        self.shown.append(text)
        show_error(self.window_getter(), text)

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        exc.__traceback__ = tb
        self.relay.raised.emit(report_exception(exc, "uncaught"))


def install_excepthook(window_getter=lambda: None) -> _Bridge:
    """sys.excepthook and threading.excepthook → log + dialog. Returns the hook (tests read .shown)."""
    hook = _Bridge(window_getter)
    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)
    return hook
