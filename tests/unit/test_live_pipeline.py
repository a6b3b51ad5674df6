"""The live pipeline end to end on a real project with a trained classifier: verdicts, results log
and review queue; reconnects; corrupt frames; hot folder; presence trigger; model hot-swap."""
import threading
import time

import numpy as np
import pytest

from inspector.core.errors import ConfigError, ModelError
from inspector.core.imageio import encode_png
from inspector.core.live.frames import Verdict
from inspector.core.live.pipeline import LiveConfig, LivePipeline
from inspector.core.live.results import ResultsLog
from inspector.core.live.review import ReviewPolicy
from inspector.core.live.runners import RUNNERS, register_runner
from inspector.core.live.sources import Source, SourceEnded, SourceError
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.synth import SyntheticLine
from live_kit import MjpegServer, Recorder, copy_project, jpeg, train_template, wait_for


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return train_template(tmp_path_factory.mktemp("live") / "template")


@pytest.fixture
def project(template, tmp_path):
    p = copy_project(template, tmp_path / "proj")
    yield p
    p.close()


def make(project, rec, **kw):
    kw.setdefault("reconnect_s", (0.02, 0.1))
    return LivePipeline(project, LiveConfig(**kw), on_result=rec.result, on_event=rec.event)


def run(pipeline, timeout=60):
    pipeline.start()
    assert pipeline.wait(timeout), "the pipeline did not end"
    return pipeline.stats()


def test_every_verdict_is_logged_and_reviewable_frames_reach_the_queue(project):
    rec = Recorder()
    p = make(project, rec, source="synthetic://line?size=96&count=30&seed=7&defect_rate=0.3", roi="8,8,80,80")
    s = run(p)
    assert (s.state, s.frames_read, s.triggered, s.inspected, s.dropped, s.errors) == ("finished", 30, 30, 30, 0, 0)
    assert [r.frame.id for r in rec.results] == list(range(30))
    for r in rec.results:
        v = r.verdict
        assert v.model_version == "v1" and v.ok == (v.score < 0.5) and r.roi == (8, 8, 80, 80)
        assert r.crop.shape == (80, 80, 3) and sum(v.scores.values()) == pytest.approx(1, abs=1e-4)
        assert v.confidence == pytest.approx(v.scores[v.label]) and 0 < r.infer_ms <= r.latency_ms
    assert s.not_ok == sum(not r.verdict.ok for r in rec.results)
    assert s.latency_ms_p50 <= s.latency_ms_p95 and s.fps > 0

    with ResultsLog(project.root) as log:
        rows = list(log.rows(run_id=p.run_id))
        c = log.counters(run_id=p.run_id)
        runs = log.runs()
    assert [r["frame_id"] for r in rows] == list(range(30))
    assert [r["verdict"] == "ok" for r in rows] == [r.verdict.ok for r in rec.results]
    assert [r["class"] for r in rows] == [r.verdict.label for r in rec.results]
    assert all(r["model_version"] == "v1" and r["source"].startswith("synthetic://line") for r in rows)
    assert (c["inspected"], c["not_ok"]) == (30, s.not_ok)
    assert runs[-1]["summary"]["state"] == "finished" and runs[-1]["summary"]["inspected"] == 30
    assert runs[-1]["roi"] == "8,8,80,80" and runs[-1]["trigger"] == "free"

    queued = project.samples(status="unreviewed")
    reviewable = [r for r in rec.results if ReviewPolicy().reason(r.verdict)]
    assert 1 <= len(queued) == s.queued_for_review <= min(len(reviewable), ReviewPolicy().max_per_minute)
    assert {r["sample_id"] for r in rows if r["sample_id"]} == {q.id for q in queued}
    by_sample = {r["sample_id"]: r for r in rows if r["sample_id"]}
    for q in queued:
        row = by_sample[q.id]
        assert q.source == "live:" + row["source"] and (q.width, q.height) == (80, 80)
        assert q.suggestion == row["class"] and q.suggestion_score == pytest.approx(row["confidence"])
        assert np.array_equal(project.read_image(q), rec.results[row["frame_id"]].crop)


class FlakySource(Source):
    """Dies after 10 frames; the next two reopen attempts fail; then it works until frame 25."""

    live = False
    name = "flaky-camera"

    def __init__(self):
        super().__init__()
        self.line = SyntheticLine(size=(64, 64), seed=3)
        self.n = self.opens = 0
        self.died = False

    def open(self):
        self.opens += 1
        if self.opens in (2, 3):
            raise SourceError("camera unplugged")

    def read(self, timeout=0.5):
        if self.n == 10 and not self.died:
            self.died = True
            raise SourceError("cable pulled")
        if self.n >= 25:
            raise SourceEnded()
        self.n += 1
        return self.line.part(self.n - 1).image, {"part": self.n - 1}


def test_a_source_that_dies_is_reopened_with_backoff_and_the_run_goes_on(project):
    rec = Recorder()
    src = FlakySource()
    s = run(make(project, rec, source=src))
    assert (s.state, s.frames_read, s.inspected, s.reconnects) == ("finished", 25, 25, 1)
    assert [r.frame.meta["part"] for r in rec.results] == list(range(25))
    assert src.opens == 4
    assert rec.kinds("source_error") == ["cable pulled", "camera unplugged", "camera unplugged"]
    states = [e.message for e in rec.events if e.kind == "state"]
    assert states[-1] == "finished" and "cable pulled" in states and states.count("running") == 2


class HangingSource(Source):
    """A camera whose driver stops answering after 5 frames."""

    live = True
    name = "hanging-camera"

    def __init__(self):
        super().__init__()
        self.n = 0
        self.release = threading.Event()

    def read(self, timeout=0.5):
        if self.n >= 5:
            self.release.wait(30)
            raise SourceError("released")
        self.n += 1
        return np.full((32, 32, 3), 40 * self.n, np.uint8), {}


def test_stop_returns_even_when_the_camera_read_hangs(project):
    src = HangingSource()
    rec = Recorder()
    p = make(project, rec, source=src)
    p.start()
    try:
        assert wait_for(lambda: p.stats().inspected >= 1 and src.n == 5)
        t0 = time.monotonic()
        assert p.stop(timeout=5) and time.monotonic() - t0 < 3
        assert p.state == "stopped" and p.stats().frames_read == 5
    finally:
        src.release.set()


def test_mjpeg_stream_cut_every_few_frames_reconnects_and_skips_a_corrupt_frame(project):
    line = SyntheticLine(size=(64, 64), seed=4)
    parts = [jpeg(line.part(i).image) for i in range(4)] + [b"\xff\xd8broken\xff\xd9", jpeg(line.part(4).image)]
    with MjpegServer(parts, fps=100) as server:
        rec = Recorder()
        s = run(make(project, rec, source=server.url + "/video", max_frames=12))
        connections = server.connections
    assert s.state == "finished" and s.frames_read == 12 and s.reconnects >= 2 and connections >= 3
    assert s.corrupt >= 2  # one per connection that got that far
    assert s.inspected + s.dropped == 12 and s.inspected >= 1


def test_hot_folder_picks_up_a_file_written_after_start_and_skips_corrupt_files(project, tmp_path):
    folder = tmp_path / "hot"
    folder.mkdir()
    line = SyntheticLine(size=(64, 64), seed=12)
    (folder / "a.png").write_bytes(encode_png(line.part(0).image))
    (folder / "b.png").write_bytes(encode_png(line.part(1).image))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is no jpeg")
    rec = Recorder()
    p = make(project, rec, source=f"{folder}?poll=0.02&settle=0.05")
    p.start()
    assert wait_for(lambda: p.stats().inspected == 2 and p.stats().corrupt == 1)
    (folder / "c.png").write_bytes(encode_png(line.part(2).image))
    assert wait_for(lambda: p.stats().inspected == 3)
    assert p.stop()
    s = p.stats()
    assert (s.state, s.frames_read, s.inspected, s.corrupt, s.dropped) == ("stopped", 3, 3, 1, 0)
    # fail closed: the broken file is a part too, with a not_inspected verdict that counts as NG
    assert (s.triggered, s.not_inspected, s.not_inspected_reasons) == (4, 1, {"corrupt_frame": 1})
    assert sorted(r.frame.meta["file"] for r in rec.results) == ["a.png", "b.png", "broken.jpg", "c.png"]
    broken = next(r for r in rec.results if r.frame.meta["file"] == "broken.jpg")
    assert (broken.verdict.not_inspected, broken.verdict.ok) == ("corrupt_frame", False)
    assert np.array_equal(rec.results[-1].frame.image, line.part(2).image)
    assert any("broken.jpg" in m for m in rec.kinds("frame_corrupt"))


def test_presence_trigger_inspects_each_part_once_as_it_arrives(project):
    rec = Recorder()
    s = run(make(project, rec, source="synthetic://line?size=96&mode=belt&count=6&seed=8", trigger="presence"))
    assert (s.frames_read, s.triggered, s.inspected) == (6 * 13, 6, 6)  # 13 belt frames per part
    assert [(r.frame.meta["part"], r.frame.meta["offset"]) for r in rec.results] == [(i, 0) for i in range(6)]


def test_activating_another_version_swaps_the_model_mid_run_without_losing_a_frame(project):
    rec = Recorder()
    p = make(project, rec, source="synthetic://line?size=96&seed=9", watch_s=0.05)
    p.start()
    assert wait_for(lambda: len(rec.results) >= 15)
    with Project.open(project.root) as other:  # like `inspector models activate v2` from another process
        ModelRegistry(other).activate("v2")
    assert wait_for(lambda: any(r.verdict.model_version == "v2" for r in rec.results[-3:]))
    time.sleep(0.1)
    assert p.stop()
    s = p.stats()
    versions = [r.verdict.model_version for r in rec.results]
    k = versions.index("v2")
    assert set(versions[:k]) == {"v1"} and set(versions[k:]) == {"v2"} and k >= 15
    # every frame read was inspected, but for at most one being read as stop() came
    assert [r.frame.id for r in rec.results] == list(range(s.inspected)) and s.errors == 0
    assert s.inspected + s.dropped == s.frames_read and s.dropped <= 1
    assert rec.kinds("model_swapped") and "v2" in rec.kinds("model_swapped")[0]
    with ResultsLog(project.root) as log:
        per_model = log.counters(run_id=p.run_id)["per_model"]
    assert per_model == {"v1": k, "v2": len(versions) - k}


class SlowRunner:
    """A plug-in runner of another kind (as an anomaly model will be): slow to warm up, and it
    refuses to infer before it is ready, so any use of a half-loaded model shows as an error."""

    kind = "slowtest"
    backend = "test"

    def __init__(self, version):
        self.version, self.ready = version, False

    def warm_up(self, max_batch):
        time.sleep(0.6)
        self.ready = True

    def infer(self, images):
        assert self.ready, "used before warm-up finished"
        return [Verdict(ok=False, score=0.7, label=None, confidence=None, scores={}, model_version=self.version,
                        heatmap=np.full(im.shape[:2], 0.7, np.float32)) for im in images]

    def close(self):
        pass


def test_a_slow_loading_model_of_another_kind_is_used_only_once_ready(project):
    register_runner("slowtest", lambda registry, mv, cfg, backend, threads: SlowRunner(mv.version))
    try:
        reg = ModelRegistry(project)
        v3 = reg.save("slowtest", {"note": "test"}, {"w.bin": lambda p: p.write_bytes(b"x")}, summary={}).version
        rec = Recorder()
        p = make(project, rec, source="synthetic://line?size=96&seed=10", model="v1")
        p.start()
        assert wait_for(lambda: len(rec.results) >= 5)
        asked = time.perf_counter()
        p.swap_model(v3)
        assert wait_for(lambda: rec.results[-1].verdict.model_version == v3)
        assert p.stop()
    finally:
        RUNNERS.pop("slowtest", None)
    s = p.stats()
    assert s.errors == 0 and s.model_version == v3 and s.backend == "test"
    while_loading = [r for r in rec.results if r.frame.t > asked and r.verdict.model_version == "v1"]
    assert len(while_loading) >= 3  # frames kept flowing through v1 during the 0.6 s warm-up
    new = [r for r in rec.results if r.verdict.model_version == v3]
    assert new[0].verdict.heatmap.shape == (96, 96) and new[0].verdict.label is None
    assert [r.frame.id for r in rec.results] == list(range(s.inspected)) and s.frames_read - s.inspected <= 1
    with ResultsLog(project.root) as log:
        rows = [r for r in log.rows(run_id=p.run_id) if r["model_version"] == v3]
    assert rows and rows[0]["class"] is None and rows[0]["score"] == pytest.approx(0.7)


def test_a_version_that_fails_to_load_leaves_the_running_model_in_place(project):
    reg = ModelRegistry(project)
    onnx = reg.get("v2").path / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10] + b"0123456789")  # tampered after saving
    rec = Recorder()
    p = make(project, rec, source="synthetic://line?size=96&seed=11")
    p.start()
    assert wait_for(lambda: len(rec.results) >= 3)
    p.swap_model("v2")
    assert wait_for(lambda: rec.kinds("model_error"))
    n = len(rec.results)
    assert wait_for(lambda: len(rec.results) >= n + 5)
    assert p.stop()
    assert {r.verdict.model_version for r in rec.results} == {"v1"} and p.stats().errors == 1
    assert "v2" in rec.kinds("model_error")[0] and "still running v1" in rec.kinds("model_error")[0]


def test_step_reads_one_frame_at_a_time_and_software_trigger_fires_on_request(project):
    rec = Recorder()
    p = make(project, rec, source="synthetic://line?size=96&seed=12", trigger="software")
    assert p.step() is None and p.step() is None
    p.trigger()
    r = p.step()
    assert r is not None and r.frame.id == 2 and r.verdict.model_version == "v1"
    assert p.step() is None
    p.close()
    s = p.stats()
    assert (s.state, s.frames_read, s.triggered, s.inspected) == ("stopped", 4, 1, 1)
    with ResultsLog(project.root) as log:
        assert [row["frame_id"] for row in log.rows(run_id=p.run_id)] == [2]


def test_user_errors_are_clear(project, tmp_path):
    with Project.init(tmp_path / "empty") as empty:
        with pytest.raises(ModelError, match="no active model"):
            LivePipeline(empty, LiveConfig(source="synthetic://line")).start()
    rec = Recorder()
    p = make(project, rec, source="synthetic://line?size=96&count=5", roi="200,200,50,50")
    s = run(p)
    assert s.state == "failed" and s.inspected == 0
    assert rec.kinds("error") == [str(p.error)] and "outside the 96×96 frame" in str(p.error)
    with pytest.raises(ConfigError):
        LivePipeline(project, LiveConfig(source="synthetic://line", max_batch=0))
    weird = ModelRegistry(project).save("weird", {}, {"w.bin": lambda q: q.write_bytes(b"x")}, summary={}).version
    p = make(project, Recorder(), source="synthetic://line?size=96&count=5", model=weird)
    s = run(p)
    assert s.state == "failed" and "'weird' model, which the live pipeline cannot run" in str(p.error)


class BatchRunner:
    """Takes 50 ms per call whatever the batch: frames waiting meanwhile should come as one batch."""

    kind = "batchtest"
    backend = "test"

    def __init__(self, version):
        self.version, self.batches = version, []

    def warm_up(self, max_batch):
        pass

    def infer(self, images):
        self.batches.append(len(images))
        time.sleep(0.05)
        return [Verdict(ok=True, score=0.1, label=None, confidence=None, scores={}, model_version=self.version)
                for _ in images]

    def close(self):
        pass


def test_frames_that_wait_are_inspected_in_batches(project, tmp_path):
    folder = tmp_path / "backlog"
    folder.mkdir()
    for i in range(9):
        (folder / f"{i}.png").write_bytes(encode_png(np.full((32, 32, 3), 20 * i, np.uint8)))
    runners = []
    register_runner("batchtest", lambda registry, mv, cfg, backend, threads: runners.append(BatchRunner(mv.version))
                    or runners[-1])
    try:
        v = ModelRegistry(project).save("batchtest", {}, {"w.bin": lambda q: q.write_bytes(b"x")}, summary={}).version
        rec = Recorder()
        p = make(project, rec, source=f"{folder}?poll=0.02&settle=0", model=v, max_frames=9, max_batch=4)
        s = run(p)
    finally:
        RUNNERS.pop("batchtest", None)
    assert s.inspected == 9 and sum(runners[0].batches) == 9 and max(runners[0].batches) == 4
    assert sorted(r.frame.meta["file"] for r in rec.results) == [f"{i}.png" for i in range(9)]
    big = [r for r in rec.results if r.batch_size == 4]
    assert big and all(r.infer_ms == pytest.approx(big[0].infer_ms) and 10 <= r.infer_ms <= 40 for r in big[:4])


def test_classifier_runner_onnx_and_torch_fallback_agree(project):
    from inspector.core.live.runners import ClassifierRunner, load_runner

    reg = ModelRegistry(project)
    onnx = load_runner(reg, "v1", backend="onnx")
    torch_runner = load_runner(reg, "v1", backend="torch")
    assert onnx.backend in ("onnx-cpu", "onnx-cuda") and torch_runner.backend.startswith("torch-")
    line = SyntheticLine(size=(96, 96), seed=13, defect_rate=0.5)
    images = [line.part(i).image for i in range(6)]
    a, b = onnx.infer(images), torch_runner.infer(images)
    for va, vb in zip(a, b):
        assert va.label == vb.label and va.ok == vb.ok and va.score == pytest.approx(vb.score, abs=1e-4)
    config = reg.read_config("v1")
    (reg.get("v1").path / "model.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load"):
        ClassifierRunner(reg.get("v1").path, config, backend="onnx")
    fallback = ClassifierRunner(reg.get("v1").path, config)  # auto: PyTorch runs the same weights
    assert fallback.backend.startswith("torch-") and fallback.infer(images[:1])[0].label == a[0].label
