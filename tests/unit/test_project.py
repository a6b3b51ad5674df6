"""Project store: layout and SQLite settings, adding images, labels, audit, splits, counts, recovery."""
from __future__ import annotations

import hashlib
import math
import random
import sqlite3
import threading
import time

import numpy as np
import pytest

from inspector.core import project_db
from inspector.core.errors import ImageDecodeError, ProjectError
from inspector.core.imageio import decode_image, encode_png
from inspector.core.project import Project
from inspector.core.splits import choose_split


def png(seed: int, size: int = 16) -> bytes:
    rng = np.random.default_rng(seed)
    return encode_png(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))


def stored_files(project: Project) -> list:
    return sorted(p for p in project.images_dir.rglob("*") if p.is_file())


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj", name="Test line")
    p.add_class("good", "ok")
    p.add_class("scratch")
    p.add_class("dent")
    yield p
    p.close()


# -- layout, settings, opening -------------------------------------------------------------------
def test_init_creates_layout_with_wal_full_sync_and_foreign_keys(tmp_path):
    with Project.init(tmp_path / "p", name="Line 3") as p:
        assert (p.root / "project.sqlite").is_file()
        assert p.images_dir.is_dir() and p.models_dir.is_dir()
        assert p.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert p.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert p.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert p.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert p.get_meta("schema_version") == str(project_db.SCHEMA_VERSION)
        assert p.name == "Line 3"
        assert p.val_fraction == pytest.approx(0.2)
    with Project.open(tmp_path / "p") as p:
        assert p.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert p.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_init_refuses_existing_project_and_non_empty_folder(tmp_path):
    Project.init(tmp_path / "p").close()
    with pytest.raises(ProjectError, match="already an Inspector project"):
        Project.init(tmp_path / "p")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("x")
    with pytest.raises(ProjectError, match="not empty"):
        Project.init(tmp_path / "full")
    (tmp_path / "hidden_only").mkdir()
    (tmp_path / "hidden_only" / ".DS_Store").write_text("x")
    Project.init(tmp_path / "hidden_only").close()


def test_open_non_project_folder_gives_one_line_advice(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(ProjectError) as e:
        Project.open(tmp_path / "photos")
    msg = str(e.value)
    assert "\n" not in msg
    assert "is not an Inspector project" in msg and "inspector project init" in msg
    with pytest.raises(ProjectError, match="does not exist"):
        Project.open(tmp_path / "nowhere")


def test_open_refuses_project_from_newer_inspector(tmp_path):
    with Project.init(tmp_path / "p") as p:
        p.set_meta("schema_version", "99")
    with pytest.raises(ProjectError, match="newer Inspector"):
        Project.open(tmp_path / "p")


def test_open_refuses_a_foreign_sqlite_file(tmp_path):
    (tmp_path / "p").mkdir()
    sqlite3.connect(tmp_path / "p" / "project.sqlite").execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(ProjectError, match="not an Inspector project database"):
        Project.open(tmp_path / "p")


# -- classes -------------------------------------------------------------------------------------
def test_classes_get_distinct_colours_and_shortcuts(tmp_path):
    with Project.init(tmp_path / "p") as p:
        ok = p.add_class("good", "ok")
        defects = [p.add_class(f"d{i}") for i in range(10)]
        assert ok.shortcut == "0" and ok.color == "#2ca02c"
        assert [d.shortcut for d in defects[:9]] == list("123456789")
        assert defects[9].shortcut is None
        colors = [c.color for c in p.classes()]
        assert len(set(colors)) == len(colors)
        assert p.add_class("good", "ok") == ok  # existing name returns it
        with pytest.raises(ProjectError, match="already exists as kind"):
            p.add_class("good", "defect")
        with pytest.raises(ProjectError, match="already used"):
            p.update_class("d9", shortcut="1")
        renamed = p.update_class("d9", shortcut="q", color="#123456", new_name="crack")
        assert (renamed.name, renamed.shortcut, renamed.color, renamed.id) == ("crack", "q", "#123456", defects[9].id)
        for bad in ("", " x", "a/b", "..", "_unlabelled", "a:b"):
            with pytest.raises(ProjectError):
                p.add_class(bad)
        with pytest.raises(ProjectError, match="colour"):
            p.add_class("x", color="red")


# -- adding images -------------------------------------------------------------------------------
def test_add_stores_content_addressed_file_and_row(project):
    data = png(1)
    r = project.add_image(data, source="camera-1", captured_at=1000.0)
    digest = hashlib.sha256(data).hexdigest()
    assert r.image_hash == digest and not r.duplicate
    s = project.sample(r.sample_id)
    assert (s.ext, s.width, s.height, s.byte_size, s.source, s.captured_at) == ("png", 16, 16, len(data), "camera-1", 1000.0)
    assert s.status == "unreviewed" and s.label is None and s.split is None
    path = project.image_path(s)
    assert path == project.images_dir / digest[:2] / f"{digest}.png"
    assert path.read_bytes() == data
    assert project.image_path(digest) == path
    assert np.array_equal(project.read_image(s), decode_image(data))


def test_same_bytes_again_is_a_duplicate_and_stores_nothing(project):
    data = png(2)
    first = project.add_image(data, source="a")
    again = project.add_image(data, source="b", label="good", user="ann")
    assert again == type(first)(first.sample_id, first.image_hash, True)
    assert len(stored_files(project)) == 1
    assert project.counts()["total"] == 1
    assert project.sample(first.sample_id).source == "a"


def test_add_from_path(project, tmp_path):
    f = tmp_path / "ÖK bild.png"
    f.write_bytes(png(3))
    r = project.add_image(f, source=str(f))
    assert project.image_path(project.sample(r.sample_id)).read_bytes() == f.read_bytes()


@pytest.mark.parametrize("data", [b"", b"hello, I am text", png(4)[:200]])
def test_undecodable_image_writes_nothing(project, data):
    with pytest.raises(ImageDecodeError):
        project.add_image(data, source="bad.png")
    assert stored_files(project) == []
    assert project.counts()["total"] == 0


def test_unknown_label_writes_nothing(project):
    with pytest.raises(ProjectError, match="does not exist"):
        project.add_image(png(5), source="x", label="nope", user="ann")
    with pytest.raises(ProjectError, match="user"):
        project.add_image(png(5), source="x", label="good")
    assert stored_files(project) == [] and project.counts()["total"] == 0


def test_failed_insert_removes_the_file_it_wrote(project):
    # A real failure after the file is in place: a trigger makes the INSERT abort.
    project.db.execute("CREATE TRIGGER no_insert BEFORE INSERT ON samples BEGIN SELECT RAISE(ABORT, 'boom'); END")
    with pytest.raises(sqlite3.IntegrityError):
        project.add_image(png(6), source="x")
    assert stored_files(project) == []
    project.db.execute("DROP TRIGGER no_insert")
    assert not project.add_image(png(6), source="x").duplicate


# -- labels, status, audit -----------------------------------------------------------------------
def test_every_label_change_is_audited(project):
    sid = project.add_image(png(7), source="x", label="scratch", user="ann").sample_id
    s = project.sample(sid)
    assert (s.label, s.labelled_by, s.status) == ("scratch", "ann", "labelled") and s.labelled_at
    project.set_label(sid, "dent", "bob")
    project.set_label(sid, "dent", "bob")  # no change, no audit row
    project.set_label(sid, "scratch", "cy")
    labels = [(a.user, a.old, a.new) for a in project.audit(sid) if a.field == "label"]
    assert labels == [("ann", None, "scratch"), ("bob", "scratch", "dent"), ("cy", "dent", "scratch")]
    assert all(a.at > 0 and a.sample_id == sid for a in project.audit(sid))
    assert project.sample(sid).labelled_by == "cy"


def test_status_changes_are_audited(project):
    sid = project.add_image(png(8), source="x").sample_id
    project.discard(sid, "ann")
    assert project.sample(sid).status == "discarded"
    project.restore(sid, "bob")
    assert project.sample(sid).status == "unreviewed"
    project.set_label(sid, "good", "cy")
    project.discard(sid, "dan")
    project.restore(sid, "eve")
    assert project.sample(sid).status == "labelled"
    statuses = [(a.user, a.old, a.new) for a in project.audit(sid) if a.field == "status"]
    assert statuses == [("ann", "unreviewed", "discarded"), ("bob", "discarded", "unreviewed"),
                        ("cy", "unreviewed", "labelled"), ("dan", "labelled", "discarded"),
                        ("eve", "discarded", "labelled")]
    project.set_split(sid, "golden", "fay")
    assert project.audit(sid)[-1].field == "split" and project.audit(sid)[-1].new == "golden"
    assert [a.sample_id for a in project.audit()] == [sid] * len(project.audit(sid))


def test_undo_puts_label_and_status_back_audited(project):
    sid = project.add_image(png(9), source="x").sample_id
    project.set_label(sid, "scratch", "ann")
    split = project.sample(sid).split
    project.restore_label_state(sid, None, "unreviewed", None, None, "bob")
    s = project.sample(sid)
    assert (s.label, s.status, s.labelled_by, s.split) == (None, "unreviewed", None, split)  # the split stays
    assert [(a.user, a.field, a.old, a.new) for a in project.audit(sid)][-2:] == [
        ("bob", "label", "scratch", None), ("bob", "status", "labelled", "unreviewed")]
    project.set_label(sid, "dent", "cy")
    project.restore_label_state(sid, "scratch", "labelled", "ann", 1.0, "dan")
    assert (project.sample(sid).label, project.sample(sid).labelled_by) == ("scratch", "ann")
    with pytest.raises(ProjectError, match="does not go with"):
        project.restore_label_state(sid, "dent", "unreviewed", None, None, "eve")
    with pytest.raises(ProjectError, match="no longer exists"):
        project.restore_label_state(sid, "gone", "labelled", "ann", 1.0, "eve")
    assert project.sample(sid).label == "scratch"  # a refused undo changes nothing


def test_suggestions_and_filters(project):
    ids = [project.add_image(png(10 + i), source="x", captured_at=100.0 - i).sample_id for i in range(4)]
    project.set_label(ids[0], "good", "ann")
    project.set_label(ids[1], "scratch", "ann")
    project.set_suggestion(ids[2], "dent", 0.9)
    project.set_suggestion(ids[3], "good", 0.4)
    assert project.sample(ids[2]).suggestion == "dent" and project.sample(ids[2]).suggestion_score == 0.9
    assert [s.id for s in project.samples(status="unreviewed")] == ids[2:]
    assert [s.id for s in project.samples(kind="defect")] == [ids[1]]
    assert [s.id for s in project.samples(label="good")] == [ids[0]]
    assert [s.id for s in project.samples(order="captured_at")] == ids[::-1]
    assert [s.id for s in project.samples(status="unreviewed", order="-suggestion_score")] == [ids[2], ids[3]]
    project.set_suggestion(ids[2], None, None)
    assert project.sample(ids[2]).suggestion is None
    with pytest.raises(ProjectError, match="order"):
        project.samples(order="name; DROP TABLE samples")
    with pytest.raises(ProjectError, match="does not exist"):
        project.sample(999)


def test_counts(project):
    for i in range(10):
        project.add_image(png(100 + i), source="x", label="good", user="a")
    for i in range(5):
        project.add_image(png(200 + i), source="x", label="scratch", user="a")
    extra = [project.add_image(png(300 + i), source="x").sample_id for i in range(3)]
    project.discard(extra[0], "a")
    c = project.counts()
    assert c["per_class"]["good"] == {"train": 8, "val": 2, "golden": 0, "total": 10}
    assert c["per_class"]["scratch"] == {"train": 4, "val": 1, "golden": 0, "total": 5}
    assert c["per_class"]["dent"]["total"] == 0
    assert (c["labelled"], c["unreviewed"], c["discarded"], c["total"]) == (15, 2, 1, 18)


def test_snapshot_hash_follows_labels(project):
    ids = [project.add_image(png(400 + i), source="x", label="good", user="a").sample_id for i in range(4)]
    before = project.snapshot_hash()
    project.add_image(png(499), source="x")  # unlabelled: not part of the dataset
    assert project.snapshot_hash() == before
    project.set_label(ids[0], "dent", "a")
    changed = project.snapshot_hash()
    assert changed != before
    project.set_label(ids[0], "good", "a")
    assert project.snapshot_hash() == before
    project.discard(ids[1], "a")
    assert project.snapshot_hash() != before
    assert project.snapshot_hash(project.samples()) == project.snapshot_hash()


# -- splits --------------------------------------------------------------------------------------
def _labelled_hashes(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [hashlib.sha256(rng.randbytes(16)).hexdigest() for _ in range(n)]


def test_split_rule_keeps_every_class_within_one_sample_of_target():
    # Pure rule, many orders: after every addition the class's val count is floor or ceil of 0.2 n.
    for seed in range(20):
        n = v = 0
        for h in _labelled_hashes(200, seed):
            v += choose_split(h, n, v, 0.2) == "val"
            n += 1
            assert math.floor(0.2 * n + 1e-9) <= v <= math.ceil(0.2 * n - 1e-9), (seed, n, v)


def test_splits_are_stratified_stable_and_independent_of_other_classes(tmp_path):
    a = [png(1000 + i, 8) for i in range(40)]
    b = [png(2000 + i, 8) for i in range(23)]
    with Project.init(tmp_path / "one") as p1, Project.init(tmp_path / "two") as p2:
        for p in (p1, p2):
            p.add_class("scratch")
            p.add_class("dent")
        first = {}
        for i, data in enumerate(a[:30]):
            r = p1.add_image(data, source="x", label="scratch", user="u")
            first[r.image_hash] = p1.sample(r.sample_id).split
            n = i + 1
            v = sum(1 for s in p1.samples(label="scratch") if s.split == "val")
            assert abs(v - 0.2 * n) <= 1
        # p2 gets the same scratch images, interleaved with an unrelated class.
        for i, data in enumerate(a[:30]):
            p2.add_image(data, source="x", label="scratch", user="u")
            if i < len(b):
                p2.add_image(b[i], source="x", label="dent", user="u")
        assert {s.image_hash: s.split for s in p2.samples(label="scratch")} == first
        # More data and relabelling never move a stored split.
        for data in a[30:]:
            p1.add_image(data, source="x", label="scratch", user="u")
        for s in p1.samples(label="scratch")[:5]:
            p1.set_label(s.id, "dent", "u")
        after = {s.image_hash: s.split for s in p1.samples()}
        assert all(after[h] == split for h, split in first.items())
        for label in ("scratch", "dent"):
            ss = p1.samples(label=label)
            assert all(s.split in ("train", "val") for s in ss)


def test_split_is_assigned_on_first_label_only(project):
    sid = project.add_image(png(500), source="x").sample_id
    assert project.sample(sid).split is None
    project.set_label(sid, "scratch", "u")
    split = project.sample(sid).split
    assert split in ("train", "val")
    project.set_split(sid, "golden", "u")
    project.set_label(sid, "dent", "u")
    assert project.sample(sid).split == "golden"
    with pytest.raises(ProjectError, match="split"):
        project.set_split(sid, "test", "u")


def test_different_add_orders_give_val_counts_within_one(tmp_path):
    images = [png(3000 + i, 8) for i in range(25)]
    counts = []
    for k, order in enumerate([images, images[::-1], random.Random(1).sample(images, len(images))]):
        with Project.init(tmp_path / f"p{k}") as p:
            p.add_class("scratch")
            for data in order:
                p.add_image(data, source="x", label="scratch", user="u")
            counts.append(p.counts()["per_class"]["scratch"]["val"])
    assert counts == [5, 5, 5]  # 25 samples: 0.2 * 25 is exact, so every order gives 5


# -- recovery and concurrency --------------------------------------------------------------------
def test_open_quarantines_temp_and_orphan_files_and_reports_missing(tmp_path):
    with Project.init(tmp_path / "p") as p:
        kept = p.add_image(png(600), source="x")
        gone = p.add_image(png(601), source="x")
        p.image_path(p.sample(gone.sample_id)).unlink()
        orphan_hash = "ab" + "0" * 62
        (p.images_dir / "ab").mkdir(exist_ok=True)
        (p.images_dir / "ab" / f"{orphan_hash}.png").write_bytes(png(602))
        (p.images_dir / "ab" / ".tmp-123-abcd.part").write_bytes(b"half")
        (p.images_dir / "README.txt").write_text("not ours: left alone")
    with Project.open(tmp_path / "p") as p:
        r = p.recovery
        assert r.temp_files == 1 and r.orphan_images == 1 and r.orphan_models == []
        assert r.missing_files == [f"{gone.image_hash}.png"]
        assert sorted(r.moved) == ["images/ab/.tmp-123-abcd.part", f"images/ab/{orphan_hash}.png"]
        assert p.image_path(p.sample(kept.sample_id)).is_file()
        assert not (p.images_dir / "ab" / f"{orphan_hash}.png").exists()
        assert (p.images_dir / "README.txt").exists()
        # moved, not deleted: the same bytes at the same relative place in the quarantine folder
        (folder,) = r.quarantine
        assert folder.startswith("quarantine/")
        assert (p.root / folder / "images" / "ab" / f"{orphan_hash}.png").read_bytes() == png(602)
        assert (p.root / folder / "images" / "ab" / ".tmp-123-abcd.part").read_bytes() == b"half"
        line = r.line()
        assert "\n" not in line and folder in line and "1 image file(s)" in line and "missing" in line
    with Project.open(tmp_path / "p") as p:  # nothing new to move: no second quarantine folder
        assert p.recovery.moved == [] and p.recovery.quarantine == []
        assert len(list((p.root / "quarantine").iterdir())) == 1


def test_restoring_an_older_database_loses_no_newer_images_or_models(tmp_path):
    import shutil

    from inspector.core.registry import ModelRegistry

    def save_model(p, text):
        return ModelRegistry(p).save("classifier", {}, {"w.bin": lambda path: path.write_bytes(text)}, summary={})

    with Project.init(tmp_path / "p") as p:
        old = p.add_image(png(900), source="x")
        save_model(p, b"v1 weights")
    shutil.copy(tmp_path / "p" / "project.sqlite", tmp_path / "backup.sqlite")  # closed: no WAL left over
    with Project.open(tmp_path / "p") as p:
        new = [p.add_image(png(901 + i), source="x") for i in range(3)]
        save_model(p, b"v2 weights")
        new_files = {f"{r.image_hash}.png": p.image_path(f"{r.image_hash}.png").read_bytes() for r in new}
    shutil.copy(tmp_path / "backup.sqlite", tmp_path / "p" / "project.sqlite")
    with Project.open(tmp_path / "p") as p:
        r = p.recovery
        assert r.orphan_images == 3 and r.orphan_models == ["v2"] and r.missing_files == []
        assert [s.image_hash for s in p.samples()] == [old.image_hash]
        (folder,) = r.quarantine
        q = p.root / folder
        assert {f.name: f.read_bytes() for f in (q / "images").rglob("*.png")} == new_files
        assert (q / "models" / "v2" / "w.bin").read_bytes() == b"v2 weights"
        assert sorted(d.name for d in p.models_dir.iterdir()) == ["v1"]
        assert "model folder(s) v2" in r.line() and "3 image file(s)" in r.line()
        # the project goes on: the next model takes the free number again, the quarantined one stays
        assert save_model(p, b"new v2").version == "v2"
        assert (q / "models" / "v2" / "w.bin").read_bytes() == b"v2 weights"


def test_transaction_rolls_back_on_error(project):
    sid = project.add_image(png(700), source="x").sample_id
    with pytest.raises(RuntimeError):
        with project.transaction():
            project.set_label(sid, "good", "u")  # nested: a savepoint inside the outer transaction
            raise RuntimeError("stop")
    assert project.sample(sid).label is None and project.audit(sid) == []


def test_second_connection_waits_for_the_writer_and_both_writes_land(tmp_path):
    p1 = Project.init(tmp_path / "p")
    p2 = Project.open(tmp_path / "p")
    try:
        result = {}
        with p1.transaction():
            p1.add_image(png(800), source="gui")
            t = threading.Thread(target=lambda: result.setdefault("r", p2.add_image(png(801), source="cli")))
            t.start()
            time.sleep(0.3)
            assert "r" not in result  # blocked on the write lock, not failed
        t.join(10)
        assert not result["r"].duplicate
        assert {s.source for s in p1.samples()} == {"gui", "cli"}
        assert p1.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        p1.close()
        p2.close()
