"""Retention and maintenance on a real project: results past their age go, the review queue keeps its
newest parts (labelled parts never go, audited ones are discarded not deleted), images of parts
discarded long ago go while their rows and audit stay, the databases stay whole, and the CLI reports."""
import csv
import json
import sqlite3
import time

import pytest

from inspector.cli.main import main
from inspector.core import maintenance, retention
from inspector.core.errors import ConfigError
from inspector.core.imageio import encode_png
from inspector.core.live.results import ResultRow, ResultsLog
from inspector.core.project import Project
from inspector.core.synth import SyntheticLine

DAY = 86_400.0


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj")
    p.add_class("good", "ok")
    p.add_class("scratch", "defect")
    yield p
    p.close()


def _parts(project, n, seed=0, **kw):
    line = SyntheticLine(size=(48, 48), seed=seed)
    return [project.add_image(encode_png(line.part(i).image), source="live:test", **kw).sample_id
            for i in range(n)]


def _results(project, ats):
    with ResultsLog(project.root) as log:
        run = log.start_run("synthetic://line", "free", None)
        log.write([ResultRow(run, at, "synthetic://line", i, True, "good", 0.9, 0.1, {"good": 0.9}, "v1", 5.0, 2.0)
                   for i, at in enumerate(ats)])
        log.end_run(run, {})


def test_policy_is_stored_checked_and_one_line_when_wrong(project):
    assert retention.load_policy(project) == retention.RetentionPolicy()
    p = retention.save_policy(project, results_days="30", review_queue_max=5, every_h=0.5)
    assert (p.results_days, p.review_queue_max, p.every_h, p.discarded_days) == (30, 5, 0.5, 30)
    for name, bad in (("results_days", "-1"), ("review_queue_max", "2.5"), ("every_h", "nan"),
                      ("discarded_days", "lots"), ("colour", 1)):
        with pytest.raises(ConfigError) as e:
            retention.save_policy(project, **{name: bad})
        assert "\n" not in str(e.value)
    project.set_meta("retention.results_days", "garbage")  # a damaged value: the default, not a crash
    assert retention.load_policy(project).results_days == retention.DEFAULT_RESULTS_DAYS


def test_maintenance_prunes_by_policy_and_keeps_labelled_parts_and_audit(project):
    now = time.time()
    labelled = _parts(project, 3, seed=1, label="good", user="ann")
    queue = _parts(project, 8, seed=2)
    # an unreviewed part with history: labelled, then the label undone
    project.set_label(queue[0], "scratch", "ann")
    project.restore_label_state(queue[0], None, "unreviewed", None, None, "ann")
    gone_later = project.samples(status="unreviewed", order="added_at")[:5]
    discarded = _parts(project, 2, seed=3)
    for sid in discarded:
        project.discard(sid, "ann")
    _results(project, [now - 40 * DAY + i for i in range(50)] + [now - 1 + i * 1e-3 for i in range(20)])
    audit_before = len(project.audit())
    retention.save_policy(project, results_days=30, review_queue_max=3, discarded_days=7)

    report = maintenance.run_maintenance(project, now=now + 8 * DAY, vacuum="always")

    assert report.ok and report.integrity == {"project.sqlite": "ok", "results.sqlite": "ok"}
    assert report.results_deleted == 50
    assert report.queue_dropped == 4 and report.queue_discarded == 1
    assert report.images_pruned == 2  # the two discarded by hand (the audited queue part is counted above)
    left = project.samples(status="unreviewed", order="added_at")
    assert [s.id for s in left] == queue[5:]  # the newest three stay
    assert {s.id for s in project.samples(status="labelled")} == set(labelled)
    for s in gone_later:
        assert not project.image_path(s).exists()
    assert project.sample(queue[0]).status == "discarded"  # its history kept, under "retention"
    assert project.audit()[-1].user == retention.RETENTION_USER and len(project.audit()) == audit_before + 1
    for sid in discarded:
        assert project.sample(sid).status == "discarded" and not project.image_path(project.sample(sid)).exists()
    for sid in labelled:
        assert project.image_path(project.sample(sid)).exists()
    assert set(report.vacuumed) == {"project.sqlite", "results.sqlite"}
    assert "integrity check ok" in report.line() and "\n" not in report.line()
    with ResultsLog(project.root) as log:
        assert log.counters()["triggered"] == 20
    # reopening reports nothing missing: pruned images are known to be gone on purpose
    with Project.open(project.root) as again:
        assert again.recovery.missing_files == [] and again.recovery.moved == []
    assert maintenance.last_report(project)["results_deleted"] == 50
    # a second run has nothing left to do
    again = maintenance.run_maintenance(project, now=now + 8 * DAY)
    assert (again.results_deleted, again.queue_dropped, again.images_pruned) == (0, 0, 0)


def test_schedule_follows_every_h_and_the_last_report(project):
    retention.save_policy(project, every_h=2)
    assert maintenance.due(project)  # never run
    report = maintenance.run_maintenance(project)
    assert not maintenance.due(project, now=report.at + 3600)
    assert maintenance.due(project, now=report.at + 2 * 3600 + 1)
    retention.save_policy(project, every_h=0)
    assert not maintenance.due(project, now=report.at + 10 * 3600)
    (project.root / maintenance.LAST_REPORT).write_text("{not json", encoding="utf-8")
    assert maintenance.last_report(project) is None


def test_maintenance_reports_a_damaged_results_file(project):
    _results(project, [time.time()])
    data = bytearray((project.root / "results.sqlite").read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the first page's b-tree header and cells
    (project.root / "results.sqlite").write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        (project.root / f"results.sqlite{suffix}").unlink(missing_ok=True)
    retention.save_policy(project, results_days=0)
    report = maintenance.run_maintenance(project)
    assert not report.ok and report.integrity["results.sqlite"] != "ok"
    assert "INTEGRITY CHECK FAILED" in report.line() and "restore" in report.line()
    assert report.integrity["project.sqlite"] == "ok"


def test_cli_maintenance_and_retention(project, capsys):
    root = str(project.root)
    _results(project, [time.time() - 100 * DAY, time.time()])
    assert main(["retention", "--project", root, "--results-days", "30", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results_days"] == 30
    assert main(["retention", "--project", root, "--review-queue", "many"]) == 2
    assert "review_queue_max" in capsys.readouterr().err
    assert main(["maintenance", "--project", root, "--json"]) == 0
    obj = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert obj["ok"] and obj["results_deleted"] == 1 and obj["integrity"]["results.sqlite"] == "ok"
    assert main(["maintenance", "--project", root]) == 0
    assert "integrity check ok" in capsys.readouterr().out


def test_csv_export_streams_from_its_own_snapshot(project, tmp_path):
    _results(project, [1_800_000_000.0 + i for i in range(12_000)])
    with ResultsLog(project.root) as log:
        rows = log.rows()
        first = next(rows)
        # the line keeps writing through the log's own connection while the export reads
        log.write([ResultRow(1, 1_900_000_000.0, "s", 0, True, "good", 0.9, 0.1, {}, "v1", 1.0, 1.0)])
        rest = list(rows)
        assert first["frame_id"] == 0 and len(rest) == 11_999  # the snapshot from the first row
        n = log.export_csv(tmp_path / "all.csv")
    assert n == 12_001
    with open(tmp_path / "all.csv", newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.reader(f)) == 12_002
    assert sqlite3.connect(project.root / "results.sqlite").execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_report_line_names_only_what_was_done():
    quiet = maintenance.MaintenanceReport(integrity={"project.sqlite": "ok"}, seconds=0.04)
    assert quiet.line() == "nothing to remove; integrity check ok (0.0 s)"
    busy = maintenance.MaintenanceReport(results_deleted=5, queue_dropped=2, integrity={"project.sqlite": "ok"})
    text = busy.line()
    assert text.startswith("removed 5 result row(s) and 0 run(s) past retention; 2 unreviewed part(s)")
    assert "discarded parts" not in text and text.count(";") == 2
