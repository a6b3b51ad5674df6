"""The start page: who is inspecting, then a demo, a new project, an existing one or a recent one."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFormLayout, QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem,
                               QProgressBar, QPushButton, QVBoxLayout, QWidget)

from inspector.core.progress import BatchProgress, StageProgress
from inspector.gui.screens import fit_to_screen


class StartPage(QWidget):
    demo_requested = Signal()
    new_requested = Signal()
    open_requested = Signal(str)  # a path, or "" to ask for one

    def __init__(self, prefs, parent: QWidget | None = None):
        super().__init__(parent)
        self.prefs = prefs
        self.setWindowTitle("Inspector")
        fit_to_screen(self, 760, 560)
        title = QLabel("Inspector")
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * 2.6)
        f.setBold(True)
        title.setFont(f)
        sub = QLabel("Label the parts the camera flags, press Train, and get a better model.")
        sub.setStyleSheet("color: #5f6368")
        self.name = QLineEdit(prefs.user)
        self.name.setObjectName("userName")
        self.name.setPlaceholderText("e.g. Ana Souza")
        self.name.setToolTip("Every label you give is saved with this name")
        form = QFormLayout()
        form.addRow("Your name", self.name)

        self.demo_btn = QPushButton("Try the demo\nsynthetic production line, no camera needed")
        self.new_btn = QPushButton("New project…\nan empty project for a new line or part")
        self.open_btn = QPushButton("Open project…\na project folder on this computer")
        buttons = QHBoxLayout()
        for b in (self.demo_btn, self.new_btn, self.open_btn):
            b.setMinimumHeight(72)
            buttons.addWidget(b)
        self.demo_btn.setObjectName("demoButton")
        self.demo_btn.clicked.connect(lambda: self._go(self.demo_requested.emit))
        self.new_btn.clicked.connect(lambda: self._go(self.new_requested.emit))
        self.open_btn.clicked.connect(lambda: self._go(lambda: self.open_requested.emit("")))

        self.recent = QListWidget()
        for p in prefs.recent_projects:
            if (Path(p) / "project.sqlite").is_file():
                it = QListWidgetItem(p)
                it.setData(Qt.ItemDataRole.UserRole, p)
                self.recent.addItem(it)
        if not self.recent.count():
            self.recent.addItem("No recent projects yet — try the demo, or make a new project.")
            self.recent.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        self.recent.itemActivated.connect(
            lambda it: self._go(lambda: self.open_requested.emit(it.data(Qt.ItemDataRole.UserRole))))
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.message = QLabel()
        self.message.setObjectName("startMessage")
        self.message.setWordWrap(True)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(36, 28, 36, 28)
        lay.addWidget(title)
        lay.addWidget(sub)
        lay.addSpacing(12)
        lay.addLayout(form)
        lay.addSpacing(8)
        lay.addLayout(buttons)
        lay.addSpacing(8)
        lay.addWidget(QLabel("Recent projects (double-click to open)"))
        lay.addWidget(self.recent, 1)
        lay.addWidget(self.progress)
        lay.addWidget(self.message)

    @property
    def user(self) -> str:
        return self.name.text().strip()

    def _go(self, fn) -> None:
        if not self.user:
            self.message.setText("Please type your name first: every label is saved with it.")
            self.name.setFocus()
            return
        self.prefs.user = self.user
        fn()

    def set_busy(self, text: str | None) -> None:
        busy = text is not None
        for w in (self.demo_btn, self.new_btn, self.open_btn, self.recent, self.name):
            w.setEnabled(not busy)
        self.progress.setVisible(busy)
        self.progress.setRange(0, 0)
        self.message.setText(text or "")

    def on_progress(self, e) -> None:
        if isinstance(e, StageProgress):
            self.progress.setRange(0, max(1, e.total))
            self.progress.setValue(e.done)
            self.message.setText(f"Preparing the demo: {e.stage} ({e.done} of {e.total})")
        elif isinstance(e, BatchProgress):
            self.progress.setRange(0, e.epochs)
            self.progress.setValue(e.epoch)
            self.message.setText(f"Preparing the demo: training a first model (epoch {e.epoch} of {e.epochs})")
