"""ImageFolder import (bad files, duplicates, masks, non-ASCII names, cancel) and export roundtrips."""
from __future__ import annotations

import hashlib
import shutil

import cv2
import numpy as np
import pytest

from inspector.core.cancel import CancelToken
from inspector.core.errors import ProjectError
from inspector.core.exporter import MARKER, export_imagefolder
from inspector.core.imageio import encode_png
from inspector.core.importer import import_imagefolder
from inspector.core.project import Project


def png(seed: int, size: int = 16) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


def jpg(seed: int, size: int = 24) -> bytes:
    img = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return buf.tobytes()


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def assert_store_consistent(project: Project):
    files = {p.name for p in project.images_dir.rglob("*") if p.is_file()}
    rows = {f"{s.image_hash}.{s.ext}" for s in project.samples()}
    assert files == rows
    for s in project.samples():
        assert hashlib.sha256(project.image_path(s).read_bytes()).hexdigest() == s.image_hash


def labels_by_hash(project: Project) -> dict:
    return {s.image_hash: (s.label, s.split) for s in project.samples(status="labelled")}


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj")
    yield p
    p.close()


def test_import_mixed_folder_reports_every_bad_file(project, tmp_path):
    src = tmp_path / "src"
    for i in range(6):
        write(src / "good" / f"g{i}.png", png(i))
    write(src / "good" / "copy_of_g0.png", png(0))  # duplicate inside the import
    for i in range(4):
        write(src / "Scratch" / "day1" / f"s{i}.jpg", jpg(100 + i))
    write(src / "Scratch" / "empty.png", b"")
    write(src / "Scratch" / "cut.jpg", jpg(200)[:300])
    write(src / "Scratch" / "text.jpg", b"this is not a picture\n")
    write(src / "Scratch" / "notes.txt", b"operator notes")
    write(src / "Scratch" / ".DS_Store", b"\0\0")
    write(src / "stray.png", png(300))

    seen = []
    summary = import_imagefolder(project, src, user="ann", progress=lambda d, t: seen.append((d, t)))

    assert summary.added == 10
    assert summary.duplicates == 1
    assert summary.per_class == {"Scratch": 4, "good": 6}
    rejected = dict(summary.rejected)
    assert set(rejected) == {"Scratch/empty.png", "Scratch/cut.jpg", "Scratch/text.jpg", "Scratch/notes.txt",
                             "stray.png"}
    assert "empty" in rejected["Scratch/empty.png"]
    assert "truncated" in rejected["Scratch/cut.jpg"] or "corrupt" in rejected["Scratch/cut.jpg"]
    assert "text" in rejected["Scratch/text.jpg"]
    assert "not an image file" in rejected["Scratch/notes.txt"]
    assert all("\n" not in why for why in rejected.values())
    assert project.class_by_name("good").kind == "ok" and project.class_by_name("Scratch").kind == "defect"
    assert all(s.labelled_by == "ann" for s in project.samples())
    assert seen[-1] == (seen[-1][1], seen[-1][1]) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    text = str(summary)
    assert "Added 10 image(s) (Scratch 4, good 6)." in text and "1 duplicate" in text and "5 file(s) rejected" in text
    assert "Scratch/cut.jpg" in text
    assert_store_consistent(project)

    again = import_imagefolder(project, src, user="ann")
    assert (again.added, again.duplicates, len(again.rejected)) == (0, 11, 5)


def test_magnetic_tile_layout_imports_pictures_not_masks(project, tmp_path):
    src = tmp_path / "Magnetic-tile-defect-datasets"
    for cls, base in (("MT_Blowhole", 0), ("MT_Crack", 10), ("OK", 20)):
        for i in range(3):
            write(src / cls / "Imgs" / f"exp1_num_{base + i}.jpg", jpg(base + i))
            mask = np.zeros((24, 24), np.uint8)
            mask[5:9, 5:9] = 255
            write(src / cls / "Imgs" / f"exp1_num_{base + i}.png", encode_png(mask))
    write(src / "MT_Crack" / "masks" / "m0.png", png(99))
    write(src / "masks" / "loose.png", png(98))
    summary = import_imagefolder(project, src)
    assert summary.added == 9 and summary.masks_skipped == 9 and summary.rejected == []
    assert {s.ext for s in project.samples()} == {"jpg"}
    assert project.class_by_name("OK").kind == "ok"
    assert project.class_by_name("masks") is None
    assert {c.name for c in project.classes()} == {"MT_Blowhole", "MT_Crack", "OK"}


def test_non_ascii_names_roundtrip(project, tmp_path):
    src = tmp_path / "Prüfung 傷"
    write(src / "Kratzer_ä" / "bild_ö 1.png", png(1))
    write(src / "傷" / "写真.png", png(2))
    write(src / "gut" / "Ärger.jpg", jpg(3))
    summary = import_imagefolder(project, src)
    assert summary.added == 3 and summary.rejected == []
    assert {s.label for s in project.samples()} == {"Kratzer_ä", "傷", "gut"}
    assert any("写真.png" in s.source for s in project.samples())
    out = tmp_path / "ausgabe ö"
    export_imagefolder(project, out)
    assert sorted(p.parent.name for p in out.rglob("*.*") if p.name != MARKER) == sorted(["Kratzer_ä", "傷", "gut"])


def test_export_roundtrip_gives_identical_hashes_labels_and_splits(project, tmp_path):
    src = tmp_path / "src"
    for i in range(12):
        write(src / "good" / f"{i}.png", png(i))
    for i in range(7):
        write(src / "dent" / f"{i}.jpg", jpg(50 + i))
    import_imagefolder(project, src)
    out = tmp_path / "export"
    info = export_imagefolder(project, out)
    assert info["total"] == 19 and info["written"] == 19 and info["per_class"] == {"good": 12, "dent": 7}
    for s in project.samples(status="labelled"):
        exported = out / s.label / f"{s.image_hash[:16]}.{s.ext}"
        assert exported.read_bytes() == project.image_path(s).read_bytes()
    assert not list(out.rglob(".tmp-*"))

    with Project.init(tmp_path / "copy") as copy:
        summary = import_imagefolder(copy, out)
        assert summary.added == 19 and summary.rejected == []
        # Hash-ordered import: the same images give the same splits, not just the same labels.
        assert labels_by_hash(copy) == labels_by_hash(project)
        assert copy.snapshot_hash() == project.snapshot_hash()


def test_same_images_in_another_order_get_the_same_splits(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for i in range(23):
        write(a / "scratch" / f"{i:03d}.png", png(i))
        write(b / "scratch" / f"{99 - i:03d}_renamed.png", png(i))  # reversed names, so reversed order
    for i in range(11):
        write(a / "ok" / f"{i}.png", png(500 + i))
        write(b / "ok" / "nested" / f"z{i}.png", png(500 + i))
    with Project.init(tmp_path / "pa") as pa, Project.init(tmp_path / "pb") as pb:
        import_imagefolder(pa, a)
        import_imagefolder(pb, b)
        assert pa.counts()["per_class"] == pb.counts()["per_class"]
        assert labels_by_hash(pa) == labels_by_hash(pb)
        val = pa.counts()["per_class"]["scratch"]["val"]
        assert abs(val - 0.2 * 23) <= 1


def test_duplicates_label_unlabelled_samples_and_report_conflicts(project, tmp_path):
    project.add_class("good", "ok")
    unl = project.add_image(png(1), source="camera").sample_id
    lab = project.add_image(png(2), source="camera", label="good", user="ann").sample_id
    src = tmp_path / "src"
    write(src / "scratch" / "a.png", png(1))
    write(src / "scratch" / "b.png", png(2))
    summary = import_imagefolder(project, src, user="bob")
    assert summary.duplicates == 2 and summary.labelled_existing == 1 and summary.added == 0
    assert project.sample(unl).label == "scratch" and project.sample(unl).labelled_by == "bob"
    assert project.sample(lab).label == "good"
    assert summary.conflicts and "labelled 'good'" in summary.conflicts[0][1]


def test_import_refuses_missing_or_empty_sources_and_kind_clash(project, tmp_path):
    with pytest.raises(ProjectError, match="not a folder"):
        import_imagefolder(project, tmp_path / "nope")
    empty = tmp_path / "empty"
    write(empty / "notes.txt", b"x")
    with pytest.raises(ProjectError) as e:
        import_imagefolder(project, empty)
    assert "no class folders" in str(e.value) and "\n" not in str(e.value)
    project.add_class("good", "defect")
    src = tmp_path / "src"
    write(src / "good" / "a.png", png(1))
    write(src / "other" / "b.png", png(2))
    with pytest.raises(ProjectError, match="rename"):
        import_imagefolder(project, src)
    assert project.samples() == [] and project.class_by_name("other") is None


def test_a_folder_of_images_is_one_class_named_after_it(project, tmp_path):
    """`inspector import parts/good` (the good parts' folder itself) as well as `inspector import parts`."""
    write(tmp_path / "parts" / "good" / "a.png", png(1))
    write(tmp_path / "parts" / "good" / "b.png", png(2))
    write(tmp_path / "parts" / "defect" / "c.png", png(3))
    s = import_imagefolder(project, tmp_path / "parts" / "good")
    assert s.per_class == {"good": 2} and project.class_by_name("good").kind == "ok"
    s = import_imagefolder(project, tmp_path / "parts" / "defect")
    assert s.per_class == {"defect": 1} and project.class_by_name("defect").kind == "defect"
    assert sorted(x.label for x in project.samples()) == ["defect", "good", "good"]


def test_cancel_stops_cleanly_and_a_rerun_completes(project, tmp_path):
    src = tmp_path / "src"
    for i in range(20):
        write(src / "good" / f"{i}.png", png(i))
    token = CancelToken()

    def progress(done, total):
        if done >= 7:
            token.set()

    summary = import_imagefolder(project, src, progress=progress, cancel=token)
    assert summary.cancelled and summary.added == 7
    assert "cancelled" in str(summary)
    assert_store_consistent(project)
    rest = import_imagefolder(project, src)
    assert (rest.added, rest.duplicates) == (13, 7)


def test_export_refuses_foreign_folder_and_updates_its_own(project, tmp_path):
    src = tmp_path / "src"
    for i in range(5):
        write(src / "good" / f"{i}.png", png(i))
    for i in range(3):
        write(src / "dent" / f"{i}.png", png(10 + i))
    write(src / "_unlabelled" / "u.png", png(77))
    import_imagefolder(project, src)
    assert len(project.samples(status="unreviewed")) == 1

    foreign = tmp_path / "foreign"
    write(foreign / "holiday.jpg", jpg(1))
    with pytest.raises(ProjectError, match="not an earlier Inspector export"):
        export_imagefolder(project, foreign)
    with pytest.raises(ProjectError, match="inside the project"):
        export_imagefolder(project, project.root / "out")

    out = tmp_path / "out"
    first = export_imagefolder(project, out, include_unlabelled=True)
    assert first["total"] == 9 and len(list((out / "_unlabelled").iterdir())) == 1
    moved = project.samples(label="dent")[0]
    project.set_label(moved.id, "good", "ann")
    gone = project.samples(label="good")[0]
    project.discard(gone.id, "ann")
    second = export_imagefolder(project, out)
    assert second["written"] == 1 and second["removed"] == 3 and second["unchanged"] == 6
    assert not (out / "_unlabelled").exists()
    assert (out / "good" / f"{moved.image_hash[:16]}.png").is_file()
    assert not (out / "dent" / f"{moved.image_hash[:16]}.png").exists()
    assert not (out / "good" / f"{gone.image_hash[:16]}.png").exists()
    assert sum(1 for p in out.rglob("*.png")) == 7

    with Project.init(tmp_path / "back") as back:
        import_imagefolder(back, out)
        assert labels_by_hash(back).keys() == labels_by_hash(project).keys()
        assert {h: l for h, (l, _) in labels_by_hash(back).items()} == \
               {h: l for h, (l, _) in labels_by_hash(project).items()}


def test_unlabelled_roundtrip(project, tmp_path):
    src = tmp_path / "src"
    write(src / "_unlabelled" / "a.png", png(1))
    write(src / "good" / "b.png", png(2))
    import_imagefolder(project, src)
    out = tmp_path / "out"
    export_imagefolder(project, out, include_unlabelled=True)
    shutil.rmtree(out / "good")
    with Project.init(tmp_path / "back") as back:
        summary = import_imagefolder(back, out)
        assert summary.added == 1 and back.samples()[0].status == "unreviewed"
        assert back.class_by_name("_unlabelled") is None
