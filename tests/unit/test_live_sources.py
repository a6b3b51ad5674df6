"""Live sources on real parts: video files written with OpenCV, a hot folder on disk, an MJPEG
stream served on 127.0.0.1, the synthetic line; and --source strings that are wrong."""
import os
import time

import numpy as np
import pytest

from inspector.core.errors import ConfigError
from inspector.core.imageio import encode_png
from inspector.core.live.folder import FolderSource
from inspector.core.live.http_stream import HttpSource
from inspector.core.live.sources import CaptureSource, CorruptFrame, SourceEnded, SourceError, open_source
from inspector.core.live.synthetic import SyntheticSource
from inspector.core.synth import SyntheticLine
from live_kit import MjpegServer, jpeg, write_video


def gradient(k: int, h: int = 48, w: int = 64) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    img[:, :, 0] = k * 20  # red level tells the frames apart after JPEG
    img[:, :, 1] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    return img


def read_all(src, limit=100):
    out = []
    try:
        while len(out) < limit:
            got = src.read(0.5)
            if got is not None:
                out.append(got)
    except SourceEnded:
        pass
    return out


def test_video_file_plays_once_or_loops(tmp_path):
    path = write_video(tmp_path / "line.avi", [gradient(k) for k in range(6)])
    src = open_source(str(path))
    assert isinstance(src, CaptureSource) and not src.live  # a file waits for the pipeline
    src.open()
    frames = read_all(src)
    src.close()
    assert len(frames) == 6
    img, meta = frames[3]
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8 and meta["index"] == 3
    assert abs(int(img[:, :, 0].mean()) - 60) <= 4  # RGB order, not OpenCV's BGR

    looping = open_source(f"{path}?loop=1")
    looping.open()
    frames = read_all(looping, limit=15)
    looping.close()
    reds = [round(int(f[0][:, :, 0].mean()) / 20) for f in frames]
    assert reds == [0, 1, 2, 3, 4, 5] * 2 + [0, 1, 2]


def test_missing_or_unreadable_video_is_a_source_error(tmp_path):
    src = CaptureSource(str(tmp_path / "gone.avi"), "gone.avi", kind="file")
    with pytest.raises(SourceError, match="missing"):
        src.open()
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF....not a video at all" * 10)
    src = open_source(str(bad))
    with pytest.raises(SourceError) as e:
        src.open()
        src.read()
    assert "\n" not in str(e.value)


def test_camera_that_is_not_there_fails_to_open_without_crashing():
    src = open_source("camera:57")
    assert src.live and src.name == "camera:57"
    with pytest.raises(SourceError, match="camera 57 is not available"):
        src.open()


def test_hot_folder_takes_existing_then_new_files_and_skips_corrupt_ones(tmp_path):
    folder = tmp_path / "hot"
    folder.mkdir()
    line = SyntheticLine(size=(64, 64), seed=2)
    (folder / "a.png").write_bytes(encode_png(line.part(0).image))
    (folder / "notes.txt").write_text("not an image, not an image extension: ignored")
    old = time.time() - 5
    os.utime(folder / "a.png", (old, old))
    src = open_source(f"{folder}?poll=0.02&settle=0.1")
    assert isinstance(src, FolderSource) and not src.live and src.backlog
    src.open()
    img, meta = src.read(1.0)
    assert meta == {"file": "a.png"} and np.array_equal(img, line.part(0).image)
    assert src.read(0.15) is None  # nothing new
    (folder / "b.png").write_bytes(encode_png(line.part(1).image))  # written after start
    (folder / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)  # a corrupt image
    got, corrupt = [], 0
    deadline = time.monotonic() + 5
    while len(got) + corrupt < 2 and time.monotonic() < deadline:
        try:
            r = src.read(0.5)
        except CorruptFrame as e:
            corrupt += 1
            assert "c.png" in str(e) and "\n" not in str(e)
            continue
        if r is not None:
            got.append(r)
    assert [m["file"] for _, m in got] == ["b.png"] and corrupt == 1
    assert np.array_equal(got[0][0], line.part(1).image)
    # rewriting a file under the same name is a new frame; untouched files are not re-read
    (folder / "a.png").write_bytes(encode_png(line.part(2).image))
    r = src.read(2.0)
    assert r is not None and r[1]["file"] == "a.png" and np.array_equal(r[0], line.part(2).image)
    assert src.read(0.3) is None


def test_hot_folder_can_ignore_what_is_already_there(tmp_path):
    (tmp_path / "old.png").write_bytes(encode_png(np.zeros((16, 16, 3), np.uint8)))
    os.utime(tmp_path / "old.png", (time.time() - 5,) * 2)
    src = FolderSource(tmp_path, existing=False, poll=0.02, settle=0.05)
    src.open()
    assert src.read(0.2) is None
    (tmp_path / "new.png").write_bytes(encode_png(np.zeros((16, 16, 3), np.uint8)))
    r = src.read(2.0)
    assert r is not None and r[1]["file"] == "new.png"


@pytest.mark.parametrize("content_length", [True, False])
def test_mjpeg_stream_frames_corrupt_part_and_cut(content_length):
    parts = [jpeg(gradient(k)) for k in range(3)] + [b"\xff\xd8 definitely not jpeg data \xff\xd9"] + [jpeg(gradient(5))]
    with MjpegServer(parts, content_length=content_length) as server:
        src = open_source(server.url + "/stream")
        assert isinstance(src, HttpSource) and src.live
        src.open()
        reds, corrupt = [], 0
        with pytest.raises(SourceError, match="cut"):  # the server closes after the last part
            for _ in range(10):
                try:
                    img, meta = src.read(1.0)
                    reds.append(round(int(img[:, :, 0].mean()) / 20))
                except CorruptFrame:
                    corrupt += 1
        src.close()
    # without Content-Length a frame ends at the next boundary: the last one, cut off by the
    # server closing, cannot be told from a truncated frame and is not used
    assert reds == ([0, 1, 2, 5] if content_length else [0, 1, 2]) and corrupt == 1


def test_http_snapshot_url_and_unreachable_stream():
    with MjpegServer([jpeg(gradient(4))]) as server:
        src = HttpSource(server.url + "/snapshot.jpg")
        src.open()
        for _ in range(2):
            img, _ = src.read(1.0)
            assert img.shape == (48, 64, 3) and round(int(img[:, :, 0].mean()) / 20) == 4
        src.close()
        port = server.httpd.server_address[1]
    src = HttpSource(f"http://127.0.0.1:{port}/stream", timeout=1.0)
    with pytest.raises(SourceError, match="cannot be opened"):
        src.open()


def test_synthetic_line_parts_are_the_line_and_paced_when_asked():
    src = open_source("synthetic://line?size=64&seed=4&count=3")
    assert isinstance(src, SyntheticSource) and not src.live
    src.open()
    frames = read_all(src)
    line = SyntheticLine(size=(64, 64), seed=4)
    assert [m["part"] for _, m in frames] == [0, 1, 2]
    assert all(np.array_equal(img, line.part(m["part"]).image) and m["label"] == line.part(m["part"]).label
               for img, m in frames)

    cached = open_source("synthetic://line?size=64&seed=4&cache=2&count=5")
    cached.open()
    frames = read_all(cached)
    assert [m["part"] for _, m in frames] == [0, 1, 0, 1, 0] and [m["index"] for _, m in frames] == list(range(5))
    assert np.array_equal(frames[2][0], line.part(0).image) and frames[2][1]["label"] == line.part(0).label

    paced = open_source("synthetic://line?size=64&fps=50")
    assert paced.live
    paced.open()
    t0 = time.perf_counter()
    for _ in range(10):
        paced.read()
    assert time.perf_counter() - t0 >= 9 / 50 - 0.01
    time.sleep(0.2)  # nobody reads: the camera's frames pass by and are counted as dropped
    _, meta = paced.read()
    assert paced.dropped >= 5 and meta["index"] >= 15


def test_synthetic_line_makes_only_the_defects_asked_for():
    src = open_source("synthetic://line?size=64&seed=4&count=40&defect_rate=0.6&defects=crack,missing")
    src.open()
    labels = {m["label"] for _, m in read_all(src)}
    assert labels == {"good", "crack", "missing"}
    with pytest.raises(ConfigError, match="unknown defect types"):
        open_source("synthetic://line?defects=crack,dent")


def test_synthetic_belt_shows_each_part_arriving_and_leaving():
    src = open_source("synthetic://line?size=64&mode=belt&count=2&travel=3&dwell=2&gap=2")
    src.open()
    frames = read_all(src)
    assert len(frames) == 2 * src.cycle == 20
    parts = [m["part"] for _, m in frames]
    # 2 empty frames; in: 3 steps ending centred; 2 dwell frames; out: 3 steps, the last one past the edge
    assert parts == [None] * 2 + [0] * 7 + [None] * 3 + [1] * 7 + [None]
    assert [m.get("offset") for _, m in frames[2:9]] == [-43, -21, 0, 0, 0, 21, 43]
    empty = [img for img, m in frames if m["part"] is None]
    centred = [img for img, m in frames if m.get("offset") == 0]
    assert max(abs(float(e.mean()) - float(empty[0].mean())) for e in empty) < 2  # an empty belt stays empty
    assert min(float(c.mean()) for c in centred) > float(empty[0].mean()) + 30  # the bright flange is in view


@pytest.mark.parametrize("spec, words", [
    ("", "no source"),
    ("synthetic://lines", "synthetic source"),
    ("synthetic://line?fps=fast", "not a float"),
    ("synthetic://line?colour=red", "unknown option"),
    ("synthetic://line?mode=conveyor", "mode"),
    ("/no/such/place/video.avi", "not a camera index"),
])
def test_bad_source_strings_are_one_line_config_errors(spec, words):
    with pytest.raises(ConfigError) as e:
        open_source(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
