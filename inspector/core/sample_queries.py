"""The SQL that reads samples out of project.sqlite: one row, filtered pages, counts (the Project
class's readers call these with its connection)."""
from __future__ import annotations

import sqlite3
from typing import Iterable

from inspector.core import class_style
from inspector.core.errors import ProjectError
from inspector.core.project_types import Sample

ORDERS = {"id": "s.id", "added_at": "s.added_at", "captured_at": "s.captured_at",
          "labelled_at": "s.labelled_at", "suggestion_score": "s.suggestion_score"}
_SELECT = ("SELECT s.*, l.name AS label_name, g.name AS suggestion_name FROM samples s "
           "LEFT JOIN classes l ON l.id = s.label_id LEFT JOIN classes g ON g.id = s.suggestion_id")

Filter = str | Iterable[str] | None


def row_by_id(db: sqlite3.Connection, sample_id: int) -> sqlite3.Row:
    row = db.execute(_SELECT + " WHERE s.id = ?", (int(sample_id),)).fetchone()
    if row is None:
        raise ProjectError(f"sample #{sample_id} does not exist in this project — it may have been removed")
    return row


def by_hash(db: sqlite3.Connection, image_hash: str) -> Sample | None:
    row = db.execute(_SELECT + " WHERE s.image_hash = ?", (image_hash,)).fetchone()
    return to_sample(row) if row else None


def select(db: sqlite3.Connection, *, status: Filter = None, split: Filter = None, label: str | None = None,
           kind: str | None = None, suggestion: str | None = None, order: str = "id",
           limit: int | None = None) -> list[Sample]:
    """Filtered samples, in `order` (a key of ORDERS; prefix '-' for descending), the first `limit` only."""
    where, args = _filter(status, split, label, kind, suggestion)
    column = ORDERS.get(order.lstrip("-"))
    if column is None:
        raise ProjectError(f"sample order {order!r} is not known — use one of {', '.join(ORDERS)}")
    sql = _SELECT + where + f" ORDER BY {column} {'DESC' if order.startswith('-') else 'ASC'}, s.id"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(max(0, int(limit)))
    return [to_sample(r) for r in db.execute(sql, args)]


def count(db: sqlite3.Connection, *, status: Filter = None, split: Filter = None, label: str | None = None,
          kind: str | None = None, suggestion: str | None = None) -> int:
    """How many select() would list, without reading them (joining the classes only when filtered by them)."""
    where, args = _filter(status, split, label, kind, suggestion)
    joins = (" LEFT JOIN classes l ON l.id = s.label_id" if label is not None or kind is not None else "") + \
            (" LEFT JOIN classes g ON g.id = s.suggestion_id" if suggestion is not None else "")
    return db.execute(f"SELECT COUNT(*) FROM samples s{joins}{where}", args).fetchone()[0]


def to_sample(r: sqlite3.Row) -> Sample:
    return Sample(r["id"], r["image_hash"], r["ext"], r["width"], r["height"], r["source"], r["captured_at"],
                  r["added_at"], r["label_name"], r["labelled_by"], r["labelled_at"], r["status"], r["split"],
                  r["suggestion_name"], r["suggestion_score"], r["byte_size"])


def _filter(status, split, label, kind, suggestion) -> tuple[str, list]:
    where, args = [], []
    for column, value in (("s.status", status), ("s.split", split)):
        if value is not None:
            values = [value] if isinstance(value, str) else list(value)
            where.append(f"{column} IN ({', '.join('?' * len(values))})")
            args += values
    for column, value in (("l.name", label), ("g.name", suggestion)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if kind is not None:
        where.append("l.kind = ?")
        args.append(class_style.check_kind(kind))
    return (" WHERE " + " AND ".join(where) if where else ""), args
