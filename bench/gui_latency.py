"""GUI responsiveness while the workstation is busy: the live view running on synthetic://line and a
Fast training running (restarted whenever one ends), measure how late a 10 ms QTimer fires on the GUI
thread. Targets: p99 <= 30 ms, max <= 100 ms.

    python bench/gui_latency.py [--seconds 60] [--source SPEC] [--anomaly]

--anomaly: the demo project also gets an anomaly model (fitted first on 24 good parts, not timed), so
the live view runs anomaly model + classifier with heatmaps, as a line with both does.

Runs offscreen unless QT_QPA_PLATFORM says otherwise. Prints one JSON line last:
{"timer_late_ms_p99": …, "timer_late_ms_max": …, "seconds": …}
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import inspector.gui  # noqa: E402,F401 - torch before Qt
import numpy as np  # noqa: E402
from PySide6.QtCore import QElapsedTimer, Qt, QTimer  # noqa: E402

SOURCE = "synthetic://line?fps=15&size=256&defect_rate=0.35&seed=11"
PERIOD_MS = 10


def fit_demo_anomaly(root: Path) -> None:
    from inspector.core.anomaly.fitting import fit_project
    from inspector.core.anomaly.model import preset
    from inspector.core.imageio import encode_png
    from inspector.core.project import Project
    from inspector.core.synth import SyntheticLine

    t0 = time.perf_counter()
    line = SyntheticLine(size=(256, 256), defect_rate=0.0, seed=21)
    with Project.open(root) as p:
        for i in range(24):
            p.add_image(encode_png(line.part(i, "good").image), source="bench", label="good", user="bench")
        out = fit_project(p, config=preset("detail"), activate=True, user="bench")
    print(f"anomaly model {out.version.version} fitted in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--source", default=SOURCE, help="live source (default: the synthetic line at 15 frames/s)")
    ap.add_argument("--trigger", default="free")
    ap.add_argument("--no-train", action="store_true", help="diagnosis: the live view alone")
    ap.add_argument("--no-live", action="store_true", help="diagnosis: the training alone")
    ap.add_argument("--anomaly", action="store_true", help="fit an anomaly model first: the line runs both models")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["INSPECTOR_CONFIG_DIR"] = str(Path(tmp) / "config")  # leave the user's settings alone
        os.environ["INSPECTOR_LOG_DIR"] = str(Path(tmp) / "logs")
        from inspector.core.demo_project import make_demo_project
        from inspector.gui.app import create_qapp
        from inspector.gui.main_window import MainWindow
        from inspector.gui.session import Session

        app = create_qapp(["gui_latency"])
        t0 = time.perf_counter()
        root = make_demo_project(Path(tmp) / "demo", user="bench")
        print(f"demo project ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        if args.anomaly:
            fit_demo_anomaly(root)
        session = Session.open(root, "bench")
        session.prefs.review_per_minute = 60
        w = MainWindow(session)
        w.resize(1366, 768)
        w.show()
        live, train = w.live_panel, w.train_panel
        live.source.setText(args.source)
        live.trigger_combo.setCurrentIndex(max(0, live.trigger_combo.findData(args.trigger)))
        trainings = {"started": 0, "done": 0}

        def train_again(running: bool) -> None:
            if not running and not w._closing:
                trainings["done"] += 1
                QTimer.singleShot(0, start_training)

        def start_training() -> None:
            if not w._closing and not train.training:
                trainings["started"] += 1
                train.start_training()

        train.training_changed.connect(train_again)
        if not args.no_live:
            live.start()
            deadline = time.monotonic() + 60
            while not (live.live.running and live.live.results_seen > 0) and time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            if not live.live.running:
                print("error: the live view did not start", file=sys.stderr)
                return 2
        if not args.no_train:
            start_training()

        late: list[float] = []
        clock = QElapsedTimer()
        timer = QTimer()
        timer.setTimerType(Qt.TimerType.PreciseTimer)
        timer.setInterval(PERIOD_MS)
        last = [None]

        def tick() -> None:
            now = clock.nsecsElapsed() / 1e6
            if last[0] is not None:
                late.append(max(0.0, now - last[0] - PERIOD_MS))
            last[0] = now

        timer.timeout.connect(tick)
        wait_s = 3.0  # let the training get going first
        end = time.monotonic() + wait_s + args.seconds
        started = [False]

        def begin() -> None:
            clock.start()
            timer.start()
            started[0] = True

        QTimer.singleShot(int(wait_s * 1000), begin)
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.0005)
        timer.stop()
        inspected = live.live.results_seen
        stats = live.live.stats()
        line_model = f"{stats.model_version} ({stats.backend})" if stats is not None else None
        w.close()
        close_t0 = time.monotonic()
        while not w._closed and time.monotonic() - close_t0 < 30:
            app.processEvents()
            time.sleep(0.01)
        close_s = time.monotonic() - close_t0

    arr = np.array(late) if late else np.zeros(1)
    result = {"timer_late_ms_p99": round(float(np.percentile(arr, 99)), 2),
              "timer_late_ms_max": round(float(arr.max()), 2), "seconds": args.seconds,
              "timer_late_ms_p50": round(float(np.percentile(arr, 50)), 2), "ticks": len(late),
              "live_verdicts": inspected, "trainings_started": trainings["started"],
              "trainings_finished": trainings["done"], "close_s": round(close_s, 2), "line_model": line_model}
    print(f"timer ticks {len(late)}, late p50 {result['timer_late_ms_p50']} ms, p99 {result['timer_late_ms_p99']} ms, "
          f"max {result['timer_late_ms_max']} ms; {inspected} live verdicts, {trainings['started']} trainings; "
          f"window closed in {close_s:.1f} s", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
