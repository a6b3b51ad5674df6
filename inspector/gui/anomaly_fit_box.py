"""The Train tab's anomaly section: its settings box and how a fit's result reads (the fit itself runs from
the Train panel, which shares its progress bar and result tables with classifier training)."""
from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout)

from inspector.core.anomaly.records import operating_point_text
from inspector.core.ops.anomaly_fit import AnomalyFitSummary


class AnomalyFitBox(QGroupBox):
    """What to fit: the kind of parts (or Automatic), the false-reject target, and the Fit button."""

    def __init__(self, parent=None):
        super().__init__("Anomaly model: learns from good parts only", parent)
        v = QVBoxLayout(self)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #5f6368")
        v.addWidget(self.note)
        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        self.preset = QComboBox()
        self.preset.addItem("Automatic", "auto")
        self.preset.addItem("Surface texture", "texture")
        self.preset.addItem("Small sharp defects", "detail")
        self.preset.setToolTip("Automatic: tries several settings on held-out good parts with synthetic "
                               "scratches, cracks, spots and patches drawn in (and on your labelled "
                               "defective parts) and keeps the one that catches most. Surface texture: "
                               "uneven, worn or cracked surfaces, parts that vary in shape. Small sharp "
                               "defects: scratches, spots and missing features on a part that always "
                               "looks the same.")
        self.frr = QDoubleSpinBox(decimals=1, minimum=0.1, maximum=20.0, singleStep=0.5, suffix=" %")
        self.frr.setValue(1.0)
        self.frr.setToolTip("Share of good parts the model may call NG: lower means fewer false alarms but "
                            "more missed defects. The threshold is set from the good validation parts.")
        form.addWidget(QLabel("Parts show"), 0, 0)
        form.addWidget(self.preset, 0, 1)
        form.addWidget(QLabel("False rejects"), 0, 2)
        form.addWidget(self.frr, 0, 3)
        form.setColumnStretch(1, 1)
        v.addLayout(form)
        self.fit_btn = QPushButton("Fit anomaly model")
        self.fit_btn.setObjectName("fitAnomalyButton")
        self.fit_btn.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.fit_btn.setToolTip("Learn what good parts look like, so that anything unlike them is flagged — "
                                "no defect examples needed (Ctrl+Shift+T). Progress shows above.")
        row = QHBoxLayout()
        row.addWidget(self.fit_btn)
        row.addStretch(1)
        v.addLayout(row)


def anomaly_confusion(m: dict) -> dict:
    """evaluate_anomaly's counts as a 2×2 matrix for the confusion table: rows true OK / NG, columns the verdict."""
    good, bad, fr, esc = m["good"], m["defect"], m["false_rejects"], m["escapes"]
    return {"classes": ["OK", "NG"], "confusion_matrix": [[good - fr, fr], [esc, bad - esc]]}


def anomaly_per_class(m: dict) -> dict:
    """Per labelled class: how many images, and the share the anomaly model got right (OK classes passed,
    defect classes flagged); precision does not apply to a yes/no verdict."""
    per = {}
    for name, c in m["per_class"].items():
        n = c["count"]
        right = c["flagged"] if c["defect"] else n - c["flagged"]
        per[name] = {"support": n, "recall": right / n if n else None, "precision": None}
    return {"per_class": per}


def anomaly_headline(s: AnomalyFitSummary) -> tuple[str, str]:
    """The result line (rich text) and its tooltip for a finished fit."""
    text = (f"<b>{s.version}</b> (anomaly) fitted in {s.wall_s:.0f} s on {s.train_images} good part(s), "
            f"threshold at {100 * s.frr_target:.1f} % false rejects")
    if s.metrics:
        text += ". Validation: " + operating_point_text(s.metrics)
    if s.active:
        text += ". It is now active."
    else:  # beside an active classifier it would take over the line's OK / NG: that is for a person to decide
        # (worded so that it stays true once the button has been pressed)
        text += ". Activate puts it on the line, where it decides OK / NG."
    if s.expected:
        # the search's own estimate, at the threshold it ships with
        text += "<br>Expected: " + "; ".join(s.expected[:2])
    if s.supervised:
        text += "<br>" + s.supervised[0].upper() + s.supervised[1:]
    tip = f"Threshold set from the {s.calibration_source}."
    if s.settings:
        tip += "\nSettings: " + s.settings + "\n" + "\n".join(s.expected)
    return text, tip
