"""The anomaly model on the live line: a ModelRunner (see core.live.runners) whose verdict comes from the
anomaly model, with the defect type named by the project's active classifier when there is one."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inspector.core.anomaly.combined import CombinedPredictor
from inspector.core.anomaly.store import load_model_dir
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


def live_runner(registry, mv, config: dict, backend: str = "auto", threads: int | None = None) -> AnomalyLiveRunner:
    """The live pipeline's runner for anomaly model `mv` (verified by the registry), with the project's
    active classifier beside it, when there is one, to name the defect type."""
    from inspector.core.predictor import Predictor

    b = "auto" if backend not in ("onnx", "torch") else backend
    model = load_model_dir(mv.path, config, b, threads=threads)
    classifier = None
    active = registry.active("classifier")
    if active is not None:
        checked = registry.verify(active.version)  # a missing or corrupt file stops it here, named
        classifier = Predictor(checked.path, backend=b, config=registry.read_config(active.version))
    return AnomalyLiveRunner(CombinedPredictor(model, classifier), config.get("version", mv.version),
                             "onnx-cpu" if model.runner.sess is not None else "torch")
