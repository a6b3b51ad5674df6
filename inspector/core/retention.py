"""Per-project retention: how long live results are kept, how many parts may wait for review, how long
the images of discarded parts stay, and how often maintenance runs. Stored as meta rows in
project.sqlite, so the CLI, the GUI and the live line of one project share one policy.

What retention removes, and what it never does:
- results.sqlite rows older than results_days (0 = keep for ever);
- the oldest unreviewed parts beyond review_queue_max (0 = no limit): their row and image file go.
  Labelled parts are never dropped, and an unreviewed part with audit history (it was labelled once,
  then undone) is marked discarded by "retention" instead, so no audit row is ever lost;
- image files of parts discarded more than discarded_days ago (0 = keep): the row and its audit stay,
  and the image is listed in pruned_images, so opening the project does not report it missing.
"""
from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass

from inspector.core.errors import ConfigError

# Generous defaults that still bound growth: a year of results is the usual traceability need; a
# review queue of 10,000 parts is weeks of flagged parts at the queue's 12-a-minute rate limit.
DEFAULT_RESULTS_DAYS = 365
DEFAULT_REVIEW_QUEUE_MAX = 10_000
DEFAULT_DISCARDED_DAYS = 30
DEFAULT_EVERY_H = 24.0
RETENTION_USER = "retention"

_FIELDS = {  # meta key -> (type, smallest allowed, what to type)
    "results_days": (int, 0, "whole days (0 keeps results for ever)"),
    "review_queue_max": (int, 0, "a number of parts (0 = no limit)"),
    "discarded_days": (int, 0, "whole days (0 keeps images of discarded parts)"),
    "every_h": (float, 0, "hours between automatic runs (0 = only when asked)"),
}

PRUNED_TABLE = """
CREATE TABLE IF NOT EXISTS pruned_images (
    sample_id INTEGER PRIMARY KEY REFERENCES samples(id),
    at REAL NOT NULL,
    reason TEXT NOT NULL
)"""


@dataclass(frozen=True)
class RetentionPolicy:
    results_days: int = DEFAULT_RESULTS_DAYS
    review_queue_max: int = DEFAULT_REVIEW_QUEUE_MAX
    discarded_days: int = DEFAULT_DISCARDED_DAYS
    every_h: float = DEFAULT_EVERY_H  # the GUI's schedule

    def to_dict(self) -> dict:
        return asdict(self)


def check_value(name: str, value) -> int | float:
    """One setting parsed and checked; ConfigError (one line) when it is not usable."""
    if name not in _FIELDS:
        raise ConfigError(f"retention setting {name!r} is not known — use one of {', '.join(_FIELDS)}")
    kind, low, what = _FIELDS[name]
    try:
        v = kind(float(value)) if kind is int and float(value) == int(float(value)) else kind(value)
    except (TypeError, ValueError, OverflowError):
        raise ConfigError(f"retention {name} {value!r} is not a number — give {what}") from None
    if v != v or v < low or v > 10**9:
        raise ConfigError(f"retention {name} {value!r} is out of range — give {what}")
    return v


def load_policy(project) -> RetentionPolicy:
    """The project's policy; a damaged meta value falls back to its default rather than stopping."""
    values = {}
    for name in _FIELDS:
        raw = project.get_meta(f"retention.{name}")
        if raw is None:
            continue
        try:
            values[name] = check_value(name, raw)
        except ConfigError:
            pass
    return RetentionPolicy(**values)


def save_policy(project, **changes) -> RetentionPolicy:
    """Set some settings (None = leave as is), in one transaction; returns the new policy."""
    checked = {k: check_value(k, v) for k, v in changes.items() if v is not None}
    with project.transaction():
        for name, v in checked.items():
            project.set_meta(f"retention.{name}", repr(v))
    return load_policy(project)


def ensure_pruned_table(db: sqlite3.Connection) -> None:
    db.execute(PRUNED_TABLE)


def pruned_names(db: sqlite3.Connection) -> set[str]:
    """"<hash>.<ext>" of images retention removed on purpose (empty for a project never pruned)."""
    try:
        rows = db.execute("SELECT s.image_hash, s.ext FROM pruned_images p JOIN samples s ON s.id = p.sample_id")
        return {f"{h}.{e}" for h, e in rows}
    except sqlite3.OperationalError:  # no such table: retention never removed an image here
        return set()
