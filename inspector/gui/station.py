"""Who is at the station, in the main window: the log-in page (at start when the project has accounts,
after Lock or Switch user, and after N idle minutes), the Account menu, the role guard on every panel's
controls, and the Audit view. The live line keeps running while the station is locked."""
from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QApplication, QComboBox, QFormLayout, QInputDialog, QLabel, QLineEdit, QPushButton,
                               QStackedWidget, QVBoxLayout, QWidget)

from inspector.core import accounts
from inspector.core.errors import InspectorError
from inspector.gui import role_guard
from inspector.gui.audit_view import AuditView
from inspector.gui.logs import show_error

AUTOLOCK_KEY = "gui.autolock_min"  # project meta: lock after this many idle minutes (0 = never)
DEFAULT_AUTOLOCK_MIN = 10
_INPUT_EVENTS = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.Wheel,
                 QEvent.Type.TouchBegin}


class LoginPage(QWidget):
    """The locked station: a name, a password (or PIN), and one line saying what went wrong."""

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("loginPage")
        self.title = QLabel()
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet("font-size: 18pt; font-weight: bold;")
        self.note = QLabel("The line keeps inspecting while the station is locked.")
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = QComboBox()
        self.name.setEditable(True)
        self.name.setObjectName("loginName")
        self.secret = QLineEdit()
        self.secret.setObjectName("loginSecret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret.setPlaceholderText("password or PIN")
        self.secret.returnPressed.connect(self.submit)
        self.button = QPushButton("Log in")
        self.button.setDefault(True)
        self.button.clicked.connect(self.submit)
        self.error = QLabel()
        self.error.setObjectName("loginError")
        self.error.setStyleSheet("color: #c5221f;")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Password", self.secret)
        box = QWidget()
        box.setMaximumWidth(420)
        inner = QVBoxLayout(box)
        inner.addWidget(self.title)
        inner.addWidget(self.note)
        inner.addSpacing(12)
        inner.addLayout(form)
        inner.addWidget(self.button)
        inner.addWidget(self.error)
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(2)

    def reset(self) -> None:
        self.title.setText(f"{self.session.project.name} — log in")
        names = [a.name for a in accounts.accounts(self.session.project)]
        last = self.session.actor.name if self.session.actor.name in names else ""
        self.name.clear()
        self.name.addItems(names)
        self.name.setCurrentText(last)
        self.secret.clear()
        self.error.clear()
        (self.secret if last else self.name).setFocus()

    def submit(self) -> bool:
        try:
            self.session.login(self.name.currentText(), self.secret.text())
        except InspectorError as e:
            self.error.setText(str(e))
            self.secret.clear()
            return False
        return True


class StationGuard(QObject):
    """Installs itself in a MainWindow: the tabs and the log-in page in one stack, the Account menu, the
    idle timer, and the role guard, kept in step with Session.actor_changed."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.login_page = LoginPage(self.session)
        self.stack = QStackedWidget()
        window.takeCentralWidget()  # setCentralWidget would delete the tabs
        self.stack.addWidget(window.tabs)
        self.stack.addWidget(self.login_page)
        window.setCentralWidget(self.stack)
        self._build_menu()
        self.last_input = time.monotonic()
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(15_000)
        self.idle_timer.timeout.connect(self.check_idle)
        self.idle_timer.start()
        QApplication.instance().installEventFilter(self)
        self.audit_view: AuditView | None = None
        self._taken: list = []  # controls the role guard disabled (and gives back when the role allows)
        self.session.actor_changed.connect(self.update)
        # A panel re-enables its controls after its own work (training ends, a model is saved): disable
        # again what the role may not use. Labels never change roles, so samples_changed is left alone.
        for signal in (self.session.models_changed, self.session.runner.busy_changed):
            signal.connect(self._reguard)
        self.update()

    # -- the menu ---------------------------------------------------------------------------------------
    def _build_menu(self) -> None:
        bar = self.window.menuBar()
        help_menu = bar.actions()[-1]
        self.menu = bar.addMenu("&Account")
        bar.insertMenu(help_menu, self.menu)
        self.switch_action = self.menu.addAction("&Switch user…", lambda: self.session.lock("switch user"))
        self.lock_action = self.menu.addAction("&Lock the station", lambda: self.session.lock("locked by hand"))
        self.lock_action.setShortcut(QKeySequence("Ctrl+L"))
        self.autolock_action = self.menu.addAction("&Auto-lock…", self.ask_autolock)
        self.menu.addSeparator()
        self.audit_action = self.menu.addAction("Audit &trail…", self.show_audit)

    def ask_autolock(self) -> None:
        minutes, ok = QInputDialog.getInt(self.window, "Auto-lock", "Lock the station after this many minutes "
                                          "without a key press or click (0 = never):", self.autolock_min(), 0, 480)
        if ok:
            self.set_autolock(minutes)

    def set_autolock(self, minutes: int) -> None:
        try:
            self.session.set_setting(AUTOLOCK_KEY, str(int(minutes)), need="settings.edit")
        except InspectorError as e:
            show_error(self.window, str(e))
            return
        self.session.say(f"The station locks after {minutes} idle minutes" if minutes
                                  else "Auto-lock is off")

    def autolock_min(self) -> int:
        try:
            return max(0, int(self.session.project.get_meta(AUTOLOCK_KEY, str(DEFAULT_AUTOLOCK_MIN))))
        except ValueError:  # a damaged value: the default, not a crash
            return DEFAULT_AUTOLOCK_MIN

    def show_audit(self) -> AuditView | None:
        try:
            self.session.require("audit.read")
        except InspectorError as e:
            show_error(self.window, str(e))
            return None
        self.audit_view = AuditView(self.session.project, self.window)
        self.audit_view.open()
        return self.audit_view

    # -- idle -------------------------------------------------------------------------------------------
    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() in _INPUT_EVENTS:
            self.last_input = time.monotonic()
        return False

    def check_idle(self, now: float | None = None) -> bool:
        """Lock when the project has accounts and nobody touched the station for the auto-lock time."""
        if getattr(self.window, "_closing", False):  # the project is closing or closed: nothing to lock
            self.idle_timer.stop()
            QApplication.instance().removeEventFilter(self)
            return False
        minutes = self.autolock_min()
        now = time.monotonic() if now is None else now
        if self.session.has_accounts and not self.session.locked and minutes and now - self.last_input >= minutes * 60:
            self.session.lock(f"idle {minutes} min")
            return True
        return False

    # -- state ------------------------------------------------------------------------------------------
    def update(self) -> None:
        s = self.session
        locked = s.locked
        if locked:
            self.login_page.reset()
        self.stack.setCurrentWidget(self.login_page if locked else self.window.tabs)
        for a in (self.switch_action, self.lock_action, self.autolock_action):
            a.setEnabled(s.has_accounts and not locked)
        self.audit_action.setEnabled(not locked)
        who = "locked" if locked else (s.actor.name if s.actor.single_user else f"{s.actor.name} ({s.actor.role})")
        self.window.user_label.setText(f"Inspector: {who}")
        self.window.user_label.setMinimumWidth(self.window.user_label.sizeHint().width())  # never clipped
        self.window.setWindowTitle(f"Inspector — {s.project.name} — {who}")
        if not locked:
            self.last_input = time.monotonic()
        self.apply_roles()

    def _reguard(self, *_) -> None:
        if not getattr(self.window, "_closing", False):  # tasks may still end while the window closes
            role_guard.apply(self.session, self.controls())

    def controls(self) -> list:
        """(control, action) pairs the role guard looks after."""
        w = self.window
        controls = [(w.train_panel.train_btn, "train"), (w.train_panel.fit_btn, "model.fit"),
                    (w.train_panel.activate_btn, "model.activate"), (w.review_panel.ok_part_btn, "model.accept"),
                    (w.models_panel.activate_btn, "model.activate"), (w.models_panel.rollback_btn, "model.rollback"),
                    (w.models_panel.delete_btn, "model.delete")]
        return controls + list(getattr(w, "guarded_actions", ()))

    def apply_roles(self) -> None:
        """After a log-in or lock: disable what the role may not do (tooltip: who may); give back what the
        guard took once the role allows it, then let each panel's own logic (busy, nothing selected) decide."""
        w = self.window
        controls = self.controls()
        for control, action in controls:
            if self.session.may(action) and control in self._taken:
                control.setEnabled(True)
        w.models_panel.refresh()
        w.train_panel.refresh()
        w.train_panel._update_activate()
        self._taken = [c for c, action in controls
                       if not self.session.may(action) and (c.isEnabled() or c in self._taken)]
        role_guard.apply(self.session, controls)
