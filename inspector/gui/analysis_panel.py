"""Analysis: the seed's visual checks. Learning curves of a model version to judge under- and
over-fitting, a 2-D map of the model's features coloured by label (click a point to see the part),
and the anomaly score histogram with its threshold (when an anomaly model exists)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSplitter,
                               QVBoxLayout, QWidget)

from inspector.core.errors import InspectorError
from inspector.core.progress import StageProgress
from inspector.gui.image_view import ImageView
from inspector.gui.logs import show_error
from inspector.core.ops.feature_map import Embedding, feature_map
from inspector.core.ops.images import decode_images
from inspector.gui.tasks import task
from inspector.gui.train_plots import TrainingPlots

UNLABELLED = "#9aa0a6"


MIN_VAL = 10  # fewer validation images than this make any verdict on over-fitting a guess


def diagnose(history: list[dict], best_epoch: int | None = None, val_count: int | None = None) -> str:
    """One or two sentences an inspector can act on, from the per-epoch history."""
    if not history:
        return "This version has no training history."
    last = history[-1]
    ta, va = last.get("train_accuracy"), last.get("val_accuracy")
    if va is None or val_count == 0:
        return "No validation images were set aside, so over-fitting cannot be judged — label more parts."
    if val_count is not None and val_count < MIN_VAL:
        return (f"Only {val_count} validation image(s): too few to judge under- or over-fitting "
                f"(training accuracy {100 * ta:.0f} %). Label more parts, then train again.")
    vl = [h["val_loss"] for h in history if h.get("val_loss") is not None]
    tl = [h["train_loss"] for h in history]
    lowest = int(np.argmin(vl)) if vl else 0
    if ta < 0.8 and va < 0.8:
        return (f"Under-fitting: training {100 * ta:.0f} % and validation {100 * va:.0f} % are both low. "
                "Train longer, try the Accurate preset, or label more parts.")
    if vl and len(vl) >= 4 and lowest < len(vl) - 2 and vl[-1] > 1.2 * vl[lowest] and tl[-1] < tl[lowest]:
        kept = f" The saved weights are from epoch {best_epoch}." if best_epoch else ""
        return (f"Over-fitting: validation loss was lowest at epoch {lowest + 1} and rose after it while training "
                f"loss kept falling.{kept} More labelled parts or more regularization (dropout, L2) help.")
    if ta - va > 0.15:
        return (f"Some over-fitting: training {100 * ta:.0f} % against validation {100 * va:.0f} %. "
                "More labelled parts help most.")
    return f"Healthy: training {100 * ta:.0f} % and validation {100 * va:.0f} % agree."


class AnalysisPanel(QWidget):
    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.embedding: Embedding | None = None
        self.task = None

        self.version = QComboBox()
        self.version.setToolTip("The model version to analyse")
        self.version.currentIndexChanged.connect(lambda *_: self._load_version())
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.version)
        top.addStretch(1)

        curves = QGroupBox("Learning curves")
        cv = QVBoxLayout(curves)
        self.plots = TrainingPlots(batches=False)
        self.diagnosis = QLabel()
        self.diagnosis.setObjectName("diagnosis")
        self.diagnosis.setWordWrap(True)
        cv.addWidget(self.plots, 1)
        cv.addWidget(self.diagnosis)

        feat = QGroupBox("Feature map (what the model sees)")
        fv = QVBoxLayout(feat)
        row = QHBoxLayout()
        self.compute_btn = QPushButton("Compute")
        self.compute_btn.setToolTip("Project the model's features of the labelled and flagged parts to 2-D (PCA)")
        self.compute_btn.clicked.connect(self.compute_embedding)
        self.feat_progress = QProgressBar()
        self.feat_progress.setRange(0, 1)
        self.feat_note = QLabel("Parts that look alike to the model lie close together.")
        self.feat_note.setWordWrap(True)
        row.addWidget(self.compute_btn)
        row.addWidget(self.feat_progress, 1)
        fv.addLayout(row)
        # the legend beside the plot, not on it: the projection fills every corner, and points under a
        # legend cannot be seen or clicked
        self.scatter_view = pg.GraphicsLayoutWidget()
        self.scatter_plot = self.scatter_view.addPlot(0, 0)
        self.scatter_legend = pg.LegendItem(labelTextSize="9pt")
        side = self.scatter_side = self.scatter_view.addLayout(0, 1)
        side.addItem(self.scatter_legend, 0, 0)
        side.addLabel("", 1, 0)
        side.layout.setRowStretchFactor(1, 1)  # the entries at the top, not spread over the plot's height
        self.scatter_plot.setLabel("bottom", "1st axis")
        self.scatter_plot.setLabel("left", "2nd axis")
        self.scatter = pg.ScatterPlotItem(size=9, hoverable=True, hoverSize=13)
        self.scatter.sigClicked.connect(self._point_clicked)
        self.scatter_plot.addItem(self.scatter)
        fv.addWidget(self.scatter_view, 1)
        fv.addWidget(self.feat_note)

        pick = QGroupBox("Selected part")
        pv = QVBoxLayout(pick)
        self.preview = ImageView("Click a point of the feature map to see that part.")
        self.preview.setMinimumSize(180, 180)
        self.preview_note = QLabel()
        self.preview_note.setWordWrap(True)
        pv.addWidget(self.preview, 1)
        pv.addWidget(self.preview_note)

        self.anomaly_box = QGroupBox("Anomaly scores")
        av = QVBoxLayout(self.anomaly_box)
        self.hist_plot = pg.PlotWidget()
        self.hist_plot.setLabel("bottom", "anomaly score (0.5 = threshold)")
        self.hist_plot.setLabel("left", "parts")
        self.hist_note = QLabel("No anomaly model in this project yet.")
        self.hist_note.setWordWrap(True)
        av.addWidget(self.hist_plot, 1)
        av.addWidget(self.hist_note)

        bottom = QSplitter()
        bottom.addWidget(feat)
        bottom.addWidget(pick)
        bottom.addWidget(self.anomaly_box)
        bottom.setSizes([560, 260, 420])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(curves)
        split.addWidget(bottom)
        split.setSizes([300, 380])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(split, 1)
        session.models_changed.connect(self.refresh_versions)
        self.refresh_versions()

    # -- versions and curves ------------------------------------------------------------------------------
    def refresh_versions(self) -> None:
        current = self.version.currentData()
        active = self.session.registry.active_versions().get("classifier")
        self.version.blockSignals(True)
        self.version.clear()
        for mv in reversed(self.session.registry.list("classifier")):
            self.version.addItem(mv.version + ("  (active)" if mv.active else ""), mv.version)
        idx = self.version.findData(current if current else active)
        self.version.setCurrentIndex(max(0, idx))
        self.version.blockSignals(False)
        self._load_version()

    def selected_version(self) -> str | None:
        return self.version.currentData()

    def _load_version(self) -> None:
        v = self.selected_version()
        if v is None:
            self.plots.reset()
            self.diagnosis.setText("No model yet — train one on the Train tab.")
            self.compute_btn.setEnabled(False)
            return
        self.compute_btn.setEnabled(True)
        try:
            config = self.session.model_config(v)
        except InspectorError as e:
            self.diagnosis.setText(str(e))
            return
        self.plots.load_history(config.get("history", []))
        self.diagnosis.setText(diagnose(config.get("history", []), config.get("best_epoch"),
                                        config.get("dataset", {}).get("val")))

    # -- feature map ------------------------------------------------------------------------------------
    def compute_embedding(self):
        v = self.selected_version()
        if v is None or self.task is not None:
            return None
        try:
            path = self.session.registry.get(v).path
        except InspectorError as e:
            show_error(self, str(e))
            return None
        self.compute_btn.setEnabled(False)
        self.feat_progress.setRange(0, 0)
        self.task = self.session.runner.run(task(feature_map, str(self.session.root), str(path), in_process=True), "embedding",
                                            on_progress=self._feat_progress, on_result=self.show_embedding,
                                            on_error=self._feat_error, on_finished=self._feat_done)
        return self.task

    def _feat_progress(self, e) -> None:
        if isinstance(e, StageProgress):
            self.feat_progress.setRange(0, max(1, e.total))
            self.feat_progress.setValue(e.done)
            self.feat_note.setText(f"{e.stage.capitalize()}: {e.done} of {e.total}")

    def _feat_error(self, message: str) -> None:
        self.feat_note.setText(message)

    def _feat_done(self) -> None:
        self.task = None
        self.compute_btn.setEnabled(True)
        self.feat_progress.setRange(0, 1)
        self.feat_progress.setValue(1)

    def show_embedding(self, emb: Embedding) -> None:
        self.embedding = emb
        colors = {c.name: c.color for c in self.session.project.classes()}
        self.scatter.clear()
        legend = self.scatter_legend
        legend.clear()
        names = sorted({lb for lb in emb.labels if lb}, key=list(colors).index) + (
            [None] if any(lb is None for lb in emb.labels) else [])
        for name in names:
            idx = [i for i, lb in enumerate(emb.labels) if lb == name]
            color = QColor(colors.get(name, UNLABELLED) if name else UNLABELLED)
            spots = [{"pos": emb.xy[i], "data": int(emb.sample_ids[i]), "brush": pg.mkBrush(color),
                      "pen": pg.mkPen("w", width=0.5)} for i in idx]
            self.scatter.addPoints(spots)
            sample = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(color))
            legend.addItem(sample, f"{name or 'not labelled'} ({len(idx)})")
        self.scatter_side.setMaximumWidth(legend.boundingRect().width() + 8)  # the plot takes the rest
        self.scatter_plot.autoRange()
        self.feat_note.setText(f"{len(emb.labels)} parts, model {emb.version}. The axes hold "
                               f"{100 * emb.explained[0]:.0f} % and {100 * emb.explained[1]:.0f} % of the spread. "
                               "Click a point to see the part.")

    def _point_clicked(self, _item, points, *_) -> None:
        if len(points):
            self.show_sample(int(points[0].data()))

    def show_sample(self, sample_id: int) -> None:
        try:
            s = self.session.project.sample(sample_id)
        except InspectorError as e:
            show_error(self, str(e))
            return
        self.preview_note.setText(f"Part #{s.id}: {s.label or 'not labelled'}"
                                  + (f" · model suggested {s.suggestion}" if s.suggestion else ""))
        self.session.runner.run(task(decode_images, [(s.id, self.session.project.image_path(s))], 512), "preview",
                                on_result=lambda imgs: self.preview.set_image(imgs.get(sample_id)))

    # -- anomaly scores (filled by the anomaly adapter) -------------------------------------------------
    def show_histogram(self, edges: np.ndarray, counts: np.ndarray, flagged: np.ndarray | None = None,
                       note: str = "") -> None:
        self.hist_plot.clear()
        self.hist_plot.plot(edges, counts, stepMode="center", fillLevel=0, brush=(26, 115, 232, 120),
                            pen=pg.mkPen("#1a73e8"), name="good parts")
        if flagged is not None and len(flagged):
            self.hist_plot.plot(edges, flagged, stepMode="center", fillLevel=0, brush=(197, 34, 31, 120),
                                pen=pg.mkPen("#c5221f"), name="flagged parts")
        self.hist_plot.addItem(pg.InfiniteLine(0.5, angle=90, pen=pg.mkPen("#c5221f", width=2,
                                                                            style=Qt.PenStyle.DashLine),
                                               label="threshold", labelOpts={"position": 0.9, "color": "#c5221f"}))
        self.hist_note.setText(note)
