"""Evaluate an anomaly model: image AUROC, pixel AUROC where defect masks exist, and the false-reject and
escape rates at its threshold, on the project's validation split or on an ImageFolder.

Folder layout: DIR/<class>/…/images; folders named good or ok (or like an ok-kind class of the project,
or given with good_names) hold good parts, every other folder defects. Masks (non-zero = defect) in either
layout: beside the image with the same name and .png (Magnetic Tile: x.jpg + x.png), or
DIR/masks/<class>/<same relative path, .png> (what `inspector synth` writes)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inspector.core.anomaly.model import _rgb, load_source
from inspector.core.anomaly.store import load_model
from inspector.core.anomaly.threshold import auroc
from inspector.core.decision import wilson
from inspector.core.errors import ConfigError, ImageDecodeError
from inspector.core.imageio import IMAGE_EXTENSIONS, decode_image, read_image_bytes
from inspector.core.registry import ModelRegistry

GOOD_NAMES = ("good", "ok")
PIXEL_SIDE = 256  # maps and masks are compared at most this size (long side): same ranking, bounded memory


@dataclass
class Item:
    path: Path
    cls: str
    defect: bool
    mask: Path | None
    sample_id: int | None = None  # a project sample (its validation split)


def anomaly_folder(root: str | Path, good_names=GOOD_NAMES) -> list[Item]:
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(f"{root} is not a folder — give an ImageFolder with a good/ folder and one folder per defect")
    good = {g.lower() for g in good_names}
    items = []
    for d in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "masks" and not p.name.startswith(".")):
        for f in sorted(d.rglob("*")):
            if f.suffix.lower() not in IMAGE_EXTENSIONS or not f.is_file():
                continue
            if "masks" in f.relative_to(d).parts[:-1]:
                continue
            if f.suffix.lower() == ".png" and any(f.with_suffix(s).exists() for s in (".jpg", ".jpeg", ".bmp", ".tif", ".tiff")):
                continue  # the mask beside its image (Magnetic Tile layout)
            is_defect = d.name.lower() not in good
            mask = None
            if is_defect:
                beside = f.with_suffix(".png")
                tree = root / "masks" / d.name / f.relative_to(d).with_suffix(".png")
                mask = beside if beside != f and beside.is_file() else tree if tree.is_file() else None
            items.append(Item(f, d.name, is_defect, mask))
    if not items:
        raise ConfigError(f"{root} holds no images in class folders — expected {root}/good/*.png and {root}/<defect>/*.png")
    if not any(i.defect for i in items) or all(i.defect for i in items):
        raise ConfigError(f"{root} needs both good and defect images (good folders: {', '.join(sorted(good))}; "
                          "name another with --good)")
    return items


def _small(shape) -> tuple[int, int]:
    h, w = shape[:2]
    f = min(1.0, PIXEL_SIDE / max(h, w))
    return max(1, round(w * f)), max(1, round(h * f))


def project_val_items(project) -> list[Item]:
    """The labelled validation parts of a project, as evaluation items."""
    kinds = {c.name: c.kind for c in project.classes()}
    samples = [s for s in project.samples(status="labelled", split="val") if s.label in kinds]
    return [Item(project.image_path(s), s.label, kinds[s.label] != "ok", None, s.id) for s in samples]


def evaluate_anomaly(project, version: str | None = None, data_dir: str | Path | None = None, *,
                     good_names=None, backend: str = "auto", cancel=None) -> dict:
    registry = ModelRegistry(project)
    model = load_model(registry, version, backend)
    if data_dir is None:
        items = project_val_items(project)
        source = "project validation split"
        if not items:
            raise ConfigError("the project has no labelled validation images — pass --data DIR")
    else:
        kinds = {c.name: c.kind for c in project.classes()}
        names = tuple(good_names) if good_names else GOOD_NAMES + tuple(n for n, k in kinds.items() if k == "ok")
        items = anomaly_folder(data_dir, names)
        source = str(data_dir)
    return evaluate_items(model, items, source, with_maps=data_dir is not None, cancel=cancel)


def evaluate_items(model, items: list[Item], source: str, *, with_maps: bool = False, known: dict | None = None,
                   cancel=None) -> dict:
    """Score the items and summarize: AUROC, the operating point with its intervals, per class. A good
    validation part whose patches are in the bank (model.val_in_bank()) is scored without them, as a new
    part would be: against its own patches every one scores ~0 and the false-reject rate would read 0
    whatever the threshold. known: sample id -> raw score already
    measured that way (the fit's leave-one-out scores), not scored again."""
    in_bank = model.val_in_bank()
    known = known or {}
    thr = model.calibration.threshold
    scores, labels, classes, rejected, times = [], [], [], [], []
    pix_s, pix_y, masks_used = [], [], 0
    for it in items:
        if cancel is not None:
            cancel.check()
        if it.sample_id in known and not with_maps:
            scores.append(float(known[it.sample_id]))
            labels.append(it.defect)
            classes.append(it.cls)
            continue
        try:
            img = load_source(it.path)
        except ImageDecodeError as e:
            rejected.append((str(it.path), str(e)))
            continue
        t = time.perf_counter()
        exclude = in_bank.get(it.sample_id) if it.sample_id is not None else None
        if exclude is None:
            r = model.score(img, with_map=with_maps)
        else:
            rgb = _rgb(img)
            r = model.score_features(model.features(rgb), rgb.shape[:2], with_map=with_maps, exclude=exclude)
        times.append(time.perf_counter() - t)
        scores.append(r.raw)
        labels.append(it.defect)
        classes.append(it.cls)
        if r.map is None or (it.defect and it.mask is None):
            continue
        size = _small(img.shape)
        if it.defect:
            try:
                m = decode_image(read_image_bytes(it.mask), name=it.mask.name).max(axis=2) > 127
            except ImageDecodeError as e:
                rejected.append((str(it.mask), str(e)))
                continue
            masks_used += 1
        else:
            m = np.zeros(img.shape[:2], bool)
        pix_s.append(cv2.resize(r.map, size, interpolation=cv2.INTER_AREA).ravel())
        pix_y.append(cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).ravel() > 0)
    if not scores:
        raise ConfigError(f"no usable images to evaluate in {source}")
    s, y, c = np.asarray(scores), np.asarray(labels, bool), np.asarray(classes)
    per_class = {}
    for name in sorted(set(classes)):
        sel = c == name
        per_class[name] = {"count": int(sel.sum()), "flagged": int((s[sel] > thr).sum()), "defect": bool(y[sel].all()),
                           "auroc": (_nan_none(auroc(np.r_[np.zeros((~y).sum()), np.ones(sel.sum())],
                                                     np.r_[s[~y], s[sel]])) if y[sel].all() else None)}
    good, bad = int((~y).sum()), int(y.sum())
    fr, esc = int((s[~y] > thr).sum()), int((s[y] <= thr).sum())
    return {
        "version": model.version, "kind": "anomaly", "data": source, "count": int(len(s)), "good": good, "defect": bad,
        "image_auroc": _nan_none(auroc(y, s)),
        "pixel_auroc": _nan_none(auroc(np.concatenate(pix_y), np.concatenate(pix_s))) if masks_used else None,
        "masks": masks_used, "threshold": thr, "frr_target": model.calibration.frr_target,
        "false_rejects": fr, "escapes": esc,
        "frr": fr / good if good else None, "escape_rate": esc / bad if bad else None,
        # the operating point with 95 % intervals from the counts, beside the AUROC
        "catch_rate": (bad - esc) / bad if bad else None, "catch_ci": list(wilson(bad - esc, bad)) if bad else None,
        "frr_ci": list(wilson(fr, good)) if good else None,
        "per_class": per_class, "score_ms": round(1000 * float(np.mean(times)), 2) if times else None,
        "rejected": rejected,
    }


def _nan_none(v: float) -> float | None:
    return None if v != v else float(v)
