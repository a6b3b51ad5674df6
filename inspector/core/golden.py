"""The golden set: labelled parts held out of training (split "golden") that every model change is scored
on before it reaches the line. A change that lets more golden defects through (escapes) is refused
unless an engineer confirms it with a reason, which the audit trail keeps with the figures.

Scoring imports torch / ONNX Runtime lazily, so the GUI thread may use the rest of this module."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

from inspector.core import accounts
from inspector.core.errors import InspectorError, ProjectError
from inspector.core.splits import choose_split

GOLDEN = "golden"


@dataclass
class GoldenCounts:
    good: int = 0
    defect: int = 0
    false_rejects: int = 0  # good parts flagged
    escapes: int = 0  # defect parts not flagged


@dataclass
class GoldenCheck:
    """A model change scored on the golden set: the line's model now (before) and the one that would
    replace it (after). before is None when no model of that kind is active yet."""
    version: str
    previous: str | None
    before: GoldenCounts | None
    after: GoldenCounts

    @property
    def size(self) -> int:
        return self.after.good + self.after.defect

    @property
    def escapes_up(self) -> bool:
        return self.before is not None and self.after.escapes > self.before.escapes

    def to_dict(self) -> dict:
        return {"version": self.version, "previous": self.previous,
                "before": asdict(self.before) if self.before else None, "after": asdict(self.after)}

    def line(self) -> str:
        a = self.after
        if not self.size:
            return ("golden set: empty — mark parts golden (`inspector golden add`, or Ctrl+G in Review) to check "
                    "changes")
        if self.before is None:
            return (f"golden set ({a.good} good, {a.defect} defect) with {self.version}: false rejects "
                    f"{a.false_rejects}, escapes {a.escapes}")
        b = self.before
        return (f"golden set ({a.good} good, {a.defect} defect), {self.previous} → {self.version}: false rejects "
                f"{b.false_rejects} → {a.false_rejects}, escapes {b.escapes} → {a.escapes}")


class GoldenRefused(InspectorError):
    """A model change raises escapes on the golden set and nobody confirmed it with a reason."""


# -- membership -------------------------------------------------------------------------------------
def members(project) -> list:
    return project.samples(status="labelled", split=GOLDEN)


def sizes(project) -> dict[str, int]:
    """{class name: golden parts}, every class listed."""
    return {name: n["golden"] for name, n in project.counts()["per_class"].items()}


def add(project, sample_ids: Iterable[int], user: str | None = None) -> list[int]:
    """Put labelled parts into the golden set (they leave training and validation). Returns those moved."""
    ids = [int(i) for i in sample_ids]
    moved = []
    with project.transaction():
        for sid in ids:
            s = project.sample(sid)
            if s.status != "labelled" or s.label is None:
                raise ProjectError(f"part #{sid} has no label — label it first: the golden set needs the truth")
            if project.set_split(sid, GOLDEN, user):
                moved.append(sid)
        if moved:
            project.record("golden.add", {"samples": moved, "sizes": sizes(project)}, user)
    return moved


def remove(project, sample_ids: Iterable[int], user: str | None = None) -> list[int]:
    """Take parts out of the golden set: back to train or validation, chosen as when first labelled."""
    ids = [int(i) for i in sample_ids]
    moved = []
    with project.transaction():
        for sid in ids:
            s = project.sample(sid)
            if s.split != GOLDEN:
                continue
            n, v = project.db.execute(
                "SELECT COUNT(*), COALESCE(SUM(s.split = 'val'), 0) FROM samples s JOIN classes c ON c.id = s.label_id "
                "WHERE c.name = ? AND s.status != 'discarded' AND s.split IN ('train', 'val')", (s.label,)).fetchone()
            project.set_split(sid, choose_split(s.image_hash, n, v, project.val_fraction), user)
            moved.append(sid)
        if moved:
            project.record("golden.remove", {"samples": moved, "sizes": sizes(project)}, user)
    return moved


# -- scoring ----------------------------------------------------------------------------------------
def score(project, registry, version: str, cancel=None, progress=None) -> GoldenCounts:
    """Score every golden part with one model version, deciding OK / NG as the line does."""
    from inspector.core.progress import StageProgress

    kinds = {c.name: c.kind for c in project.classes()}
    parts = [s for s in members(project) if s.label in kinds]
    counts = GoldenCounts()
    if not parts:
        return counts
    flag = _flagger(project, registry, version, kinds)
    for i, s in enumerate(parts):
        if cancel is not None:
            cancel.check()
        flagged = flag(project.read_image(s))
        if kinds[s.label] == "ok":
            counts.good += 1
            counts.false_rejects += int(flagged)
        else:
            counts.defect += 1
            counts.escapes += int(not flagged)
        if progress is not None:
            progress(StageProgress(f"checking {version} on the golden set", i + 1, len(parts)))
    return counts


def _flagger(project, registry, version: str, kinds: dict[str, str]):
    mv = registry.get(version)
    if mv.kind == "anomaly":
        from inspector.core.anomaly.store import load_model

        model = load_model(registry, version)
        return lambda img: bool(model.score_features(model.features(img), img.shape[:2]).flagged)
    from inspector.core.decision import decide
    from inspector.core.predictor import Predictor

    config = registry.read_config(version)
    predictor = Predictor(mv.path, config=config)

    def flag(img) -> bool:  # the line's own rule: decision.decide with the model's calibrated cut-off
        pred = predictor.predict([img])[0]
        verdict = decide(pred.scores, config)
        return verdict["verdict"] == "not_ok" if verdict else kinds.get(pred.label, "defect") != "ok"
    return flag


def check_change(project, registry, version: str, previous: str | None, cancel=None, progress=None) -> GoldenCheck:
    """Score the version that would go on the line and the one it replaces (None: nothing to compare)."""
    after = score(project, registry, version, cancel, progress)
    before = score(project, registry, previous, cancel, progress) if previous else None
    return GoldenCheck(version, previous, before, after)


def check_activation(project, registry, version: str, cancel=None, progress=None) -> GoldenCheck:
    current = registry.active(registry.get(version).kind)
    previous = current.version if current is not None and current.version != version else None
    return check_change(project, registry, version, previous, cancel, progress)


def approve(project, check: GoldenCheck, actor: accounts.Actor, reason: str | None, action: str) -> dict:
    """The audit detail for a change (action: model.activate, model.rollback, model.accept) that passed
    the guard. When escapes rise and no engineer confirmed with a reason, the refusal is recorded and
    GoldenRefused / PermissionDenied raised."""
    reason = (reason or "").strip()
    if check.escapes_up and (not reason or not accounts.allowed(actor, "golden.confirm")):
        project.record("refused", {"action": action, "why": "golden escapes rise", "golden": check.to_dict(),
                                   "reason_given": reason or None}, actor.name)
        if not reason:
            raise GoldenRefused(f"{check.version} lets {check.after.escapes} golden defect(s) through where "
                                f"{check.previous} let {check.before.escapes} — an engineer may confirm it with a "
                                "reason (--confirm-reason TEXT), or keep the current model")
        accounts.require(actor, "golden.confirm")
    detail = {"golden": check.to_dict()}
    if check.escapes_up:
        detail["confirmed_escapes_up"] = reason
    return detail
