"""Adapter for Ctrl+Z in the review queue: Project has no call that takes a label back to
"unreviewed", so this puts a sample's label and status back as they were, in one transaction,
with audit rows naming who undid it. (Belongs in Project as unlabel/undo; reported to the lead.)
The split stays: a stored split never moves, and only labelled samples are ever trained on."""
from __future__ import annotations

import time

from inspector.core.errors import ProjectError


def restore_label_state(project, sample_id: int, label: str | None, status: str, labelled_by: str | None,
                        labelled_at: float | None, user: str) -> None:
    if status not in ("unreviewed", "labelled", "discarded"):
        raise ProjectError(f"status {status!r} is not known — cannot undo")
    with project.transaction() as db:
        now = project.sample(sample_id)
        class_id = None
        if label is not None:
            cls = project.class_by_name(label)
            if cls is None:
                raise ProjectError(f"class {label!r} no longer exists — relabel part #{sample_id} instead of undoing")
            class_id = cls.id
        db.execute("UPDATE samples SET label_id = ?, labelled_by = ?, labelled_at = ?, status = ? WHERE id = ?",
                   (class_id, labelled_by, labelled_at, status, sample_id))
        at = time.time()
        for field, old, new in (("label", now.label, label), ("status", now.status, status)):
            if old != new:
                db.execute("INSERT INTO audit (sample_id, user, at, field, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                           (sample_id, user, at, field, old, new))
