"""How a model's output becomes OK or NG, in one place, and the figures of that decision on parts whose
truth is known: the catch rate (defective parts called NG) and the false-reject rate (good parts called
NG), each with a 95 % interval from the counts.

A classifier calls a part NG when the probabilities of its defect classes add up to its cut-off or more:
the live line (core/live/runners.py), `inspector eval` and `predict` use this same rule, so eval's figures
are the line's. (The top class alone can say "good" at 0.4 while three defect classes share 0.6.)

The cut-off is set when the model is trained, like the anomaly model's threshold: the lowest one that
calls at most the target share of the good validation parts NG (calibrate_cutoff), kept in the model's
config.json under "decision". Models saved before that, or trained without good validation parts, use 0.5;
with fewer than MIN_GOOD_TO_LOWER good validation parts it is never below 0.5.
"""
from __future__ import annotations

import math

import numpy as np

from inspector.core.anomaly.threshold import DEFAULT_FRR, calibrate, check_frr

CUTOFF = 0.5  # the fixed rule: models without a calibrated cut-off
# The calibrated cut-off stays inside these: below 5 % the softmax's leftovers decide, and with a few
# dozen good validation parts the lowest allowed cut-off is their highest score, which new good parts
# would often exceed; above 95 % a defect would need near-certainty to be caught.
MIN_CUTOFF, MAX_CUTOFF = 0.05, 0.95
# Below this many good validation parts the cut-off may rise above 0.5 but not fall below it: the highest
# of 6 good parts' scores says little about the next hundred. Seen on the demo project (6 good validation
# parts): calibrated 0.087, and 40 % of 200 new good parts called NG; held at 0.5, 5 % (catch 97 % -> 86 %).
MIN_GOOD_TO_LOWER = 20

__all__ = ["CUTOFF", "DEFAULT_FRR", "MIN_CUTOFF", "MAX_CUTOFF", "calibrate_cutoff", "check_frr", "cutoff_of",
           "decide", "defect_columns", "defect_probability", "describe", "is_ng", "normalized_score", "operating_point",
           "wilson"]


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


def cutoff_of(config: dict) -> float:
    """A classifier's cut-off from its config.json: the calibrated one, else the fixed 0.5 (older models)."""
    c = (config.get("decision") or {}).get("cutoff") if isinstance(config, dict) else None
    return float(c) if isinstance(c, (int, float)) and 0.0 < c < 1.0 else CUTOFF


def normalized_score(defect_prob, cutoff: float):
    """The not-OK score on the scale every verdict uses, 0.5 = the cut-off (piecewise linear, monotonic):
    results, review's "near the threshold" and the Live tab read it the same for every model."""
    p = np.clip(np.asarray(defect_prob, np.float64), 0.0, 1.0)
    out = np.where(p < cutoff, 0.5 * p / cutoff, 0.5 + 0.5 * (p - cutoff) / (1.0 - cutoff))
    return float(out) if np.ndim(out) == 0 else out


def calibrate_cutoff(truth_defect, defect_prob, frr_target: float = DEFAULT_FRR, source: str = "") -> dict:
    """The cut-off for a target false-reject rate on the good validation parts (the anomaly model's rule:
    the lowest that calls at most frr_target of them NG), kept within MIN_CUTOFF..MAX_CUTOFF, and the
    operating point there. With no good parts: the fixed 0.5, said so."""
    frr_target = check_frr(frr_target)
    y = np.asarray(truth_defect, bool)
    p = np.asarray(defect_prob, np.float64)
    good = p[~y]
    if good.size == 0:
        cutoff, rule = CUTOFF, "fixed: no good validation parts to set it from"
    else:
        # NG means defect probability >= cutoff; calibrate flags scores > its threshold: the next float up.
        raw = float(np.nextafter(calibrate(good, frr_target).threshold, 1.0))
        floor = MIN_CUTOFF if good.size >= MIN_GOOD_TO_LOWER else CUTOFF
        cutoff = min(max(raw, floor), MAX_CUTOFF)
        if cutoff == raw:
            rule = "calibrated"
        elif raw > cutoff or floor == MIN_CUTOFF:
            rule = f"calibrated, held at {'min' if raw < cutoff else 'max'}imum"
        else:
            parts = "1 good validation part is" if good.size == 1 else f"{good.size} good validation parts are"
            rule = f"calibrated, held at {CUTOFF:g}: {parts} too few to set it lower ({MIN_GOOD_TO_LOWER} are enough)"
    return {"cutoff": cutoff, "frr_target": frr_target, "rule": rule, "source": source,
            "operating_point": operating_point(y, is_ng(p, cutoff))}


def describe(op: dict, short: bool = False) -> str:
    """One line: the rule and its catch and false-reject rates, from an operating point that carries its
    cutoff, rule and frr_target (eval and Models in full; short: the Train result's line, no intervals)."""
    def rate(k, n, r, ci):
        return f"{k}/{n}" + ("" if r is None else f" ({r:.0%})" if short else
                             f" ({r:.1%}, 95 % CI {ci[0]:.1%}-{ci[1]:.1%})")

    rule = str(op.get("rule") or "fixed")
    calibrated = rule.startswith("calibrated") and op.get("frr_target") is not None
    if short:
        if not calibrated:
            how = rule.split(":")[0]
        elif rule.startswith(f"calibrated, held at {CUTOFF:g}:"):  # not set for the target: say why, not the target
            how = rule.split(", ", 1)[1].split(" (")[0]
        else:
            how = f"for {op['frr_target']:.1%} false rejects" + (f", {rule.split(', ', 1)[1]}" if ", " in rule else "")
        return (f"OK / NG at defect probability >= {op['cutoff']:.3g} ({how}): catches "
                f"{rate(op['caught'], op['defective'], op['catch_rate'], None)}, false rejects "
                f"{rate(op['false_rejects'], op['good'], op['frr'], None)}")
    how = (f"set for {op['frr_target']:.1%} false rejects on the good validation parts"
           + (f", {rule.split(', ', 1)[1]}" if ", " in rule else "") if calibrated else rule)
    return (f"OK / NG as the line decides (defect probability >= {op['cutoff']:.3g}, {how}): catches "
            f"{rate(op['caught'], op['defective'], op['catch_rate'], op['catch_ci'])}, false rejects "
            f"{rate(op['false_rejects'], op['good'], op['frr'], op['frr_ci'])}")


def decide(scores: dict, config: dict) -> dict | None:
    """One part's OK/NG from a classifier's {class: probability} and its config: {"verdict": "ok" or
    "not_ok", "defect_probability", "cutoff"}; None for a model without both an OK and a defect class."""
    classes = config.get("classes", [])
    defect = defect_columns(classes)
    if not defect.any() or defect.all():
        return None
    cutoff = cutoff_of(config)
    prob = float(sum(float(scores.get(c["name"], 0.0)) for c, d in zip(classes, defect) if d))
    return {"verdict": "not_ok" if is_ng(prob, cutoff) else "ok", "defect_probability": round(prob, 6),
            "cutoff": cutoff}
