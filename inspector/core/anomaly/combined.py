"""Classifier and anomaly model together: the anomaly model decides ok / not ok (it also catches defects
nobody has labelled yet); when a defect classifier exists it names the defect type. For predict and the live line."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inspector.core.anomaly.model import AnomalyModel, AnomalyResult
from inspector.core.anomaly.store import KIND, load_model
from inspector.core.errors import ModelError
from inspector.core.predictor import Prediction, Predictor
from inspector.core.registry import ModelRegistry


@dataclass
class Inspection:
    verdict: str  # "ok" | "defect"
    defect_type: str | None  # the classifier's most likely defect class when the verdict is "defect"
    defect_confidence: float | None
    anomaly: AnomalyResult | None
    classification: Prediction | None

    def to_dict(self) -> dict:
        a = self.anomaly
        return {"verdict": self.verdict, "defect_type": self.defect_type, "defect_confidence": self.defect_confidence,
                "anomaly_score": a.score if a else None, "anomaly_raw": a.raw if a else None,
                "peak": list(a.peak) if a else None,
                "label": self.classification.label if self.classification else None,
                "confidence": self.classification.confidence if self.classification else None}


class CombinedPredictor:
    """anomaly and/or classifier; at least one. The classifier's config gives each class's kind."""

    def __init__(self, anomaly: AnomalyModel | None = None, classifier: Predictor | None = None):
        if anomaly is None and classifier is None:
            raise ModelError("no model to inspect with — fit an anomaly model or train a classifier first")
        if anomaly is not None and anomaly.calibration is None:
            raise ModelError("the anomaly model has no threshold — refit it")
        self.anomaly = anomaly
        self.classifier = classifier
        kinds = {}
        if classifier is not None:
            for c in classifier.config["classes"]:
                if isinstance(c, dict):
                    kinds[c["name"]] = c.get("kind", "defect")
        self.ok_classes = {n for n, k in kinds.items() if k == "ok"}
        self.defect_classes = [n for n in (classifier.classes if classifier else []) if n not in self.ok_classes]

    @classmethod
    def from_project(cls, project, *, anomaly_version: str | None = None, classifier_version: str | None = None,
                     backend: str = "auto", with_classifier: bool = True) -> "CombinedPredictor":
        """The given versions, else the active anomaly model and the active classifier (either may be missing)."""
        registry = ModelRegistry(project)
        anomaly = None
        if anomaly_version or registry.active(KIND) is not None:
            anomaly = load_model(registry, anomaly_version, backend)
        classifier = None
        cv = registry.get(classifier_version) if classifier_version else registry.active("classifier")
        if cv is not None and with_classifier:
            if cv.kind != "classifier":
                raise ModelError(f"model {cv.version} is a {cv.kind}, not a classifier")
            registry.verify(cv.version)
            classifier = Predictor(cv.path, backend=backend, config=registry.read_config(cv.version))
        return cls(anomaly, classifier)

    @property
    def versions(self) -> dict:
        return {"anomaly": getattr(self.anomaly, "version", None) if self.anomaly else None,
                "classifier": self.classifier.version if self.classifier else None}

    def predict(self, img: np.ndarray, *, with_map: bool = False) -> Inspection:
        a = self.anomaly.score(img, with_map=with_map) if self.anomaly is not None else None
        c = self.classifier.predict([img])[0] if self.classifier is not None else None
        if a is not None:
            verdict = "defect" if a.flagged else "ok"
        else:
            verdict = "ok" if c.label in self.ok_classes else "defect"
        defect_type = conf = None
        if verdict == "defect" and c is not None and self.defect_classes:
            # the most likely defect class, even when the classifier itself leans to "ok": the anomaly
            # model has already decided that something is wrong
            defect_type = max(self.defect_classes, key=lambda n: c.scores.get(n, 0.0))
            conf = float(c.scores.get(defect_type, 0.0))
        return Inspection(verdict, defect_type, conf, a, c)
