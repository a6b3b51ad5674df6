"""AUROC and thresholds by false-reject rate (numpy only, no model)."""
import math

import numpy as np
import pytest

from inspector.core.anomaly.threshold import auroc, calibrate, check_frr
from inspector.core.errors import ConfigError


def brute_auroc(y, s):
    pos, neg = s[y], s[~y]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_auroc_matches_pairwise_count_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.random(57) < 0.4
        s = rng.integers(0, 6, 57).astype(float) + y * rng.integers(0, 3, 57)  # many ties
        assert auroc(y, s) == pytest.approx(brute_auroc(y, s), abs=1e-12)


def test_auroc_extremes_and_missing_class():
    y = np.array([0, 0, 1, 1], bool)
    assert auroc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auroc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert auroc(y, [1, 1, 1, 1]) == 0.5
    assert math.isnan(auroc([1, 1], [0.3, 0.4]))


def test_threshold_meets_false_reject_target():
    rng = np.random.default_rng(1)
    good = rng.normal(10, 2, 400)
    for frr in (0.0, 0.01, 0.05, 0.2):
        cal = calibrate(good, frr)
        flagged = int((good > cal.threshold).sum())
        assert flagged <= frr * len(good)
        assert flagged >= frr * len(good) - 1  # the lowest such threshold, not a needlessly high one
    assert calibrate(good, 0.0).threshold == good.max()


def test_normalized_scale_puts_threshold_at_half():
    good = np.linspace(1.0, 3.0, 101)
    cal = calibrate(good, 0.01)
    assert cal.normalize(cal.threshold) == pytest.approx(0.5)
    assert cal.normalize(cal.median) == pytest.approx(0.25)
    raw = np.linspace(-10, 50, 300)
    norm = cal.normalize(raw)
    assert np.all(np.diff(norm) >= 0) and norm.min() >= 0 and norm.max() <= 1
    assert cal.flagged(cal.threshold + 1e-6) and not cal.flagged(cal.threshold)
    again = type(cal).from_dict(cal.to_dict())
    assert again.threshold == cal.threshold and len(again.scores) == 101


def test_bad_targets_are_refused():
    with pytest.raises(ConfigError, match="false-reject rate"):
        check_frr(0.7)
    with pytest.raises(ConfigError, match="no good parts"):
        calibrate([], 0.01)
