"""Train a project's classifier end to end: gather labelled samples, decode, fit, evaluate,
save a new model version. The CLI's `inspector train` and the GUI's Train button call this."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from inspector.core.arrays import ArrayDataset, load_arrays
from inspector.core.classifier import classifier_writers, load_network
from inspector.core.decision import calibrate_cutoff, defect_columns, defect_probability
from inspector.core.errors import ConfigError, ModelError
from inspector.core.features import FeatureCache
from inspector.core.fit import FitResult, fit, preprocessing_for
from inspector.core.metrics import classification_metrics
from inspector.core.nets import default_preprocessing, local_evidence
from inspector.core.progress import StageProgress
from inspector.core.registry import ModelRegistry, ModelVersion
from inspector.core.train_config import TrainConfig


@dataclass
class TrainOutcome:
    version: ModelVersion
    metrics: dict  # validation metrics (empty dict when there is no validation split)
    result: FitResult
    wall_s: float


def project_classes(project) -> list:
    """Classes that have labelled training samples, in the project's class order."""
    counts = project.counts()["per_class"]
    return [c for c in project.classes() if counts.get(c.name, {}).get("train", 0) > 0]


def load_split(project, split: str, class_names: list[str], pre: dict, progress=None, cancel=None) -> ArrayDataset:
    index = {n: i for i, n in enumerate(class_names)}
    samples = [s for s in project.samples(status="labelled", split=split) if s.label in index]
    return load_arrays([project.image_path(s) for s in samples], [index[s.label] for s in samples],
                       [s.image_hash for s in samples], pre["size"], pre["channels"], progress=progress, cancel=cancel)


def warm_start_state(registry: ModelRegistry, version: str, cfg: TrainConfig, classes: list[str]) -> dict:
    """The weights of an earlier version as a starting point; classifier rows follow class names, so
    a class added since then starts fresh and the others keep what they learnt."""
    old = registry.read_config(version)
    if old.get("kind") != "classifier" or old["arch"]["name"] != cfg.arch:
        raise ConfigError(f"cannot warm-start a {cfg.arch} from {version} ({old['arch']['name']}) — "
                          "use the same architecture or train from scratch")
    net = load_network(registry.get(version).path, old)
    state = net.state_dict()
    old_classes = [c["name"] for c in old["classes"]]
    head = _final_linear_keys(net)
    if old_classes != classes:
        new_rows = {n: i for i, n in enumerate(classes)}
        for key in head:
            old_t = state[key]
            new_t = torch.zeros((len(classes),) + tuple(old_t.shape[1:]), dtype=old_t.dtype)
            if key.endswith("weight"):
                torch.nn.init.normal_(new_t, std=0.01)
            for i, n in enumerate(old_classes):
                if n in new_rows:
                    new_t[new_rows[n]] = old_t[i]
            state[key] = new_t
    return state


def _final_linear_keys(net: torch.nn.Module) -> list[str]:
    name = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Linear)][-1]
    return [f"{name}.weight", f"{name}.bias"]


def train_project(project, cfg: TrainConfig, *, warm_from: str | None = None, progress=None, cancel=None,
                  user: str | None = None, activate: bool | None = None) -> TrainOutcome:
    """activate: True/False, or None = activate only when the project has no active classifier yet."""
    t0 = time.perf_counter()
    progress = progress or (lambda e: None)
    project.actor = user or getattr(project, "actor", None)  # the audit trail names who trained it
    registry = ModelRegistry(project)
    classes = project_classes(project)
    names = [c.name for c in classes]
    if len(names) < 2:
        raise ConfigError("training needs labelled training images of at least two classes — label more parts "
                          f"(classes with training images now: {', '.join(names) or 'none'})")
    cfg = resolve_local_evidence(project, cfg, classes)
    pre = preprocessing_for(cfg, default_preprocessing(cfg.arch)["channels"])
    train = load_split(project, "train", names, pre, lambda d, t: progress(StageProgress("loading images", d, t)), cancel)
    val = load_split(project, "val", names, pre, lambda d, t: progress(StageProgress("loading images", d, t)), cancel)
    init = warm_start_state(registry, warm_from, cfg, names) if warm_from else None
    cache = FeatureCache(Path(project.root) / "cache" / "features.sqlite") if cfg.mode == "head" else None
    try:
        result = fit(cfg, train, val if len(val) else None, names, progress=progress, cancel=cancel,
                     init_state=init, feature_cache=cache,
                     good_classes=[i for i, c in enumerate(classes) if c.kind == "ok"])
    finally:
        if cache is not None:
            cache.close()
    metrics = classification_metrics(val.labels, result.val_predictions, names) if len(val) else {}
    decision = classifier_decision(classes, val.labels, result.val_probabilities, cfg.frr_target)
    if metrics and decision["operating_point"]["defective"] + decision["operating_point"]["good"]:
        metrics["operating_point"] = dict(decision["operating_point"], cutoff=decision["cutoff"],
                                          frr_target=decision["frr_target"], rule=decision["rule"])
    counts = {n: int((train.labels == i).sum() + (val.labels == i).sum()) for i, n in enumerate(names)}
    config = {
        "arch": result.arch,
        "preprocessing": result.preprocessing,
        "classes": [{"name": c.name, "kind": c.kind, "color": c.color} for c in classes],
        "train_config": cfg.to_dict(),
        "history": result.history,
        "best_epoch": result.best_epoch,
        "stopped_early": result.stopped_early,
        "metrics": {"val": metrics},
        "decision": {k: decision[k] for k in ("cutoff", "frr_target", "rule", "source")},
        "dataset": {"snapshot": project.snapshot_hash(), "train": len(train), "val": len(val), "per_class": counts},
        "training": {"device": result.device, "seconds": round(result.train_s, 3), "user": user,
                     "warm_start_from": warm_from},
    }
    summary = {"arch": result.arch["name"], "mode": cfg.mode, "local_evidence": bool(result.arch.get("local")),
               "val_accuracy": metrics.get("accuracy"),
               "train": len(train), "val": len(val), "classes": names}
    progress(StageProgress("saving model", 0, 1))
    parity = val.images[:4] if len(val) else train.images[:4]
    version = registry.save("classifier", config, classifier_writers(result.model, result.preprocessing, parity),
                            summary=summary, parent=warm_from)
    progress(StageProgress("saving model", 1, 1))
    if activate or (activate is None and registry.active("classifier") is None):
        version = registry.activate(version.version, user)
    return TrainOutcome(version, metrics, result, time.perf_counter() - t0)


def resolve_local_evidence(project, cfg: TrainConfig, classes) -> TrainConfig:
    """auto -> on or off for this project's labelled parts; on brings its input size (saved with the model)."""
    counts = project.counts()["per_class"]
    n_train = sum(counts.get(c.name, {}).get("train", 0) for c in classes)
    n_good = sum(counts.get(c.name, {}).get("train", 0) for c in classes if c.kind == "ok")
    if not local_evidence.wanted(cfg, n_train, n_good):
        return replace(cfg, local_evidence="off") if cfg.local_evidence == "auto" else cfg
    frozen = max(cfg.frozen_stages, local_evidence.FROZEN_STAGES) if cfg.mode == "finetune" else cfg.frozen_stages
    return replace(cfg, local_evidence="on", input_size=cfg.input_size or list(local_evidence.INPUT_SIZE),
                   frozen_stages=frozen)


def classifier_decision(classes, val_labels, val_probs, frr_target: float) -> dict:
    """The OK/NG cut-off for this model (core/decision.py), set on the good validation parts; the fixed 0.5
    when the project has no OK class or no validation parts."""
    kinds = [{"kind": c.kind} for c in classes]
    defect = defect_columns(kinds)
    if val_probs is None or not len(val_labels) or defect.all() or not defect.any():
        out = calibrate_cutoff(np.zeros(0, bool), np.zeros(0), frr_target)
        out["rule"] = "fixed: no validation parts" if defect.any() and not defect.all() else "fixed: no OK class"
        return out
    truth = defect[np.asarray(val_labels)]
    return calibrate_cutoff(truth, defect_probability(val_probs, defect), frr_target,
                            source=f"validation split ({int((~truth).sum())} good, {int(truth.sum())} defective)")


@torch.inference_mode()
def evaluate_arrays(result: FitResult, ds: ArrayDataset, batch_size: int = 64) -> dict:
    from inspector.core.classifier import InferenceModel

    model = InferenceModel(result.model, result.preprocessing).eval()
    preds = []
    for i in range(0, len(ds), batch_size):
        preds.append(model(torch.from_numpy(ds.images[i:i + batch_size]))[1].argmax(1).numpy())
    return classification_metrics(ds.labels, np.concatenate(preds), result.classes)


def require_classifier(registry: ModelRegistry, version: str | None):
    """The version asked for, or the active classifier; a clear error when there is none."""
    if version:
        mv = registry.get(version)
    else:
        mv = registry.active("classifier")
        if mv is None:
            raise ModelError("no active model in this project — train one (`inspector train`) or pass --model")
    registry.verify(mv.version)
    return mv
