"""Fail closed: every triggered part gets a result row — ok, not_ok or not_inspected with a reason
(corrupt frame, inference error, queue full) — counted as NG unless the project says OK; old
results.sqlite files are migrated with their rows kept."""
import sqlite3
import time

import pytest

from inspector.core.errors import ConfigError
from inspector.core.live.frames import Verdict
from inspector.core.live.pipeline import LiveConfig, LivePipeline, parse_not_inspected_as
from inspector.core.live.results import SCHEMA_VERSION, ResultRow, ResultsLog
from inspector.core.live.runners import RUNNERS, register_runner
from inspector.core.registry import ModelRegistry
from live_kit import Recorder, copy_project, train_template, wait_for


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return train_template(tmp_path_factory.mktemp("failclosed") / "template")


@pytest.fixture
def project(template, tmp_path):
    p = copy_project(template, tmp_path / "proj")
    yield p
    p.close()


def run(project, seen, **kw):
    kw.setdefault("reconnect_s", (0.02, 0.1))
    p = LivePipeline(project, LiveConfig(**kw), on_result=seen.result, on_event=seen.event)
    p.start()
    assert p.wait(60), "the pipeline did not end"
    return p, p.stats()


def rows_of(project, run_id):
    with ResultsLog(project.root) as log:
        return list(log.rows(run_id=run_id)), log.counters(run_id=run_id)


def test_corrupt_frames_get_a_not_inspected_row_that_counts_as_ng(project):
    seen = Recorder()
    p, s = run(project, seen, source="synthetic://line?size=96&count=120&seed=3&corrupt=0.1")
    assert s.state == "finished" and 5 <= s.corrupt <= 25  # ~10 % of 120
    assert s.not_inspected == s.corrupt and s.not_inspected_reasons == {"corrupt_frame": s.corrupt}
    assert s.ok + s.not_ok + s.not_inspected == s.triggered == 120
    assert s.not_inspected_as == "not_ok" and s.rejected == s.not_ok + s.not_inspected
    rows, c = rows_of(project, p.run_id)
    # one row per part, none missing (a corrupt frame is logged at once, so it may precede the part before it)
    assert sorted(r["frame_id"] for r in rows) == list(range(120))
    bad = [r for r in rows if r["verdict"] == "not_inspected"]
    assert len(bad) == s.corrupt
    assert all(r["reason"] == "corrupt_frame" and r["counted_as"] == "not_ok" and r["score"] is None
               and r["infer_ms"] is None for r in bad)
    assert all(r["reason"] is None and r["counted_as"] is None for r in rows if r["verdict"] != "not_inspected")
    assert (c["triggered"], c["not_inspected"], c["ok"] + c["not_ok"]) == (120, s.corrupt, s.inspected)
    assert c["not_inspected_reasons"] == {"corrupt_frame": s.corrupt}
    assert c["rejected"] == s.rejected and c["yield"] == pytest.approx(s.ok / 120)
    assert sum(r.verdict.not_inspected == "corrupt_frame" and not r.verdict.ok for r in seen.results) == s.corrupt
    assert any("not inspected (corrupt frame)" in e.message for e in seen.events if e.kind == "not_inspected")


def test_the_project_can_count_parts_not_inspected_as_ok_and_a_run_can_override_it(project):
    from inspector.core.live.pipeline import NOT_INSPECTED_SETTING

    project.set_meta(NOT_INSPECTED_SETTING, "ok")
    seen = Recorder()
    p, s = run(project, seen, source="synthetic://line?size=96&count=60&seed=4&corrupt=0.2")
    assert s.not_inspected_as == "ok" and s.not_inspected > 0 and s.rejected == s.not_ok
    rows, c = rows_of(project, p.run_id)
    assert {r["counted_as"] for r in rows if r["verdict"] == "not_inspected"} == {"ok"}
    assert c["rejected"] == s.not_ok and c["not_inspected"] == s.not_inspected
    assert all(r.verdict.ok for r in seen.results if r.verdict.not_inspected)

    p2, s2 = run(project, Recorder(), source="synthetic://line?size=96&count=60&seed=4&corrupt=0.2",
                 not_inspected_as="ng")
    assert s2.not_inspected_as == "not_ok" and s2.rejected == s2.not_ok + s2.not_inspected
    with pytest.raises(ConfigError, match="use ng .* or ok"):
        parse_not_inspected_as("maybe")


class FlakyRunner:
    """Fails every second batch, as a GPU out of memory or a driver error would."""

    kind = "flakytest"
    backend = "test"

    def __init__(self, version, delay=0.0):
        self.version, self.calls, self.delay = version, 0, delay

    def warm_up(self, max_batch):
        pass

    def infer(self, images):
        self.calls += 1
        time.sleep(self.delay)
        if self.calls % 2 == 0:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return [Verdict(ok=True, score=0.1, label=None, confidence=None, scores={}, model_version=self.version)
                for _ in images]

    def close(self):
        pass


def test_a_failed_inference_batch_leaves_a_not_inspected_row_per_part(project):
    register_runner("flakytest", lambda registry, mv, cfg, backend, threads: FlakyRunner(mv.version))
    try:
        v = ModelRegistry(project).save("flakytest", {}, {"w.bin": lambda q: q.write_bytes(b"x")}, summary={}).version
        seen = Recorder()
        p, s = run(project, seen, source="synthetic://line?size=64&count=20&seed=5", model=v)
    finally:
        RUNNERS.pop("flakytest", None)
    assert s.inspected == 10 and s.not_inspected == 10 and s.errors == 10
    assert s.not_inspected_reasons == {"inference_error": 10} and s.triggered == 20
    rows, c = rows_of(project, p.run_id)
    assert len(rows) == 20 and c["not_inspected_reasons"] == {"inference_error": 10}
    assert {r["model_version"] for r in rows if r["verdict"] == "not_inspected"} == {v}


def test_triggered_parts_pushed_out_of_a_full_queue_are_logged_as_queue_full(project):
    register_runner("flakytest", lambda registry, mv, cfg, backend, threads: SlowOk(mv.version))
    try:
        v = ModelRegistry(project).save("flakytest", {}, {"w.bin": lambda q: q.write_bytes(b"x")}, summary={}).version
        seen = Recorder()
        p = LivePipeline(project, LiveConfig(source="synthetic://line?size=64&fps=100&seed=6", trigger="software",
                                             model=v, queue_size=1, max_batch=1),
                         on_result=seen.result, on_event=seen.event)
        p.start()
        assert wait_for(lambda: p.state == "running")
        for _ in range(8):  # eight parts arrive while the model takes 0.25 s each: the queue holds one
            p.trigger()
            time.sleep(0.03)
        assert wait_for(lambda: p.stats().triggered == 8 and len(seen.results) == 8, timeout=20)
        assert p.stop()
    finally:
        RUNNERS.pop("flakytest", None)
    s = p.stats()
    assert s.triggered == 8 and s.ok + s.not_ok + s.not_inspected == 8
    assert s.not_inspected >= 4 and s.not_inspected_reasons == {"queue_full": s.not_inspected}
    rows, c = rows_of(project, p.run_id)
    assert len(rows) == 8 and c["not_inspected"] == s.not_inspected and c["rejected"] == s.not_inspected


class SlowOk(FlakyRunner):
    def infer(self, images):
        time.sleep(0.25)
        return [Verdict(ok=True, score=0.1, label=None, confidence=None, scores={}, model_version=self.version)
                for _ in images]


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL, source TEXT NOT NULL,
                   trigger TEXT NOT NULL, roi TEXT, summary TEXT);
CREATE TABLE results (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), at REAL NOT NULL, source TEXT NOT NULL,
    frame_id INTEGER NOT NULL, verdict TEXT NOT NULL CHECK (verdict IN ('ok', 'not_ok')), class TEXT,
    confidence REAL, score REAL NOT NULL, scores TEXT, model_version TEXT NOT NULL, latency_ms REAL NOT NULL,
    infer_ms REAL NOT NULL, sample_id INTEGER);
CREATE INDEX results_by_time ON results(at);
CREATE INDEX results_by_run ON results(run_id);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES (1, 1000.0, 1010.0, 'camera:0', 'free', NULL, '{}');
"""


def test_an_old_results_log_is_migrated_keeping_its_rows(tmp_path):
    db = sqlite3.connect(tmp_path / "results.sqlite")
    db.executescript(V1_SCHEMA)
    db.executemany("INSERT INTO results (run_id, at, source, frame_id, verdict, class, confidence, score, scores, "
                   "model_version, latency_ms, infer_ms, sample_id) VALUES (1, ?, 'camera:0', ?, ?, 'good', 0.9, "
                   "?, NULL, 'v1', 12.5, 4.0, NULL)",
                   [(1000.0 + i, i, "ok" if i % 3 else "not_ok", 0.1 if i % 3 else 0.9) for i in range(30)])
    db.commit()
    db.close()
    with ResultsLog(tmp_path) as log:
        old = list(log.rows())
        assert len(old) == 30 and old[0]["verdict"] == "not_ok" and old[1]["latency_ms"] == 12.5
        assert old[0]["reason"] is None
        c = log.counters()
        assert (c["triggered"], c["ok"], c["not_ok"], c["not_inspected"]) == (30, 20, 10, 0)
        log.write([ResultRow(1, 2000.0, "camera:0", 30, False, None, None, 1.0, {}, "", 3.0, None,
                             not_inspected="queue_full")])
        assert log.counters()["not_inspected_reasons"] == {"queue_full": 1}
        assert log.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        assert log.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert {r[1] for r in log.db.execute("PRAGMA index_list(results)")} == {"results_by_time", "results_by_run",
                                                                            "results_by_part", "results_by_sample"}
    with ResultsLog(tmp_path) as log:  # opening again does not migrate twice
        assert len(list(log.rows())) == 31
