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
