"""Evaluate a classifier version on the project's validation split or on an ImageFolder."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from inspector.core.decision import cutoff_of, defect_columns, defect_probability, is_ng, operating_point
from inspector.core.errors import ConfigError, ImageDecodeError
from inspector.core.imageio import IMAGE_EXTENSIONS, decode_image, read_image_bytes
from inspector.core.metrics import classification_metrics
from inspector.core.predictor import Predictor
from inspector.core.registry import ModelRegistry
from inspector.core.training import require_classifier

OK_ALIASES = ("good", "ok")


def imagefolder_files(root: Path, classes: list[dict]) -> tuple[list[Path], list[int]]:
    """Files under root/<class>/ mapped to the model's class indices. 'good'/'ok' folders map to
    the model's ok-kind class."""
    names = [c["name"] for c in classes]
    lower = {n.lower(): i for i, n in enumerate(names)}
    ok_idx = next((i for i, c in enumerate(classes) if c.get("kind") == "ok"), None)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder — give an ImageFolder (one sub-folder per class)")
    files, labels = [], []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "masks"):
        key = d.name.lower()
        idx = lower.get(key, ok_idx if key in OK_ALIASES else None)
        if idx is None:
            raise ConfigError(f"folder {d.name!r} is not a class of this model ({', '.join(names)}) — "
                              "rename or remove it")
        for f in sorted(d.rglob("*")):
            if f.suffix.lower() in IMAGE_EXTENSIONS and "masks" not in f.relative_to(d).parts[:-1]:
                if f.suffix.lower() == ".png" and any(f.with_suffix(s).exists() for s in (".jpg", ".jpeg", ".bmp")):
                    continue  # a mask beside its image (Magnetic Tile layout)
                files.append(f)
                labels.append(idx)
    if not files:
        raise ConfigError(f"{root} holds no images in class folders — expected {root}/<class>/*.png|jpg")
    return files, labels


def evaluate_version(project, version: str | None = None, data_dir: str | Path | None = None,
                     backend: str = "auto") -> dict:
    registry = ModelRegistry(project)
    mv = require_classifier(registry, version)
    predictor = Predictor(mv.path, backend=backend, config=registry.read_config(mv.version))
    classes = predictor.config["classes"]
    names = [c["name"] for c in classes]
    rejected: list[tuple[str, str]] = []
    if data_dir is None:
        index = {n: i for i, n in enumerate(names)}
        samples = [s for s in project.samples(status="labelled", split="val") if s.label in index]
        paths = [project.image_path(s) for s in samples]
        labels = [index[s.label] for s in samples]
        source = "project validation split"
    else:
        paths, labels = imagefolder_files(Path(data_dir), classes)
        source = str(data_dir)
    prepared, kept = [], []
    for p, y in zip(paths, labels):
        try:
            prepared.append(predictor.prepare(decode_image(read_image_bytes(p), name=Path(p).name)))
            kept.append(y)
        except ImageDecodeError as e:
            rejected.append((str(p), str(e)))
    if not prepared:
        raise ConfigError(f"no usable images to evaluate in {source} — label or add images first")
    probs = np.concatenate([predictor.predict_prepared(np.stack(prepared[i:i + 64]))
                            for i in range(0, len(prepared), 64)])
    metrics = classification_metrics(kept, probs.argmax(1), names)
    defect = defect_columns(classes)
    if defect.any() and (~defect).any():  # OK / NG as the line decides it, with the figures at that cut-off
        decision = predictor.config.get("decision") or {}
        cutoff = cutoff_of(predictor.config)  # the model's calibrated cut-off; 0.5 for models saved before
        metrics["operating_point"] = dict(operating_point(defect[np.asarray(kept)],
                                                          is_ng(defect_probability(probs, defect), cutoff)),
                                          cutoff=cutoff, frr_target=decision.get("frr_target"),
                                          rule=decision.get("rule", "fixed (a model saved before calibration)"))
    metrics.update(version=mv.version, data=source, backend=predictor.backend, rejected=rejected)
    return metrics
