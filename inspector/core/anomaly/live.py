"""The anomaly model on the live line: a ModelRunner (see core.live.runners) whose verdict comes from the
anomaly model, with the defect type named by the project's active classifier when there is one."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inspector.core.anomaly.combined import CombinedPredictor
from inspector.core.anomaly.store import load_model_dir
from inspector.core.errors import ModelError
from inspector.core.live.frames import Verdict


class AnomalyLiveRunner:
    kind = "anomaly"

    def __init__(self, predictor: CombinedPredictor, version: str, backend: str):
        self.predictor, self.version, self.backend = predictor, str(version), backend

    def warm_up(self, max_batch: int = 1) -> None:
        side = int(round(self.predictor.anomaly.ref_side)) or 224
        self.predictor.predict(np.zeros((side, side, 3), np.uint8))

    def infer(self, images: Sequence[np.ndarray]) -> list[Verdict]:
        out = []
        for img in images:
            r = self.predictor.predict(img, with_map=True)
            a, c = r.anomaly, r.classification
            out.append(Verdict(ok=r.verdict == "ok", score=float(a.score), label=r.defect_type,
                               confidence=r.defect_confidence, scores=dict(c.scores) if c else {},
                               model_version=self.version, heatmap=a.map))
        return out

    def close(self) -> None:
        self.predictor = None


def active_classifier_dir(version_dir: Path) -> tuple[Path, dict] | None:
    """The project's active classifier beside this model (read-only database look-up), hash-checked."""
    from inspector.core.registry import sha256_file

    models = Path(version_dir).parent
    db_path = models.parent / "project.sqlite"
    if not db_path.is_file():
        return None
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT m.version, m.files FROM model_activations a JOIN models m ON m.version = a.version "
                         "WHERE m.kind = 'classifier' ORDER BY a.id DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    if row is None:
        return None
    path = models / row[0]
    for name, digest in json.loads(row[1]).items():
        if not (path / name).is_file() or sha256_file(path / name) != digest:
            raise ModelError(f"classifier {row[0]}: {name} is missing or corrupt — retrain or roll back")
    return path, json.loads((path / "config.json").read_text(encoding="utf-8"))


def live_runner(version_dir, config: dict, backend: str = "auto", threads: int | None = None) -> AnomalyLiveRunner:
    """The factory the live pipeline looks for (registered under kind "anomaly")."""
    from inspector.core.predictor import Predictor

    b = "auto" if backend not in ("onnx", "torch") else backend
    model = load_model_dir(version_dir, config, b, threads=threads)
    classifier = None
    found = active_classifier_dir(Path(version_dir))
    if found is not None:
        classifier = Predictor(found[0], backend=b, config=found[1])
    return AnomalyLiveRunner(CombinedPredictor(model, classifier), config.get("version", Path(version_dir).name),
                             "onnx-cpu" if model.runner.sess is not None else "torch")
