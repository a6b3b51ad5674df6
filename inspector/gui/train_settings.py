"""The Train panel's Advanced section: a preset's settings shown field by field, and the ones a vision
engineer changed handed back as overrides of that preset."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QLabel, QSpinBox,
                               QVBoxLayout, QWidget)

from inspector.core.train_config import DEFAULT_MOMENTUM, OPTIMIZERS, STANDARDIZE_HELP, effective_momentum

NO_AUGMENT = dict(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0)
OPTIMIZER_HELP = {"sgd": "Plain stochastic gradient descent", "momentum": "SGD with classical momentum",
                  "nesterov": "SGD with Nesterov momentum (looks one step ahead)",
                  "adagrad": "Adagrad: per-weight steps that shrink as gradients add up",
                  "rmsprop": "RMSprop: per-weight steps from recent gradient sizes; uses Momentum if set",
                  "adam": "Adam: adaptive steps with momentum built in", "adamw": "Adam with decoupled weight decay (L2)"}
STANDARDIZE_LABELS = {"fixed": "Fixed", "dataset": "From images", "none": "None"}


class AdvancedSettings(QGroupBox):
    """Checkable: unticked, the preset trains as it is and the fields stay hidden."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Advanced", parent)
        self.setCheckable(True)
        self.setChecked(False)
        self.setToolTip("Tick to change the preset's settings for this run")
        inner = QWidget()
        form = QGridLayout(inner)  # two columns of settings: half the height of one
        form.setContentsMargins(0, 0, 0, 0)
        QVBoxLayout(self).addWidget(inner)
        inner.setVisible(False)
        self.toggled.connect(inner.setVisible)
        self.arch = QComboBox()
        self.arch.addItems(["effnet-lite0", "cnn", "mlp"])
        self.optimizer = QComboBox()
        self.optimizer.addItems(list(OPTIMIZERS))
        for i, name in enumerate(OPTIMIZERS):
            self.optimizer.setItemData(i, OPTIMIZER_HELP[name], Qt.ItemDataRole.ToolTipRole)
        self.optimizer.currentTextChanged.connect(self._optimizer_changed)
        self.momentum = QDoubleSpinBox(decimals=2, minimum=0, maximum=0.99, singleStep=0.05)
        self.standardize = QComboBox()
        for i, (key, label) in enumerate(STANDARDIZE_LABELS.items()):
            self.standardize.addItem(label, key)
            self.standardize.setItemData(i, STANDARDIZE_HELP[key].capitalize(), Qt.ItemDataRole.ToolTipRole)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, singleStep=1e-4)
        self.epochs = QSpinBox(minimum=1, maximum=1000)
        self.batch = QSpinBox(minimum=1, maximum=1024)
        self.l2 = QDoubleSpinBox(decimals=5, minimum=0, maximum=1, singleStep=1e-4)
        self.l1 = QDoubleSpinBox(decimals=6, minimum=0, maximum=1, singleStep=1e-5)
        self.dropout = QDoubleSpinBox(decimals=2, minimum=0, maximum=0.9, singleStep=0.05)
        self.augment = QCheckBox("flips, small turns, light changes")
        self.local = QComboBox()
        for key, label in (("auto", "auto"), ("on", "on"), ("off", "off")):
            self.local.addItem(label, key)
        rows = (("Network", self.arch, "effnet-lite0: pretrained on ImageNet; cnn and mlp: trained from scratch"),
                ("Inputs", self.standardize, "Input standardization. " + "; ".join(
                    f"{STANDARDIZE_LABELS[k]}: {v}" for k, v in STANDARDIZE_HELP.items())),
                ("Optimizer", self.optimizer, "How the weights are updated"),
                ("Momentum", self.momentum, "Share of the last update carried into the next; used by momentum and "
                                            "nesterov (default 0.9) and rmsprop (default 0)"),
                ("Learn. rate", self.lr, "Step size of each update"),
                ("Epochs", self.epochs, "Passes over the training images"),
                ("Batch", self.batch, "Images per update"), ("L2", self.l2, "Weight decay: keeps weights small"),
                ("L1", self.l1, "Pushes unneeded weights to zero"),
                ("Dropout", self.dropout, "Share of features hidden at random while training"),
                ("Fine defects", self.local, "Fast and Accurate — local evidence: each patch of a part is also scored against "
                                             "the good parts' patches, so scratches and spots of a few pixels are "
                                             "learnt from a few examples. auto: on with at least 5 good and at most "
                                             "1,000 training parts"))
        for i, (label, w, tip) in enumerate(rows):
            w.setToolTip(tip)
            lab = QLabel(label)
            lab.setToolTip(tip)
            form.addWidget(lab, i // 2, 2 * (i % 2))
            form.addWidget(w, i // 2, 2 * (i % 2) + 1)
        self.augment.setToolTip("Vary the training images a little: flips, small turns and shifts, light changes")
        form.addWidget(self.augment, (len(rows) + 1) // 2, 0, 1, 4)

    def show_config(self, t) -> None:
        """Fill the fields from a preset's TrainConfig."""
        self.arch.setCurrentText(t.arch)
        self.optimizer.setCurrentText(t.optimizer)
        self._optimizer_changed(t.optimizer)
        self.momentum.setValue(effective_momentum(t))
        self.standardize.setCurrentIndex(self.standardize.findData(t.standardize))
        self.lr.setValue(t.lr)
        self.epochs.setValue(t.epochs)
        self.batch.setValue(t.batch_size)
        self.l2.setValue(t.weight_decay)
        self.l1.setValue(t.l1)
        self.dropout.setValue(t.dropout)
        self.augment.setChecked(t.augment.enabled)
        self.local.setCurrentIndex(self.local.findData(t.local_evidence))
        self.local.setEnabled(t.mode == "head" or (t.mode == "finetune" and t.frozen_stages > 0))

    def overrides(self) -> dict:
        """The fields as keyword overrides of the preset (train_config.preset(name, **overrides))."""
        over = dict(arch=self.arch.currentText(), optimizer=self.optimizer.currentText(), lr=self.lr.value(),
                    epochs=self.epochs.value(), batch_size=self.batch.value(), weight_decay=self.l2.value(),
                    l1=self.l1.value(), dropout=self.dropout.value(), standardize=self.standardize.currentData())
        if over["optimizer"] in DEFAULT_MOMENTUM:
            over["momentum"] = self.momentum.value()
        if over["arch"] != "effnet-lite0":
            over["mode"] = "scratch"
        if not self.augment.isChecked():
            over["augment"] = NO_AUGMENT
        if self.local.isEnabled():
            over["local_evidence"] = self.local.currentData()
        return over

    def _optimizer_changed(self, name: str) -> None:
        """Momentum is editable only for the optimizers that use it, and starts at that optimizer's default."""
        uses = name in DEFAULT_MOMENTUM
        self.momentum.setEnabled(uses)
        if uses:
            self.momentum.setValue(DEFAULT_MOMENTUM[name])
