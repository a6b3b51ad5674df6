"""The Audit view: who changed what, when — filtered by person, kind of change and time, exported to CSV,
and the hash chain verified (core/audit.py)."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from inspector.core import audit
from inspector.core.errors import InspectorError
from inspector.gui.logs import show_error
from inspector.gui.screens import fit_to_screen

SHOWN = 2000  # newest rows shown; an export writes every matching row
KINDS = (("every change", None), ("labels and splits", "sample."), ("golden set", "golden."),
         ("models", "model."), ("accepts", "model.accept"), ("classes", "class."), ("settings", "setting"),
         ("ignore mask", "mask."), ("accounts", "account."), ("log-ins", "login"), ("failed log-ins", "login.failed"),
         ("refused actions", "refused"), ("station locks", "station.lock"))
SINCE = (("all time", None), ("last 24 hours", 86400), ("last 7 days", 7 * 86400), ("last 30 days", 30 * 86400))
COLUMNS = ("#", "time", "user", "role", "action", "what")


class AuditView(QDialog):
    def __init__(self, project, parent: QWidget | None = None):
        super().__init__(parent)
        self.project = project
        self.setObjectName("auditView")
        self.setWindowTitle(f"Audit trail — {project.name}")
        self.user = QComboBox()
        self.kind = QComboBox()
        for text, _ in KINDS:
            self.kind.addItem(text)
        self.since = QComboBox()
        for text, _ in SINCE:
            self.since.addItem(text)
        for combo in (self.user, self.kind, self.since):
            combo.currentIndexChanged.connect(self.refresh)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        h.setStretchLastSection(True)
        self.count = QLabel()
        self.chain = QLabel()
        self.chain.setObjectName("auditChain")
        self.chain.setWordWrap(True)
        self.verify_btn = QPushButton("Verify the chain")
        self.verify_btn.setToolTip("Recompute every row's SHA-256 hash: an edited, deleted or inserted row is named")
        self.verify_btn.clicked.connect(self.verify)
        self.export_btn = QPushButton("Export CSV…")
        self.export_btn.clicked.connect(self._ask_export)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        filters = QHBoxLayout()
        for label, combo in (("Who", self.user), ("What", self.kind), ("When", self.since)):
            filters.addWidget(QLabel(label))
            filters.addWidget(combo)
        filters.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.verify_btn)
        buttons.addWidget(self.chain, 1)
        buttons.addWidget(self.export_btn)
        buttons.addWidget(close)
        v = QVBoxLayout(self)
        v.addLayout(filters)
        v.addWidget(self.table, 1)
        v.addWidget(self.count)
        v.addLayout(buttons)
        self._fill_users()
        self.refresh()
        fit_to_screen(self, 1100, 600)

    def _fill_users(self) -> None:
        self.user.blockSignals(True)
        self.user.clear()
        self.user.addItem("everyone")
        self.user.addItems([r[0] for r in self.project.db.execute("SELECT DISTINCT user FROM audit_log ORDER BY user")])
        self.user.blockSignals(False)

    def filters(self) -> dict:
        since_s = SINCE[self.since.currentIndex()][1]
        return {"user": self.user.currentText() if self.user.currentIndex() > 0 else None,
                "action": KINDS[self.kind.currentIndex()][1],
                "since": time.time() - since_s if since_s else None}

    def refresh(self) -> None:
        rows = audit.rows(self.project.db, limit=SHOWN, **self.filters())
        rows.reverse()  # newest first
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row.at))
            for c, text in enumerate((str(row.id), when, row.user, row.role, row.action, audit.describe(row))):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.count.setText(f"{len(rows)} rows" + (f" (the newest {SHOWN}; Export writes all)" if len(rows) == SHOWN
                                                 else ""))

    def verify(self) -> audit.VerifyResult:
        result = audit.verify(self.project.db)
        self.chain.setText(result.line())
        self.chain.setStyleSheet("" if result.ok else "color: #c5221f; font-weight: bold;")
        return result

    def export(self, path: str | Path) -> int:
        """Every row matching the filters (not only those shown) to a CSV file; returns the row count."""
        rows = audit.rows(self.project.db, **self.filters())
        try:
            audit.write_csv(path, rows)
        except (OSError, InspectorError) as e:
            show_error(self, f"the audit CSV could not be written ({e}) — pick another folder")
            return 0
        return len(rows)

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the audit trail", str(Path.home() / "audit.csv"),
                                              "CSV (*.csv)")
        if path:
            n = self.export(path)
            if n:
                self.count.setText(f"wrote {n} rows to {path}")
