"""Export and import never reach outside their folder: hostile marker files, names and symbolic
links each give a one-line error (or a rejected file), and nothing outside is touched."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from inspector.core.errors import ProjectError
from inspector.core.exporter import MARKER, export_imagefolder
from inspector.core.imageio import encode_png
from inspector.core.importer import import_imagefolder
from inspector.core.project import Project


def png(seed: int) -> bytes:
    return encode_png(np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8))


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj")
    p.add_class("good", kind="ok")
    p.add_class("scratch")
    for i in range(4):
        p.add_image(png(i), source="x", label=("good", "scratch")[i % 2], user="u")
    yield p
    p.close()


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim.txt"
    v.write_text("precious")
    return v


def a_marker(dest, files):
    dest.mkdir(parents=True, exist_ok=True)
    (dest / MARKER).write_text(json.dumps({"format": "inspector-imagefolder", "version": 1, "files": files}))


def refused(project, dest) -> str:
    with pytest.raises(ProjectError) as e:
        export_imagefolder(project, dest)
    msg = str(e.value)
    assert "\n" not in msg and len(msg) < 400
    return msg


@pytest.mark.parametrize("name", [
    "../victim.txt", "good/../../victim.txt", "{victim}", "C:/victim.txt", "C:victim.txt",
    "good\\..\\..\\victim.txt", "good/x.png:stream", "good", "a/b/c.png", "", "./good/x.png", "good/.tmp-1-x.part",
    "good/x\0.png", 7, None,
])
def test_a_marker_naming_a_file_outside_is_refused_and_nothing_is_deleted(project, tmp_path, victim, name):
    dest = tmp_path / "out"
    if name == "{victim}":
        name = str(victim)
    a_marker(dest, [name, "good/kept.png"])
    (dest / "good").mkdir()
    (dest / "good" / "kept.png").write_bytes(b"k")
    msg = refused(project, dest)
    assert "leave the export folder" in msg and "export to a new or empty folder" in msg
    assert victim.read_text() == "precious"
    assert (dest / "good" / "kept.png").read_bytes() == b"k"
    assert sorted(p.name for p in dest.iterdir()) == [MARKER, "good"]  # nothing written either


def test_a_marker_that_is_not_a_marker_is_refused(project, tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / MARKER).write_text(json.dumps({"files": "../victim.txt"}))
    assert "not a valid Inspector export marker" in refused(project, dest)
    (dest / MARKER).write_text(json.dumps(["../victim.txt"]))
    assert "not a valid Inspector export marker" in refused(project, dest)


def test_symbolic_links_in_the_destination_are_refused(project, tmp_path, victim):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "x.png").write_bytes(b"not yours")
    # a class folder that is a link to a folder outside: removing good/x.png would delete elsewhere/x.png
    dest = tmp_path / "out1"
    a_marker(dest, ["good/x.png"])
    (dest / "good").symlink_to(outside, target_is_directory=True)
    assert "symbolic link" in refused(project, dest)
    assert (outside / "x.png").read_bytes() == b"not yours" and sorted(os.listdir(outside)) == ["x.png"]
    # the same link with nothing listed: the export would write its images through it
    dest = tmp_path / "out2"
    a_marker(dest, [])
    (dest / "good").symlink_to(outside, target_is_directory=True)
    assert "symbolic link" in refused(project, dest)
    assert sorted(os.listdir(outside)) == ["x.png"]
    # a listed file that is a link to a file outside
    dest = tmp_path / "out3"
    a_marker(dest, ["scratch/v.png"])
    (dest / "scratch").mkdir()
    (dest / "scratch" / "v.png").symlink_to(victim)
    assert "symbolic link" in refused(project, dest)
    # the marker itself a link to someone else's marker
    dest = tmp_path / "out4"
    dest.mkdir()
    a_marker(tmp_path / "theirs", ["../victim.txt"])
    (dest / MARKER).symlink_to(tmp_path / "theirs" / MARKER)
    assert "symbolic link" in refused(project, dest)
    assert victim.read_text() == "precious"


def test_a_hostile_class_name_in_the_database_cannot_leave_the_export(project, tmp_path, victim):
    with project.transaction():
        project.db.execute("UPDATE classes SET name = '..' WHERE name = 'scratch'")
    msg = refused(project, tmp_path / "out")
    assert "sample #" in msg and "leave the export folder" in msg
    assert victim.read_text() == "precious" and not (tmp_path / "out" / "good").exists()


def test_an_honest_re_export_still_updates_and_removes_its_own_files(project, tmp_path):
    dest = tmp_path / "out"
    first = export_imagefolder(project, dest)
    assert first["written"] == 4
    gone = project.samples(label="scratch")[0]
    project.discard(gone.id, "u")
    second = export_imagefolder(project, dest)
    assert second["removed"] == 1 and second["unchanged"] == 3


def test_import_refuses_links_and_bad_folder_names(project, tmp_path, victim):
    outside = tmp_path / "elsewhere"
    (outside / "good").mkdir(parents=True)
    (outside / "good" / "o.png").write_bytes(png(50))
    (outside / "far.png").write_bytes(png(51))
    src = tmp_path / "src"
    (src / "good").mkdir(parents=True)
    (src / "good" / "a.png").write_bytes(png(40))
    (src / "good" / "link.png").symlink_to(outside / "far.png")
    (src / "good" / "sub").symlink_to(outside / "good", target_is_directory=True)
    (src / "scratch").symlink_to(outside / "good", target_is_directory=True)
    s = import_imagefolder(project, src, user="u")
    assert s.added == 1
    rejected = dict(s.rejected)
    assert set(rejected) == {"good/link.png", "good/sub/", "scratch/"}
    assert all("symbolic link" in why for why in rejected.values())
    bad = tmp_path / "bad"
    (bad / "good").mkdir(parents=True)
    (bad / "good" / "b.png").write_bytes(png(41))
    (bad / "a:b").mkdir()
    (bad / "a:b" / "c.png").write_bytes(png(42))
    n = len(project.samples())
    with pytest.raises(ProjectError) as e:
        import_imagefolder(project, bad, user="u")
    assert "\n" not in str(e.value) and "'a:b'" in str(e.value)
    assert len(project.samples()) == n  # nothing stored
