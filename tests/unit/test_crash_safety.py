"""SIGKILL a process that is adding and labelling images, many times at random moments, and check after
each kill that the project opens intact: no lost returned work, no orphan or temp files, no row without file."""
from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from inspector.core.project import Project

WORKER = Path(__file__).with_name("crash_worker.py")
MIN_KILLS = 15
MAX_KILLS = 40
MIN_MID_ADD = 3  # keep killing (up to MAX_KILLS) until this many kills hit an add after its file was begun

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")


def _load_worker():
    spec = importlib.util.spec_from_file_location("crash_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(project_dir: Path, start: int, kill_after: float | None, wait_ready: bool, log: Path,
         mode: str = "images") -> list[str]:
    """Run the worker from plan step `start`; kill it kill_after seconds after it is ready (or after start)."""
    with open(log, "ab") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(WORKER), str(project_dir), str(start), mode],
                                stdout=subprocess.PIPE, stderr=err)
        try:
            lines = []
            if kill_after is None:
                out, _ = proc.communicate(timeout=120)
                return out.decode().splitlines()
            if wait_ready:
                lines.append(proc.stdout.readline().decode())
                _run.startup_s = time.monotonic() - t0
            time.sleep(kill_after)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            # Only whole lines count: a line is printed after its step returned.
            lines += proc.stdout.read().decode().splitlines(keepends=True)
            return [ln.rstrip("\n") for ln in lines if ln.endswith("\n")]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()


def _kill_site(project_dir: Path, plan, last_step: int, hashes) -> str:
    """Where the kill landed, judged from what it left (before Project.open cleans up)."""
    images = project_dir / "images"
    if any(p.name.startswith(".tmp-") for p in images.rglob("*")):
        return "writing image file"
    db = sqlite3.connect(project_dir / "project.sqlite")
    try:
        rows = {h for (h,) in db.execute("SELECT image_hash FROM samples")}
    finally:
        db.close()
    if any(p.is_file() and p.name.split(".")[0] not in rows for p in images.rglob("*")):
        return "file placed, row not committed"
    if last_step + 1 >= len(plan):
        return "after last step"
    op = plan[last_step + 1]
    if op[0] == "add" and hashes[op[1]] in rows:
        return "add committed, not yet reported"
    return f"before/inside {op[0]} step"


def _expected_labels(plan, upto: int) -> dict[int, str | None]:
    labels: dict[int, str | None] = {}
    for op in plan[:upto + 1]:
        if op[0] == "add":
            labels[op[1]] = op[2]
        elif op[0] == "label":
            labels[op[1]] = op[2]
    return labels


def _verify(project_dir: Path, plan, hashes, returned: dict[int, tuple[int, str]], last_step: int,
            finished: bool) -> None:
    with Project.open(project_dir) as p:
        assert p.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert p.db.execute("PRAGMA foreign_key_check").fetchall() == []
        samples = {s.id: s for s in p.samples()}
        # Every add that returned is there, with its file and the right bytes.
        for step, (sid, digest) in returned.items():
            s = samples.get(sid)
            assert s is not None and s.image_hash == digest, f"step {step}: sample {sid} lost"
        # Files and rows match one to one; no temp files survive open.
        files = [f for f in p.images_dir.rglob("*") if f.is_file()]
        assert not [f for f in files if f.name.startswith(".tmp-")]
        assert {f.name for f in files} == {f"{s.image_hash}.{s.ext}" for s in samples.values()}
        for s in samples.values():
            assert hashlib.sha256(p.image_path(s).read_bytes()).hexdigest() == s.image_hash
        # Labels are what the reported steps left, except that the one step in flight may have committed.
        by_hash = {s.image_hash: s for s in samples.values()}
        expected = _expected_labels(plan, last_step)
        in_flight = plan[last_step + 1] if not finished and last_step + 1 < len(plan) else None
        for image, label in expected.items():
            s = by_hash[hashes[image]]
            allowed = {label}
            if in_flight and in_flight[0] == "label" and in_flight[1] == image:
                allowed.add(in_flight[2])
            assert s.label in allowed, f"image {image}: label {s.label!r}, expected {allowed}"
            label_audit = [a for a in p.audit(s.id) if a.field == "label"]
            assert (label_audit[-1].new if label_audit else None) == s.label  # label and audit commit together
        extra = len(samples) - len(expected)
        assert extra == 0 or (extra == 1 and in_flight and in_flight[0] == "add")
        if finished:
            assert len(samples) == len({op[1] for op in plan})


def test_sigkill_during_adds_never_corrupts_the_project(tmp_path):
    worker = _load_worker()
    plan = worker.make_plan()
    hashes = [hashlib.sha256(worker.image_bytes(i)).hexdigest() for i in range(worker.N_IMAGES)]
    rng = random.Random(20240607)
    sites: Counter[str] = Counter()
    kills = 0
    rounds = 0
    rate = None  # plan steps per second once the worker is ready, measured from killed runs
    _run.startup_s = 1.0
    t0 = time.monotonic()
    finished = True
    while True:
        if finished:  # a fresh project; a fast machine may finish the plan before enough kills landed
            rounds += 1
            project_dir = tmp_path / f"proj{rounds}"
            with Project.init(project_dir) as p:
                p.add_class("good", "ok")
                p.add_class("scratch")
                p.add_class("dent")
            returned: dict[int, tuple[int, str]] = {}
            last_step = -1
        mid_add = sites["writing image file"] + sites["file placed, row not committed"]
        killing = kills < MIN_KILLS or (mid_add < MIN_MID_ADD and kills < MAX_KILLS)
        wait_ready = rng.random() < 0.85  # now and then kill while the child is still starting or opening
        # Spread the kills over the plan whatever the machine's speed: each run may do a fraction of what is left.
        needed = max(MIN_KILLS - kills, 0) + max(MIN_MID_ADD - mid_add, 0) + 1
        cap = 0.25
        if rate:
            cap = min(cap, max(0.01, (len(plan) - last_step - 1) / (2 * needed) / rate))
        delay = rng.uniform(0.0, cap) if wait_ready else rng.uniform(0.05, _run.startup_s + cap)
        start_step = last_step
        lines = _run(project_dir, last_step + 1, delay if killing else None, wait_ready, tmp_path / "worker.log")
        finished = "done" in lines
        for line in lines:
            parts = line.split()
            if parts and parts[0] in ("added", "label"):
                step = int(parts[1])
                assert step == last_step + 1, f"steps out of order: {step} after {last_step}"
                last_step = step
                if parts[0] == "added":
                    returned[step] = (int(parts[2]), parts[3])
                    assert parts[3] == hashes[plan[step][1]]
        if killing and not finished:
            kills += 1
            if wait_ready and delay > 0.02:
                run_rate = (last_step - start_step) / delay
                rate = run_rate if rate is None else max(rate, run_rate)
            sites[_kill_site(project_dir, plan, last_step, hashes)] += 1
        _verify(project_dir, plan, hashes, returned, last_step, finished)
        if finished and not killing:
            break
        assert killing or finished, f"worker failed without being killed:\n{(tmp_path / 'worker.log').read_text()[-2000:]}"
    elapsed = time.monotonic() - t0
    print(f"\n{kills} kills in {elapsed:.1f}s over {len(plan)} steps, {rounds} round(s); "
          f"where they landed: {dict(sites)}")
    assert last_step == len(plan) - 1
    assert kills >= MIN_KILLS
    assert sites["writing image file"] + sites["file placed, row not committed"] >= MIN_MID_ADD, dict(sites)


MODEL_KILLS = 12


def _verify_models_and_results(project_dir: Path, worker, models: dict[int, str], batches: set[int],
                               last_step: int, finished: bool) -> dict:
    """After a kill: both databases whole; every reported model version there with its exact files;
    every reported result batch there whole; nothing half-done left (a batch is all or nothing, a model
    folder without its row is in quarantine, never in models/)."""
    from inspector.core.live.results import ResultsLog
    from inspector.core.registry import ModelRegistry

    plan = worker.model_plan()
    in_flight = plan[last_step + 1] if not finished and last_step + 1 < len(plan) else None
    # A temp folder of a save the kill cut short is left for an hour (another process may be filling
    # it); pretend the hour has passed, so opening must move it to quarantine.
    for d in (project_dir / "models").iterdir():
        if d.name.startswith(".tmp-"):
            old = time.time() - 7200
            os.utime(d, (old, old))
    with Project.open(project_dir) as p:
        assert p.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        reg = ModelRegistry(p)
        saved = {mv.version: mv for mv in reg.list()}
        for step, version in models.items():
            mv = reg.verify(version)  # every file against its recorded hash
            assert (mv.path / "payload.bin").read_bytes() == worker.model_payload(step), f"{version} wrong"
        extra = set(saved) - set(models.values())
        assert not extra or (len(extra) == 1 and in_flight == "model"), extra
        folders = {d.name for d in p.models_dir.iterdir() if not d.name.startswith(".")}
        assert folders <= set(saved), f"model folders without a row left in models/: {folders - set(saved)}"
        assert not [d for d in p.models_dir.iterdir() if d.name.startswith(".tmp-")]
        recovered = list(p.recovery.orphan_models) + ["tmp"] * p.recovery.temp_files
    results_db = project_dir / "results.sqlite"
    with ResultsLog(project_dir) as log:
        assert log.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_step = dict(log.db.execute("SELECT CAST(at AS INTEGER), COUNT(*) FROM results GROUP BY 1").fetchall())
    assert all(n == worker.RESULT_BATCH for n in per_step.values()), "a result batch was half written"
    assert batches <= set(per_step), f"reported result batches lost: {sorted(batches - set(per_step))[:5]}"
    unreported = set(per_step) - batches
    assert not unreported or (len(unreported) == 1 and in_flight == "results"), unreported
    assert results_db.exists()
    return {"orphan_models": recovered}


def test_sigkill_during_model_saves_and_result_writes_loses_nothing_reported(tmp_path):
    worker = _load_worker()
    plan = worker.model_plan()
    rng = random.Random(777)
    kills, quarantined, finished, rounds = 0, 0, False, 0
    total_models = total_batches = 0
    t0 = time.monotonic()

    def new_round():
        nonlocal rounds
        rounds += 1
        d = tmp_path / f"proj{rounds}"
        Project.init(d).close()
        return d, {}, set(), -1

    project_dir, models, batches, last_step = new_round()
    while kills < MODEL_KILLS:
        delay = rng.uniform(0.02, 0.4)
        lines = _run(project_dir, last_step + 1, delay, True, tmp_path / "worker.log", mode="models")
        finished = "done" in lines
        for line in lines:
            parts = line.split()
            if parts and parts[0] in ("model", "results"):
                step = int(parts[1])
                assert step == last_step + 1, f"steps out of order: {step} after {last_step}"
                last_step = step
                if parts[0] == "model":
                    models[step] = parts[2]
                else:
                    batches.add(step)
        if finished:
            # a fast PC runs the whole plan between kills: check this project, go on with a fresh one
            _verify_models_and_results(project_dir, worker, models, batches, last_step, True)
            total_models, total_batches = total_models + len(models), total_batches + len(batches)
            project_dir, models, batches, last_step = new_round()
            continue
        kills += 1
        quarantined += len(_verify_models_and_results(project_dir, worker, models, batches, last_step,
                                                      False)["orphan_models"])
        # the in-flight step may have committed: count it as reported when it did (the next run goes on after it)
        with Project.open(project_dir) as p:
            from inspector.core.registry import ModelRegistry

            by_step = {mv.summary.get("step"): mv.version for mv in ModelRegistry(p).list()}
        from inspector.core.live.results import ResultsLog

        with ResultsLog(project_dir) as log:
            done_batches = {int(r[0]) for r in log.db.execute("SELECT DISTINCT CAST(at AS INTEGER) FROM results")}
        nxt = last_step + 1
        if nxt < len(plan) and ((plan[nxt] == "model" and nxt in by_step) or (plan[nxt] == "results" and nxt in done_batches)):
            last_step = nxt
            if plan[nxt] == "model":
                models[nxt] = by_step[nxt]
            else:
                batches.add(nxt)
    _verify_models_and_results(project_dir, worker, models, batches, last_step, False)
    total_models, total_batches = total_models + len(models), total_batches + len(batches)
    print(f"\n{kills} kills in {time.monotonic() - t0:.1f}s over {rounds} project(s): {total_models} models and "
          f"{total_batches} result batches reported, {quarantined} model folder(s) quarantined")
    assert kills == MODEL_KILLS and total_models >= 3 and total_batches >= 6
