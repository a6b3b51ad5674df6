"""One open project in the GUI: the project store (GUI thread's own connection), who is working,
the task runner, the live service, label undo, and the signals panels refresh on."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.gui.live_service import LiveService
from inspector.gui.settings import Preferences, save_preferences
from inspector.gui.workers import TaskRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelChange:
    """What one key press did, so Ctrl+Z can put it back exactly (label, status, who, when)."""

    sample_id: int
    before_label: str | None
    before_status: str
    before_by: str | None
    before_at: float | None
    new_label: str


class Session(QObject):
    samples_changed = Signal()  # labels, statuses, new samples
    models_changed = Signal()  # a version saved, activated, rolled back or deleted
    message = Signal(str)  # one line for the status bar

    def __init__(self, project: Project, user: str, prefs: Preferences | None = None,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.project = project
        self.user = user.strip() or "operator"
        self.prefs = prefs or Preferences()
        self.runner = TaskRunner(self)
        # One registry for the GUI thread: ModelRegistry() tidies temp folders when made, which must
        # not happen while a training thread is writing one.
        self.registry = ModelRegistry(project)
        self.live = LiveService(project.root, self.runner, self)
        self._undo: list[LabelChange] = []
        self._configs: dict[str, dict] = {}

    @classmethod
    def open(cls, path: str | Path, user: str, prefs: Preferences | None = None) -> "Session":
        return cls(Project.open(path), user, prefs)

    @property
    def root(self) -> Path:
        return Path(self.project.root)

    def save_prefs(self) -> None:
        save_preferences(self.prefs)

    # -- labelling ---------------------------------------------------------------------------------
    def label(self, sample_id: int, label: str) -> None:
        """Save at once, with the inspector's name (the project audits it)."""
        s = self.project.sample(sample_id)
        self.project.set_label(sample_id, label, self.user)
        self._undo.append(LabelChange(sample_id, s.label, s.status, s.labelled_by, s.labelled_at, label))
        del self._undo[:-200]
        self.samples_changed.emit()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> int | None:
        """Undo the last label; returns the sample id, or None when there is nothing to undo."""
        if not self._undo:
            return None
        ch = self._undo.pop()
        self.project.restore_label_state(ch.sample_id, ch.before_label, ch.before_status, ch.before_by,
                            ch.before_at, self.user)
        self.samples_changed.emit()
        self.message.emit(f"Undone: part #{ch.sample_id} is back to "
                          f"{ch.before_label or 'unreviewed'}")
        return ch.sample_id

    def ok_class(self) -> str | None:
        return next((c.name for c in self.project.classes() if c.kind == "ok"), None)

    # -- models --------------------------------------------------------------------------------------
    def model_config(self, version: str) -> dict:
        """A version's config.json, files checked once (a version never changes after it is saved)."""
        if version not in self._configs:
            self._configs[version] = self.registry.read_config(version)
        return self._configs[version]

    def activate(self, version: str) -> None:
        self.registry.activate(version, self.user)
        self.models_changed.emit()
        self.message.emit(f"Model {version} is now active — the live view switches to it without stopping")

    def close(self, timeout_s: float = 10.0) -> bool:
        """Stop the live pipeline and every task, then close the project. True when all ended in time."""
        ok = self.live.shutdown(timeout_s)
        ok = self.runner.shutdown(timeout_s) and ok
        self.project.close()
        return ok
