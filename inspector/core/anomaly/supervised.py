"""The supervised component of the anomaly model (mixed supervision): once inspectors have labelled a few
defective parts, a logistic model on patch features learns what defects look like, beside "unlike any good
part". Its defect probability joins the distance map, with a weight chosen by cross-validation on the
labelled defects (0 when it does not help, so more labels can only be used, never forced).

Training patches:
- defect: the highest-scoring patches of each labelled defective part (its labels say "defective", not
  where: the distance map's peak stands in for the place, then the first head's own choice) and the
  patches under synthetic defects drawn into good training parts (their masks say where);
- good: every patch of good training parts scored leave-one-out (their own bank entries left out, so
  they look as new as a part on the line), with their highest-scoring patches counted extra, since those
  are what false rejects are made of."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from inspector.core.anomaly.model import AnomalyModel, _rgb, load_source
from inspector.core.anomaly.synthetic_defects import defect_plan, draw_defect
from inspector.core.anomaly.threshold import auroc, calibrate
from inspector.core.errors import ImageDecodeError
from inspector.core.progress import StageProgress

MIN_DEFECTS = 3  # labelled defective parts needed before the component is tried
GOOD_IMAGES = 30  # training parts scored leave-one-out as good examples
SYNTHETIC_PER_IMAGE = 2
TOP_CELLS = 4  # defect patches taken from each labelled defective part
WEIGHTS = (0.0, 0.5, 1.0, 2.0, 4.0)  # candidate weights of the probability, in units of the bank's coverage


@dataclass
class CellSet:
    """Per image: first-scale projected features (cells × dim), distance per cell, ignored cells."""

    q: torch.Tensor
    dist: np.ndarray
    valid: np.ndarray  # bool per cell


def _cells(model: AnomalyModel, img: np.ndarray, exclude: int | None = None) -> CellSet:
    parts = model.patches(None, model.features(img))
    dist = model.distance_grid(parts, exclude)
    ignored = model.cell_mask(dist.shape, img.shape[:2])
    valid = np.ones(dist.shape, bool) if ignored is None else ~ignored
    return CellSet(parts[0][0], dist, valid)


def _train_head(model: AnomalyModel, pos: list[torch.Tensor], neg: list[torch.Tensor], steps: int = 300,
                l2: float = 1e-3, seed: int = 0) -> dict:
    """Class-balanced logistic regression (full batch, LBFGS) on rows of [features, distance/coverage]."""
    xp, xn = torch.cat(pos), torch.cat(neg)
    x = torch.cat([xp, xn])
    y = torch.cat([torch.ones(len(xp)), torch.zeros(len(xn))])
    wts = torch.cat([torch.full((len(xp),), 0.5 / len(xp)), torch.full((len(xn),), 0.5 / len(xn))])
    mu, sd = x.mean(0), x.std(0).clamp_min(1e-6)
    z = (x - mu) / sd
    torch.manual_seed(seed)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(z @ w + b, y, reduction="none") * wts).sum()
        loss = loss + l2 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    # fold the standardisation into the weights: logit = x @ (w / sd) + (b - mu·w/sd)
    wf = (w.detach() / sd)
    bf = float(b.detach() - (mu * wf).sum())
    return {"w": [float(v) for v in wf], "b": bf, "weight": 0.0}


def _rows(model: AnomalyModel, c: CellSet, sel: np.ndarray) -> torch.Tensor:
    keep = torch.from_numpy(np.flatnonzero(sel.ravel() & c.valid.ravel()))
    d = torch.from_numpy(c.dist.reshape(-1, 1) / max(model.coverage, 1e-6))
    return torch.cat([c.q, d], 1)[keep]


def _top(c: CellSet, k: int) -> np.ndarray:
    score = np.where(c.valid, c.dist, -np.inf).ravel()
    sel = np.zeros(score.size, bool)
    sel[np.argsort(score)[::-1][:k]] = True
    return sel.reshape(c.dist.shape)


def _learn(model: AnomalyModel, syn_pos: list[torch.Tensor], real: list[CellSet], neg: list[torch.Tensor],
           seed: int) -> dict:
    """Two rounds (multiple-instance style): the defect patches of a labelled part are first its
    highest-distance patches, then the patches the first head finds most defect-like, so a defect that
    the distance alone missed can still teach the head where it is."""
    head = _train_head(model, syn_pos + [_rows(model, c, _top(c, TOP_CELLS)) for c in real], neg, seed=seed)
    model.set_head(head)
    again = []
    for c in real:
        logit = model.head_logits(c.q, c.dist)
        again.append(_rows(model, c, _top(CellSet(c.q, logit, c.valid), TOP_CELLS)))
    return _train_head(model, syn_pos + again, neg, seed=seed)


def _image_score(model: AnomalyModel, c: CellSet, head: dict, weight: float) -> float:
    acc = c.dist
    if weight > 0:
        model.set_head(head)
        p = 1.0 / (1.0 + np.exp(-np.clip(model.head_logits(c.q, c.dist), -30, 30)))
        acc = acc + np.float32(weight * max(model.coverage, 1e-6)) * p.astype(np.float32)
    if model.cfg.smooth_sigma > 0:
        acc = cv2.GaussianBlur(acc.astype(np.float32), (0, 0), model.cfg.smooth_sigma)
    return float(np.where(c.valid, acc, -np.inf).max())


def _read_cells(model: AnomalyModel, items, tick, cancel) -> list[CellSet]:
    """Cells of each (source, bank index to leave out or None); unreadable images are left out."""
    out = []
    for src, exclude in items:
        if cancel is not None:
            cancel.check()
        try:
            out.append(_cells(model, _rgb(load_source(src)), exclude=exclude))
        except ImageDecodeError:
            pass
        tick()
    return out


def head_work(defects: int, judge: int, good: int = GOOD_IMAGES) -> int:
    """How many parts fit_head scores (each a feature pass and a nearest-bank search): its progress total
    and the fit's time estimate."""
    return good * (1 + SYNTHETIC_PER_IMAGE) + defects + judge


def fit_head(model: AnomalyModel, sources: Sequence, defects: Sequence, *, negatives: Sequence[int],
             judge: Sequence[int], frr: float = 0.01, seed: int = 0, progress: Callable | None = None,
             cancel=None) -> dict | None:
    """Learn the supervised component for a fitted model whose bank ids index `sources`: good examples
    from the `negatives` sources and the judge's good parts from the `judge` sources, each scored
    without its own bank patches; choose its weight by two-fold cross-validation over the labelled
    `defects`, and return it (None when there are too few defects; when too few could be read, model.info["supervised"]
    says why). The model is left with the head set."""
    progress = progress or (lambda e: None)
    if len(defects) < MIN_DEFECTS or len(judge) < 3:
        return None
    stage = "learning from the labelled defects"
    rng = np.random.default_rng(seed + 7)
    pick = [int(i) for i in list(negatives)[:GOOD_IMAGES]] or [int(i) for i in rng.permutation(len(sources))[:GOOD_IMAGES]]
    plan = defect_plan(len(pick) * SYNTHETIC_PER_IMAGE, rng)
    total = head_work(len(defects), len(judge), len(pick))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        progress(StageProgress(stage, done, total))

    neg, syn_pos = [], []
    good_imgs = {}
    for i in pick:
        if cancel is not None:
            cancel.check()
        try:
            img = _rgb(load_source(sources[i]))
        except ImageDecodeError:
            continue
        good_imgs[i] = img
        c = _cells(model, img, exclude=i)
        neg.append(_rows(model, c, np.ones(c.dist.shape, bool)))
        neg.append(_rows(model, c, _top(c, TOP_CELLS)).repeat(4, 1))  # hard negatives, counted extra
        tick()
    keys = list(good_imgs)
    if not keys:
        return None
    for j, (kind, size) in enumerate(plan):
        if cancel is not None:
            cancel.check()
        i = keys[j % len(keys)]
        img = good_imgs[i]
        allowed = model.pixel_mask(img.shape[:2])
        d = draw_defect(img, rng, kind, size, allowed=None if allowed is None else ~allowed,
                        donor=good_imgs[keys[(j + 1) % len(keys)]])
        c = _cells(model, d.image, exclude=i)
        frac = cv2.resize(d.mask.astype(np.float32), (c.dist.shape[1], c.dist.shape[0]), interpolation=cv2.INTER_AREA)
        if (frac >= 0.25).any():
            syn_pos.append(_rows(model, c, frac >= 0.25))
        tick()
    real = _read_cells(model, [(src, None) for src in defects], tick, cancel)
    judged = _read_cells(model, [(sources[i], int(i)) for i in judge], tick, cancel)
    if len(real) < MIN_DEFECTS or len(judged) < 3:  # unreadable files: the fit goes on without the component
        why = (f"only {len(real)} of the {len(defects)} labelled defective parts could be read ({MIN_DEFECTS} needed): "
               "re-import the damaged images or label more" if len(real) < MIN_DEFECTS else
               f"only {len(judged)} good validation parts could be read (3 needed): re-import the damaged images")
        model.info["supervised"] = {"weight": 0.0, "defects": len(real), "reason": why}
        return None
    # two folds over the labelled defects: each half is judged by a head that never saw it
    order = rng.permutation(len(real))
    folds = [order[0::2], order[1::2]]
    totals = np.zeros(len(WEIGHTS))
    for f, held in enumerate(folds):
        if not len(held):
            continue
        head = _learn(model, syn_pos, [real[k] for k in folds[1 - f]], neg, seed)
        for wi, weight in enumerate(WEIGHTS):
            good_s = [_image_score(model, c, head, weight) for c in judged]
            bad_s = [_image_score(model, real[k], head, weight) for k in held]
            thr = calibrate(good_s, frr).threshold
            catch = float(np.mean(np.asarray(bad_s) > thr))
            area = auroc(np.r_[np.zeros(len(good_s)), np.ones(len(bad_s))], np.r_[good_s, bad_s])
            totals[wi] += len(held) * (catch + 0.5 * (0.0 if area != area else area))
    best = int(np.argmax(np.round(totals, 6)))  # ties: the smaller weight (WEIGHTS ascend)
    head = _learn(model, syn_pos, real, neg, seed)
    head["weight"] = float(WEIGHTS[best])
    head["cv"] = {str(w): round(float(t) / max(len(real), 1), 4) for w, t in zip(WEIGHTS, totals)}
    head["defects"] = len(real)
    model.set_head(head)
    return head
