"""Live training curves (pyqtgraph): loss and accuracy, per batch and per epoch, training and
validation. Points go into preallocated arrays; the plots redraw on a timer, never per event."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

from inspector.core.progress import BatchProgress, EpochEnd

pg.setConfigOptions(antialias=True, background="w", foreground="#3c4043")
TRAIN = "#1a73e8"
VAL = "#e8710a"
BATCH = (26, 115, 232, 70)


class Series:
    """Growable x/y arrays (doubling), so setData gets views of preallocated memory."""

    def __init__(self, capacity: int = 256):
        self.x = np.full(capacity, np.nan)
        self.y = np.full(capacity, np.nan)
        self.n = 0

    def append(self, x: float, y: float | None) -> None:
        if y is None:
            return
        if self.n == len(self.x):
            self.x = np.concatenate([self.x, np.full(self.n, np.nan)])
            self.y = np.concatenate([self.y, np.full(self.n, np.nan)])
        self.x[self.n], self.y[self.n] = x, y
        self.n += 1

    def clear(self) -> None:
        self.n = 0

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[:self.n], self.y[:self.n]


def _plot(title: str, ylabel: str, legend_offset: tuple[int, int]) -> pg.PlotWidget:
    w = pg.PlotWidget()
    w.setTitle(title, size="11pt")
    w.setLabel("bottom", "epoch")
    w.setLabel("left", ylabel)
    w.showGrid(x=True, y=True, alpha=0.25)
    w.setClipToView(True)
    w.setDownsampling(auto=True, mode="peak")
    w.addLegend(offset=legend_offset, labelTextSize="9pt", brush=(255, 255, 255, 210))
    w.setMinimumHeight(150)
    return w


class TrainingPlots(QWidget):
    """reset(); then feed progress events (on_event); load_history() shows a finished run."""

    def __init__(self, parent: QWidget | None = None, *, batches: bool = True):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        # each legend in the corner its curves leave as training goes on: loss falls away from the top
        # right, accuracy rises away from the bottom right (at the top right it hid the last epochs' curves)
        self.loss_plot = _plot("Loss", "cross-entropy", (-10, 10))
        self.acc_plot = _plot("Accuracy", "fraction correct", (-10, -10))
        self.acc_plot.setYRange(0, 1.02)
        lay.addWidget(self.loss_plot)
        lay.addWidget(self.acc_plot)
        self.series = {k: Series() for k in ("batch_loss", "batch_acc", "train_loss", "val_loss",
                                              "train_acc", "val_acc")}
        thin = pg.mkPen(BATCH, width=1)
        self.curves = {}
        for plot, kind in ((self.loss_plot, "loss"), (self.acc_plot, "acc")):
            if batches:
                self.curves[f"batch_{kind}"] = plot.plot(pen=thin, name="training, per batch")
            self.curves[f"train_{kind}"] = plot.plot(pen=pg.mkPen(TRAIN, width=2.5), symbol="o", symbolSize=5,
                                                     symbolBrush=TRAIN, symbolPen=None, name="training, per epoch")
            self.curves[f"val_{kind}"] = plot.plot(pen=pg.mkPen(VAL, width=2.5, style=Qt.PenStyle.DashLine),
                                                   symbol="s", symbolSize=5, symbolBrush=VAL, symbolPen=None,
                                                   name="validation")
        self._offset = 0  # epochs of earlier phases (the Accurate preset warms the head up first)
        self._phase = (0, 0)  # (epochs, last epoch) of the current phase
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

    def reset(self) -> None:
        for s in self.series.values():
            s.clear()
        self._offset, self._phase = 0, (0, 0)
        self._dirty = True
        self.refresh()

    def _x(self, epoch: int, epochs: int, frac: float) -> float:
        total, last = self._phase
        if epochs != total or epoch < last:  # a new phase starts counting again from epoch 1
            if total:
                self._offset += last
            self._phase = (epochs, epoch)
        else:
            self._phase = (epochs, epoch)
        return self._offset + epoch - 1 + frac

    def on_event(self, e) -> None:
        if isinstance(e, BatchProgress):
            x = self._x(e.epoch, e.epochs, e.batch / e.batches)
            self.series["batch_loss"].append(x, e.loss)
            self.series["batch_acc"].append(x, e.accuracy)
        elif isinstance(e, EpochEnd):
            x = self._x(e.epoch, e.epochs, 1.0)
            self.series["train_loss"].append(x, e.train_loss)
            self.series["train_acc"].append(x, e.train_accuracy)
            self.series["val_loss"].append(x, e.val_loss)
            self.series["val_acc"].append(x, e.val_accuracy)
        else:
            return
        self._dirty = True

    def load_history(self, history: list[dict]) -> None:
        self.reset()
        for h in history:
            x = float(h["epoch"])
            self.series["train_loss"].append(x, h.get("train_loss"))
            self.series["train_acc"].append(x, h.get("train_accuracy"))
            self.series["val_loss"].append(x, h.get("val_loss"))
            self.series["val_acc"].append(x, h.get("val_accuracy"))
        self._dirty = True
        self.refresh()

    def refresh(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        for name, curve in self.curves.items():
            curve.setData(*self.series[name].view())

    def points(self, name: str) -> int:
        return self.series[name].n
