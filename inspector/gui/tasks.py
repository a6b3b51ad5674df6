"""Plain functions the GUI runs on worker threads, in the task shape fn(progress, cancel) -> result.
No Qt here: each opens its own connection to the project (SQLite connections stay per thread) and
calls the same core functions as the CLI. Candidates to move into inspector/core."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.core import durable
from inspector.core.errors import InspectorError, ModelError
from inspector.core.progress import StageProgress


@dataclass(frozen=True)
class TrainSummary:
    version: str
    active: bool  # the new version was activated (a project's first model is)
    metrics: dict  # validation metrics of the new version
    compared_with: str | None  # the version that was active when training began
    compared_metrics: dict | None  # that version on today's validation images
    history: list[dict]
    wall_s: float


def train_summary(root: str, cfg: dict, user: str, warm_from: str | None = None, *, progress, cancel) -> TrainSummary:
    """Train with `cfg` (a TrainConfig as a dict), from `warm_from`'s weights when given; then score the
    version that was active before on the same validation images, so the two can be compared side by side."""
    from inspector.core.evaluation import evaluate_version
    from inspector.core.project import Project
    from inspector.core.registry import ModelRegistry
    from inspector.core.train_config import TrainConfig
    from inspector.core.training import train_project

    with Project.open(root) as project:
        before = ModelRegistry(project).active("classifier")
        out = train_project(project, TrainConfig.from_dict(cfg), warm_from=warm_from, progress=progress,
                            cancel=cancel, user=user)
        compared = None
        if before is not None and out.metrics:
            progress(StageProgress("comparing with the active model", 0, 1))
            try:
                compared = evaluate_version(project, before.version)
            except InspectorError:  # e.g. its classes no longer exist: show the new model alone
                compared = None
            progress(StageProgress("comparing with the active model", 1, 1))
        return TrainSummary(out.version.version, out.version.active, out.metrics,
                            before.version if before else None, compared, out.result.history, out.wall_s)


def train_task(root: Path, cfg, user: str, warm_from: str | None = None):
    """Training runs in a child process (see child_process: torch would hold the GUI's GIL)."""
    def run(progress, cancel) -> TrainSummary:
        from inspector.gui.child_process import run_in_process

        return run_in_process("inspector.gui.tasks:train_summary", (str(root), cfg.to_dict(), user, warm_from),
                              progress, cancel)
    return run


@dataclass(frozen=True)
class Embedding:
    sample_ids: np.ndarray
    labels: list[str | None]  # None = not labelled yet
    xy: np.ndarray  # N×2 projection
    explained: tuple[float, float]  # variance fraction of each axis
    version: str


def embedding(root: str, version_dir: str, limit: int = 1500, *, progress, cancel) -> Embedding:
    """The model's features of the newest `limit` labelled or unreviewed parts, projected to 2-D with
    PCA (the first two principal axes: what separates the parts most)."""
    import torch

    from inspector.core.arrays import load_arrays
    from inspector.core.classifier import load_network, read_config
    from inspector.core.features import FeatureCache, extract_features
    from inspector.core.project import Project

    version_dir = Path(version_dir)
    config = read_config(version_dir)
    pre = config["preprocessing"]
    with Project.open(root) as project:
        samples = project.samples(status=("labelled", "unreviewed"), order="-id")[:limit]
        if len(samples) < 3:
            raise ModelError("the feature map needs at least 3 labelled or flagged parts — label some first")
        paths = [project.image_path(s) for s in samples]
    ds = load_arrays(paths, [0] * len(samples), [s.image_hash for s in samples], pre["size"], pre["channels"],
                     progress=lambda d, t: progress(StageProgress("loading images", d, t)), cancel=cancel)
    net = load_network(version_dir, config)
    cache = FeatureCache(Path(root) / "cache" / "features.sqlite")
    try:
        feats = extract_features(net, ds, pre, torch.device("cpu"), cache=cache, cancel=cancel,
                                 progress=lambda d, t: progress(StageProgress("features", d, t))).numpy()
    finally:
        cache.close()
    x = feats.astype(np.float64) - feats.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s ** 2 / max(float((s ** 2).sum()), 1e-12)
    xy = x @ vt[:2].T
    if xy.shape[1] < 2:
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    return Embedding(np.array([s.id for s in samples]), [s.label for s in samples], xy.astype(np.float32),
                     (float(var[0]), float(var[1]) if len(var) > 1 else 0.0), config.get("version", "?"))


def embedding_task(root: Path, version_dir: Path, limit: int = 1500):
    """In a child process too: a fine-tuned backbone is exported to ONNX first, which holds the GIL."""
    def run(progress, cancel) -> Embedding:
        from inspector.gui.child_process import run_in_process

        return run_in_process("inspector.gui.tasks:embedding", (str(root), str(version_dir), limit),
                              progress, cancel)
    return run


def export_onnx_task(version_dir: Path, dest: Path):
    """Copy model.onnx to dest, with the model's config (classes, preprocessing) beside it."""
    def run(progress, cancel) -> Path:
        src = Path(version_dir) / "model.onnx"
        if not src.is_file():
            raise ModelError(f"{version_dir.name} has no model.onnx — this version cannot be exported")
        dest_path = Path(dest)
        try:
            durable.copy_file(src, dest_path)
            config = json.loads((Path(version_dir) / "config.json").read_text(encoding="utf-8"))
            keep = {k: config.get(k) for k in ("version", "kind", "classes", "preprocessing", "arch", "metrics")}
            durable.write_json(dest_path.with_suffix(".json"), keep, sort_keys=False)
        except OSError as e:
            raise ModelError(f"cannot write {dest_path} ({e.strerror or e}) — pick a folder you can write to") from None
        return dest_path
    return run


def demo_task(root: Path, user: str):
    """A fresh demo project with a handful of labelled parts and a first (weak) model."""
    def run(progress, cancel) -> Path:
        from inspector.core.demo_project import make_demo_project

        return make_demo_project(root, user=user, progress=progress, cancel=cancel)
    return run


def images_task(items: list[tuple[int, Path]], max_side: int):
    """Decode stored images shrunk to fit max_side (thumbnails, the review's large view); a file that
    cannot be read is left out, the others still come."""
    def run(progress, cancel) -> dict[int, np.ndarray]:
        import cv2

        from inspector.core.imageio import decode_image

        out: dict[int, np.ndarray] = {}
        for sample_id, path in items:
            cancel.check()
            try:
                img = decode_image(path, max_side=max_side)
            except InspectorError:
                continue
            h, w = img.shape[:2]
            s = max_side / max(h, w)
            if s < 1:
                img = cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            out[sample_id] = np.ascontiguousarray(img)
        return out
    return run


def import_task(root: Path, src: Path, user: str):
    """An ImageFolder (one sub-folder per class; good/ok = OK parts) into the project."""
    def run(progress, cancel):
        from inspector.core.importer import import_imagefolder
        from inspector.core.project import Project

        with Project.open(root) as project:
            return import_imagefolder(project, src, user=user, cancel=cancel,
                                      progress=lambda d, t: progress(StageProgress("importing images", d, t)))
    return run


@dataclass(frozen=True)
class AnomalyFitSummary:
    version: str
    active: bool
    wall_s: float
    train_images: int
    bank_size: int
    frr_target: float
    calibration_source: str
    metrics: dict | None  # evaluate_anomaly on the labelled validation split (None: nothing labelled there)
    settings: str = ""  # what the auto search chose and why ("" for a named preset)
    expected: tuple[str, ...] = ()  # the search's expected catch rates, as sentences


def anomaly_fit_summary(root: str, preset_name: str, frr: float, user: str, *, progress, cancel) -> AnomalyFitSummary:
    """Fit an anomaly model on the good parts, then check it on the labelled validation parts."""
    from inspector.core.anomaly.evaluate import evaluate_anomaly
    from inspector.core.anomaly.fitting import fit_project
    from inspector.core.errors import ConfigError
    from inspector.core.project import Project

    with Project.open(root) as project:
        out = fit_project(project, frr=frr, preset_name=preset_name, user=user, progress=progress, cancel=cancel)
        progress(StageProgress("checking the validation parts", 0, 1))
        try:
            metrics = evaluate_anomaly(project, out.version.version, cancel=cancel)
        except ConfigError:  # no labelled validation parts yet
            metrics = None
        progress(StageProgress("checking the validation parts", 1, 1))
        return AnomalyFitSummary(out.version.version, out.version.active, out.fit_s, out.train_images, out.bank_size,
                                 frr, out.calibration_source, metrics,
                                 out.auto.reason if out.auto is not None else "",
                                 tuple(out.auto.expected_lines()) if out.auto is not None else ())


def anomaly_fit_task(root: Path, preset_name: str, frr: float, user: str):
    """In a child process, like training: the fit exports the feature graph to ONNX (holds the GIL)."""
    def run(progress, cancel) -> AnomalyFitSummary:
        from inspector.gui.child_process import run_in_process

        return run_in_process("inspector.gui.tasks:anomaly_fit_summary", (str(root), preset_name, float(frr), user),
                              progress, cancel)
    return run
