"""One open project in the GUI: the project store (GUI thread's own connection), who is working,
the task runner, the live service, undo, and the signals panels refresh on.

Session is the only object that changes project state from the GUI and the only one that announces it:
panels call its methods (label, discard, toggle_golden, accepted, model_saved, …) and listen to its
signals; none emits them. Every reversible action joins one undo stack, so Ctrl+Z undoes the last one
whatever it was."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from inspector.core import accounts, golden
from inspector.core.errors import ModelError
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


@dataclass(frozen=True)
class SplitChange:
    """A part moved between splits (into or out of the golden set)."""

    sample_id: int
    before_split: str
    new_split: str


@dataclass(frozen=True)
class AcceptChange:
    """"This part is OK": a new anomaly version went on the line and the part was labelled OK."""

    sample_id: int
    previous_version: str | None  # the version that was on the line before
    new_version: str
    label: LabelChange | None


class Session(QObject):
    samples_changed = Signal()  # labels, statuses, new samples
    models_changed = Signal()  # a version saved, activated, rolled back or deleted
    actor_changed = Signal()  # someone logged in, or the station was locked
    message = Signal(str)  # one line for the status bar

    def __init__(self, project: Project, user: str, prefs: Preferences | None = None,
                 parent: QObject | None = None, *, actor: accounts.Actor | None = None):
        """actor: the account logged in (LoginDialog); without one, a project with accounts starts locked
        and a project without accounts is single-user, recorded under `user`."""
        super().__init__(parent)
        self.project = project
        self.has_accounts = accounts.has_accounts(project)
        self.actor = actor or accounts.single_user_actor(user)  # no name given: the computer's user, not "operator"
        self.locked = self.has_accounts and actor is None
        project.actor = self.actor.name
        self.prefs = prefs or Preferences()
        self.runner = TaskRunner(self)
        # One registry for the GUI thread: ModelRegistry() tidies temp folders when made, which must
        # not happen while a training thread is writing one.
        self.registry = ModelRegistry(project)
        self.live = LiveService(project.root, self.runner, self)
        self._undo: list[LabelChange | SplitChange | AcceptChange] = []
        self._configs: dict[str, dict] = {}

    @classmethod
    def open(cls, path: str | Path, user: str, prefs: Preferences | None = None) -> "Session":
        return cls(Project.open(path), user, prefs)

    @property
    def root(self) -> Path:
        return Path(self.project.root)

    # -- who is working ----------------------------------------------------------------------------
    @property
    def user(self) -> str:
        """The account (or, single-user, the name given at start) that every change is recorded under."""
        return self.actor.name

    def may(self, action: str) -> bool:
        """Whether the person at the station may take an action now (core/accounts.py PERMISSIONS)."""
        return not self.locked and accounts.allowed(self.actor, action)

    def require(self, action: str) -> None:
        """Raise PermissionDenied (one line naming the role that may), recorded in the audit trail."""
        if self.locked:
            raise accounts.PermissionDenied("the station is locked — log in to continue")
        if not accounts.allowed(self.actor, action):
            self.project.record("refused", {"action": action, "needs": accounts.PERMISSIONS[action][0],
                                            "station": "gui"}, self.actor.name)
            raise accounts.PermissionDenied(accounts.refusal(action))

    def login(self, name: str, secret: str) -> accounts.Actor:
        """Log in (or switch user, or unlock): LoginFailed on a wrong name or secret, which is recorded."""
        actor = accounts.login(self.project, name, secret, station="gui")
        self.actor, self.locked = actor, False
        self.project.actor = actor.name
        self._undo.clear()  # Ctrl+Z never undoes someone else's label
        self.actor_changed.emit()
        self.message.emit(f"Logged in: {actor.name} ({actor.role})")
        return actor

    def lock(self, why: str = "locked") -> None:
        """Lock the station: nothing can be changed until someone logs in. Only with accounts."""
        if not self.has_accounts or self.locked:
            return
        self.project.record("station.lock", {"why": why, "station": "gui"}, self.actor.name)
        self.locked = True
        self.actor_changed.emit()

    def accounts_changed(self) -> None:
        """After the first account is made in the GUI: from now on the station needs a log-in."""
        self.has_accounts = accounts.has_accounts(self.project)
        self.actor_changed.emit()

    # -- the golden set ------------------------------------------------------------------------------
    def toggle_golden(self, sample_id: int) -> bool:
        """Ctrl+G in Review: into the golden set, or out of it. Returns whether the part is golden now."""
        self.require("golden.edit")
        before = self.project.sample(sample_id).split
        if before == golden.GOLDEN:
            golden.remove(self.project, [sample_id], self.user)
            now = False
        else:
            golden.add(self.project, [sample_id], self.user)
            now = True
        self._push(SplitChange(sample_id, before, self.project.sample(sample_id).split))
        self.samples_changed.emit()
        sizes = golden.sizes(self.project)
        self.message.emit(f"Part #{sample_id} {'is now in' if now else 'left'} the golden set "
                          f"({sum(sizes.values())} parts: " + ", ".join(f"{k} {v}" for k, v in sizes.items()) + ")")
        return now

    def save_prefs(self) -> None:
        save_preferences(self.prefs)

    # -- labelling ---------------------------------------------------------------------------------
    def label(self, sample_id: int, label: str) -> None:
        """Save at once, with the inspector's name (the project audits it)."""
        self.require("label")
        self._push(self._label(sample_id, label))
        self.samples_changed.emit()

    def _label(self, sample_id: int, label: str) -> LabelChange:
        s = self.project.sample(sample_id)
        self.project.set_label(sample_id, label, self.user)
        return LabelChange(sample_id, s.label, s.status, s.labelled_by, s.labelled_at, label)

    def discard(self, sample_id: int) -> None:
        """Review's Delete: the part leaves the queue (its image stays until retention prunes it); undoable."""
        self.require("label")
        s = self.project.sample(sample_id)
        self.project.discard(sample_id, self.user)
        self._push(LabelChange(sample_id, s.label, s.status, s.labelled_by, s.labelled_at, "discarded"))
        self.samples_changed.emit()
        self.message.emit(f"Part #{sample_id} discarded (Ctrl+Z brings it back)")

    def _push(self, change) -> None:
        self._undo.append(change)
        del self._undo[:-200]

    def can_undo(self) -> bool:
        return bool(self._undo)

    def undo(self) -> int | None:
        """Undo the last reversible action (label, discard, golden set, "this part is OK"); returns its
        sample id, or None when there is nothing to undo. A refused undo stays on the stack."""
        if not self._undo:
            return None
        ch = self._undo[-1]
        if isinstance(ch, SplitChange):
            self.require("golden.edit")
            self.project.set_split(ch.sample_id, ch.before_split, self.user)
            text = f"part #{ch.sample_id} is back in {ch.before_split}"
        elif isinstance(ch, AcceptChange):
            self.require("model.rollback")
            if ch.previous_version is None:
                raise ModelError(f"{ch.new_version} was the first anomaly model: there is none to go back to — "
                                 "fit another or delete this one")
            self.registry.activate(ch.previous_version, self.user, action="model.rollback",
                                   detail={"undo": "this part is OK", "sample": ch.sample_id,
                                           "undone_version": ch.new_version})
            if ch.label is not None:
                self._restore(ch.label)
            self.models_changed.emit()
            text = f"{ch.previous_version} is on the line again" + (
                f", part #{ch.sample_id} is back to {ch.label.before_label or 'unreviewed'}" if ch.label else "")
        else:
            self.require("label")
            self._restore(ch)
            text = f"part #{ch.sample_id} is back to {ch.before_label or 'unreviewed'}"
        self._undo.pop()
        self.samples_changed.emit()
        self.message.emit(f"Undone: {text}")
        return ch.sample_id

    def _restore(self, ch: LabelChange) -> None:
        self.project.restore_label_state(ch.sample_id, ch.before_label, ch.before_status, ch.before_by,
                                         ch.before_at, self.user)

    def set_setting(self, key: str, value: str, need: str | None = None) -> None:
        """A project setting (audited by the project when it changes); need: the action it takes."""
        if need:
            self.require(need)
        self.project.set_meta(key, value, self.user)

    def add_class(self, name: str, kind: str):
        self.require("classes.edit")
        cls = self.project.add_class(name, kind)
        self.samples_added(f"Class {cls.name} added" + (f" (key {cls.shortcut})" if cls.shortcut else ""))
        return cls

    # -- announcements of work done elsewhere (tasks on workers) ------------------------------------
    def say(self, text: str) -> None:
        """One line for the status bar."""
        self.message.emit(text)

    def samples_added(self, text: str = "") -> None:
        """An import, a new class or maintenance changed samples or classes (their own code saved it)."""
        self.samples_changed.emit()
        if text:
            self.message.emit(text)

    def model_saved(self, version: str | None = None) -> None:
        """A training or fit task saved (and maybe activated) a version."""
        self._configs.pop(version, None)
        self.models_changed.emit()

    def accepted(self, sample_id: int, previous_version: str | None, new_version: str) -> None:
        """"This part is OK" made new_version and put it on the line: label the part OK and make the
        whole of it one undo step."""
        ok = self.ok_class()
        label = self._label(sample_id, ok) if ok is not None and self.may("label") else None
        self._push(AcceptChange(sample_id, previous_version, new_version, label))
        self.samples_changed.emit()
        self.models_changed.emit()
        self.message.emit(f"Part #{sample_id} accepted as OK: anomaly model {new_version} is active (Ctrl+Z undoes it)")

    def ok_class(self) -> str | None:
        return next((c.name for c in self.project.classes() if c.kind == "ok"), None)

    # -- models --------------------------------------------------------------------------------------
    def model_config(self, version: str) -> dict:
        """A version's config.json, files checked once (a version never changes after it is saved)."""
        if version not in self._configs:
            self._configs[version] = self.registry.read_config(version)
        return self._configs[version]

    def activate(self, version: str, detail: dict | None = None) -> None:
        """detail: what the golden guard approved (gui/golden_guard.py runs the check off this thread)."""
        self.require("model.activate")
        self.registry.activate(version, self.user, detail=detail)
        self.models_changed.emit()
        self.message.emit(f"Model {version} is now active — the live view switches to it without stopping")

    def rollback(self, kind: str | None = None, detail: dict | None = None):
        self.require("model.rollback")
        mv = self.registry.rollback(self.user, kind, detail=detail)
        self.models_changed.emit()
        self.message.emit(f"Rolled back: {mv.version} is active again")
        return mv

    def delete_model(self, version: str) -> None:
        self.require("model.delete")
        self.registry.delete(version, self.user)
        self.models_changed.emit()
        self.message.emit(f"Deleted {version} (its record stays in the audit trail)")

    def close(self, timeout_s: float = 10.0) -> bool:
        """Stop the live pipeline and every task, then close the project. True when all ended in time."""
        ok = self.live.shutdown(timeout_s)
        ok = self.runner.shutdown(timeout_s) and ok
        self.project.close()
        return ok
