"""A big project stays fast: 200,000 samples and 5,000,000 result rows, made in a temp folder with
direct SQL inserts (image files are hard links to a few real part images, so disk stays small).

Measures, offscreen:
  open_s               Session.open + the main window built and shown, Review's first page listed
  review_next_ms_p99   Review tab, "Waiting for review": a key press (Space = label OK, Backspace = skip)
                       until the next part is shown with its image; p99 over --presses presses
  results_csv_mb_per_s results CSV export (streamed) of --csv-rows rows, MB of CSV per second
Targets (issue 11): review_next_ms_p99 <= 50, open_s <= 3.

    python bench/big_project.py [--samples 200000] [--results 5000000] [--presses 300] [--keep DIR]

Prints one JSON line last.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import inspector.gui  # noqa: E402,F401 - torch before Qt
import numpy as np  # noqa: E402

DAY = 86_400.0


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def make_project(root: Path, n_samples: int, n_results: int, seed: int = 0) -> dict:
    """The project, its samples (70 % labelled, 25 % waiting for review, 5 % discarded) and results
    spread over 30 days. Returns what was made."""
    from inspector.core.imageio import encode_png
    from inspector.core.live.results import ResultsLog
    from inspector.core.project import Project
    from inspector.core.synth import SyntheticLine

    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    with Project.init(root, name="big") as p:
        classes = {n: p.add_class(n, k).id for n, k in (("good", "ok"), ("scratch", "defect"), ("spot", "defect"),
                                                         ("crack", "defect"), ("missing", "defect"))}
    line = SyntheticLine(size=(192, 192), defect_rate=0.5, seed=seed)
    templates = []
    for i in range(16):
        data = encode_png(line.part(i).image)
        path = root / f".template-{i}.png"
        path.write_bytes(data)
        templates.append((path, len(data)))
    db = sqlite3.connect(str(root / "project.sqlite"), isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    start = time.time() - 60 * DAY
    ids = list(classes.values())
    status = rng.choice(["labelled", "unreviewed", "discarded"], size=n_samples, p=[0.70, 0.25, 0.05])
    labels = rng.choice(ids, size=n_samples, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    rows, made_dirs = [], set()
    for i in range(n_samples):
        digest = hashlib.sha256(f"big-{seed}-{i}".encode()).hexdigest()
        st = str(status[i])
        lab = int(labels[i]) if st == "labelled" else None
        tpl, size = templates[i % len(templates)]
        rows.append((digest, "png", 192, 192, size, "live:bench", start + i * 20.0, start + i * 20.0, lab,
                     "bench" if lab else None, start + i * 20.0 + 5 if lab else None, st,
                     ("val" if i % 5 == 0 else "train") if lab else None, int(labels[i]), float(rng.random())))
        folder = root / "images" / digest[:2]
        if digest[:2] not in made_dirs:
            folder.mkdir(exist_ok=True)
            made_dirs.add(digest[:2])
        try:
            os.link(tpl, folder / f"{digest}.png")
        except OSError:  # no hard links here: a copy
            (folder / f"{digest}.png").write_bytes(tpl.read_bytes())
    db.execute("BEGIN")
    db.executemany("INSERT INTO samples (image_hash, ext, width, height, byte_size, source, captured_at, added_at,"
                   " label_id, labelled_by, labelled_at, status, split, suggestion_id, suggestion_score)"
                   " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("COMMIT")
    db.close()
    for tpl, _ in templates:
        tpl.unlink()
    log(f"{n_samples} samples in {time.perf_counter() - t0:.1f} s")

    t1 = time.perf_counter()
    ResultsLog(root).close()
    rdb = sqlite3.connect(str(root / "results.sqlite"), isolation_level=None)
    rdb.execute("PRAGMA synchronous = OFF")
    rdb.execute("BEGIN")
    rdb.execute("INSERT INTO runs (id, started_at, ended_at, source, trigger) VALUES (1, ?, ?, 'synthetic://line', "
                "'free')", (time.time() - 30 * DAY, time.time()))
    step = 30 * DAY / max(1, n_results)
    r0 = time.time() - 30 * DAY
    names = ["good", "scratch", "spot", "crack", "missing"]
    chunk = 250_000
    for c in range(0, n_results, chunk):
        k = min(chunk, n_results - c)
        score = rng.random(k)
        rdb.executemany(
            "INSERT INTO results (run_id, at, source, frame_id, verdict, class, confidence, score, scores,"
            " model_version, latency_ms, infer_ms) VALUES (1, ?, 'synthetic://line', ?, ?, ?, ?, ?, ?, 'v3', ?, ?)",
            ((r0 + (c + j) * step, c + j, "not_ok" if score[j] > 0.9 else "ok",
              names[0] if score[j] <= 0.9 else names[1 + (c + j) % 4], 0.5 + score[j] / 2, float(score[j]),
              '{"good": %.4f}' % (1 - score[j]), 12.5, 8.0) for j in range(k)))
    rdb.execute("COMMIT")
    rdb.close()
    log(f"{n_results} result rows in {time.perf_counter() - t1:.1f} s")
    return {"samples": n_samples, "results": n_results, "unreviewed": int((status == "unreviewed").sum())}


def measure(root: Path, presses: int, csv_rows: int, n_results: int) -> dict:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from inspector.core.live.results import ResultsLog
    from inspector.gui.app import create_qapp
    from inspector.gui.main_window import MainWindow
    from inspector.gui.session import Session

    app = create_qapp(["big_project"])
    t0 = time.perf_counter()
    session = Session.open(root, "bench")
    w = MainWindow(session)
    w.resize(1366, 768)
    w.show()
    panel = w.review_panel
    while panel.list.count() == 0 and time.perf_counter() - t0 < 60:
        app.processEvents()
    QApplication.processEvents()
    open_s = time.perf_counter() - t0
    log(f"open {open_s:.2f} s")

    w.show_panel("review")
    panel.status_filter.setCurrentIndex(0)  # waiting for review
    app.processEvents()
    deadline = time.perf_counter() + 10
    while (panel.current is None or panel.current.id not in panel.cache.large) and time.perf_counter() < deadline:
        app.processEvents()

    times = {"label": [], "skip": []}
    for i in range(presses):
        kind = "label" if i % 2 == 0 else "skip"
        before = panel.current.id if panel.current is not None else None
        t = time.perf_counter()
        QTest.keyClick(panel.list, Qt.Key.Key_Space if kind == "label" else Qt.Key.Key_Backspace)
        limit = t + 5
        while time.perf_counter() < limit:
            cur = panel.current
            if cur is not None and cur.id != before and cur.id in panel.cache.large:
                break
            app.processEvents()
        times[kind].append((time.perf_counter() - t) * 1000)
        app.processEvents()  # what the key press left queued runs before the next press, as between real ones
    both = times["label"] + times["skip"]

    def p(values, q):
        return round(float(np.percentile(values, q)), 2) if values else None

    out = {"open_s": round(open_s, 3), "review_next_ms_p50": p(both, 50), "review_next_ms_p99": p(both, 99),
           "review_next_ms_max": round(max(both), 2), "review_label_ms_p99": p(times["label"], 99),
           "review_skip_ms_p99": p(times["skip"], 99)}
    w.close()
    deadline = time.perf_counter() + 30
    while not w._closed and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.01)

    with ResultsLog(root) as rl:
        # the newest csv_rows rows: a time window, as an operator exports "the last N days"
        since = time.time() - 30 * DAY * min(1.0, csv_rows / max(1, n_results))
        t = time.perf_counter()
        n = rl.export_csv(root / "export.csv", since=since)
        dt = time.perf_counter() - t
    mb = (root / "export.csv").stat().st_size / 1e6
    out.update({"results_csv_rows": n, "results_csv_mb": round(mb, 1), "results_csv_mb_per_s": round(mb / dt, 1)})
    (root / "export.csv").unlink()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=200_000)
    ap.add_argument("--results", type=int, default=5_000_000)
    ap.add_argument("--presses", type=int, default=300)
    ap.add_argument("--csv-rows", type=int, default=1_000_000, help="rows exported to measure CSV speed")
    ap.add_argument("--keep", metavar="DIR", help="make (or reuse) the project in DIR instead of a temp folder")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INSPECTOR_CONFIG_DIR"] = str(Path(tmp) / "config")  # leave the user's settings alone
        os.environ["INSPECTOR_LOG_DIR"] = str(Path(tmp) / "logs")
        root = Path(args.keep) if args.keep else Path(tmp) / "big"
        t = time.perf_counter()
        made = (make_project(root, args.samples, args.results) if not (root / "project.sqlite").exists()
                else {"samples": args.samples, "results": args.results, "reused": True})
        made["make_s"] = round(time.perf_counter() - t, 1)
        out = {**made, **measure(root, args.presses, args.csv_rows, args.results),
               "load_avg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
