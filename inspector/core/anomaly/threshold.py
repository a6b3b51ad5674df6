"""Thresholds people can reason about: set from good parts at a target false-reject rate, scores shown
so that 0.5 is the threshold; and the AUROC used to judge a model (numpy only)."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from inspector.core.errors import ConfigError

DEFAULT_FRR = 0.01


def check_frr(frr: float) -> float:
    frr = float(frr)
    if not 0.0 <= frr < 0.5:
        raise ConfigError(f"target false-reject rate {frr} is outside 0..0.5 — give a fraction such as 0.01 (1%)")
    return frr


@dataclass(frozen=True)
class Calibration:
    """threshold: raw scores above it are flagged. median / spread place typical good parts at 0.25 on
    the normalized scale. scores: the raw scores of the good validation parts (for a histogram)."""

    threshold: float
    frr_target: float
    median: float
    spread: float
    scores: tuple[float, ...]
    source: str  # where the good parts came from, e.g. "validation split (24 images)"

    def normalize(self, raw: float | np.ndarray) -> float | np.ndarray:
        """Logistic map of a raw score: 0.5 at the threshold, 0.25 for the median good part, monotonic,
        always inside 0..1, so a UI can draw a fixed scale."""
        z = (np.asarray(raw, np.float64) - self.threshold) / self.spread
        out = 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
        return float(out) if np.ndim(out) == 0 else out

    def flagged(self, raw: float) -> bool:
        return float(raw) > self.threshold

    def frr(self, scores) -> float:
        """Share of the given good scores that this threshold flags."""
        s = np.asarray(scores, np.float64)
        return float((s > self.threshold).mean()) if s.size else 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["scores"] = [round(float(v), 6) for v in self.scores]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Calibration":
        return cls(float(d["threshold"]), float(d["frr_target"]), float(d["median"]), float(d["spread"]),
                   tuple(float(v) for v in d["scores"]), str(d.get("source", "")))


def calibrate(good_scores, frr: float = DEFAULT_FRR, source: str = "") -> Calibration:
    """The lowest threshold that flags at most `frr` of these good parts (flagged means score >
    threshold). Defect examples are not needed (an F1-style threshold fails when none exist)."""
    frr = check_frr(frr)
    s = np.sort(np.asarray(good_scores, np.float64))
    if s.size == 0:
        raise ConfigError("no good parts to set the threshold from — label some ok parts for validation")
    allowed = int(math.floor(frr * s.size + 1e-9))  # how many may lie above the threshold
    threshold = float(s[s.size - 1 - allowed])
    median = float(np.median(s))
    # ln 3 puts the median good part at 0.25 on the normalized scale; the floor keeps the map finite
    # when every good part scored the same.
    spread = max((threshold - median) / math.log(3.0), 1e-3 * max(abs(threshold), 1.0))
    return Calibration(threshold, frr, median, spread, tuple(float(v) for v in s), source)


def auroc(labels, scores) -> float:
    """Area under the ROC curve (probability that a random positive outscores a random negative,
    ties counting half), from ranks; NaN when one class is missing."""
    y = np.asarray(labels).astype(bool).ravel()
    s = np.asarray(scores, np.float64).ravel()
    pos = int(y.sum())
    neg = y.size - pos
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, np.float64)
    sorted_s = s[order]
    # average rank over runs of equal scores
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], s.size]
    avg = (starts + ends + 1) / 2.0  # 1-based ranks starts+1..ends
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - pos * (pos + 1) / 2.0) / (pos * neg))
