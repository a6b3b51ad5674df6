"""How a model's output becomes OK or NG, in one place, and the figures of that decision on parts whose
truth is known: the catch rate (defective parts called NG) and the false-reject rate (good parts called
NG), each with a 95 % interval from the counts.

A classifier calls a part NG when the probabilities of its defect classes add up to the cut-off (0.5) or
more: the live line (core/live/runners.py) and `inspector eval` use this same rule, so eval's figures are
the line's. (The top class alone can say "good" at 0.4 while three defect classes share 0.6.)"""
from __future__ import annotations

import math

import numpy as np

CUTOFF = 0.5


def defect_columns(classes: list[dict]) -> np.ndarray:
    """Boolean per class: True for defect-kind classes (every class that is not ok-kind)."""
    return np.array([c.get("kind", "defect") != "ok" for c in classes], bool)


def defect_probability(probs: np.ndarray, defect: np.ndarray) -> np.ndarray:
    """Per row of class probabilities (N×C, or one row C): the summed probability of the defect classes."""
    p = np.asarray(probs, np.float64)
    return p[..., defect].sum(-1)


def is_ng(defect_prob, cutoff: float = CUTOFF):
    return np.asarray(defect_prob) >= cutoff


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a rate from counts ((0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def operating_point(truth_defect, called_ng) -> dict:
    """Catch rate and false-reject rate with their intervals, from per-part truth and decisions."""
    y = np.asarray(truth_defect, bool)
    ng = np.asarray(called_ng, bool)
    bad, good = int(y.sum()), int((~y).sum())
    caught, false_rejects = int((ng & y).sum()), int((ng & ~y).sum())
    return {
        "defective": bad, "good": good, "caught": caught, "escapes": bad - caught, "false_rejects": false_rejects,
        "catch_rate": caught / bad if bad else None, "catch_ci": list(wilson(caught, bad)) if bad else None,
        "escape_rate": (bad - caught) / bad if bad else None,
        "frr": false_rejects / good if good else None, "frr_ci": list(wilson(false_rejects, good)) if good else None,
    }
