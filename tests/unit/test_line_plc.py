"""The PLC trigger and part IDs through a real live pipeline and trained model: a pymodbus client
plays the PLC (trigger with a part ID → busy → result → acknowledge, then it disconnects), a hot
folder gives IDs from file names and DataMatrix codes (zxing-cpp), and each part's results row
carries its ID."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from inspector.core.errors import ConfigError
from inspector.core.line.outputs import LineIO, LineSettings, host_port
from inspector.core.live.pipeline import LiveConfig, LivePipeline
from inspector.core.live.results import ResultsLog
from inspector.core.synth import SyntheticLine
from tests.unit.line_kit import free_port
from tests.unit.live_kit import Recorder, copy_project, train_template, wait_for


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return train_template(tmp_path_factory.mktemp("line") / "template")


@pytest.fixture
def project(template, tmp_path):
    p = copy_project(template, tmp_path / "proj")
    yield p
    p.close()


def test_plc_trigger_over_modbus_handshake_part_ids_and_plc_offline(project):
    from pymodbus.client import ModbusTcpClient

    from inspector.core.line import modbus_server as mb
    events = []
    io = LineIO(LineSettings(station="press3", modbus=f"127.0.0.1:{free_port()}"), outbox_folder=project.root,
                plc_trigger=True, on_event=lambda k, m: events.append((k, m)))
    io.start()
    rec = Recorder()
    pipeline = LivePipeline(project, LiveConfig(source="synthetic://line?size=64&fps=100&cache=8", trigger=io.plc,
                                                part_id="plc"),
                            on_result=lambda r: (io.publish(r), rec.result(r)),
                            on_event=lambda e: (io.pipeline_event(e), rec.event(e)))
    pipeline.start()
    c = ModbusTcpClient("127.0.0.1", port=io.modbus.port)
    try:
        assert c.connect()
        assert wait_for(lambda: pipeline.state == "running" and c.read_coils(0, count=7).bits[mb.READY], 30)
        frames_before = pipeline.stats().frames_read
        for i in range(5):
            c.write_registers(mb.PART_ID, mb.encode_text(f"SN-{i:04d}"))
            t0 = time.perf_counter()
            c.write_coil(mb.TRIGGER, True)
            assert wait_for(lambda: any(c.read_coils(0, count=7).bits[mb.OK:mb.NOT_INSPECTED + 1]), 10)
            assert time.perf_counter() - t0 < 5
            assert mb.decode_text(c.read_holding_registers(mb.PART_ID, count=mb.PART_ID_REGS).registers) == f"SN-{i:04d}"
            assert not c.read_coils(0, count=7).bits[mb.READY]  # the result waits for the acknowledge
            c.write_coil(mb.ACK, True)
            assert c.read_coils(0, count=7).bits[mb.READY]
        regs = c.read_holding_registers(0, count=2).registers
        assert regs[1] == 5  # the part counter
        assert pipeline.stats().frames_read > frames_before + 5  # a live camera: only triggered frames are parts
    finally:
        c.close()
    assert wait_for(lambda: any(k == "plc_offline" for k, _ in events), 5)
    assert not io.plc.ready  # the line takes no parts
    pipeline.stop()
    io.close()
    assert [r.frame.meta.get("part_id") for r in rec.results] == [f"SN-{i:04d}" for i in range(5)]
    with ResultsLog(project.root) as log:
        rows = list(log.rows(run_id=pipeline.run_id))
        assert [r["part_id"] for r in rows] == [f"SN-{i:04d}" for i in range(5)]
        assert [r["verdict"] for r in log.part_rows("SN-0003")] == [rows[3]["verdict"]]


def _datamatrix(text: str, size: int = 60) -> np.ndarray:
    import zxingcpp
    img = np.array(zxingcpp.write_barcode(zxingcpp.BarcodeFormat.DataMatrix, text, 0, 0, 2))
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)


def test_part_ids_from_file_names_and_datamatrix_codes_in_a_region(project, tmp_path):
    line = SyntheticLine(size=(160, 160), defect_rate=0.3, seed=5)
    folder = tmp_path / "hot"
    folder.mkdir()
    for i in range(4):
        img = line.part(i).image.copy()
        if i != 2:  # part 2's code is missing: inspected and logged without an ID
            img[4:64, 96:156] = _datamatrix(f"DM{i:03d}")
        cv2.imwrite(str(folder / f"SN-{i:03d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    rec = Recorder()
    p = LivePipeline(project, LiveConfig(source=str(folder), part_id="barcode:90,0,70,70", max_frames=4),
                     on_result=rec.result, on_event=rec.event)
    p.start()
    assert p.wait(60)
    ids = sorted(((r.frame.meta["file"], r.frame.meta.get("part_id")) for r in rec.results))
    assert ids == [("SN-000.png", "DM000"), ("SN-001.png", "DM001"), ("SN-002.png", None), ("SN-003.png", "DM003")]
    assert any("no readable barcode in region 90,0,70,70" in m for m in rec.kinds("part_id_missing"))
    again = tmp_path / "again"  # a hot folder hands each file out once: the same files in a new folder
    again.mkdir()
    for f in folder.glob("*.png"):
        (again / f.name).write_bytes(f.read_bytes())
    rec = Recorder()
    p = LivePipeline(project, LiveConfig(source=str(again), part_id="file", max_frames=4), on_result=rec.result)
    p.start()
    assert p.wait(60)
    assert sorted(r.frame.meta["part_id"] for r in rec.results) == [f"SN-{i:03d}" for i in range(4)]
    with ResultsLog(project.root) as log:
        assert len(log.part_rows("SN-002")) == 1 and len(log.part_rows("DM001")) == 1


@pytest.mark.parametrize("spec, words", [("serial", "not known"), ("counter:5", "no options"),
                                         ("barcode:1,2", "x,y,w,h")])
def test_bad_part_id_sources_are_one_line(project, spec, words):
    with pytest.raises(ConfigError, match=words) as e:
        LivePipeline(project, LiveConfig(source="synthetic://line?size=64", part_id=spec))
    assert "\n" not in str(e.value)


def test_line_settings_round_trip_and_bad_addresses(project):
    s = LineSettings(station="press3", modbus="0.0.0.0:5020", mqtt="broker.local")
    s.save(project)
    assert LineSettings.load(project) == s
    assert host_port("5020", 502, "Modbus") == ("0.0.0.0", 5020)
    assert host_port("[::1]:1884", 1883, "MQTT") == ("::1", 1884)
    with pytest.raises(ConfigError, match="host:port"):
        host_port("plc:abc", 502, "Modbus")
    with pytest.raises(ConfigError, match="--modbus PORT or --opcua"):
        LineIO(LineSettings(mqtt="127.0.0.1:1"), outbox_folder=project.root, plc_trigger=True)
    with pytest.raises(ConfigError, match="opc.tcp://"):
        LineIO(LineSettings(opcua="http://x:4840", opcua_anonymous=True))
    with pytest.raises(ConfigError, match="certificate /nope.der is missing"):
        LineIO(LineSettings(opcua="opc.tcp://0.0.0.0:4840/", opcua_cert="/nope.der", opcua_key="/nope.pem"))
    with pytest.raises(ConfigError, match="broker address"):
        LineIO(LineSettings(mqtt="broker:abc"), outbox_folder=project.root)


def test_a_schema_2_results_log_gains_part_ids_keeping_its_rows(tmp_path):
    import sqlite3

    from inspector.core.live import results
    v2 = """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL, source TEXT NOT NULL,
                       trigger TEXT NOT NULL, roi TEXT, summary TEXT);
    CREATE TABLE results (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), at REAL NOT NULL,
        source TEXT NOT NULL, frame_id INTEGER NOT NULL,
        verdict TEXT NOT NULL CHECK (verdict IN ('ok', 'not_ok', 'not_inspected')), class TEXT, confidence REAL,
        score REAL, scores TEXT, model_version TEXT, latency_ms REAL, infer_ms REAL, sample_id INTEGER,
        reason TEXT, counted_as TEXT);
    CREATE INDEX results_by_time ON results(at);
    CREATE INDEX results_by_run ON results(run_id);"""  # schema 2 as Inspector wrote it before part IDs
    db = sqlite3.connect(tmp_path / results.RESULTS_DB)
    db.executescript(v2)
    db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    db.execute("INSERT INTO runs (started_at, source, trigger) VALUES (1, 's', 'free')")
    db.execute("INSERT INTO results (run_id, at, source, frame_id, verdict) VALUES (1, 2.0, 's', 0, 'ok')")
    db.commit()
    db.close()
    with ResultsLog(tmp_path) as log:
        rows = list(log.rows())
        assert len(rows) == 1 and rows[0]["part_id"] is None and rows[0]["verdict"] == "ok"
        assert log.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(results.SCHEMA_VERSION)
        from inspector.core.live.results import ResultRow
        log.write([ResultRow(1, 3.0, "s", 1, True, None, None, 0.1, {}, "v1", 1.0, 1.0, part_id="SN-9")])
        assert [r["frame_id"] for r in log.part_rows("SN-9")] == [1]
