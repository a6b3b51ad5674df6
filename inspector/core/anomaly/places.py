"""The place baseline (AnomalyConfig.place_baseline): per place on the part, how high good parts score
there, from their leave-one-out maps; taken off a part's map before its peak, so that a place where every good
part scores high (a dark rim, an edge that moves a little from part to part) does not hide a defect elsewhere."""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

# The place baseline is this quantile, per place, of good parts' leave-one-out maps: the upper level a good
# part reaches there, not the typical one (on machined strips with a dark rim the 90th percentile took the
# false rejects from 5 % to 0 at the same catch, the median to 1.7 %).
PLACE_QUANTILE = 0.9
MIN_PLACE_MAPS = 10  # fewer good maps cannot tell a place's upper level from one part's quirk


def fit_grid(g: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """g stretched to shape (h, w): maps of parts of other sizes meet in the part's own coordinates."""
    g = np.asarray(g, np.float32)
    return g if g.shape == tuple(shape) else cv2.resize(g, (int(shape[1]), int(shape[0])), interpolation=cv2.INTER_LINEAR)


def _stack(maps: Sequence[np.ndarray]) -> np.ndarray:
    """n × h × w: the maps stretched to their median grid."""
    shape = int(np.median([m.shape[0] for m in maps])), int(np.median([m.shape[1] for m in maps]))
    return np.stack([fit_grid(m, shape) for m in maps])


def _centred(b: np.ndarray) -> np.ndarray:
    """Less its median over the places: only what stands out from the part's typical level is taken off."""
    return (b - np.median(b)).astype(np.float32)


def place_baseline(maps: Sequence[np.ndarray]) -> np.ndarray:
    """Per place: the PLACE_QUANTILE of these good maps (stretched to their median grid), centred."""
    stack = _stack(maps)
    k = int(PLACE_QUANTILE * (len(stack) - 1))
    return _centred(np.partition(stack, k, axis=0)[k])


def place_baselines_without_each(maps: Sequence[np.ndarray]) -> list[np.ndarray]:
    """For each map, place_baseline of all the others: a good part's own map must not lower its own score
    (its leave-one-out score would run below a new part's, and the threshold with it)."""
    stack = _stack(maps)
    n = len(stack)
    k = int(PLACE_QUANTILE * (n - 2))  # the same order statistic among n - 1
    order = np.argsort(stack, axis=0, kind="stable")
    srt = np.take_along_axis(stack, order, axis=0)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(n)[:, None, None], order.shape), axis=0)
    # without map j, the k-th of the rest is srt[k] if j ranks above it, else srt[k + 1]
    return [_centred(np.where(rank[j] > k, srt[k], srt[k + 1])) for j in range(n)]
