"""Durable writes (core/durable.py) and every save path with Windows' file-system rules emulated:
os.fsync of a read-only handle raises EBADF, and opening a folder raises PermissionError. The
registry used to do both before each model save, so Train failed on Windows; these tests run
image import, model save (a real one-epoch training), settings, export (images and ONNX), the
results CSV and the quarantine moves of opening a project under those rules."""
from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from inspector.core import durable
from inspector.core.exporter import MARKER, export_imagefolder
from inspector.core.importer import import_imagefolder
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.train_config import AugmentConfig, TrainConfig
from inspector.core.training import train_project


class WindowsRules:
    def __init__(self, monkeypatch):
        self.fsyncs = 0  # fsyncs of files (writable handles) that went through
        self.refused: list[str] = []
        real_fsync, real_open = os.fsync, os.open

        def fsync(fd):
            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
                self.refused.append("fsync of a read-only handle")
                raise OSError(errno.EBADF, "Bad file descriptor (as Windows: fsync of a read-only handle)")
            self.fsyncs += 1
            return real_fsync(fd)

        def os_open(path, flags, *args, **kwargs):
            if os.path.isdir(path):
                self.refused.append(f"os.open of folder {path}")
                raise PermissionError(errno.EACCES, "Permission denied (as Windows: a folder cannot be opened)",
                                      str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "open", os_open)


@pytest.fixture
def windows(monkeypatch):
    return WindowsRules(monkeypatch)


def bar_png(kind: str, seed: int, size: int = 32) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    p = int(rng.integers(4, size - 8))
    if kind == "horizontal":
        img[p:p + 4, 4:size - 4] = 230
    else:
        img[4:size - 4, p:p + 4] = 230
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def make_src(folder: Path, n: int = 12) -> Path:
    for i in range(n):
        kind = ("horizontal", "vertical")[i % 2]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        (folder / kind / f"{i}.png").write_bytes(bar_png(kind, i))
    return folder


def test_the_emulation_refuses_what_windows_refuses(windows, tmp_path):
    # Without this, the tests below could pass because the emulation did nothing.
    (tmp_path / "f").write_bytes(b"x")
    with open(tmp_path / "f", "rb") as f, pytest.raises(OSError):
        os.fsync(f.fileno())
    with pytest.raises(PermissionError):
        os.open(tmp_path, os.O_RDONLY)
    # what the registry did before each model save, now refused as on Windows
    with pytest.raises(OSError):
        fd = os.open(tmp_path, os.O_RDONLY)
        os.fsync(fd)


def test_durable_primitives_under_windows_rules(windows, tmp_path):
    durable.write_bytes(tmp_path / "a.bin", b"abc")
    durable.write_json(tmp_path / "b.json", {"x": 1})
    durable.copy_file(tmp_path / "a.bin", tmp_path / "c.bin")
    durable.fsync_file(tmp_path / "c.bin")  # a file written by other code: fsynced read-write
    durable.fsync_dir(tmp_path)  # skipped quietly where a folder cannot be opened
    assert (tmp_path / "a.bin").read_bytes() == b"abc" == (tmp_path / "c.bin").read_bytes()
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": 1}
    assert windows.fsyncs == 4
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(durable.TEMP_PREFIX)] == []


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "prefs.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with durable.atomic_open(target, "w", encoding="utf-8") as f:
            f.write("half of the new")
            raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prefs.json"]


def test_every_save_path_works_under_windows_rules(windows, tmp_path, monkeypatch):
    from inspector.core.live.results import ResultRow, ResultsLog
    from inspector.gui.settings import Preferences, load_preferences, save_preferences
    from inspector.core.ops.export import export_onnx

    # image import
    with Project.init(tmp_path / "proj") as p:
        s = import_imagefolder(p, make_src(tmp_path / "src"), user="ann")
        assert s.added == 12 and s.rejected == []
        # model save through the registry: a real (one-epoch) training writes weights and ONNX
        cfg = TrainConfig(arch="cnn", mode="scratch", epochs=1, batch_size=8, input_size=[32, 32],
                          augment=AugmentConfig(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0,
                                                contrast=0))
        before = windows.fsyncs
        out = train_project(p, cfg, user="ann")
        assert windows.fsyncs - before >= 3  # weights, onnx, config.json: each fsynced through a writable handle
        assert ModelRegistry(p).verify(out.version.version).version == "v1"
        # a version saved directly, with a writer that writes through a path as torch or onnx do
        mv = ModelRegistry(p).save("classifier", {"note": "direct"},
                                   {"weights.bin": lambda path: Path(path).write_bytes(b"w" * 100)}, summary={})
        assert ModelRegistry(p).verify(mv.version).files.keys() == {"weights.bin", "config.json"}
        # exports: images (twice: the second updates the first) and a model's ONNX file
        e1 = export_imagefolder(p, tmp_path / "export")
        e2 = export_imagefolder(p, tmp_path / "export")
        assert e1["written"] == 12 and e2["unchanged"] == 12
        assert json.loads((tmp_path / "export" / MARKER).read_text())["complete"] is True
        onnx = export_onnx(out.version.path, tmp_path / "line3.onnx")
        assert onnx.read_bytes() == (out.version.path / "model.onnx").read_bytes()
        assert json.loads((tmp_path / "line3.json").read_text())["version"] == "v1"
        # an orphan to quarantine on the next open
        orphan = p.images_dir / "ff" / ("ff" + "1" * 62 + ".png")
        orphan.parent.mkdir(exist_ok=True)
        orphan.write_bytes(bar_png("horizontal", 99))
    with Project.open(tmp_path / "proj") as p:
        assert p.recovery.orphan_images == 1 and not orphan.exists()
    # results log and its CSV export
    with ResultsLog(tmp_path / "proj") as log:
        run = log.start_run("synthetic://line", "free", None)
        log.write([ResultRow(run_id=run, at=1.0, source="synthetic://line", frame_id=1, ok=True, label="good",
                             confidence=0.9, score=0.9, scores={"good": 0.9}, model_version="v1", latency_ms=5.0,
                             infer_ms=3.0)])
        assert log.export_csv(tmp_path / "shift.csv") == 1
    assert (tmp_path / "shift.csv").read_text().count("\n") == 2
    # settings: save_preferences only logs a failure, so check the file itself
    prefs = Preferences()
    prefs.recent_projects = [str(tmp_path / "proj")]
    save_preferences(prefs, tmp_path / "cfg" / "preferences.json")
    assert load_preferences(tmp_path / "cfg" / "preferences.json").recent_projects == [str(tmp_path / "proj")]
    assert not [p for p in tmp_path.rglob(f"{durable.TEMP_PREFIX}*") if p.is_file()]
    # the emulation was exercised: folder fsyncs were attempted and refused, never fatal
    assert any(r.startswith("os.open of folder") for r in windows.refused)
