"""Run a saved classifier on images: ONNX Runtime on the CPU (CUDA provider when present),
PyTorch as the fallback. The same preprocessing as training: resize, channels, then the model."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.core.arrays import prepare
from inspector.core.errors import ModelError
from inspector.core.onnx_sessions import onnx_session


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    scores: dict[str, float]


class Predictor:
    """A saved classifier, ready to run: predict, eval, the Train comparison, the anomaly model's
    defect naming and the live line (core.live.runners.ClassifierRunner) all go through this class.

    backend: "auto" (ONNX Runtime; PyTorch when this onnxruntime cannot use a GPU that PyTorch can),
    "onnx" or "torch". threads: inference threads (0 = the runtime's own choice; None = all cores but
    one, as the live line runs). self.backend says what runs: onnx-cpu, onnx-cuda, torch-cpu, torch-cuda."""

    def __init__(self, version_dir: str | Path, backend: str = "auto", config: dict | None = None,
                 threads: int | None = 0):
        self.dir = Path(version_dir)
        self.config = config or _read_config(self.dir)
        self.classes = [c["name"] if isinstance(c, dict) else c for c in self.config["classes"]]
        self.pre = self.config["preprocessing"]
        self.version = self.config.get("version")
        self._sess = self._torch = None
        if backend not in ("auto", "onnx", "torch"):
            raise ModelError(f"backend {backend!r} is not known — use auto, onnx or torch")
        if backend in ("auto", "onnx"):
            try:
                self._sess = onnx_session(self.dir / "model.onnx", threads)
                cuda = "CUDAExecutionProvider" in self._sess.get_providers()
                self.backend = "onnx-cuda" if cuda else "onnx-cpu"
                if backend == "auto" and not cuda and torch_has_cuda():
                    self._sess = None  # a GPU that this onnxruntime (the CPU build) cannot use: PyTorch can
            except Exception as e:  # no runtime, or a file it rejects: PyTorch still runs the weights
                if backend == "onnx":
                    raise ModelError(f"model {self.version}: ONNX Runtime cannot load model.onnx "
                                     f"({str(e).splitlines()[0]}) — use the torch backend") from None
        if self._sess is None:
            import torch

            from inspector.core.classifier import load_inference_model  # PyTorch only on this path
            from inspector.core.devices import select_device

            self._device = select_device("auto")
            self._torch = load_inference_model(self.dir, self.config).to(self._device)
            if threads:  # process-wide in PyTorch: only when asked, so a training beside us keeps its own
                torch.set_num_threads(int(threads))
            self.backend = f"torch-{self._device.type}"

    def prepare(self, img: np.ndarray) -> np.ndarray:
        return prepare(img, self.pre["size"], self.pre["channels"])

    def predict_prepared(self, batch: np.ndarray) -> np.ndarray:
        """batch: N×H×W×C uint8 already prepared. Returns N×K probabilities."""
        if self._sess is not None:
            return self._sess.run(["probs"], {"image": batch})[0]
        import torch

        with torch.inference_mode():
            return self._torch(torch.from_numpy(batch).to(self._device))[1].float().cpu().numpy()

    def close(self) -> None:
        self._sess = self._torch = None

    def predict(self, images: list[np.ndarray], batch_size: int = 32) -> list[Prediction]:
        out: list[Prediction] = []
        for i in range(0, len(images), batch_size):
            batch = np.stack([self.prepare(im) for im in images[i:i + batch_size]])
            for p in self.predict_prepared(batch):
                k = int(p.argmax())
                out.append(Prediction(self.classes[k], float(p[k]),
                                      {c: float(s) for c, s in zip(self.classes, p)}))
        return out




def _read_config(version_dir: Path) -> dict:
    import json

    try:
        return json.loads((Path(version_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{version_dir}: config.json is unreadable ({e}) — retrain or roll back") from None


def torch_has_cuda() -> bool:
    """Whether PyTorch can use a CUDA GPU here — without importing torch (2 s, 300 MB) on a PC that has
    no NVIDIA driver, so a CPU-only line never loads it just to ask."""
    if "torch" not in sys.modules and not _nvidia_driver_present():
        return False
    import torch

    return torch.cuda.is_available()


def _nvidia_driver_present() -> bool:
    if os.path.exists("/proc/driver/nvidia/version"):
        return True
    import ctypes.util

    return ctypes.util.find_library("nvcuda" if sys.platform == "win32" else "cuda") is not None
