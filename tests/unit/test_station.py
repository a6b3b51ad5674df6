"""Multi-camera stations end to end: two real sources per station (video files written by OpenCV,
synthetic lines, an MJPEG camera on loopback that stalls), a real project with a trained classifier
and a real brightness model, a real Modbus server played by a pymodbus client as the PLC. A part is
NG if any view says NG, not inspected (naming the view) if any view gave no verdict, and gives one
result to the line outputs and one results-log row whose `views` column holds every view."""
from __future__ import annotations

import json
import time
from collections.abc import Sequence

import numpy as np
import pytest

from inspector.core.errors import ConfigError, ModelError
from inspector.core.line.outputs import LineIO, LineSettings
from inspector.core.live.config import LiveConfig
from inspector.core.live.frames import Verdict
from inspector.core.live.results import ResultsLog
from inspector.core.live.runners import RUNNERS, register_runner
from inspector.core.live.station import StationPipeline
from inspector.core.live.station_config import ViewConfig, load_views, save_views
from inspector.core.registry import ModelRegistry
from inspector.core.synth import SyntheticLine
from tests.unit.line_kit import free_port
from tests.unit.live_kit import MjpegServer, Recorder, copy_project, jpeg, train_template, wait_for, write_video


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return train_template(tmp_path_factory.mktemp("station") / "template")


@pytest.fixture
def project(template, tmp_path):
    p = copy_project(template, tmp_path / "proj")
    yield p
    p.close()


class BrightRunner:
    """A model a test can read: NG when the picture's mean brightness is over half scale."""

    kind, backend = "brighttest", "test"

    def __init__(self, version: str):
        self.version = version

    def warm_up(self, max_batch: int) -> None:
        pass

    def infer(self, images: Sequence[np.ndarray]) -> list[Verdict]:
        out = []
        for im in images:
            score = float(im.mean()) / 255.0
            out.append(Verdict(score <= 0.5, score, "good" if score <= 0.5 else "spot", 1.0, {}, self.version))
        return out

    def close(self) -> None:
        pass


@pytest.fixture
def bright(project):
    register_runner("brighttest", lambda registry, mv, cfg, backend, threads: BrightRunner(mv.version))
    try:
        yield ModelRegistry(project).save("brighttest", {}, {"w.bin": lambda q: q.write_bytes(b"x")},
                                          summary={}).version
    finally:
        RUNNERS.pop("brighttest", None)


def frames(n: int, bright: set[int]) -> list[np.ndarray]:
    return [np.full((64, 64, 3), 220 if i in bright else 30, np.uint8) for i in range(n)]


def test_a_part_is_ng_if_any_view_is_ng_with_one_result_and_one_row_per_part(project, bright, tmp_path):
    top = write_video(tmp_path / "top.avi", frames(12, {1, 4}))
    side = write_video(tmp_path / "side.avi", frames(15, {2, 4}))  # longer: the station ends with the shorter
    save_views(project, [ViewConfig("top", str(top), model=bright), ViewConfig("side", str(side), "8,8,48,48", bright)])
    io = LineIO(LineSettings(station="cell7", modbus=f"127.0.0.1:{free_port()}"), outbox_folder=project.root)
    io.start()
    rec = Recorder()
    try:
        st = StationPipeline(project, load_views(project), LiveConfig(source=""),
                             on_result=lambda r: (io.publish(r), rec.result(r)), on_event=rec.event)
        st.start()
        assert st.wait(60) and st.state == "finished" and st.error is None
    finally:
        io.close()
    ng = {1, 2, 4}
    assert [r.frame.id for r in rec.results] == list(range(12))  # one result per part, frame k of each view
    assert [not r.verdict.ok for r in rec.results] == [i in ng for i in range(12)]
    assert rec.results[2].frame.meta["view"] == "side" and rec.results[2].roi == (8, 8, 48, 48)
    s = st.stats()
    assert (s.triggered, s.inspected, s.not_ok, s.not_inspected) == (12, 12, 3, 0) and 24 <= s.frames_read <= 27
    assert (io.counters.parts, io.counters.ng) == (12, 3)  # the line outputs got each part once
    with ResultsLog(project.root) as log:
        rows = list(log.rows(run_id=st.run_id))
    assert [r["verdict"] for r in rows] == ["not_ok" if i in ng else "ok" for i in range(12)]
    views = json.loads(rows[2]["views"])
    assert [(v["view"], v["verdict"], v["frame_id"]) for v in views] == [("top", "ok", 2), ("side", "not_ok", 2)]
    assert views[1]["roi"] == [8, 8, 48, 48] and views[1]["model_version"] == bright and rows[2]["class"] == "spot"


def test_a_view_without_a_verdict_leaves_the_part_not_inspected_naming_it(project):
    """side's camera sends damaged pictures now and then (a real corrupt JPEG); the trained model v1 on
    both views. A part with a corrupt side picture is NG when top says NG, else not inspected."""
    views = [ViewConfig("top", "synthetic://line?size=96&count=30&seed=3"),
             ViewConfig("side", "synthetic://line?size=96&count=30&seed=4&corrupt=0.3")]
    rec = Recorder()
    st = StationPipeline(project, views, LiveConfig(source="", not_inspected_as="ng"), on_result=rec.result)
    st.start()
    assert st.wait(60) and st.error is None
    assert [r.frame.id for r in rec.results] == list(range(30))
    skipped = 0
    for r in rec.results:
        top, side = r.views
        assert top.result.frame.id == side.result.frame.id == r.frame.id and top.reason is None
        if side.reason:
            assert side.reason == "view side: corrupt frame"
            if top.result.verdict.ok:
                skipped += 1
                assert r.verdict.not_inspected == "view side: corrupt frame" and not r.verdict.ok  # counted NG
            else:
                assert not r.verdict.ok and not r.verdict.not_inspected  # NG whatever side could not see
        else:
            assert r.verdict.ok == (top.result.verdict.ok and side.result.verdict.ok)
    s = st.stats()
    assert 0 < s.corrupt and s.not_inspected == skipped and s.not_inspected_reasons.get("view side: corrupt frame",
                                                                                        0) == skipped
    with ResultsLog(project.root) as log:
        rows = list(log.rows(run_id=st.run_id))
    assert len(rows) == 30 and sum(r["verdict"] == "not_inspected" for r in rows) == skipped
    assert all(json.loads(r["views"])[1]["reason"] == "view side: corrupt frame"
               for r in rows if r["verdict"] == "not_inspected")


def test_a_view_that_stalls_leaves_its_parts_not_inspected_no_frame(project):
    parts = [jpeg(SyntheticLine(size=(96, 96), seed=5).part(i).image) for i in range(40)]
    with MjpegServer(parts, fps=30, stall_after=4, stall_s=30) as server:
        views = [ViewConfig("top", "synthetic://line?size=96&fps=30&seed=6"), ViewConfig("side", server.url)]
        rec = Recorder()
        # side's camera hangs after 4 pictures each time it is opened; the station waits 0.3 s for a view
        st = StationPipeline(project, views, LiveConfig(source="", stall_s=0.5, reconnect_s=(0.05, 0.2)),
                             on_result=rec.result, on_event=rec.event, view_timeout_s=0.3)
        st.start()
        assert wait_for(lambda: sum(r.verdict.not_inspected == "view side: no frame" for r in rec.results) >= 3, 30)
        assert st.stop() and st.state == "stopped"
    both = [r for r in rec.results if all(v.result is not None for v in r.views)]
    assert both and all(not r.verdict.not_inspected for r in both)
    for r in rec.results:
        if r.views[1].result is None:  # NG when top saw a defect, else not inspected for want of side's picture
            assert r.views[1].reason in ("view side: no frame", "view side: stopped before its picture")
            assert (r.verdict.not_inspected == r.views[1].reason) == r.views[0].result.verdict.ok
    s = st.stats()
    assert s.stalls >= 1 and s.triggered == len(rec.results) == s.inspected + s.not_inspected
    assert [r.frame.id for r in rec.results] == sorted(r.frame.id for r in rec.results)
    assert any("view side:" in m and "no picture" in m for m in rec.kinds("source_stalled"))


def test_plc_triggers_each_view_once_and_gets_one_result_per_part(project):
    from pymodbus.client import ModbusTcpClient

    from inspector.core.line import modbus_server as mb
    io = LineIO(LineSettings(station="cell7", modbus=f"127.0.0.1:{free_port()}"), outbox_folder=project.root,
                plc_trigger=True)
    io.start()
    rec = Recorder()
    views = [ViewConfig("top", "synthetic://line?size=64&fps=60&cache=8&seed=1"),
             ViewConfig("side", "synthetic://line?size=64&fps=60&cache=8&seed=2")]
    st = StationPipeline(project, views, LiveConfig(source="", trigger=io.plc, part_id="plc"),
                         on_result=lambda r: (io.publish(r), rec.result(r)),
                         on_event=lambda e: (io.pipeline_event(e), rec.event(e)))
    st.start()
    c = ModbusTcpClient("127.0.0.1", port=io.modbus.port)
    try:
        assert c.connect()
        assert wait_for(lambda: st.state == "running" and c.read_coils(0, count=7).bits[mb.READY], 30)
        for i in range(4):
            c.write_registers(mb.PART_ID, mb.encode_text(f"SN-{i}"))
            c.write_coil(mb.TRIGGER, True)
            assert wait_for(lambda: any(c.read_coils(0, count=7).bits[mb.OK:mb.NOT_INSPECTED + 1]), 10)
            c.write_coil(mb.ACK, True)
        assert c.read_holding_registers(0, count=2).registers[1] == 4  # the part counter: one per trigger
    finally:
        c.close()
        st.stop()
        io.close()
    assert [r.frame.meta.get("part_id") for r in rec.results] == [f"SN-{i}" for i in range(4)]
    assert all(v.result is not None and v.result.frame.meta["part_id"] == r.frame.meta["part_id"]
               for r in rec.results for v in r.views)
    with ResultsLog(project.root) as log:
        assert [len(json.loads(r["views"])) for r in log.part_rows("SN-2")] == [2]


def test_software_trigger_takes_one_frame_per_view(project):
    views = [ViewConfig("top", "synthetic://line?size=64&fps=50&seed=1"),
             ViewConfig("side", "synthetic://line?size=64&fps=50&seed=2")]
    rec = Recorder()
    st = StationPipeline(project, views, LiveConfig(source="", trigger="software"), on_result=rec.result)
    st.start()
    assert wait_for(lambda: st.state == "running", 30)
    for _ in range(3):
        st.trigger()
    assert wait_for(lambda: len(rec.results) == 3, 10)
    time.sleep(0.3)
    st.stop()
    assert len(rec.results) == 3 and st.stats().frames_read > 6  # live cameras: only triggered frames are parts
    assert all(not r.verdict.not_inspected for r in rec.results)


def test_bad_station_input_is_one_line_naming_the_view(project, tmp_path):
    with pytest.raises(ConfigError, match="named twice"):
        StationPipeline(project, [ViewConfig("top", "0"), ViewConfig("TOP", "1")], LiveConfig(source=""))
    with pytest.raises(ConfigError, match=r"^view side: source .*missing\.avi"):
        StationPipeline(project, [ViewConfig("top", "synthetic://line"),
                                  ViewConfig("side", str(tmp_path / "missing.avi"))], LiveConfig(source=""))
    with pytest.raises(ModelError, match="^view side: model 'v9' does not exist"):
        StationPipeline(project, [ViewConfig("top", "synthetic://line?count=2"),
                                  ViewConfig("side", "synthetic://line?count=2", model="v9")],
                        LiveConfig(source="")).start()
    with pytest.raises(ConfigError, match="view name 'a b'"):
        save_views(project, [ViewConfig("a b", "0")])
    with pytest.raises(ConfigError, match="no views"):
        StationPipeline(project, [], LiveConfig(source=""))
