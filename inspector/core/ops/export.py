"""Export a classifier version as ONNX with its config beside it (for other tools on the line)."""
from __future__ import annotations

import json
from pathlib import Path

from inspector.core import durable
from inspector.core.errors import ModelError


def export_onnx(version_dir, dest, *, progress=None, cancel=None) -> Path:
    """Copy model.onnx to dest, with the model's config (classes, preprocessing) beside it."""
    src = Path(version_dir) / "model.onnx"
    if not src.is_file():
        raise ModelError(f"{Path(version_dir).name} has no model.onnx — this version cannot be exported")
    dest_path = Path(dest)
    try:
        durable.copy_file(src, dest_path)
        config = json.loads((Path(version_dir) / "config.json").read_text(encoding="utf-8"))
        keep = {k: config.get(k) for k in ("version", "kind", "classes", "preprocessing", "arch", "metrics")}
        durable.write_json(dest_path.with_suffix(".json"), keep, sort_keys=False)
    except OSError as e:
        raise ModelError(f"cannot write {dest_path} ({e.strerror or e}) — pick a folder you can write to") from None
    return dest_path
