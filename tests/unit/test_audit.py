"""The audit trail: every change appended to one hash-chained table; editing, deleting or inserting a row
with sqlite3 makes `audit verify` fail and name the row; the old label audit migrates into it."""
from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from inspector.cli.main import main
from inspector.core import audit, project_db
from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry


def png(seed: int) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 255, (12, 12, 3), dtype=np.uint8))


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "p")
    p.add_class("good", "ok")
    p.add_class("dent", "defect")
    yield p
    p.close()


def labelled(project, n=4):
    ids = [project.add_image(png(i), source=f"cam/{i}.png").sample_id for i in range(n)]
    for i, sid in enumerate(ids):
        project.set_label(sid, "good" if i % 2 else "dent", "ana")
    return ids


def actions(project):
    return [r.action for r in audit.rows(project.db)]


def test_changes_are_chained_rows_with_user_and_role(project):
    ids = labelled(project, 2)
    project.update_class("dent", color="#112233")
    project.set_meta("live.trigger", "interval:1")
    project.set_meta("live.trigger", "interval:1")  # same value: no row
    project.set_split(ids[0], "golden", "bo")
    acts = actions(project)
    assert acts[:2] == ["class.add", "class.add"]
    assert acts.count("sample.label") == 2 and acts.count("sample.status") == 2
    assert acts[-3:] == ["class.edit", "setting", "sample.split"]
    rows = audit.rows(project.db)
    assert [r.id for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    split = rows[-1]
    assert (split.user, split.role, split.detail) == ("bo", audit.SINGLE_USER,
                                                      {"sample": ids[0], "old": split.detail["old"], "new": "golden"})
    assert audit.verify(project.db).ok and audit.verify(project.db).head == rows[-1].hash
    # The old per-sample view still reads the label rows.
    assert [(a.field, a.new) for a in project.audit(ids[1])] == [("label", "good"), ("status", "labelled")]


def test_a_label_and_its_row_commit_together(project):
    sid = project.add_image(png(0), source="a").sample_id
    before = len(audit.rows(project.db))
    with pytest.raises(Exception):
        project.set_label(sid, "no-such-class", "ana")
    assert len(audit.rows(project.db)) == before and project.sample(sid).label is None


def test_model_save_activate_rollback_delete_are_recorded_and_delete_keeps_a_tombstone(project):
    reg = ModelRegistry(project)
    write = {"w.bin": lambda p: p.write_bytes(b"weights")}
    v1 = reg.save("classifier", {}, write, summary={"arch": "mlp"}).version
    v2 = reg.save("classifier", {}, write, summary={"arch": "mlp"}).version
    reg.activate(v1, "ana")
    reg.activate(v2, "ana")
    reg.rollback("bo")
    reg.delete(v2, "bo")
    model_rows = [r for r in audit.rows(project.db, action="model.")]
    assert [(r.action, r.detail["version"]) for r in model_rows] == [
        ("model.save", v1), ("model.save", v2), ("model.activate", v1), ("model.activate", v2),
        ("model.rollback", v1), ("model.delete", v2)]
    assert model_rows[4].detail["previous"] == v2 and model_rows[4].user == "bo"
    stones = reg.tombstones()
    assert [(t["version"], t["deleted_by"]) for t in stones] == [(v2, "bo")]
    # Its activations stay: old results still point at a version with a record.
    assert project.db.execute("SELECT COUNT(*) FROM model_activations WHERE version = ?", (v2,)).fetchone()[0] == 1
    assert reg.active("classifier").version == v1
    assert audit.verify(project.db).ok


def _raw(project):
    """A second, plain connection: what someone with the sqlite3 shell can do."""
    return sqlite3.connect(str(project.root / project_db.DB_NAME), isolation_level=None)


@pytest.mark.parametrize("tamper, bad_row", [
    ("UPDATE audit_log SET detail = replace(detail, 'dent', 'good') WHERE id = 3", 3),  # edit a row
    ("UPDATE audit_log SET user = 'mallory' WHERE id = 5", 5),
    ("UPDATE audit_log SET at = at + 60 WHERE id = 6", 6),
    ("DELETE FROM audit_log WHERE id = 4", 5),  # delete one: the next row names the gap
    ("DELETE FROM audit_log WHERE id = (SELECT MAX(id) FROM audit_log)", None),  # delete the last one
    ("INSERT INTO audit_log VALUES (99, 1.0, 'mallory', 'admin', 'model.activate', '{}', 'x', 'y')", None),
])
def test_tampering_with_sqlite3_is_found_and_named(project, tmp_path, tamper, bad_row, capsys):
    labelled(project, 4)
    n = len(audit.rows(project.db))
    assert audit.verify(project.db).ok
    with _raw(project) as raw:
        raw.execute(tamper)
    raw.close()
    result = audit.verify(project.db)
    expect = {None: n if "DELETE" in tamper else 99}.get(bad_row, bad_row)
    assert not result.ok and result.bad_row == expect, result
    # The command says the same, with exit status 1.
    assert main(["audit", "verify", "--project", str(project.root)]) == 1
    out = capsys.readouterr().out
    assert f"broken at row {expect}" in out


def test_an_inserted_row_with_a_correct_hash_is_still_found(project):
    labelled(project, 2)
    last = audit.rows(project.db)[-1]
    forged_id, detail = last.id + 1, audit.canonical({"version": "v9"})
    h = audit.row_hash(last.hash, forged_id, last.at + 1, "mallory", "admin", "model.activate", detail)
    with _raw(project) as raw:
        raw.execute("INSERT INTO audit_log VALUES (?, ?, 'mallory', 'admin', 'model.activate', ?, ?, ?)",
                    (forged_id, last.at + 1, detail, last.hash, h))
    raw.close()
    result = audit.verify(project.db)
    assert not result.ok and result.bad_row == forged_id and "last one" in result.reason


def test_old_label_audit_migrates_into_the_chain(tmp_path):
    # Build a schema-1 project as the previous Inspector wrote it: the label-only `audit` table.
    with Project.init(tmp_path / "old") as p:
        p.add_class("good", "ok")
        sid = p.add_image(png(1), source="a").sample_id
    db = sqlite3.connect(str(tmp_path / "old" / project_db.DB_NAME), isolation_level=None)
    db.executescript("""
        DROP TABLE audit_log; DROP TABLE accounts; DELETE FROM meta WHERE key = 'audit_head';
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
        CREATE TABLE audit (id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL REFERENCES samples(id),
                            user TEXT NOT NULL, at REAL NOT NULL, field TEXT NOT NULL, old TEXT, new TEXT);""")
    db.executemany("INSERT INTO audit (sample_id, user, at, field, old, new) VALUES (?, ?, ?, ?, ?, ?)",
                   [(sid, "ana", 1000.5, "label", None, "good"), (sid, "ana", 1000.5, "status", "unreviewed",
                                                                 "labelled"), (sid, "bo", 2000.25, "split", "train",
                                                                              "golden")])
    db.close()
    with Project.open(tmp_path / "old") as p:
        assert p.get_meta("schema_version") == str(project_db.SCHEMA_VERSION)
        rows = audit.rows(p.db)
        assert [(r.user, r.at, r.action, r.detail["old"], r.detail["new"]) for r in rows[:3]] == [
            ("ana", 1000.5, "sample.label", None, "good"), ("ana", 1000.5, "sample.status", "unreviewed", "labelled"),
            ("bo", 2000.25, "sample.split", "train", "golden")]
        assert rows[3].action == "project.migrate" and rows[3].detail == {"from_schema": 1, "to_schema": 2}
        assert audit.verify(p.db).ok
        assert p.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit'").fetchone() is None
        assert [a.new for a in p.audit(sid)] == ["good", "labelled", "golden"]


def test_audit_command_filters_and_exports_csv(project, tmp_path, capsys):
    labelled(project, 2)
    project.set_meta("live.roi", "0,0,10,10", user="bo")
    root = str(project.root)
    assert main(["audit", "--project", root, "--user", "bo", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["action"] for r in rows] == ["setting"] and rows[0]["detail"]["key"] == "live.roi"
    assert main(["audit", "--project", root, "--since", "1h"]) == 0
    text = capsys.readouterr().out
    assert "sample.label" in text and "ana (single-user)" in text
    assert main(["audit", "--project", root, "--since", "2001-01-01", "--kind", "sample.", "--csv",
                 str(tmp_path / "a.csv")]) == 0
    lines = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,at,time_utc,user,role,action") and len(lines) == 1 + 4
    assert main(["audit", "verify", "--project", root]) == 0
    assert "audit trail whole" in capsys.readouterr().out
    assert main(["audit", "--project", root, "--since", "yesterday"]) == 2
    assert "not a time" in capsys.readouterr().err
