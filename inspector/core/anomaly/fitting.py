"""Fit a project's anomaly model end to end: settings chosen by the auto search (or a named preset), good
parts of the train split into the bank, the threshold from good validation parts, a new model version.
`inspector anomaly fit`, the GUI and the benches call this."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from inspector.core.anomaly.autoconfig import AutoReport, search
from inspector.core.anomaly.evaluate import evaluate_items, project_val_items
from inspector.core.anomaly.model import AnomalyConfig, AnomalyModel, _rgb, fit_model, load_source, preset, source_size
from inspector.core.anomaly.supervised import MIN_DEFECTS, fit_head, head_work
from inspector.core.anomaly.store import KIND, check_ignore_mask, read_ignore_mask, save_model
from inspector.core.anomaly.threshold import DEFAULT_FRR, calibrate, check_frr
from inspector.core.anomaly.trial import PLACES, Candidate
from inspector.core.errors import ConfigError, ImageDecodeError, InspectorError
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
    # the labelled defective parts: {"weight", "cv", "defects"} when the supervised component was learnt,
    # {"weight": 0.0, "defects", "reason"} when too few of them could be read, None when too few were labelled
    supervised: dict | None = None
    metrics: dict | None = None  # evaluate_items on the labelled validation parts (None: none labelled)


def previous_settings(project) -> tuple[str, Candidate] | None:
    """(version, settings) the auto search chose for the project's active anomaly model, without the place
    baseline and smoothing (a search judges those itself); None when there is none or it was not auto."""
    registry = ModelRegistry(project)
    mv = registry.active(KIND)
    if mv is None:
        return None
    try:
        auto = registry.read_config(mv.version)["info"]["auto"]
        settings = {k: v for k, v in auto["settings"].items() if k not in ("smooth_sigma", "place_baseline")}
        AnomalyConfig.from_dict(settings)  # refused when it no longer fits this software's settings
        if not settings.get("long_sides") or "grid" not in settings:
            return None
        cand = Candidate(str(auto["chosen"]).removesuffix(PLACES), settings)
    except (InspectorError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return mv.version, cand


def good_samples(project, split: str) -> list:
    return project.samples(status="labelled", split=split, kind="ok")


def fit_good_parts(train, sizes, val, *, preset_name: str = "auto", config: AnomalyConfig | None = None,
                   frr: float = DEFAULT_FRR, ignore_mask=None, defects=(), seed: int = 0, val_sizes=None,
                   previous: tuple[str, Candidate] | None = None, progress=None,
                   cancel=None) -> tuple[AnomalyModel, AutoReport | None]:
    """The whole fit on plain image lists (files or arrays): settings (config given, a named preset, or
    "auto": searched with synthetic defects and the labelled `defects`), the bank on every good image
    (train and val), the threshold on leave-one-out scores — every val image and enough train images to
    make about LOO_IMAGES, each scored against the bank without its own patches. Returns the calibrated
    model (info["val_in_bank"]: the bank source index of each val image) and the search report.

    Why val joins the bank: on Magnetic Tile a bank of 381 good tiles ranked defects at image AUROC 0.968,
    one of 476 at 0.981; leave-one-out scores set the threshold as well as held-out ones there (1 %
    target, 0.8 % false rejects on 476 new tiles)."""
    t0 = time.perf_counter()
    frr = check_frr(frr)
    progress = progress or (lambda e: None)
    check_ignore_mask(ignore_mask)
    pool = list(train) + list(val)
    pool_sizes = list(sizes) + (list(val_sizes) if val_sizes is not None else _sizes(val))
    n_train = len(train)
    val_idx = list(range(n_train, len(pool)))
    rng = np.random.default_rng(seed + 11)
    train_loo = sorted(rng.permutation(n_train)[:max(0, LOO_IMAGES - len(val_idx))].tolist())
    loo = val_idx + train_loo
    with_head = len(defects) >= MIN_DEFECTS and len(val_idx) >= 3
    report = None
    if config is None:
        if preset_name == "auto":
            # what the fit does after the search, so that the budget holds for both: every good part into
            # the bank, the threshold's leave-one-out scores (from the fit's own features), the parts read
            # and scored for the supervised component and the validation check
            scored = len(defects) + (head_work(len(defects), len(val_idx)) if with_head else 0)
            config, report = search(pool, pool_sizes, ignore_mask=ignore_mask, frr=frr, defects=defects, seed=seed,
                                    final=(len(pool), len(loo), scored), previous=previous, progress=progress,
                                    cancel=cancel)
        else:
            config = preset(preset_name, seed=seed)
    model = fit_model(pool, config, sizes=pool_sizes, ignore_mask=ignore_mask, keep=loo, progress=progress,
                      cancel=cancel)
    if with_head:
        head = fit_head(model, pool, defects, negatives=train_loo, judge=val_idx, frr=frr, seed=seed,
                        progress=progress, cancel=cancel)
        if head is not None:
            model.info["supervised"] = {k: head[k] for k in ("weight", "cv", "defects")}
    cells, scored = [], []
    for n, i in enumerate(loo):
        if cancel is not None:
            cancel.check()
        if i in model.kept:  # features from the fit's own pass
            hw, feats = model.kept.pop(i)
        else:
            try:
                img = _rgb(load_source(pool[i]))
            except ImageDecodeError:
                continue  # fit_model has listed it
            hw, feats = img.shape[:2], model.features(img)
        cells.append((model.cell_scores(model.patches(None, feats), exclude=i), hw))
        scored.append(i)
        progress(StageProgress("setting the threshold", n + 1, len(loo)))
    model.kept = {}
    scores = model.score_good_cells(cells)  # also sets the place baseline when the settings ask for one
    model.loo_raw = dict(zip(scored, scores))
    n_val = sum(1 for i in val_idx if i < len(pool))
    source = (f"{len(scores)} good parts scored leave-one-out ({n_val} validation, {len(train_loo)} training), "
              "each against the bank without its own patches")
    if n_val < MIN_VAL_IMAGES:
        source += f"; only {n_val} good validation images: label more for a firmer threshold"
    model.calibration = calibrate(scores, frr, source=source)
    model.info["val_in_bank"] = val_idx
    model.info["preset"] = "custom" if report is None and preset_name == "auto" else preset_name
    if report is not None:
        model.info["auto"] = report.to_dict()
    model.info["fit_s"] = round(time.perf_counter() - t0, 3)
    return model, report


def _sizes(sources) -> list[tuple[int, int]]:
    out = []
    for src in sources:
        try:
            out.append(source_size(src))
        except ImageDecodeError:
            out.append((0, 0))  # unreadable: fit_model lists it; the size is not used
    return out


def fit_project(project, *, frr: float = DEFAULT_FRR, config: AnomalyConfig | None = None, preset_name: str = "auto",
                activate: bool | None = None, user: str | None = None, progress=None,
                cancel=None) -> FitOutcome:
    """config: fixed settings; else preset_name ("auto": searched for these parts). activate: True/False,
    or None = activate only when the line runs no model yet: beside an active classifier, an anomaly model takes
    over the line's OK / NG (the classifier then only names the defect type), so that waits for someone to read
    its validation figures and press Activate. (A first classifier beside an anomaly model is activated, see
    train_project: it only names the types of what the anomaly model flags.)"""
    t0 = time.perf_counter()
    frr = check_frr(frr)
    progress = progress or (lambda e: None)
    project.actor = user or getattr(project, "actor", None)  # the audit trail names who fitted it
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
        val_sizes=[(s.height, s.width) for s in val],
        previous=previous_settings(project) if config is None and preset_name == "auto" else None,
        progress=progress, cancel=cancel)
    # which bank entries came from which validation part, so a later re-check ("this part is OK") can
    # score each one without its own patches
    val_pos = model.info["val_in_bank"]
    model.info["val_in_bank"] = {str(s.id): i for s, i in zip(val, val_pos)}
    # The operating point on the labelled validation parts, saved with the version (Models, the Train result):
    # good ones by the leave-one-out scores the threshold came from, defective ones scored now.
    metrics = None
    items = project_val_items(project)
    if items:
        progress(StageProgress("checking the validation parts", 0, 1))
        known = {s.id: model.loo_raw[i] for s, i in zip(val, val_pos) if i in model.loo_raw}
        try:
            metrics = evaluate_items(model, items, "project validation split", known=known, cancel=cancel)
            metrics.pop("version")  # not numbered yet; the version it is saved with is the one it describes
        except ConfigError:  # none of them readable
            metrics = None
        progress(StageProgress("checking the validation parts", 1, 1))
    model.info.update(val_images=len(val), snapshot=project.snapshot_hash(), user=user,
                      fit_s=round(time.perf_counter() - t0, 3))
    progress(StageProgress("saving model", 0, 1))
    registry = ModelRegistry(project)
    summary = {"fit_s": round(time.perf_counter() - t0, 2), "preset": model.info["preset"]}
    if report is not None:
        summary.update(auto=report.chosen, expected_catch=report.best.catch if report.best else None)
    if metrics:
        summary.update(val_catch=metrics["catch_rate"], val_frr=metrics["frr"])
    version = save_model(registry, model, summary=summary, extra={"metrics": {"val": metrics}} if metrics else None)
    progress(StageProgress("saving model", 1, 1))
    if activate or (activate is None and not registry.active_versions()):
        version = registry.activate(version.version, user)
    return FitOutcome(version, time.perf_counter() - t0, model.calibration.threshold, int(model.bank.shape[0]),
                      len(train), model.calibration.source, report, model.info.get("supervised"),
                      dict(metrics, version=version.version) if metrics else None)
