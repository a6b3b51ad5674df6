"""Plain records that anomaly operations return (service.py) and the GUI shows; no torch, no Qt."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CorrectionPreview:
    """What accepting a part as OK would do on the golden set (held-out parts with known answers)."""

    sample_id: int
    golden_total: int
    false_alarms_before: int  # good golden parts called NG
    false_alarms_after: int
    escapes_before: int  # defective golden parts called OK
    escapes_after: int


@dataclass(frozen=True)
class ScoreHistogram:
    edges: np.ndarray  # bin edges of the normalized score (0.5 = threshold)
    good: np.ndarray  # counts of good parts per bin
    flagged: np.ndarray  # counts of flagged (review-queue) parts per bin
    note: str = ""


def supervised_text(sup: dict) -> str:
    """What a fit's labelled defective parts did (its info["supervised"]), in one line."""
    if sup.get("reason"):
        return f"labelled defective parts not used: {sup['reason']}"
    if sup.get("weight"):
        return f"learnt from {sup.get('defects', 0)} labelled defective parts (weight {sup['weight']:g})"
    return (f"learnt from {sup.get('defects', 0)} labelled defective parts — they did not help in cross-validation, "
            "so the model ignores them for now")


def operating_point_text(m: dict) -> str:
    """An anomaly evaluation's counts at the model's threshold, with the 95 % intervals, in one line."""
    parts = []
    if m.get("good"):
        lo, hi = m["frr_ci"]
        parts.append(f"{m['false_rejects']} of {m['good']} good parts called NG (false rejects {m['frr']:.0%}, "
                     f"95 % interval {lo:.0%}–{hi:.0%})")
    if m.get("defect"):
        lo, hi = m["catch_ci"]
        parts.append(f"{m['escapes']} of {m['defect']} defective parts missed (catches {m['catch_rate']:.0%}, "
                     f"95 % interval {lo:.0%}–{hi:.0%})")
    if m.get("image_auroc") is not None:
        parts.append(f"image AUROC {m['image_auroc']:.3f}")
    return ", ".join(parts)
