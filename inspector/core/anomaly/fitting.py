"""Fit a project's anomaly model end to end: good parts of the train split into the bank, the threshold
from good validation parts, a new model version. `inspector anomaly fit` and the GUI call this."""
from __future__ import annotations

import time
from dataclasses import dataclass

from inspector.core.anomaly.model import AnomalyConfig, fit_model, load_source
from inspector.core.anomaly.store import KIND, read_ignore_mask, save_model
from inspector.core.anomaly.threshold import DEFAULT_FRR, calibrate, check_frr
from inspector.core.errors import ConfigError
from inspector.core.progress import StageProgress
from inspector.core.registry import ModelRegistry, ModelVersion

MIN_VAL_IMAGES = 5  # fewer held-out good parts cannot place a threshold; leave-one-out stands in
LOO_IMAGES = 100


@dataclass
class FitOutcome:
    version: ModelVersion
    fit_s: float
    threshold: float
    bank_size: int
    train_images: int
    calibration_source: str


def good_samples(project, split: str) -> list:
    return project.samples(status="labelled", split=split, kind="ok")


def raw_scores_of(project, model, samples, stage: str, progress, cancel) -> list[float]:
    """The model's raw image scores of these project samples, with progress under `stage`."""
    scores = []
    for i, s in enumerate(samples):
        if cancel is not None:
            cancel.check()
        scores.append(model.score(load_source(project.image_path(s), f"sample #{s.id}")).raw)
        progress(StageProgress(stage, i + 1, len(samples)))
    return scores


def fit_project(project, *, frr: float = DEFAULT_FRR, config: AnomalyConfig | None = None,
                activate: bool | None = None, user: str | None = None, progress=None,
                cancel=None) -> FitOutcome:
    """activate: True/False, or None = activate only when the project has no active anomaly model yet."""
    t0 = time.perf_counter()
    frr = check_frr(frr)
    progress = progress or (lambda e: None)
    train = good_samples(project, "train")
    if not train:
        raise ConfigError("no good parts in the training split — label parts with an ok-kind class "
                          "(e.g. `good`) before fitting an anomaly model")
    val = good_samples(project, "val")
    mask = read_ignore_mask(project)
    use_loo = len(val) < MIN_VAL_IMAGES
    model = fit_model([project.image_path(s) for s in train], config, sizes=[(s.height, s.width) for s in train],
                      ignore_mask=mask, loo_images=min(LOO_IMAGES, len(train)) if use_loo else 0,
                      progress=progress, cancel=cancel)
    if use_loo:
        scores = model.info.pop("loo_scores")
        source = (f"{len(scores)} training images scored leave-one-out (only {len(val)} good validation "
                  f"images; label more for a firmer threshold)")
    else:
        scores = raw_scores_of(project, model, val, "setting the threshold", progress, cancel)
        source = f"validation split ({len(val)} good images)"
    model.calibration = calibrate(scores, frr, source=source)
    model.info.update(val_images=len(val), snapshot=project.snapshot_hash(), user=user,
                      fit_s=round(time.perf_counter() - t0, 3))
    progress(StageProgress("saving model", 0, 1))
    registry = ModelRegistry(project)
    version = save_model(registry, model, summary={"fit_s": round(time.perf_counter() - t0, 2)})
    progress(StageProgress("saving model", 1, 1))
    if activate or (activate is None and registry.active(KIND) is None):
        version = registry.activate(version.version, user)
    return FitOutcome(version, time.perf_counter() - t0, model.calibration.threshold, int(model.bank.shape[0]),
                      len(train), source)
