"""Train: what there is to learn from (per-class counts, warnings), the Train button with presets and
an Advanced section, live curves, progress with ETA, Cancel; then the results beside the active
model's and an Activate button. Training runs on a worker thread; this panel only shows it."""
from __future__ import annotations

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QCheckBox, QFrame, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QRadioButton, QScrollArea, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from inspector.core.decision import describe
from inspector.core.errors import InspectorError
from inspector.core.progress import BatchProgress, EpochEnd, StageProgress
from inspector.core.train_config import load_presets, preset
from inspector.gui.anomaly_fit_box import AnomalyFitBox, anomaly_confusion, anomaly_headline, anomaly_per_class
from inspector.gui.logs import show_error
from inspector.gui.metrics_view import ClassComparison, ConfusionMatrix
from inspector.core.ops.anomaly_fit import AnomalyFitSummary, fit_anomaly
from inspector.core.ops.train import TrainSummary, train
from inspector.gui.tasks import task
from inspector.gui.train_plots import TrainingPlots
from inspector.gui.train_settings import AdvancedSettings

MIN_PER_CLASS = 10  # below this a class is flagged: the model will hardly learn it


def fmt_eta(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 60}:{s % 60:02d}"


class TrainPanel(QWidget):
    training_changed = Signal(bool)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.presets = load_presets()
        self.task = None
        self.summary: TrainSummary | None = None

        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 6, 0)
        left.addWidget(self._dataset_box())
        left.addWidget(self._settings_box())
        left.addWidget(self._anomaly_box())
        left.addStretch(1)
        inner = QWidget()
        inner.setLayout(left)
        left_w = QScrollArea()  # the Advanced section may not fit a 768-pixel screen: scroll, never squeeze
        left_w.setWidget(inner)
        left_w.setWidgetResizable(True)
        left_w.setFrameShape(QFrame.Shape.NoFrame)
        left_w.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._left = left_w
        self._fit_to_font()

        self.plots = TrainingPlots()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plots)
        right.addWidget(self._results_box())
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        right.setSizes([320, 360])

        lay = QHBoxLayout(self)
        lay.addWidget(left_w)
        lay.addWidget(right, 1)
        session.samples_changed.connect(self._samples_changed)
        self._stale = False
        session.models_changed.connect(self._update_activate)
        session.models_changed.connect(self._update_warm)
        self._apply_preset()
        self.refresh()
        self._update_warm()

    def _fit_to_font(self) -> None:
        # Room for the content and the vertical scroll bar beside it: without the bar's width the content was cut
        # at its right edge whenever the Advanced section made the column scroll (seen on Xvfb at 1366 × 768).
        need = max(420, self.fontMetrics().averageCharWidth() * 56, self._left.widget().minimumSizeHint().width())
        self._left.setFixedWidth(need + self._left.verticalScrollBar().sizeHint().width())

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FontChange:
            self._fit_to_font()
        super().changeEvent(event)

    # -- building ---------------------------------------------------------------------------------------
    def _dataset_box(self) -> QGroupBox:
        box = QGroupBox("Labelled parts")
        v = QVBoxLayout(box)
        self.counts = QTableWidget(0, 5)
        self.counts.setHorizontalHeaderLabels(["class", "training", "validation", "golden", "note"])
        self.counts.horizontalHeaderItem(3).setToolTip("Held-out parts every model change is checked on before it "
                                                       "reaches the line (Ctrl+G in Review marks a part golden)")
        self.counts.verticalHeader().setVisible(False)
        self.counts.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.counts.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        h = self.counts.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        h.setStretchLastSection(True)
        self.counts.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.counts.setMaximumHeight(8 * (self.fontMetrics().height() + 8))
        self.counts_note = QLabel()
        self.counts_note.setWordWrap(True)
        v.addWidget(self.counts)
        v.addWidget(self.counts_note)
        return box

    def _settings_box(self) -> QGroupBox:
        box = QGroupBox("Train a new model")
        v = QVBoxLayout(box)
        self.preset_group = QButtonGroup(self)
        row = QHBoxLayout()
        for name in ("head", "finetune"):
            if name in self.presets:
                b = QRadioButton(self.presets[name]["label"])
                b.setObjectName(f"preset_{name}")
                b.setToolTip(self.presets[name]["description"])
                b.setProperty("preset", name)
                self.preset_group.addButton(b)
                row.addWidget(b)
                b.setChecked(name == self.session.prefs.train_preset)
        if self.preset_group.checkedButton() is None and self.preset_group.buttons():
            self.preset_group.buttons()[0].setChecked(True)
        self.preset_group.buttonToggled.connect(lambda *_: self._apply_preset())
        row.addStretch(1)
        v.addLayout(row)
        self.preset_note = QLabel()
        self.preset_note.setWordWrap(True)
        self.preset_note.setStyleSheet("color: #5f6368")
        v.addWidget(self.preset_note)
        self.warm = QCheckBox("Continue from the active model")
        self.warm.setObjectName("warmStart")
        v.addWidget(self.warm)

        self.advanced = AdvancedSettings()
        v.addWidget(self.advanced)

        buttons = QHBoxLayout()
        self.train_btn = QPushButton("Train")
        self.train_btn.setObjectName("trainButton")
        self.train_btn.setShortcut(QKeySequence("Ctrl+T"))
        self.train_btn.setToolTip("Train a new model on the labelled parts (Ctrl+T). Live inspection keeps running.")
        self.train_btn.setStyleSheet("QPushButton { font-weight: bold; padding: 6px 18px; }")
        self.train_btn.clicked.connect(self.start_training)
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(self.cancel_training)
        buttons.addWidget(self.train_btn)
        buttons.addWidget(self.cancel_btn)
        v.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_text = QLabel("Ready.")
        self.progress_text.setWordWrap(True)
        v.addWidget(self.progress)
        v.addWidget(self.progress_text)
        return box

    def _anomaly_box(self) -> QGroupBox:
        box = AnomalyFitBox()
        self.anomaly_note, self.anomaly_preset, self.frr, self.fit_btn = box.note, box.preset, box.frr, box.fit_btn
        self.fit_btn.clicked.connect(self.start_anomaly_fit)
        return box

    def _results_box(self) -> QGroupBox:
        box = QGroupBox("Result on the validation images")
        v = QVBoxLayout(box)
        head = QHBoxLayout()
        self.headline = QLabel("Train a model to see how well it does on parts it has not seen.")
        self.headline.setWordWrap(True)
        self.headline.setObjectName("trainHeadline")
        self.activate_btn = QPushButton("Activate")
        self.activate_btn.setObjectName("activateButton")
        self.activate_btn.setToolTip("Make the new model the one the line uses; the live view switches without stopping")
        self.activate_btn.setEnabled(False)
        self.activate_btn.setMinimumWidth(self.activate_btn.fontMetrics().horizontalAdvance("Activate v0000") + 40)
        self.activate_btn.clicked.connect(self.activate)
        head.addWidget(self.headline, 1)
        head.addWidget(self.activate_btn)
        v.addLayout(head)
        tables = QHBoxLayout()
        self.confusion = ConfusionMatrix()
        self.comparison = ClassComparison()
        cm = QVBoxLayout()
        caption = QLabel("Rows: true class · columns: the model's answer")
        caption.setWordWrap(True)
        cm.addWidget(caption)
        cm.addWidget(self.confusion, 1)
        tables.addLayout(cm, 1)
        tables.addWidget(self.comparison, 2)
        v.addLayout(tables)
        return box

    # -- dataset ----------------------------------------------------------------------------------------
    def _samples_changed(self) -> None:
        # Hidden behind Review, the counts wait until the tab is shown: a labelling key press does not
        # pay for a panel nobody is looking at.
        if self.isVisible():
            self.refresh()
        else:
            self._stale = True

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._stale:
            self.refresh()
        super().showEvent(event)

    def refresh(self) -> None:
        self._stale = False
        counts = self.session.project.counts()
        per = counts["per_class"]
        self.counts.setRowCount(len(per))
        short = []
        for r, (name, c) in enumerate(per.items()):
            note, bad = "", False
            if c["train"] == 0:
                note, bad = "not trained: label some", True
            elif c["total"] < MIN_PER_CLASS:
                note, bad = f"label {MIN_PER_CLASS - c['total']} more", True
            if bad:
                short.append(name)
            for col, text in enumerate((name, str(c["train"]), str(c["val"]), str(c["golden"]), note)):
                it = QTableWidgetItem(text)
                if bad and col == 4:
                    it.setForeground(QColor("#c5221f"))
                self.counts.setItem(r, col, it)
        waiting = counts.get("unreviewed", 0)
        text = f"{counts['labelled']} labelled, {waiting} waiting in the review queue."
        if not sum(c["golden"] for c in per.values()):
            text += " No golden set yet: model changes go on the line unchecked (Ctrl+G in Review marks a part golden)."
        if short:
            text += f" Classes with too few parts are learnt poorly: {', '.join(short)}."
        self.counts_note.setText(text)
        ok_names = [c.name for c in self.session.project.classes() if c.kind == "ok" and c.name in per]
        good_train = sum(per[n]["train"] for n in ok_names)
        good_val = sum(per[n]["val"] for n in ok_names)
        if not ok_names:
            note = "Add an OK class and label good parts to fit one."
        else:
            note = (f"Flags anything unlike the good parts, even defects never labelled. {good_train} good "
                    f"part(s) to learn from, {good_val} to set the threshold")
            note += "." if good_val >= 5 else " (fewer than 5: the training parts stand in, so label more)."
        self.anomaly_note.setText(note)
        if self.task is None:
            self.fit_btn.setEnabled(good_train > 0)

    # -- settings ---------------------------------------------------------------------------------------
    def preset_name(self) -> str:
        b = self.preset_group.checkedButton()
        return b.property("preset") if b is not None else "head"

    def _apply_preset(self) -> None:
        name = self.preset_name()
        p = self.presets[name]
        self.preset_note.setText(p["description"])
        self.advanced.show_config(preset(name))
        self.session.prefs.train_preset = name

    def config(self):
        name = self.preset_name()
        if not self.advanced.isChecked():
            return preset(name)
        return preset(name, **self.advanced.overrides())

    def warm_from(self) -> str | None:
        """The version to continue from, when "Continue from the active model" is ticked."""
        if not (self.warm.isChecked() and self.warm.isEnabled()):
            return None
        active = self.session.registry.active("classifier")
        return active.version if active is not None else None

    def _update_warm(self) -> None:
        active = self.session.registry.active("classifier")
        self.warm.setEnabled(active is not None)
        if active is None:
            self.warm.setText("Continue from the active model")
            self.warm.setChecked(False)
            self.warm.setToolTip("There is no active model yet: the first one is trained from the start")
        else:
            self.warm.setText(f"Continue from the active model ({active.version})")
            self.warm.setToolTip(f"Start from {active.version}'s weights instead of afresh and train on all labelled "
                                 "parts, the newly labelled ones included. Needs the same network as "
                                 f"{active.version}; a class added since keeps what the others learnt.")

    # -- training ---------------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.task is not None

    def start_training(self) -> None:
        if self.training:
            return
        try:
            cfg = self.config()
        except InspectorError as e:
            show_error(self, str(e))
            return
        if not self.session.runner.accepting:
            return
        self.summary = None
        self.plots.reset()
        self.confusion.set_metrics(None)
        self.comparison.set_metrics(None, None)
        self.headline.setText("Training…")
        self.activate_btn.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress_text.setText("Starting…")
        self._busy()
        self.task = self.session.runner.run(
            task(train, str(self.session.root), cfg.to_dict(), self.session.user, self.warm_from(), in_process=True),
            "train",
            on_progress=self._on_progress,
            on_result=self._on_result, on_error=self._on_error, on_cancel=self._on_cancel,
            on_finished=self._on_finished)
        self.training_changed.emit(True)

    def _busy(self) -> None:
        self.train_btn.setEnabled(False)
        self.fit_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)

    def start_anomaly_fit(self) -> None:
        if self.training or not self.session.runner.accepting:
            return
        self.summary = None
        self.confusion.set_metrics(None)
        self.comparison.set_metrics(None, None)
        self.headline.setText("Fitting the anomaly model on the good parts…")
        self.activate_btn.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress_text.setText("Starting…")
        self._busy()
        self.task = self.session.runner.run(
            task(fit_anomaly, str(self.session.root), self.anomaly_preset.currentData(), self.frr.value() / 100.0,
                 self.session.user, in_process=True), "anomaly-fit", on_progress=self._on_progress,
            on_result=self._on_anomaly_result, on_error=self._on_error, on_cancel=self._on_cancel,
            on_finished=self._on_finished)
        self.training_changed.emit(True)

    def _on_anomaly_result(self, s: AnomalyFitSummary) -> None:
        self.summary = s
        text, tip = anomaly_headline(s)
        if s.metrics:
            self.confusion.set_metrics(anomaly_confusion(s.metrics))
            self.comparison.set_metrics(anomaly_per_class(s.metrics), None)
        self.headline.setText(text)
        self.headline.setToolTip(tip)
        self.progress_text.setText(f"Done: {s.version} saved.")
        self.session.model_saved()
        self._update_activate()

    def cancel_training(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.cancel_btn.setEnabled(False)
            self.progress_text.setText("Cancelling after this batch…")

    def _on_progress(self, e) -> None:
        self.plots.on_event(e)
        if isinstance(e, StageProgress):
            self.progress.setRange(0, max(1, e.total))
            self.progress.setValue(e.done)
            self.progress_text.setText(f"{e.stage.capitalize()}: {e.done} of {e.total}")
        elif isinstance(e, BatchProgress):
            total = e.epochs * e.batches
            self.progress.setRange(0, total)
            self.progress.setValue((e.epoch - 1) * e.batches + e.batch)
            self.progress_text.setText(f"Epoch {e.epoch} of {e.epochs} · loss {e.loss:.3f} · "
                                       f"{e.samples_per_s:.0f} images/s · about {fmt_eta(e.eta_s)} left")
        elif isinstance(e, EpochEnd) and e.val_accuracy is not None:
            self.headline.setText(f"Training… epoch {e.epoch}: validation accuracy {100 * e.val_accuracy:.0f} %")

    def _on_result(self, s: TrainSummary) -> None:
        self.summary = s
        self.headline.setToolTip("")
        acc = s.metrics.get("accuracy")
        text = f"<b>{s.version}</b> trained in {s.wall_s:.0f} s"
        if acc is not None:
            text += f" — validation accuracy <b>{100 * acc:.0f} %</b> on {s.metrics['count']} image(s)"
        else:
            text += " — no validation images yet, so no score (label more parts)"
        if s.compared_metrics:
            text += f"; active {s.compared_with}: {100 * s.compared_metrics['accuracy']:.0f} % on the same images"
        if s.active:
            text += ". It is now active."
        op = s.metrics.get("operating_point")
        if op:  # catch and false-reject rates at the cut-off the line will use (core/decision.py)
            text += "<br>" + describe(op, short=True)
        self.headline.setText(text)
        self.headline.setToolTip(describe(op) if op else "")
        self.confusion.set_metrics(s.metrics)
        self.comparison.set_metrics(s.metrics, s.compared_metrics)
        self.progress_text.setText(f"Done: {s.version} saved.")
        self.session.model_saved()
        self._update_activate()

    def _on_error(self, message: str) -> None:
        self.headline.setText("Stopped.")
        self.progress_text.setText(message)
        show_error(self, message)

    def _on_cancel(self) -> None:
        self.headline.setText("Cancelled — nothing was saved.")
        self.progress_text.setText("Cancelled.")

    def _on_finished(self) -> None:
        self.task = None
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.summary else 0)
        self.train_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        self.refresh()
        self.training_changed.emit(False)

    def _update_activate(self) -> None:
        s = self.summary
        active = set(self.session.registry.active_versions().values())
        self.activate_btn.setEnabled(bool(s) and s.version not in active)
        if s and s.version in active:
            self.activate_btn.setText(f"{s.version} is active")
        else:
            self.activate_btn.setText(f"Activate {s.version}" if s else "Activate")

    def activate(self):
        """Through the golden guard (gui/golden_guard.py); returns its worker task, if it needed one."""
        if self.summary is None:
            return None
        from inspector.gui import golden_guard

        version = self.summary.version
        kind = self.session.registry.get(version).kind
        current = self.session.registry.active(kind)

        def go(detail: dict) -> None:
            try:
                self.session.activate(version, detail)
            except InspectorError as e:
                show_error(self, str(e))
            self._update_activate()
        return golden_guard.check_then(self.session, self, version, current.version if current else None,
                                       "model.activate", go)
