"""Patch features for the anomaly model: mid-level ImageNet EfficientNet-Lite0 maps, locally averaged and
joined on one grid, computed by an ONNX graph that takes uint8 images of any size (a multiple of 32)."""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from inspector.core.errors import ModelError
from inspector.core.nets import build_network, default_preprocessing
from inspector.core.nets.efficientnet_lite import STAGE_CHANNELS, STAGE_STRIDES

# Every stride-2 "same" padding stays the same for all inputs whose sides are multiples of this,
# so one traced graph is exact for every such size (stride-32 stage: 2 × 16).
SIZE_MULTIPLE = 32


class PatchFeatures(torch.nn.Module):
    """uint8 N×H×W×3 in, N×D×(H/grid)×(W/grid) float32 out.

    Per image, brightness and contrast are first set to a fixed mean and spread (`norm_std`; 0 = off):
    parts lit a little differently then look alike to the network. Each stage's map is averaged over a
    k×k neighbourhood (PatchCore's local aggregation: a patch also sees its neighbours) and resampled
    to the grid."""

    def __init__(self, net: torch.nn.Module, stages: list[int], neighbourhood: int = 3, grid: int = 16,
                 norm_std: float = 15.0):
        super().__init__()
        if not stages or any(not 2 <= s < len(STAGE_STRIDES) for s in stages):
            raise ModelError(f"anomaly feature stages must be in 2..{len(STAGE_STRIDES) - 1}, got {stages}")
        if grid not in (8, 16, 32):
            raise ModelError(f"anomaly feature grid must be 8, 16 or 32 pixels, got {grid}")
        self.net = net.eval()
        self.stages = [int(s) for s in stages]
        self.k = int(neighbourhood)
        self.grid = int(grid)
        self.norm_std = float(norm_std)
        pre = default_preprocessing("effnet-lite0")
        self.register_buffer("mean", torch.tensor(pre["mean"]).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(pre["std"]).view(1, 3, 1, 1) * 255.0)

    @property
    def dim(self) -> int:
        return sum(STAGE_CHANNELS[s] for s in self.stages)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2).float()
        if self.norm_std > 0:
            mu = x.mean(dim=(1, 2, 3), keepdim=True)
            sd = ((x - mu) ** 2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
            x = (x - mu) / (sd + 1.0) * self.norm_std + 128.0
        x = (x - self.mean) / self.std
        out = []
        for s, f in zip(self.stages, self.net.forward_stages(x, self.stages)):
            if self.k > 1:
                f = F.avg_pool2d(f, self.k, stride=1, padding=self.k // 2, count_include_pad=False)
            if STAGE_STRIDES[s] > self.grid:
                f = F.interpolate(f, scale_factor=float(STAGE_STRIDES[s] // self.grid), mode="bilinear",
                                  align_corners=False)
            elif STAGE_STRIDES[s] < self.grid:
                f = F.avg_pool2d(f, self.grid // STAGE_STRIDES[s])
            out.append(f)
        return torch.cat(out, 1)


def pretrained_backbone() -> torch.nn.Module:
    """The ImageNet EfficientNet-Lite0, read from the installed weights package (never downloaded)."""
    return build_network({"name": "effnet-lite0", "num_classes": 1000, "pretrained": True}).eval()


def build_extractor(cfg: dict) -> PatchFeatures:
    return PatchFeatures(pretrained_backbone(), cfg["stages"], cfg["neighbourhood"], cfg["grid"],
                         cfg["norm_std"]).eval()


def export_onnx(model: PatchFeatures) -> bytes:
    """The feature graph as ONNX bytes, with batch, height and width dynamic. The TorchScript
    exporter (dynamo=False) is the one that needs no onnxscript."""
    from inspector.core.classifier import ONNX_OPSET

    dummy = torch.zeros(1, 64, 64, 3, dtype=torch.uint8)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notices
        torch.onnx.export(model.eval(), (dummy,), buf, dynamo=False, opset_version=ONNX_OPSET,
                          input_names=["image"], output_names=["features"],
                          dynamic_axes={"image": {0: "batch", 1: "height", 2: "width"},
                                        "features": {0: "batch", 2: "rows", 3: "cols"}})
    return buf.getvalue()


class FeatureRunner:
    """Computes patch features with ONNX Runtime (about 4x faster than PyTorch eager on a CPU), or
    with PyTorch when no ONNX graph is given."""

    def __init__(self, onnx: bytes | str | Path | None = None, torch_model: PatchFeatures | None = None,
                 threads: int | None = None):
        """threads: ONNX Runtime intra-op threads (None or 0: its own choice)."""
        self.sess = self.model = None
        if onnx is not None:
            from inspector.core.onnx_sessions import onnx_session

            try:
                self.sess = onnx_session(onnx, threads or 0, gpu=False)
            except Exception as e:  # a damaged file: name the part that is unusable
                raise ModelError(f"the anomaly feature extractor cannot be loaded ({str(e).splitlines()[0][:200]})"
                                 " — refit the anomaly model or roll back") from None
        elif torch_model is not None:
            self.model = torch_model.eval()
        else:
            raise ValueError("FeatureRunner needs an ONNX graph or a PatchFeatures module")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """One H×W×3 uint8 image (sides multiples of 32) -> D×h×w float32."""
        batch = np.ascontiguousarray(image[None], dtype=np.uint8)
        if self.sess is not None:
            return self.sess.run(["features"], {"image": batch})[0][0]
        with torch.inference_mode():
            return self.model(torch.from_numpy(batch))[0].numpy()


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """(h, w) after scaling, each rounded to the nearest multiple of 32 (at least 32)."""
    return (max(SIZE_MULTIPLE, int(round(height * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE),
            max(SIZE_MULTIPLE, int(round(width * scale / SIZE_MULTIPLE)) * SIZE_MULTIPLE))


def resize_for_scale(img: np.ndarray, scale: float) -> np.ndarray:
    """The image resized by one fixed factor (so texture keeps its size from part to part, whatever
    the part's shape), sides rounded to multiples of 32; grey images become 3 channels."""
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    h, w = scaled_size(img.shape[0], img.shape[1], scale)
    if (h, w) != img.shape[:2]:
        shrink = h < img.shape[0] or w < img.shape[1]
        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return np.ascontiguousarray(img)
