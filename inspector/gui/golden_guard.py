"""Before a model reaches the line from the GUI (activate, roll back, "this part is OK"): score the golden
set on a worker thread (torch stays off the GUI thread), show false rejects and escapes before → after,
and when escapes rise ask an engineer for a reason — or refuse, naming who may confirm."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget)

from inspector.core import accounts, golden
from inspector.core.errors import InspectorError
from inspector.gui.logs import show_error


def _check_task(root, version: str, previous: str | None):
    def fn(progress, cancel):
        from inspector.core.project import Project
        from inspector.core.registry import ModelRegistry

        with Project.open(root) as p:  # the worker's own connection
            return golden.check_change(p, ModelRegistry(p), version, previous, cancel, progress)
    return fn


def check_then(session, parent: QWidget, version: str, previous: str | None, action: str,
               on_ok: Callable[[dict], None]):
    """Check the golden set for a change from `previous` to `version`, then call on_ok(audit detail) on the
    GUI thread once it passed (or an engineer confirmed). Returns the worker task, or None when no scoring
    was needed (an empty golden set)."""
    try:
        session.require(action)
    except InspectorError as e:
        show_error(parent, str(e))
        return None
    if not golden.members(session.project):
        empty = golden.GoldenCheck(version, previous, golden.GoldenCounts() if previous else None,
                                   golden.GoldenCounts())
        decide(session, parent, empty, action, on_ok)
        return None
    session.say(f"Checking {version} on the golden set before it goes on the line…")
    return session.runner.run(_check_task(session.root, version, previous), "golden-check",
                              on_result=lambda check: decide(session, parent, check, action, on_ok),
                              on_error=lambda m: show_error(parent, m))


def decide(session, parent: QWidget, check: golden.GoldenCheck, action: str, on_ok) -> "ReasonDialog | None":
    session.say(check.line())
    if not check.escapes_up:
        on_ok(golden.approve(session.project, check, session.actor, None, action))
        return None
    if not session.may("golden.confirm"):
        try:
            golden.approve(session.project, check, session.actor, "", action)  # records the refusal
        except InspectorError as e:
            show_error(parent, f"{e} ({accounts.who_may('golden.confirm').replace(' may do this', ' may confirm')})")
        return None
    dialog = ReasonDialog(check, parent)

    def confirmed() -> None:
        try:
            on_ok(golden.approve(session.project, check, session.actor, dialog.reason(), action))
        except InspectorError as e:
            show_error(parent, str(e))
    dialog.accepted.connect(confirmed)
    dialog.rejected.connect(lambda: session.say(f"Kept the line's model: {check.version} was not confirmed"))
    dialog.open()
    return dialog


class ReasonDialog(QDialog):
    """More golden escapes: the engineer confirms with a reason (kept in the audit trail), or cancels."""

    def __init__(self, check: golden.GoldenCheck, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("goldenReasonDialog")
        self.setWindowTitle("More golden defects would pass")
        b, a = check.before, check.after
        text = QLabel(f"With <b>{check.version}</b>, <b>{a.escapes}</b> defective golden part(s) would pass as OK; "
                      f"with {check.previous}, {b.escapes}.<br>Good golden parts called NG: {b.false_rejects} → "
                      f"{a.false_rejects}.<br><br>Put it on the line anyway? Say why — the reason is kept with your "
                      "name in the audit trail.")
        text.setWordWrap(True)
        self.reason_edit = QLineEdit()
        self.reason_edit.setPlaceholderText("e.g. scratches under 0.2 mm are cosmetic (QA note 17)")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.confirm_btn = self.buttons.addButton("Confirm with this reason", QDialogButtonBox.ButtonRole.AcceptRole)
        self.confirm_btn.setEnabled(False)
        self.reason_edit.textChanged.connect(lambda t: self.confirm_btn.setEnabled(bool(t.strip())))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        v = QVBoxLayout(self)
        v.addWidget(text)
        v.addWidget(self.reason_edit)
        v.addWidget(self.buttons)
        self.resize(520, self.sizeHint().height())

    def reason(self) -> str:
        return self.reason_edit.text().strip()
