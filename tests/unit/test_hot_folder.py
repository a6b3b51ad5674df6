"""The hot folder hands each file out once, across restarts too: remembered in a small watermark file,
or moved to done/; and it lists the folder only when something can have changed."""
import json
import os
import time

import numpy as np

from inspector.core.imageio import encode_png
from inspector.core.live import folder as folder_mod
from inspector.core.live.folder import DONE_DIR, FolderSource
from inspector.core.live.folder_state import STATE_FILE
from inspector.core.live.sources import CorruptFrame, open_source


def _png(v: int) -> bytes:
    return encode_png(np.full((8, 8, 3), v, np.uint8))


def _drain(src, limit_s=3.0, idle_s=0.3):
    """Files handed out until none came for idle_s (corrupt ones as 'corrupt:<name>')."""
    got, deadline = [], time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            r = src.read(idle_s)
        except CorruptFrame as e:
            got.append(f"corrupt:{e.meta['file']}")
            continue
        if r is None:
            break
        got.append(r[1]["file"])
    return got


def _write(folder, name, v, age_s=5.0):
    (folder / name).write_bytes(_png(v))
    t = time.time() - age_s
    os.utime(folder / name, (t, t))


def test_a_restarted_folder_goes_on_where_it_stopped(tmp_path):
    for i in range(5):
        _write(tmp_path, f"p{i}.png", i)
    src = FolderSource(tmp_path, poll=0.02, settle=0.05)
    src.open()
    first = [src.read(1.0)[1]["file"] for _ in range(3)]
    src.close()
    assert len(set(first)) == 3 and (tmp_path / STATE_FILE).is_file()
    # a restart: the two not yet read, then a late copy that kept an old modification time
    again = FolderSource(tmp_path, poll=0.02, settle=0.05)
    again.open()
    rest = _drain(again)
    assert sorted(first + rest) == [f"p{i}.png" for i in range(5)]
    _write(tmp_path, "late.png", 9, age_s=3600)  # mtime an hour old; its ctime is now
    time.sleep(0.1)
    assert _drain(again) == ["late.png"]
    again.close()
    # remember=0: this run only, everything again
    fresh = open_source(f"{tmp_path}?poll=0.02&settle=0.05&remember=0")
    fresh.open()
    assert sorted(_drain(fresh)) == sorted([f"p{i}.png" for i in range(5)] + ["late.png"])


def test_a_damaged_memory_means_inspecting_again_not_stopping(tmp_path):
    _write(tmp_path, "a.png", 1)
    (tmp_path / STATE_FILE).write_text("{broken", encoding="utf-8")
    src = FolderSource(tmp_path, poll=0.02, settle=0.05)
    src.open()
    assert _drain(src) == ["a.png"]
    src.close()
    assert json.loads((tmp_path / STATE_FILE).read_text(encoding="utf-8"))["at_watermark"] == ["a.png"]


def test_done_moves_each_file_once_read_corrupt_ones_too(tmp_path):
    _write(tmp_path, "a.png", 1)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    os.utime(tmp_path / "bad.png", (time.time() - 5,) * 2)
    src = open_source(f"{tmp_path}?poll=0.02&settle=0.05&done=1")
    src.open()
    got = _drain(src)
    assert "a.png" in got and len(got) == 2
    assert sorted(p.name for p in (tmp_path / DONE_DIR).iterdir()) == ["a.png", "bad.png"]
    assert not (tmp_path / STATE_FILE).exists()
    # the camera reuses a name: the first copy in done/ is kept, the new one gets a suffix
    _write(tmp_path, "a.png", 2)
    assert _drain(src) == ["a.png"]
    assert sorted(p.name for p in (tmp_path / DONE_DIR).iterdir()) == ["a-1.png", "a.png", "bad.png"]
    assert [p.name for p in tmp_path.iterdir() if p.is_file()] == [] and src.moved == 3


def test_an_unchanged_folder_is_not_listed_at_every_poll(tmp_path, monkeypatch):
    for i in range(3):
        _write(tmp_path, f"p{i}.png", i)
    listings = []
    real = os.scandir
    monkeypatch.setattr(folder_mod.os, "scandir", lambda p: listings.append(p) or real(p))
    src = FolderSource(tmp_path, poll=0.01, settle=0.0, rescan=30.0)
    src.open()
    assert len(_drain(src, idle_s=0.5)) == 3
    n = len(listings)
    assert src.read(0.3) is None  # ~30 polls of an unchanged folder
    assert len(listings) == n
    _write(tmp_path, "new.png", 7, age_s=1)  # a new entry changes the folder's time
    r = src.read(1.0)
    assert r is not None and r[1]["file"] == "new.png" and len(listings) > n
