"""Models: every saved version with its metrics, data size and date; activate, roll back, export
ONNX, delete."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QFileDialog, QFrame, QGroupBox, QHBoxLayout, QHeaderView,
                               QLabel, QMessageBox, QPushButton, QScrollArea, QSplitter, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from inspector.core.anomaly.records import operating_point_text, supervised_text
from inspector.core.decision import cutoff_of, describe
from inspector.core.errors import InspectorError
from inspector.gui import golden_guard, role_guard
from inspector.gui.anomaly_fit_box import anomaly_confusion, anomaly_per_class
from inspector.gui.logs import show_error
from inspector.gui.metrics_view import ClassComparison, ConfusionMatrix
from inspector.core.ops.export import export_onnx
from inspector.gui.tasks import task

COLUMNS = ("version", "kind", "state", "model", "validation", "trained on", "created", "from")


def _fmt_acc(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _fmt_operating_point(s: dict) -> str:
    """An anomaly version's validation check at its threshold: the share of defects caught, of good parts
    rejected."""
    parts = []
    if s.get("val_catch") is not None:
        parts.append(f"catches {100 * s['val_catch']:.0f} %")
    if s.get("val_frr") is not None:
        parts.append(f"false rejects {100 * s['val_frr']:.0f} %")
    return " · ".join(parts) or "–"


class ModelsPanel(QWidget):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("modelsTable")
        self.table.setHorizontalHeaderLabels([c.capitalize() for c in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        h.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda *_: self.activate_selected())

        self.activate_btn = QPushButton("Activate")
        self.activate_btn.setToolTip("Make the selected version the one the line uses (double-click a row does the same)")
        self.rollback_btn = QPushButton("Roll back")
        self.rollback_btn.setToolTip("Go back to the version that was active before the current one")
        self.export_btn = QPushButton("Export ONNX…")
        self.export_btn.setToolTip("Save the selected version as an ONNX file (with its classes in a .json beside it)")
        self.delete_btn = QPushButton("Delete…")
        self.delete_btn.setToolTip("Remove the selected version and its files (not the active one)")
        self.activate_btn.clicked.connect(self.activate_selected)
        self.rollback_btn.clicked.connect(self.rollback)
        self.export_btn.clicked.connect(self._ask_export)
        self.delete_btn.clicked.connect(self._ask_delete)
        buttons = QHBoxLayout()
        for b in (self.activate_btn, self.rollback_btn, self.export_btn, self.delete_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.note = QLabel()
        self.note.setWordWrap(True)

        details = QGroupBox("Selected version")
        dv = QHBoxLayout(details)
        self.details = QLabel("Select a version to see its settings and validation results.")
        self.details.setObjectName("modelDetails")
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.details.setMinimumWidth(300)
        self.confusion = ConfusionMatrix()
        self.comparison = ClassComparison(first="this", second="active")
        # a long fit report (the auto search's reason, expected catch per kind) scrolls instead of being cut off
        scroll = QScrollArea()
        scroll.setWidget(self.details)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(320)
        dv.addWidget(scroll, 2)
        dv.addWidget(self.confusion, 2)
        dv.addWidget(self.comparison, 3)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(details)
        split.setSizes([330, 330])

        lay = QVBoxLayout(self)
        lay.addLayout(buttons)
        lay.addWidget(split, 1)
        lay.addWidget(self.note)
        session.models_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        keep = self.selected_version()
        versions = list(reversed(self.session.registry.list()))  # newest first
        self.table.setRowCount(len(versions))
        bold = QFont(self.font())
        bold.setBold(True)
        for r, mv in enumerate(versions):
            s = mv.summary
            model = s.get("arch", "")
            if s.get("mode"):
                model += {"head": " (Fast)", "finetune": " (Accurate)"}.get(s["mode"], f" ({s['mode']})")
            if s.get("local_evidence"):
                model += " + local evidence"
            data = f"{s.get('train', '–')} train / {s.get('val', '–')} val" if "train" in s else "–"
            quality = _fmt_acc(s.get("val_accuracy"))
            if mv.kind == "anomaly":  # every good part is in the bank; the threshold from leave-one-out scores
                data = f"{s.get('train', '–')} good parts"
                quality = _fmt_operating_point(s)
            cells = (mv.version, mv.kind, "active" if mv.active else "", model, quality,
                     data, time.strftime("%Y-%m-%d %H:%M", time.localtime(mv.created_at)), mv.parent or "")
            for c, text in enumerate(cells):
                it = QTableWidgetItem(text)
                it.setData(Qt.ItemDataRole.UserRole, mv.version)
                if mv.active:
                    it.setFont(bold)
                    it.setBackground(QColor(30, 142, 62, 40))
                self.table.setItem(r, c, it)
        actives = self.session.registry.active_versions()
        active = self.session.registry.line_version()
        shown = ", ".join(f"{v} ({k})" for k, v in sorted(actives.items()))
        self.note.setText(f"{len(versions)} version(s). Active: {shown or 'none — train one on the Train tab'}."
                          + (" On the line the anomaly model decides OK / NG and the classifier names the defect."
                             if len(actives) > 1 else ""))
        if keep or active:
            self.select(keep or active)
        self._update_buttons()

    def selected_version(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select(self, version: str) -> None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).text() == version:
                self.table.selectRow(r)
                return

    def _show_details(self, version: str | None) -> None:
        if version is None:
            self.confusion.set_metrics(None)
            self.comparison.set_metrics(None, None)
            return
        try:
            cfg = self.session.model_config(version)
            active = self.session.registry.active("classifier")
            other = (self.session.model_config(active.version)["metrics"]["val"]
                     if active is not None and active.version != version else None)
        except (InspectorError, KeyError) as e:
            self.details.setText(str(e))
            return
        if cfg.get("kind") == "anomaly":
            self._show_anomaly_details(version, cfg)
            return
        t, d, tr = cfg.get("train_config", {}), cfg.get("dataset", {}), cfg.get("training", {})
        lines = [f"<b>{version}</b> · {cfg.get('arch', {}).get('name', cfg.get('kind', ''))}",
                 f"classes: {', '.join(c['name'] for c in cfg.get('classes', []))}"]
        if t:
            lines.append(f"{t.get('mode')} · {t.get('optimizer')} lr {t.get('lr')} · {t.get('epochs')} epochs · "
                         f"batch {t.get('batch_size')} · L2 {t.get('weight_decay')} · dropout {t.get('dropout')}")
            if t.get("mode") == "finetune":
                frozen = int(t.get("frozen_stages") or 0)
                lines.append(f"fine-tuned: stages {frozen}–6 and the head (stem and stages 0–{frozen - 1} kept as "
                             "ImageNet's)" if frozen else "fine-tuned: the whole network")
        if cfg.get("arch", {}).get("local"):
            sizes = " and ".join("×".join(map(str, lv["size"])) for lv in cfg["arch"]["local"])
            lines.append(f"local evidence: each patch scored against the good parts' patches at {sizes} px "
                         "(for fine defects)")
        if d:
            lines.append(f"data: {d.get('train')} training / {d.get('val')} validation images")
        if tr:
            lines.append(f"trained by {tr.get('user') or '–'} on {tr.get('device')} in {tr.get('seconds', 0):.0f} s"
                         + (f", warm start from {tr['warm_start_from']}" if tr.get("warm_start_from") else ""))
        op = (cfg.get("metrics", {}).get("val") or {}).get("operating_point")
        rule = (cfg.get("decision") or {}).get("rule") or "fixed: saved before calibration"
        lines.append(describe(op) if op else f"OK / NG at defect probability >= {cutoff_of(cfg):.3g} ({rule})")
        self.details.setText("<br>".join(lines))
        self.confusion.set_metrics(cfg.get("metrics", {}).get("val"))
        self.comparison.set_metrics(cfg.get("metrics", {}).get("val"), other)

    def _show_anomaly_details(self, version: str, cfg: dict) -> None:
        """An anomaly model has no classes or confusion matrix: its bank, threshold and origin instead."""
        a, cal, info, bank = cfg.get("anomaly", {}), cfg.get("calibration") or {}, cfg.get("info", {}), cfg.get("bank", {})
        lines = [f"<b>{version}</b> · anomaly model (learns from good parts only) on {cfg.get('backbone', '')}",
                 f"memory bank: {bank.get('entries', '–')} patches × {bank.get('dim', '–')} values from "
                 f"{info.get('train_images', '–')} good parts · stages {a.get('stages')} · "
                 f"{'with' if cfg.get('ignore_mask') else 'no'} ignore mask"]
        if cal:
            lines.append(f"threshold {cal.get('threshold', 0):.4g} for {100 * cal.get('frr_target', 0):.1f} % false "
                         f"rejects, set from the {cal.get('source', '')}")
        auto = info.get("auto")
        if auto:
            lines.append(f"settings chosen automatically: {auto.get('reason', '')}")
            lines += [f"&nbsp;&nbsp;expected: {line}" for line in auto.get("expected", [])[:2]]
        sup = info.get("supervised")
        if sup:
            lines.append(supervised_text(sup))
        if info.get("skipped"):
            lines.append(f"{len(info['skipped'])} unreadable image(s) left out of the fit")
        if cfg.get("parent"):
            lines.append(f"made from {cfg['parent']} by “this part is OK”" if info.get("accepted_from")
                         else f"parent {cfg['parent']}")
        if info.get("user"):
            lines.append(f"fitted by {info['user']} in {info.get('fit_s', 0):.0f} s")
        val = (cfg.get("metrics") or {}).get("val")
        if val:
            lines.insert(1, "<b>validation:</b> " + operating_point_text(val))
        self.details.setText("<br>".join(lines))
        self.confusion.set_metrics(anomaly_confusion(val) if val else None)
        self.comparison.set_metrics(anomaly_per_class(val) if val else None, None)

    def _update_buttons(self) -> None:
        v = self.selected_version()
        self._show_details(v)
        active = set(self.session.registry.active_versions().values())
        self.activate_btn.setEnabled(bool(v) and v not in active)
        # an anomaly model is a memory bank beside a feature graph: there is no single ONNX file to hand on
        self.export_btn.setEnabled(bool(v) and self.session.registry.get(v).kind == "classifier")
        self.delete_btn.setEnabled(bool(v) and v not in active)
        self.rollback_btn.setEnabled(bool(active))
        role_guard.apply(self.session, ((self.activate_btn, "model.activate"), (self.rollback_btn, "model.rollback"),
                                        (self.delete_btn, "model.delete")))

    def _guard(self, fn, *args) -> bool:
        try:
            fn(*args)
        except InspectorError as e:
            show_error(self, str(e))
            return False
        return True

    def activate_selected(self):
        """Through the golden guard (gui/golden_guard.py); returns its worker task, if it needed one."""
        v = self.selected_version()
        if not v:
            return None
        current = self.session.registry.active(self.session.registry.get(v).kind)
        return golden_guard.check_then(self.session, self, v, current.version if current else None,
                                       "model.activate", lambda detail: self._guard(self.session.activate, v, detail))

    def rollback(self):
        v = self.selected_version()  # roll back the selected version's kind (else the kind activated last)
        try:
            kind = self.session.registry.get(v).kind if v else None
            target, current = self.session.registry.rollback_target(kind), self.session.registry.active(kind)
        except InspectorError as e:
            show_error(self, str(e))
            return None
        return golden_guard.check_then(self.session, self, target.version, current.version, "model.rollback",
                                       lambda detail: self._guard(self.session.rollback, current.kind, detail))

    def delete(self, version: str) -> bool:
        return self._guard(self.session.delete_model, version)

    def _ask_delete(self) -> None:
        v = self.selected_version()
        if v and QMessageBox.question(self, "Delete model", f"Delete {v} and its files? This cannot be undone."
                                      ) == QMessageBox.StandardButton.Yes:
            self.delete(v)

    def export(self, version: str, dest: Path):
        """Copy the version's ONNX file on a worker thread; returns the task."""
        try:
            mv = self.session.registry.get(version)
        except InspectorError as e:
            show_error(self, str(e))
            return None
        return self.session.runner.run(
            task(export_onnx, mv.path, Path(dest)), "export",
            on_result=lambda p: self.session.say(f"Exported {version} to {p}"),
            on_error=lambda m: show_error(self, m))

    def _ask_export(self) -> None:
        v = self.selected_version()
        if not v:
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Export {v} as ONNX",
                                              str(Path.home() / f"{self.session.project.name}-{v}.onnx"),
                                              "ONNX model (*.onnx)")
        if path:
            self.export(v, Path(path))
