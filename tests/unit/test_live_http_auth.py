"""HTTP cameras with a login (basic and digest, against a real MJPEG server on 127.0.0.1), passwords
kept out of saved settings and redacted wherever shown, and a stream that stalls."""
import os
import stat
import time

import numpy as np
import pytest

from inspector.core.errors import ConfigError
from inspector.core.live import credentials
from inspector.core.live.http_stream import HttpSource
from inspector.core.live.pipeline import LiveConfig, LivePipeline
from inspector.core.live.results import ResultsLog
from inspector.core.live.sources import SourceStalled, open_source, redact
from inspector.core.synth import SyntheticLine
from live_kit import MjpegServer, copy_project, jpeg, train_template, wait_for

PASSWORD = "s3cr:t@pw"  # a colon and an at sign, as real passwords have


@pytest.fixture(scope="module")
def parts():
    line = SyntheticLine(size=(64, 64), seed=21)
    return [jpeg(line.part(i).image) for i in range(6)]


@pytest.fixture(autouse=True)
def secrets_file(tmp_path, monkeypatch):
    path = tmp_path / "cfg" / "camera-secrets.json"
    monkeypatch.setenv("INSPECTOR_SECRETS_FILE", str(path))
    return path


def url_with(server, user="op", password=PASSWORD, path="/video"):
    from urllib.parse import quote

    host = server.url.split("://", 1)[1]
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{host}{path}"


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_a_camera_asking_for_a_login_streams_with_user_and_password_in_the_url(parts, scheme):
    with MjpegServer(parts, auth=(scheme, "op", PASSWORD)) as server:
        src = HttpSource(url_with(server))
        src.open()
        try:
            images = [src.read(1.0)[0] for _ in range(len(parts))]
        finally:
            src.close()
    assert all(im.shape == (64, 64, 3) for im in images)
    assert server.refused >= 1 and server.connections == 1  # challenged first, then let in
    assert server.authorizations[-1].lower().startswith(scheme)
    assert PASSWORD not in src.name and "s3cr" not in src.name and "op:***@127.0.0.1" in src.name


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_a_wrong_password_or_none_is_one_line_saying_what_to_do_and_not_retried(parts, scheme):
    with MjpegServer(parts, auth=(scheme, "op", PASSWORD)) as server:
        with pytest.raises(ConfigError) as wrong:
            HttpSource(url_with(server, password="nope")).open()
        with pytest.raises(ConfigError) as missing:
            HttpSource(server.url + "/video").open()
    for e in (wrong, missing):
        assert "\n" not in str(e.value) and "nope" not in str(e.value)
    assert "refused user 'op'" in str(wrong.value) and "correct them" in str(wrong.value)
    assert "http://user:password@host" in str(missing.value)


def test_a_digest_login_inspector_cannot_answer_is_one_line_not_retried(parts):
    with MjpegServer(parts, auth=("digest", "op", PASSWORD)) as server:
        server.digest_algorithm = "SHA-512-256"
        with pytest.raises(ConfigError, match="set the camera to basic or MD5 digest") as e:
            HttpSource(url_with(server)).open()
    assert "\n" not in str(e.value) and "s3cr" not in str(e.value)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return train_template(tmp_path_factory.mktemp("httpauth") / "template")


@pytest.fixture
def project(template, tmp_path):
    p = copy_project(template, tmp_path / "proj")
    yield p
    p.close()


def test_a_pipeline_with_a_wrong_password_fails_at_once_instead_of_retrying_forever(project, parts):
    with MjpegServer(parts, auth=("digest", "op", PASSWORD)) as server:
        events = []
        p = LivePipeline(project, LiveConfig(source=url_with(server, password="wrong"), reconnect_s=(0.02, 0.1)),
                         on_event=events.append)
        p.start()
        assert p.wait(20)
    assert p.state == "failed" and "refused user 'op'" in str(p.error) and p.stats().reconnects == 0
    assert all("wrong" not in e.message for e in events)


def test_the_password_moves_to_a_user_only_file_and_is_found_again_when_the_source_opens(project, parts,
                                                                                         secrets_file):
    with MjpegServer(parts, auth=("basic", "op", PASSWORD)) as server:
        typed = url_with(server)
        saved = credentials.remember(typed)
        assert saved == f"http://op@{server.url.split('://')[1]}/video" and PASSWORD not in saved
        assert PASSWORD in secrets_file.read_text() or "s3cr" in secrets_file.read_text()
        if os.name != "nt":
            assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        assert credentials.resolve(saved) == typed  # the password comes back for connecting only
        assert credentials.resolve(saved.replace("op@", "other@")) == saved.replace("op@", "other@")
        events = []
        p = LivePipeline(project, LiveConfig(source=saved, max_frames=4), on_event=events.append)
        p.start()
        assert p.wait(20)
        s = p.stats()
    # a live stream in every-frame mode keeps the newest frame: one replaced while the model ran is not a part
    assert p.error is None and s.inspected >= 1 and s.inspected + s.dropped == s.frames_read == 4
    assert s.triggered == s.inspected and s.not_inspected == 0
    with ResultsLog(project.root) as log:
        sources = {r["source"] for r in log.rows(run_id=p.run_id)} | {r["source"] for r in log.runs()}
    assert all("s3cr" not in x for x in sources) and all("s3cr" not in e.message for e in events)


def test_redact_hides_passwords_in_every_url_form():
    assert redact("http://op:pw@cam:8080/v?x=1") == "http://op:***@cam:8080/v?x=1"
    assert redact("rtsp://admin:a%40b@10.0.0.5/stream1") == "rtsp://admin:***@10.0.0.5/stream1"
    assert redact("http://cam/v?mail=a@b") == "http://cam/v?mail=a@b"
    assert redact("http://op@cam/v") == "http://op@cam/v"
    assert redact("synthetic://line?fps=3") == "synthetic://line?fps=3"
    assert "pw" not in open_source("rtsp://op:pw@127.0.0.1:1/x").name


def test_a_stream_that_stalls_is_reported_stalled_counted_and_reconnected(project, parts):
    with MjpegServer(parts, fps=50, stall_after=3, stall_s=30) as server:
        events, states = [], []

        def on_event(e):
            events.append(e)
            if e.kind == "state":
                states.append(e.state)

        p = LivePipeline(project, LiveConfig(source=server.url + "/video", stall_s=0.5, reconnect_s=(0.05, 0.2)),
                         on_event=on_event)
        p.start()
        assert wait_for(lambda: p.stats().stalls >= 2 and p.stats().reconnects >= 2, timeout=30)
        assert p.stop()
    s = p.stats()
    assert s.inspected >= 6 and server.connections >= 3  # each reconnect got the stream again
    assert "stalled" in states and states.index("stalled") > states.index("running")
    assert any(e.kind == "source_stalled" and "no picture for 0.5 s" in e.message for e in events)


def test_an_http_read_that_hears_nothing_for_the_stall_time_raises_stalled(parts):
    with MjpegServer(parts, stall_after=1, stall_s=10) as server:
        src = HttpSource(server.url + "/video")
        src.stall_s = 0.3
        src.open()
        try:
            assert isinstance(src.read(1.0)[0], np.ndarray)
            with pytest.raises(SourceStalled, match="no picture for 0.3 s"):
                src.read(1.0)
        finally:
            src.close()


def test_an_opencv_stream_read_honours_its_timeout_and_a_silent_one_stalls_the_pipeline(project, parts):
    from inspector.core.live.sources import CaptureSource

    with MjpegServer(parts, fps=30, stall_after=3, stall_s=30) as server:
        src = CaptureSource(server.url + "/video.mjpg", "cam", kind="stream")  # read by OpenCV / FFmpeg
        src.open()
        try:
            assert all(src.read(5.0) is not None for _ in range(3))
            t0 = time.monotonic()
            assert src.read(0.3) is None  # the camera hangs: the read gives up, it does not hang with it
            assert time.monotonic() - t0 < 2.0
        finally:
            src.close()

        events = []
        p = LivePipeline(project, LiveConfig(source=CaptureSource(server.url + "/video.mjpg", "cam", kind="stream"),
                                             stall_s=0.6, reconnect_s=(0.05, 0.2)), on_event=events.append)
        p.start()
        assert wait_for(lambda: p.stats().stalls >= 1 and p.stats().reconnects >= 1, timeout=30)
        assert p.stop(timeout=10)
    assert p.stats().inspected >= 3 and any(e.kind == "state" and e.state == "stalled" for e in events)
