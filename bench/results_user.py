"""Results log schema 4 (issue 12): how long a big schema-3 results.sqlite takes to open (the migration adds
`user` and `views` in place), and what recording the account on every verdict costs a write.

Usage: .venv/bin/python bench/results_user.py [--rows 1000000]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from inspector.core.live.results import RESULTS_DB, ResultRow, ResultsLog

V3 = """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
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
CREATE INDEX results_by_sample ON results(sample_id) WHERE sample_id IS NOT NULL;
INSERT INTO meta VALUES ('schema_version', '3');
INSERT INTO runs VALUES (1, 1000.0, NULL, 'camera:0', 'free', NULL, NULL);"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="results_user_"))
    db = sqlite3.connect(root / RESULTS_DB)
    db.executescript(V3)
    db.executemany("INSERT INTO results (run_id, at, source, frame_id, verdict, class, score, model_version, part_id)"
                   " VALUES (1, ?, 'camera:0', ?, 'ok', 'good', 0.1, 'v1', ?)",
                   ((1000.0 + i, i, f"SN-{i}") for i in range(args.rows)))
    db.commit()
    db.close()
    out = {"rows": args.rows, "file_mb": round((root / RESULTS_DB).stat().st_size / 1e6, 1)}
    t = time.perf_counter()
    with ResultsLog(root) as log:
        out["open_and_migrate_s"] = round(time.perf_counter() - t, 3)
        n = 20_000
        for name, user in (("no_user", None), ("user", "operator-otto")) * 2:  # twice: the second pair is warm
            rows = [ResultRow(1, 1.0 + i, "c", i, True, "good", 0.9, 0.1, {"good": 0.9}, "v1", 1.0, 1.0,
                              part_id=f"P{i}", user=user) for i in range(n)]
            t = time.perf_counter()
            for k in range(0, n, 64):  # the recorder writes batches of what is waiting
                log.write(rows[k:k + 64])
            out[f"write_us_per_row_{name}"] = round(1e6 * (time.perf_counter() - t) / n, 1)
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
