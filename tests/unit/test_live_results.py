"""The results log (results.sqlite beside the project) and the review queue's choice, rate limit
and look-alike filter, on a real project."""
import csv
from datetime import datetime

import numpy as np
import pytest

from inspector.core.errors import ConfigError
from inspector.core.live.frames import Verdict
from inspector.core.live.results import RESULTS_DB, ResultRow, ResultsLog, parse_time
from inspector.core.live.review import ReviewPolicy, ReviewQueue, difference_hash, hamming
from inspector.core.project import Project
from inspector.core.synth import SyntheticLine


def verdict(ok=True, score=0.1, label="good", confidence=0.9):
    return Verdict(ok=ok, score=score, label=label, confidence=confidence,
                   scores={"good": 1 - score, "scratch": score}, model_version="v1")


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj")
    p.add_class("good", "ok")
    p.add_class("scratch", "defect")
    yield p
    p.close()


def test_results_log_counts_filters_and_exports(project, tmp_path):
    with ResultsLog(project.root) as log:
        assert (project.root / RESULTS_DB).is_file()
        run = log.start_run("synthetic://line", "free", "0,0,64,64")
        t0 = 1_800_000_000.0
        rows = [ResultRow(run, t0 + i, "synthetic://line", i, i % 4 != 0, "good" if i % 4 else "scratch",
                          0.8, 0.9 if i % 4 == 0 else 0.2, {"good": 0.2, "scratch": 0.8}, "v1" if i < 6 else "v2",
                          12.5, 8.25, 7 if i == 0 else None) for i in range(10)]
        log.write(rows)
        log.end_run(run, {"inspected": 10})
        c = log.counters()
        assert (c["inspected"], c["not_ok"], c["ok"], c["queued_for_review"]) == (10, 3, 7, 1)
        assert c["yield"] == pytest.approx(0.7)
        assert c["per_class"] == {"good": 7, "scratch": 3} and c["per_model"] == {"v1": 6, "v2": 4}
        assert log.counters(since=t0 + 5)["inspected"] == 5
        assert log.counters(since=t0 + 2, until=t0 + 4)["inspected"] == 2
        assert log.counters(run_id=run + 1)["inspected"] == 0 and log.counters(run_id=run + 1)["yield"] is None
        assert log.runs()[0]["summary"] == {"inspected": 10} and log.runs()[0]["roi"] == "0,0,64,64"
        n = log.export_csv(tmp_path / "out.csv", since=t0 + 4)
    assert n == 6
    with open(tmp_path / "out.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [int(r["frame_id"]) for r in table] == [4, 5, 6, 7, 8, 9]
    r = table[0]
    assert r["verdict"] == "not_ok" and r["class"] == "scratch" and r["model_version"] == "v1"
    assert float(r["at"]) == t0 + 4 and r["time"].startswith(datetime.fromtimestamp(t0 + 4).strftime("%Y-%m-%dT%H:%M:%S"))
    assert float(r["latency_ms"]) == 12.5 and r["sample_id"] == "" and '"scratch": 0.8' in r["scores"]


def test_results_log_survives_reopening_and_refuses_a_bad_export_path(project, tmp_path):
    with ResultsLog(project.root) as log:
        run = log.start_run("cam", "free", None)
        log.write([ResultRow(run, 1.0, "cam", 0, True, "good", 0.9, 0.1, {}, "v1", 1.0, 1.0)])
    with ResultsLog(project.root) as log:
        assert log.counters()["inspected"] == 1
        with pytest.raises(Exception) as e:
            log.export_csv(tmp_path / "no" / "such" / "dir" / "x.csv")
        assert "\n" not in str(e.value) and not list(tmp_path.glob("no*"))


def test_parse_time_forms():
    now = 1_800_000_000.0
    assert parse_time("90m", now) == now - 5400 and parse_time("2d", now) == now - 172800
    assert parse_time("2026-11-27", now) == datetime(2026, 11, 27).timestamp()
    assert parse_time("2026-11-27T08:30", now) == datetime(2026, 11, 27, 8, 30).timestamp()
    assert parse_time("1799999999.5", now) == 1799999999.5 and parse_time(None) is None
    with pytest.raises(ConfigError):
        parse_time("last tuesday", now)


def test_review_policy_reasons():
    p = ReviewPolicy(min_confidence=0.6, near_threshold=0.1)
    assert p.reason(verdict(ok=False, score=0.9)) == "not_ok"
    assert p.reason(verdict(confidence=0.5)) == "low_confidence"
    assert p.reason(verdict(score=0.45)) == "near_threshold"
    assert p.reason(verdict(score=0.1, confidence=0.95)) is None
    assert ReviewPolicy(enabled=False).reason(verdict(ok=False, score=0.9)) is None


def test_difference_hash_tells_parts_apart_but_not_noise():
    line = SyntheticLine(size=(128, 128), seed=9)
    a, b = line.part(0).image, line.part(1).image
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 3, a.shape), 0, 255).astype(np.uint8)
    assert hamming(difference_hash(a), difference_hash(noisy)) <= ReviewPolicy().dedup_bits
    assert hamming(difference_hash(a), difference_hash(b)) > ReviewPolicy().dedup_bits


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_a_stuck_defective_part_is_queued_once_and_the_queue_is_rate_limited(project):
    line = SyntheticLine(size=(96, 96), seed=11, defect_rate=1.0)
    clock = Clock()
    q = ReviewQueue(project, ReviewPolicy(max_per_minute=3, dedup_window_s=60), "cam0", clock=clock)
    stuck = line.part(0).image
    rng = np.random.default_rng(1)
    bad = verdict(ok=False, score=0.93, label="scratch", confidence=0.93)
    ids = []
    for _ in range(20):  # the same part under the camera for 20 frames, with sensor noise
        frame = np.clip(stuck + rng.normal(0, 2, stuck.shape), 0, 255).astype(np.uint8)
        ids.append(q.offer(frame, bad, captured_at=123.0))
        clock.t += 0.05
    assert sum(i is not None for i in ids) == 1 and q.duplicates == 19
    assert q.offer(line.part(1).image, verdict(ok=True, score=0.05, confidence=0.95), 1.0) is None  # nothing to review
    for i in range(1, 6):  # five different defective parts within a minute: three get in
        q.offer(line.part(i).image, bad, captured_at=200.0 + i)
        clock.t += 1
    assert q.queued == 3 and q.rate_limited == 3
    clock.t += 61  # a minute later there is room again
    assert q.offer(line.part(7).image, bad, captured_at=300.0) is not None
    samples = project.samples(status="unreviewed")
    assert len(samples) == 4
    assert all(s.source == "live:cam0" and s.suggestion == "scratch" and s.suggestion_score == pytest.approx(0.93)
               for s in samples)
    assert samples[0].captured_at == 123.0 and (samples[0].width, samples[0].height) == (96, 96)
    assert np.array_equal(project.read_image(samples[1]), line.part(1).image)


def test_a_suggestion_the_project_does_not_know_is_dropped_not_the_frame(project):
    q = ReviewQueue(project, ReviewPolicy(), "cam")
    img = SyntheticLine(size=(64, 64), seed=1).part(0).image
    sid = q.offer(img, verdict(ok=False, score=0.8, label="dent", confidence=0.8), 5.0)
    s = project.sample(sid)
    assert s.status == "unreviewed" and s.suggestion is None and s.suggestion_score == pytest.approx(0.8)


V3_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL, source TEXT NOT NULL,
                   trigger TEXT NOT NULL, roi TEXT, summary TEXT);
CREATE TABLE results (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), at REAL NOT NULL,
    source TEXT NOT NULL, frame_id INTEGER NOT NULL,
    verdict TEXT NOT NULL CHECK (verdict IN ('ok', 'not_ok', 'not_inspected')), class TEXT, confidence REAL,
    score REAL, scores TEXT, model_version TEXT, latency_ms REAL, infer_ms REAL, sample_id INTEGER,
    reason TEXT, counted_as TEXT, part_id TEXT);
CREATE INDEX results_by_time ON results(at);
CREATE INDEX results_by_run ON results(run_id);
CREATE INDEX results_by_part ON results(part_id);
INSERT INTO meta VALUES ('schema_version', '3');
INSERT INTO runs VALUES (1, 1000.0, 1010.0, 'camera:0', 'free', NULL, '{"inspected": 5}');
"""  # schema 3 as Inspector wrote it before accounts


def test_a_schema_3_results_log_gains_user_and_views_keeping_its_rows(tmp_path):
    import sqlite3

    from inspector.core.live.results import SCHEMA_VERSION
    db = sqlite3.connect(tmp_path / RESULTS_DB)
    db.executescript(V3_SCHEMA)
    db.executemany("INSERT INTO results (run_id, at, source, frame_id, verdict, class, score, model_version, part_id)"
                   " VALUES (1, ?, 'camera:0', ?, 'ok', 'good', 0.1, 'v1', ?)",
                   [(1000.0 + i, i, f"SN-{i}") for i in range(5)])
    db.commit()
    db.close()
    with ResultsLog(tmp_path) as log:
        assert log.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
        old = list(log.rows())
        assert [r["part_id"] for r in old] == [f"SN-{i}" for i in range(5)]
        assert all(r["user"] is None and r["views"] is None for r in old)
        assert log.runs()[0]["user"] is None and log.runs()[0]["summary"] == {"inspected": 5}
        run = log.start_run("camera:0", "free", None, user="ada")
        log.write([ResultRow(run, 2000.0, "camera:0", 9, False, "scratch", 0.9, 0.9, {}, "v1", 1.0, 1.0,
                             part_id="SN-9", user="ada",
                             views=[{"camera": "top", "ok": False}, {"camera": "side", "ok": True}])])
        assert log.runs()[-1]["user"] == "ada"
        (new,) = log.part_rows("SN-9")
        assert new["user"] == "ada" and new["views"] == '[{"camera": "top", "ok": false}, {"camera": "side", "ok": true}]'
        assert log.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with ResultsLog(tmp_path) as log:  # opening again does not migrate twice
        assert len(list(log.rows())) == 6
    with ResultsLog(tmp_path) as log:
        n = log.export_csv(tmp_path / "all.csv")
    with open(tmp_path / "all.csv", newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert n == 6 and [r["user"] for r in table] == ["", "", "", "", "", "ada"] and table[0]["views"] == ""
    assert '"camera": "side"' in table[-1]["views"]


def test_a_single_camera_row_stores_no_views(project):
    with ResultsLog(project.root) as log:
        run = log.start_run("cam", "free", None, user="op1")
        log.write([ResultRow(run, 1.0, "cam", 0, True, "good", 0.9, 0.1, {}, "v1", 1.0, 1.0, user="op1", views=[])])
        (r,) = log.rows()
        assert r["user"] == "op1" and r["views"] is None
