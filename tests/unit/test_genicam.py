"""genicam:// against Aravis's fake GigE Vision camera (arv-fake-gv-camera-0.8) on loopback: the real
GVCP control and GVSP stream protocols. Settings applied and refused, 640×480 frames through the live
pipeline, an unsupported pixel format in one line, and a camera that is unplugged and comes back."""
from __future__ import annotations

import time

import pytest

from inspector.core.errors import ConfigError
from inspector.core.live.sources import SourceError, open_source
from tests.unit import genicam_kit

camera = genicam_kit.camera  # the fixture
pytestmark = needs_fake_camera = genicam_kit.needs_fake_camera


def test_settings_frames_and_a_refused_setting(camera):
    src = open_source("genicam://127.0.0.1?exposure_us=2000&gain=50&roi=0,0,640,480&fps=30")
    src.open()
    try:
        assert src.refused == ["gain (50 is outside the camera's 0 to 10)"]  # the rest still applied
        assert "refused: gain" in src.open_note
        frames = []
        t0 = time.monotonic()
        while len(frames) < 15 and time.monotonic() - t0 < 10:
            got = src.read(1.0)
            if got is not None:
                frames.append(got)
        assert len(frames) == 15
        image, meta = frames[-1]
        assert image.shape == (480, 640, 3) and image.dtype.name == "uint8" and image.std() > 0
        assert src.lost_frames == 0
        assert src._cam.get_exposure_time() == 2000
    finally:
        src.close()


def test_unsupported_pixel_format_and_bad_options_are_one_line(camera):
    src = open_source("genicam://127.0.0.1?pixel_format=YUV422&roi=0,0,320,240")
    src.open()  # refused, the camera keeps its own format and the stream runs
    try:
        assert src.refused == ["pixel_format (Inspector cannot convert YUV422 — use one of BayerBG8, BayerGB8, "
                               "BayerGR8, BayerRG8, Mono8, RGB8, Mono16)"]
        assert any(src.read(1.0) is not None for _ in range(20))
    finally:
        src.close()
    with pytest.raises(ConfigError, match="trigger"):
        open_source("genicam://127.0.0.1?trigger=sometimes")
    with pytest.raises(ConfigError, match="unknown option"):
        open_source("genicam://127.0.0.1?shutter=5")
    src = open_source("genicam://127.0.0.1?pixel_format=RGB8&roi=0,0,320,240")
    src.open()
    try:
        got = None
        for _ in range(20):
            got = src.read(1.0)
            if got is not None:
                break
        assert got is not None and got[0].shape == (240, 320, 3)
    finally:
        src.close()


def test_software_trigger_takes_a_frame_per_read(camera):
    src = open_source("genicam://127.0.0.1?trigger=software&roi=0,0,320,240")
    assert not src.live
    src.open()
    try:
        got = [src.read(2.0) for _ in range(3)]
        assert all(g is not None for g in got)
        ids = [g[1]["index"] for g in got]
        assert ids == sorted(ids) and len(set(ids)) == 3
    finally:
        src.close()


@pytest.mark.slow  # ~16 s: Aravis waits out the dead camera's control channel on close and reopen
def test_unplugged_camera_is_a_stall_and_comes_back(camera):
    from inspector.core.live.frames import STALLED
    from inspector.core.live.pipeline import LivePipeline  # noqa: F401 - the pipeline reconnects; here the source
    src = open_source("genicam://127.0.0.1?roi=0,0,320,240&fps=30")
    src.open()
    assert src.read(2.0) is not None
    camera.stop()  # unplugged
    deadline = time.monotonic() + 5
    got = object()
    while got is not None and time.monotonic() < deadline:
        got = src.read(0.3)
    assert got is None  # silence: the pipeline calls this STALLED and reopens
    src.close()
    with pytest.raises(SourceError, match="not reachable"):
        src.open()
    camera.start()
    src.open()  # plugged in again
    try:
        assert any(src.read(1.0) is not None for _ in range(10))
    finally:
        src.close()
    assert STALLED == "stalled"
