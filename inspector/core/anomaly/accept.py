"""Instant correction: "this flagged part is OK". The part's unfamiliar patches join the memory bank, the
threshold is re-checked on the good validation parts, and the project's golden set is scored before and
after, so the caller can show what the change does before keeping it (as a new, undoable version)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from inspector.core.anomaly.evaluate import evaluate_items, project_val_items
from inspector.core.anomaly.fitting import MIN_VAL_IMAGES, good_samples
from inspector.core.anomaly.model import AnomalyModel, ImageSource, load_source, nearest
from inspector.core.anomaly.store import KIND, load_model, save_model
from inspector.core.anomaly.threshold import Calibration, calibrate
from inspector.core.errors import ConfigError, ModelError
from inspector.core.golden import GoldenCheck, GoldenCounts
from inspector.core.progress import StageProgress
from inspector.core.registry import ModelRegistry, ModelVersion

BANK_RESERVE = 1.25  # accepted patches may grow the bank this far past max_bank; then a refit is due


@dataclass
class AcceptProposal:
    parent: str
    model: AnomalyModel  # the corrected model, not saved yet
    added: int  # bank entries added
    parts: list[dict]  # per image: name, score/flagged before and after
    threshold_before: float
    threshold_after: float
    threshold_note: str
    golden_before: GoldenCounts
    golden_after: GoldenCounts
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    metrics: dict | None = None  # the corrected model on the labelled validation parts (None: none labelled)

    def to_dict(self) -> dict:
        return {"parent": self.parent, "added_patches": self.added, "bank_size": int(self.model.bank.shape[0]),
                "parts": self.parts, "threshold_before": self.threshold_before,
                "threshold_after": self.threshold_after, "threshold_note": self.threshold_note,
                "golden_before": asdict(self.golden_before), "golden_after": asdict(self.golden_after),
                "seconds": round(self.seconds, 3), "validation": self.metrics}

    def golden_check(self) -> GoldenCheck:
        """The golden figures as the guard (core/golden.py) reads them: the corrected version, before → after."""
        return GoldenCheck("the correction", self.parent, self.golden_before, self.golden_after)

    def save(self, project, *, activate: bool | None = None, user: str | None = None,
             detail: dict | None = None) -> ModelVersion:
        """Keep the correction as a new version (parent = the corrected one), audited as an accept with its
        golden figures (detail: what the guard approved). activate None: activate when the parent is the
        active anomaly model, so the line picks the correction up at once."""
        registry = ModelRegistry(project)
        self.model.info.update(accepted_by=user, accepted=[p["image"] for p in self.parts])
        summary = {"accepted": len(self.parts), "added_patches": self.added}
        if self.metrics:
            summary.update(val_catch=self.metrics["catch_rate"], val_frr=self.metrics["frr"])
        mv = save_model(registry, self.model, parent=self.parent, summary=summary,
                        extra={"metrics": {"val": self.metrics}} if self.metrics else None)
        record = {"version": mv.version, "parent": self.parent, "parts": [p["image"] for p in self.parts],
                  "added_patches": self.added, "threshold": [self.threshold_before, self.threshold_after],
                  "golden": self.golden_check().to_dict(), **(detail or {})}
        record["golden"]["version"] = mv.version
        project.record("model.accept", record, user)
        active = registry.active(KIND)
        if activate or (activate is None and active is not None and active.version == self.parent):
            mv = registry.activate(mv.version, user, detail={"accepted_from": self.parent})
        return mv


def propose_accept(project, version: str | None, images: Sequence[ImageSource], *, names: Sequence[str] | None = None,
                   progress=None, cancel=None) -> AcceptProposal:
    """The corrected model and its effect, without saving anything."""
    t0 = time.perf_counter()
    progress = progress or (lambda e: None)
    if not images:
        raise ConfigError("give at least one image of a part to accept as OK")
    registry = ModelRegistry(project)
    old = load_model(registry, version)
    if old.calibration is None:
        raise ModelError(f"model {old.version} has no threshold — refit it")
    names = list(names) if names is not None else [
        Path(s).name if isinstance(s, (str, Path)) else f"image {i + 1}" for i, s in enumerate(images)]
    new = _copy(old)
    # A patch counts as unfamiliar above what typical good parts reach; adding those brings every patch
    # of the part, and so its smoothed peak, down to that level: below the threshold.
    limit = min(old.coverage, old.calibration.median)
    parts, added = [], []
    feats_of = []
    for i, src in enumerate(images):
        if cancel is not None:
            cancel.check()
        img = load_source(src, names[i])
        feats = old.features(img)
        feats_of.append((img.shape[:2], feats))
        before = old.score_features(feats, img.shape[:2])
        for (q, (h, w)) in old.patches(None, feats):
            d = nearest(q, new.bank, new.bank_sq)[0]
            keep = d > limit
            ignored = old.cell_mask((h, w), img.shape[:2])
            if ignored is not None:
                keep &= torch.from_numpy(~ignored.ravel())
            if keep.any():
                added.append(q[keep])
                new.set_bank(torch.cat([new.bank, q[keep]]),
                             torch.cat([new.bank_ids, torch.full((int(keep.sum()),), -2, dtype=torch.int32)]))
        parts.append({"image": names[i], "before": {"score": before.score, "raw": before.raw, "flagged": before.flagged}})
        progress(StageProgress("adding the parts to the bank", i + 1, len(images)))
    cap = int(old.cfg.max_bank * BANK_RESERVE)
    if new.bank.shape[0] > cap:
        raise ModelError(f"the memory bank would hold {new.bank.shape[0]} entries, over its limit of {cap} — "
                         "refit the anomaly model with these parts labelled good instead")
    new.calibration, note, known = _recheck_threshold(project, old, new, cancel, progress)
    for p, (hw, feats) in zip(parts, feats_of):
        after = new.score_features(feats, hw)
        p["after"] = {"score": after.score, "raw": after.raw, "flagged": after.flagged}
    before_counts, after_counts = _golden(project, old, new, cancel, progress)
    new.info = dict(old.info, accepted_from=old.version)
    metrics = None
    items = project_val_items(project)
    if items:  # the operating point the corrected version keeps, as a fit keeps its own
        try:
            metrics = evaluate_items(new, items, "project validation split", known=known, cancel=cancel)
            metrics.pop("version")  # not numbered until it is saved
        except ConfigError:
            metrics = None
    return AcceptProposal(old.version, new, int(sum(len(a) for a in added)), parts, old.calibration.threshold,
                          new.calibration.threshold, note, before_counts, after_counts, time.perf_counter() - t0,
                          metrics=metrics)


def accept_parts(project, version: str | None, images: Sequence[ImageSource], *, names=None,
                 activate: bool | None = None, user: str | None = None, progress=None, cancel=None):
    """propose_accept + save: returns (proposal, new version)."""
    proposal = propose_accept(project, version, images, names=names, progress=progress, cancel=cancel)
    return proposal, proposal.save(project, activate=activate, user=user)


def _copy(model: AnomalyModel) -> AnomalyModel:
    m = AnomalyModel(model.cfg, scales=model.scales, ref_side=model.ref_side, mean=model.mean.numpy(),
                     basis=model.basis.numpy(), bank=model.bank.clone(), bank_ids=model.bank_ids.clone(),
                     coverage=model.coverage, runner=model.runner, onnx=model.onnx,
                     calibration=model.calibration, ignore_mask=model.ignore_mask, info=dict(model.info),
                     head=model.head, pos_scale=model.pos_scale, baseline=model.baseline)
    return m


def _recheck_threshold(project, old: AnomalyModel, new: AnomalyModel, cancel,
                       progress) -> tuple[Calibration, str, dict[int, float]]:
    """Re-score the good validation parts with the grown bank and set the threshold again at the same
    false-reject target. A bigger bank only lowers scores, so with too few validation parts the old
    threshold is kept: its false-reject rate cannot have risen. Also returns the scores by sample id."""
    val = good_samples(project, "val")
    cal = old.calibration
    if len(val) < MIN_VAL_IMAGES:
        return cal, f"kept: only {len(val)} good validation images to re-check (the false-reject rate cannot rise)", {}
    in_bank = old.val_in_bank()
    scores, by_id = [], {}
    for i, s in enumerate(val):  # a part whose patches are in the bank is scored without them
        if cancel is not None:
            cancel.check()
        img = load_source(project.image_path(s), f"sample #{s.id}")
        idx = in_bank.get(s.id)
        scores.append(new.score_features(new.features(img), img.shape[:2], exclude=idx).raw)
        by_id[s.id] = scores[-1]
        progress(StageProgress("re-checking the threshold", i + 1, len(val)))
    new_cal = calibrate(scores, cal.frr_target, source=f"validation split ({len(val)} good images), re-checked")
    return new_cal, f"re-checked on {len(val)} good validation images at {cal.frr_target:.2%} false rejects", by_id


def _golden(project, old: AnomalyModel, new: AnomalyModel, cancel, progress) -> tuple[GoldenCounts, GoldenCounts]:
    """Score the golden set (labelled, held out) with both models; the features are shared."""
    kinds = {c.name: c.kind for c in project.classes()}
    samples = [s for s in project.samples(status="labelled", split="golden") if s.label in kinds]
    before, after = GoldenCounts(), GoldenCounts()
    for i, s in enumerate(samples):
        if cancel is not None:
            cancel.check()
        img = load_source(project.image_path(s), f"sample #{s.id}")
        feats = old.features(img)
        good = kinds[s.label] == "ok"
        for counts, model in ((before, old), (after, new)):
            flagged = model.score_features(feats, img.shape[:2]).flagged
            if good:
                counts.good += 1
                counts.false_rejects += int(flagged)
            else:
                counts.defect += 1
                counts.escapes += int(not flagged)
        progress(StageProgress("checking the golden set", i + 1, len(samples)))
    return before, after
