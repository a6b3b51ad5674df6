"""Fit a project's anomaly model end to end: settings chosen by the auto search (or a named preset), good
parts of the train split into the bank, the threshold from good validation parts, a new model version.
`inspector anomaly fit`, the GUI and the benches call this."""
from __future__ import annotations

import time
from dataclasses import dataclass

from inspector.core.anomaly.autoconfig import AutoReport, search
from inspector.core.anomaly.model import AnomalyConfig, AnomalyModel, fit_model, load_source, preset
from inspector.core.anomaly.supervised import MIN_DEFECTS, fit_head
from inspector.core.anomaly.store import KIND, check_ignore_mask, read_ignore_mask, save_model
from inspector.core.anomaly.threshold import DEFAULT_FRR, calibrate, check_frr
from inspector.core.errors import ConfigError, ImageDecodeError
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
    auto: AutoReport | None = None  # what the auto search tried and chose (None for a named preset)


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


def fit_good_parts(train, sizes, val, *, preset_name: str = "auto", config: AnomalyConfig | None = None,
                   frr: float = DEFAULT_FRR, ignore_mask=None, defects=(), seed: int = 0, progress=None,
                   cancel=None) -> tuple[AnomalyModel, AutoReport | None]:
    """The whole fit on plain image lists (files or arrays): settings (config given, a named preset, or
    "auto": searched on the train images with synthetic defects and the labelled `defects`), the bank
    on every train image, the threshold on the `val` good images (leave-one-out on train images when
    fewer than MIN_VAL_IMAGES). Returns the calibrated model and the search report."""
    t0 = time.perf_counter()
    frr = check_frr(frr)
    progress = progress or (lambda e: None)
    check_ignore_mask(ignore_mask)
    report = None
    if config is None:
        if preset_name == "auto":
            config, report = search(train, sizes, ignore_mask=ignore_mask, frr=frr, defects=defects, seed=seed,
                                    progress=progress, cancel=cancel)
        else:
            config = preset(preset_name, seed=seed)
    use_loo = len(val) < MIN_VAL_IMAGES
    model = fit_model(train, config, sizes=sizes, ignore_mask=ignore_mask,
                      loo_images=min(LOO_IMAGES, len(train)) if use_loo else 0, progress=progress, cancel=cancel)
    if len(defects) >= MIN_DEFECTS and not use_loo:
        head = fit_head(model, train, defects, val, frr=frr, seed=seed, progress=progress, cancel=cancel)
        model.info["supervised"] = {k: head[k] for k in ("weight", "cv", "defects")}
    if use_loo:
        scores = model.info.pop("loo_scores")
        source = (f"{len(scores)} training images scored leave-one-out (only {len(val)} good validation "
                  f"images; label more for a firmer threshold)")
    else:
        scores = []
        for i, src in enumerate(val):
            if cancel is not None:
                cancel.check()
            try:
                img = load_source(src)
            except ImageDecodeError as e:
                model.info["skipped"].append({"image": str(src), "error": str(e)})
                continue
            scores.append(model.score(img).raw)
            progress(StageProgress("setting the threshold", i + 1, len(val)))
    model.calibration = calibrate(scores, frr, source=source if use_loo else f"validation split ({len(val)} good images)")
    model.info["preset"] = "custom" if report is None and preset_name == "auto" else preset_name
    if report is not None:
        model.info["auto"] = report.to_dict()
    model.info["fit_s"] = round(time.perf_counter() - t0, 3)
    return model, report


def fit_project(project, *, frr: float = DEFAULT_FRR, config: AnomalyConfig | None = None, preset_name: str = "auto",
                activate: bool | None = None, user: str | None = None, progress=None,
                cancel=None) -> FitOutcome:
    """config: fixed settings; else preset_name ("auto": searched for these parts). activate: True/False,
    or None = activate only when the project has no active anomaly model yet."""
    t0 = time.perf_counter()
    frr = check_frr(frr)
    progress = progress or (lambda e: None)
    train = good_samples(project, "train")
    if not train:
        raise ConfigError("no good parts in the training split — label parts with an ok-kind class "
                          "(e.g. `good`) before fitting an anomaly model")
    val = good_samples(project, "val")
    defects = [s for s in project.samples(status="labelled", kind="defect") if s.split != "golden"]
    model, report = fit_good_parts(
        [project.image_path(s) for s in train], [(s.height, s.width) for s in train],
        [project.image_path(s) for s in val], preset_name=preset_name, config=config, frr=frr,
        ignore_mask=read_ignore_mask(project), defects=[project.image_path(s) for s in defects],
        progress=progress, cancel=cancel)
    model.info.update(val_images=len(val), snapshot=project.snapshot_hash(), user=user,
                      fit_s=round(time.perf_counter() - t0, 3))
    progress(StageProgress("saving model", 0, 1))
    registry = ModelRegistry(project)
    summary = {"fit_s": round(time.perf_counter() - t0, 2), "preset": model.info["preset"]}
    if report is not None:
        summary.update(auto=report.chosen, expected_catch=report.best.catch if report.best else None)
    version = save_model(registry, model, summary=summary)
    progress(StageProgress("saving model", 1, 1))
    if activate or (activate is None and registry.active(KIND) is None):
        version = registry.activate(version.version, user)
    return FitOutcome(version, time.perf_counter() - t0, model.calibration.threshold, int(model.bank.shape[0]),
                      len(train), model.calibration.source, report)
