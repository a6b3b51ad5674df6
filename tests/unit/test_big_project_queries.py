"""Big projects stay fast: Review reads a page (LIMIT) and a count, both through indexes that every
project gets when it opens; the split of a new label comes from index-only counts. Checked on the
query plans, which do not depend on the machine's speed (bench/big_project.py measures the time)."""
import sqlite3

import pytest

from inspector.core import project_db
from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.synth import SyntheticLine


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj")
    p.add_class("good", "ok")
    p.add_class("scratch", "defect")
    line = SyntheticLine(size=(32, 32), seed=4)
    for i in range(12):
        p.add_image(encode_png(line.part(i).image), source="live:t", suggestion="scratch" if i % 3 else "good",
                    label="good" if i < 4 else None, user="ann")
    yield p
    p.close()


def _plan(db, sql, args=()):
    return " / ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql, args))


def test_a_page_and_a_count_match_the_full_list(project):
    full = project.samples(status="unreviewed", order="-added_at")
    assert project.samples(status="unreviewed", order="-added_at", limit=3) == full[:3]
    assert project.count_samples(status="unreviewed") == len(full) == 8
    by_suggestion = [s for s in full if s.suggestion == "scratch"]
    assert project.samples(status="unreviewed", suggestion="scratch", order="-added_at") == by_suggestion
    assert project.count_samples(status="unreviewed", suggestion="scratch") == len(by_suggestion)
    assert project.count_samples(label="good") == 4 and project.count_samples() == 12
    assert project.samples(limit=0) == []


def test_old_projects_get_the_indexes_when_they_open(project):
    root = project.root
    project.close()
    db = sqlite3.connect(root / project_db.DB_NAME)
    for name in ("samples_by_status_added", "samples_by_added", "samples_by_status_label"):
        db.execute(f"DROP INDEX {name}")
    db.commit()
    db.close()
    with Project.open(root) as p:
        names = {r[0] for r in p.db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"samples_by_status_added", "samples_by_added", "samples_by_status_label"} <= names


def test_review_page_counts_and_split_choice_read_indexes_not_every_row(project):
    db = project.db
    page = ("SELECT s.id FROM samples s WHERE s.status IN (?) ORDER BY s.added_at DESC, s.id LIMIT 300")
    assert "samples_by_status_added" in _plan(db, page, ("unreviewed",))
    assert "samples_by_added" in _plan(db, "SELECT id FROM samples s ORDER BY s.added_at DESC, s.id LIMIT 300")
    assert "COVERING INDEX" in _plan(db, "SELECT COUNT(*) FROM samples s WHERE s.status IN (?)", ("unreviewed",))
    split = ("SELECT COUNT(*) FROM samples WHERE status IN ('labelled', 'unreviewed') AND label_id = ? AND split = ?")
    assert "COVERING INDEX samples_by_status_label" in _plan(db, split, (1, "val"))
    counts = ("SELECT label_id, split, COUNT(*) FROM samples WHERE status = 'labelled' AND label_id IS NOT NULL "
              "GROUP BY label_id, split")
    assert "COVERING INDEX samples_by_status_label" in _plan(db, counts)
    c = project.counts()
    assert c["per_class"]["good"]["total"] == 4 and c["unreviewed"] == 8 and c["total"] == 12
