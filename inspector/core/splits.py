"""Train/validation split rule: stratified per class, derived from the image hash, never moved once set."""
from __future__ import annotations

import math
from fractions import Fraction

from inspector.core.errors import ProjectError

SPLITS = ("train", "val", "golden")


def hash_fraction(image_hash: str) -> float:
    """A number in [0, 1) fixed by the image content: the first 8 hex digits of its sha256 / 2**32."""
    return int(image_hash[:8], 16) / 2**32


def choose_split(image_hash: str, n_labelled: int, n_val: int, val_fraction: float | str) -> str:
    """Split for a newly labelled sample of a class that already has n_labelled train/val samples,
    n_val of them in val. Keeps the class's val count within one of val_fraction * n."""
    # Exact arithmetic: 0.2 * 15 in floats is 3.0000000000000004, whose ceil would be 4.
    fraction = Fraction(str(val_fraction))
    target = fraction * (n_labelled + 1)
    if n_val < math.floor(target):
        return "val"
    if n_val + 1 > math.ceil(target):
        return "train"
    return "val" if hash_fraction(image_hash) < fraction else "train"


def parse_val_fraction(value: str | float) -> float:
    """A validation fraction from the meta table or the user; 0 <= f < 1."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        f = -1.0
    if not 0.0 <= f < 1.0:
        raise ProjectError(f"validation fraction {value!r} is not allowed — use a number from 0 to 0.9, e.g. 0.2")
    return f
