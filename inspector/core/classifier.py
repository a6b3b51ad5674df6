"""A trained classifier as a deployable unit: the network with its preprocessing built in,
saved as config.json + weights.safetensors + model.onnx, and loaded back without pickle."""
from __future__ import annotations

import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from inspector.core.errors import ModelError
from inspector.core.nets import build_network

ONNX_OPSET = 17


class InferenceModel(torch.nn.Module):
    """uint8 N×H×W×C images in, (logits, probabilities) out. Standardization lives inside, so
    ONNX Runtime, PyTorch and every caller preprocess the same way."""

    def __init__(self, net: torch.nn.Module, pre: dict):
        super().__init__()
        self.net = net
        c = pre["channels"]
        self.register_buffer("mean", torch.tensor(pre["mean"], dtype=torch.float32).view(1, c, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(pre["std"], dtype=torch.float32).view(1, c, 1, 1) * 255.0)

    def forward(self, image: torch.Tensor):
        x = (image.permute(0, 3, 1, 2).float() - self.mean) / self.std
        logits = self.net(x)
        return logits, torch.softmax(logits, dim=1)


def export_onnx(model: InferenceModel, pre: dict, path: Path) -> None:
    h, w = pre["size"]
    dummy = torch.zeros(1, h, w, pre["channels"], dtype=torch.uint8)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation; it is the one that needs no onnxscript
        torch.onnx.export(model.eval(), (dummy,), buf, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["image"], output_names=["logits", "probs"],
                          dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}, "probs": {0: "batch"}})
    Path(path).write_bytes(buf.getvalue())


def check_onnx_parity(model: InferenceModel, onnx_path: Path, images: np.ndarray, atol: float = 1e-4) -> float:
    """Compare PyTorch and ONNX Runtime on images: probabilities must agree to atol, logits to atol
    relative to their scale (float32 sums over 1280 features carry ~1e-7 relative error).
    Returns the larger of the two normalized differences; ModelError when it exceeds atol."""
    from inspector.core.onnx_sessions import onnx_session

    sess = onnx_session(onnx_path, gpu=False)
    with torch.inference_mode():
        ref_logits, ref_probs = (t.numpy() for t in model(torch.from_numpy(images)))
    logits, probs = sess.run(["logits", "probs"], {"image": images})
    scale = max(1.0, float(np.abs(ref_logits).max()))
    diff = max(float(np.abs(ref_probs - probs).max()), float(np.abs(ref_logits - logits).max()) / scale)
    if diff > atol:
        raise ModelError(f"ONNX export disagrees with PyTorch by {diff:.2e} (> {atol:g}) — report this model as a bug")
    return diff


def classifier_writers(result_model: torch.nn.Module, pre: dict, parity_images: np.ndarray | None):
    """File writers for ModelRegistry.save; the ONNX file is checked against PyTorch before it is kept."""
    inf = InferenceModel(result_model, pre).eval()

    def weights(p: Path) -> None:
        save_file({k: v.contiguous() for k, v in result_model.state_dict().items()}, str(p))

    def onnx(p: Path) -> None:
        export_onnx(inf, pre, p)
        if parity_images is not None and len(parity_images):
            check_onnx_parity(inf, p, parity_images)

    return {"weights.safetensors": weights, "model.onnx": onnx}


def load_network(version_dir: Path, config: dict) -> torch.nn.Module:
    """Build the saved architecture and load its weights (safetensors: data, never code)."""
    arch = dict(config["arch"])
    if "pretrained" in arch:
        arch["pretrained"] = False  # the saved weights replace any initialisation
    net = build_network(arch)
    try:
        state = load_file(str(Path(version_dir) / "weights.safetensors"))
        net.load_state_dict(state, strict=True)
    except Exception as e:  # a safetensors header error or a shape mismatch both mean: unusable file
        raise ModelError(f"model {config.get('version', '?')}: weights do not fit its architecture ({str(e).splitlines()[0]})"
                         " — retrain or roll back") from None
    return net.eval()


def load_inference_model(version_dir: Path, config: dict) -> InferenceModel:
    return InferenceModel(load_network(version_dir, config), config["preprocessing"]).eval()


def read_config(version_dir: Path) -> dict:
    try:
        return json.loads((Path(version_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{version_dir}: config.json is unreadable ({e}) — retrain or roll back") from None
