"""Tables for a trained model's validation results: the confusion matrix, and per-class precision
and recall of the new model beside the active one."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def _item(text: str, align=Qt.AlignmentFlag.AlignCenter) -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setTextAlignment(align)
    it.setFlags(Qt.ItemFlag.ItemIsEnabled)
    return it


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.0f} %"


class ConfusionMatrix(QTableWidget):
    """Rows: the true class; columns: what the model said. Green diagonal, red mistakes."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        # Five or more classes in a narrow pane: "scrat…" (full name in the tooltip), not a clipped "scratcl".
        self.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setToolTip("Rows: the true class of each validation image. Columns: what the model said.\n"
                        "The diagonal (green) is right; anything else (red) is a mistake.")

    def set_metrics(self, metrics: dict | None) -> None:
        self.clear()
        if not metrics or "confusion_matrix" not in metrics:
            self.setRowCount(0)
            self.setColumnCount(0)
            return
        names = metrics.get("classes") or list(metrics["per_class"])
        cm = metrics["confusion_matrix"]
        self.setRowCount(len(names))
        self.setColumnCount(len(names))
        self.setHorizontalHeaderLabels(names)
        self.setVerticalHeaderLabels(names)
        for j, name in enumerate(names):
            self.horizontalHeaderItem(j).setToolTip(f"the model said: {name}")
        for i, row in enumerate(cm):
            total = max(1, sum(row))
            for j, n in enumerate(row):
                it = _item(str(n))
                if n:
                    a = int(40 + 150 * n / total)
                    it.setBackground(QColor(30, 142, 62, a) if i == j else QColor(197, 34, 31, a))
                self.setItem(i, j, it)


class ClassComparison(QTableWidget):
    """Per class: recall and precision of the new model, and of the active one on the same images."""

    def __init__(self, parent=None, first: str = "new", second: str = "active"):
        super().__init__(0, 6, parent)
        self.set_names(first, second)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.verticalHeader().setVisible(False)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)

    def set_names(self, first: str, second: str) -> None:
        self.setHorizontalHeaderLabels(["class", "images", f"found\n{first}", f"found\n{second}",
                                        f"correct\n{first}", f"correct\n{second}"])
        for c in (2, 3):
            self.horizontalHeaderItem(c).setToolTip("Recall: of the images of this class, the share the model found")
            self.horizontalHeaderItem(c + 2).setToolTip("Precision: of the images the model called this class, "
                                                        "the share that really were")

    def set_metrics(self, new: dict | None, active: dict | None) -> None:
        new, active = new or {}, active or {}
        per = new.get("per_class") or {}
        names = [n for n in new.get("classes") or [] if n in per] or list(per)  # the model's class order
        self.setRowCount(len(names))
        for r, name in enumerate(names):
            n = new["per_class"][name]
            a = (active.get("per_class") or {}).get(name)
            cells = [name, str(n["support"]), _pct(n["recall"]), _pct(a["recall"] if a else None),
                     _pct(n["precision"]), _pct(a["precision"] if a else None)]
            for c, text in enumerate(cells):
                it = _item(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter if c == 0
                           else Qt.AlignmentFlag.AlignCenter)
                if a and c in (2, 4):
                    diff = n["recall" if c == 2 else "precision"] - a["recall" if c == 2 else "precision"]
                    if abs(diff) >= 0.005:
                        it.setForeground(QColor("#1e8e3e" if diff > 0 else "#c5221f"))
                self.setItem(r, c, it)
