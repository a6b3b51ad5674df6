"""Camera settings changed one at a time while the fake GigE Vision camera streams (the Live tab's
Camera… dialog and `inspector run --camera-set`): each read back from the camera; a refused one is one
line and the stream goes on."""
from __future__ import annotations

import time

import pytest

from inspector.core.errors import ConfigError
from inspector.core.live import camera_settings
from inspector.core.live.sources import open_source
from tests.unit import genicam_kit

camera = genicam_kit.camera  # the fixture
needs_fake_camera = genicam_kit.needs_fake_camera


def _frame(src, tries: int = 20):
    for _ in range(tries):
        got = src.read(1.0)
        if got is not None:
            return got
    return None


def test_names_values_and_specs_without_a_camera():
    assert camera_settings.parse_pairs(["ExposureTime=5000", "Gain=2", "OffsetX=16", "TriggerSource=Line1",
                                        "pixel_format=Mono8"]) == {
        "exposure_us": 5000.0, "gain": 2.0, "offset_x": 16, "trigger": "line1", "pixel_format": "Mono8"}
    for bad, words in (("Shutter=5", "not known"), ("ExposureTime=fast", "needs a number"),
                       ("Width=64.5", "whole number"), ("Gain", "NAME=VALUE"), ("TriggerSource=sometimes", "trigger")):
        with pytest.raises(ConfigError, match=words) as e:
            camera_settings.parse_pairs([bad])
        assert "\n" not in str(e.value)
    spec = camera_settings.with_settings("genicam://127.0.0.1?gain=1&trigger=free", {"gain": 2.0, "roi": "0,0,64,48"})
    assert spec == "genicam://127.0.0.1?gain=2&trigger=free&roi=0,0,64,48"
    with pytest.raises(ConfigError, match="genicam://"):
        camera_settings.with_settings("synthetic://line", {"gain": 2.0})


@needs_fake_camera
def test_changes_while_streaming_are_read_back_and_refusals_are_one_line(camera):
    src = open_source("genicam://127.0.0.1?roi=0,0,320,240&fps=30")
    src.open()
    try:
        assert _frame(src) is not None
        done = src.change("ExposureTime", "5000")
        assert done.ok and done.now == 5000 and done.message == "camera exposure_us = 5000"
        done = src.change("Gain", 2)
        assert done.ok and done.now == 2.0
        assert src._cam.get_exposure_time() == 5000 and src._cam.get_gain() == 2.0  # the camera's own value

        done = src.change("Gain", 50)
        assert not done.ok and done.now == 2.0
        assert done.message == "camera gain 50 refused: 50 is outside the camera's 0 to 10 (still 2)"
        done = src.change("PixelFormat", "YUV422Packed")
        assert not done.ok and "\n" not in done.message and "cannot convert YUV422Packed" in done.message
        done = src.change("PixelFormat", "BGR8")  # Inspector converts it, this camera does not offer it
        assert not done.ok and "does not offer BGR8" in done.message
        done = src.change("Width", 4096)
        assert not done.ok and "does not fit the 2048×2048 sensor" in done.message
        assert _frame(src)[0].shape == (240, 320, 3)  # refusals changed nothing: the stream goes on

        done = src.change("PixelFormat", "RGB8")  # new buffer size: acquisition restarted
        assert done.ok
        done = src.change("Width", 160)
        assert done.ok and done.now == 160
        done = src.change("OffsetY", 8)
        assert done.ok
        image, _ = _frame(src)
        assert image.shape == (240, 160, 3)
        state = src.state()
        assert state["exposure_us"] == {"value": 5000.0, "min": 10.0, "max": 10000000.0}
        assert state["roi"]["value"] == (0, 8, 160, 240) and state["roi"]["sensor"] == (2048, 2048)
        assert state["pixel_format"]["value"] == "RGB8" and "Mono8" in state["pixel_format"]["choices"]
        assert state["trigger"] == {"value": "free", "choices": ["free", "software", "line0"]}
        # what the station saves: a reconnect (and the next start) applies the changed values
        assert src.spec() == ("genicam://127.0.0.1?pixel_format=RGB8&roi=0,8,160,240&exposure_us=5000&gain=2"
                              "&fps=30&trigger=free")
    finally:
        src.close()
    again = open_source(src.spec())
    again.open()
    try:
        assert again.refused == [] and again._cam.get_gain() == 2.0
        assert _frame(again)[0].shape == (240, 160, 3)
    finally:
        again.close()


@needs_fake_camera
def test_software_trigger_set_live_takes_a_frame_per_trigger(camera):
    src = open_source("genicam://127.0.0.1?roi=0,0,320,240&fps=30")
    src.open()
    try:
        assert _frame(src) is not None
        done = src.change("TriggerSource", "software")
        assert done.ok and done.now == "software" and src.can_stall
        while src._stream.timeout_pop_buffer(200_000) is not None:  # frames taken before the switch
            pass
        src._stream.push_buffer(src._Aravis.Buffer.new_allocate(src._cam.get_payload()))
        assert src._stream.timeout_pop_buffer(500_000) is None  # no trigger, no frame
        ids = []
        for _ in range(3):
            got = src.read(2.0)  # each read sends one software trigger
            assert got is not None
            ids.append(got[1]["block_id"])
        assert len(set(ids)) == 3
        done = src.change("TriggerSource", "line0")  # waits for the PLC's wire: silence is not a stall
        assert done.ok and not src.can_stall
        done = src.change("TriggerSource", "line7")
        assert not done.ok and done.message.startswith("camera trigger line7 refused: this camera has no line7")
        assert src.change("TriggerSource", "free").ok
        t0 = time.monotonic()
        assert _frame(src) is not None and time.monotonic() - t0 < 2
    finally:
        src.close()


@needs_fake_camera
def test_a_closed_camera_refuses_in_one_line(camera):
    src = open_source("genicam://127.0.0.1")
    done = src.change("Gain", 1)
    assert not done.ok and done.message == ("camera gain 1 refused: the camera is not connected now — try again "
                                            "when it is")
