"""Run a saved classifier on images: ONNX Runtime on the CPU (CUDA provider when present),
PyTorch as the fallback. The same preprocessing as training: resize, channels, then the model."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.core.arrays import prepare
from inspector.core.classifier import load_inference_model, read_config
from inspector.core.errors import ModelError
from inspector.core.onnx_sessions import onnx_session


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float]


class Predictor:
    def __init__(self, version_dir: str | Path, backend: str = "auto", config: dict | None = None):
        self.dir = Path(version_dir)
        self.config = config or read_config(self.dir)
        self.classes = [c["name"] if isinstance(c, dict) else c for c in self.config["classes"]]
        self.pre = self.config["preprocessing"]
        self.version = self.config.get("version")
        self.backend = backend
        self._sess = self._torch = None
        if backend in ("auto", "onnx"):
            try:
                self._sess = onnx_session(self.dir / "model.onnx")
                self.backend = "onnx"
            except Exception as e:  # a missing runtime or bad file: PyTorch still works
                if backend == "onnx":
                    raise ModelError(f"model {self.version}: ONNX Runtime cannot load model.onnx ({e}) — use the torch backend") from None
        if self._sess is None:
            self._torch = load_inference_model(self.dir, self.config)
            self.backend = "torch"

    def prepare(self, img: np.ndarray) -> np.ndarray:
        return prepare(img, self.pre["size"], self.pre["channels"])

    def predict_prepared(self, batch: np.ndarray) -> np.ndarray:
        """batch: N×H×W×C uint8 already prepared. Returns N×K probabilities."""
        if self._sess is not None:
            return self._sess.run(["probs"], {"image": batch})[0]
        import torch

        with torch.inference_mode():
            return self._torch(torch.from_numpy(batch))[1].numpy()

    def predict(self, images: list[np.ndarray], batch_size: int = 32) -> list[Prediction]:
        out: list[Prediction] = []
        for i in range(0, len(images), batch_size):
            batch = np.stack([self.prepare(im) for im in images[i:i + batch_size]])
            for p in self.predict_prepared(batch):
                k = int(p.argmax())
                out.append(Prediction(self.classes[k], float(p[k]),
                                      {c: float(s) for c, s in zip(self.classes, p)}))
        return out


