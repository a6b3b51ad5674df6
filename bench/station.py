"""Multi-camera station throughput: parts/s of a 2-view station (StationPipeline, video files top and
side, the demo's Fast-preset classifier on each view) against one view (LivePipeline on the top file
alone), the same files, results log and review queue on, as shipped. Rounds alternate 1 and 2 views.

    python bench/station.py [--frames 300] [--rounds 2] [--size 256]

Human lines on stderr; one JSON line last: {"one_view_parts_s", "two_views_parts_s", "ratio",
"two_views_frames_s", "infer_ms_p50_one", "infer_ms_p50_two", "cores", "loadavg_before", "loadavg_after"}
(medians over rounds). parts/s = parts with a result / wall time from start() to the end (model
loading included for both, so it is the same handicap)."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_video(path: Path, images) -> Path:
    h, w = images[0].shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for im in images:
        out.write(cv2.cvtColor(im, cv2.COLOR_RGB2BGR))
    out.release()
    return path


def run_once(project, views, files) -> dict:
    from inspector.core.live.config import LiveConfig
    from inspector.core.live.pipeline import LivePipeline
    from inspector.core.live.station import StationPipeline
    from inspector.core.live.station_config import ViewConfig

    if views == 1:
        p = LivePipeline(project, LiveConfig(source=str(files[0])))
    else:
        p = StationPipeline(project, [ViewConfig(n, str(f)) for n, f in zip(("top", "side"), files)],
                            LiveConfig(source=""))
    t0 = time.perf_counter()
    p.start()
    assert p.wait(600), "the run did not end"
    wall = time.perf_counter() - t0
    s = p.stats()
    assert p.error is None, p.error
    return {"parts": s.triggered, "frames": s.frames_read, "wall_s": wall, "parts_s": s.triggered / wall,
            "frames_s": s.frames_read / wall, "infer_ms_p50": s.infer_ms_p50, "not_inspected": s.not_inspected}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    from inspector.core.demo_project import make_demo_project
    from inspector.core.project import Project
    from inspector.core.synth import SyntheticLine

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print("training the demo model …", file=sys.stderr, flush=True)
        root = make_demo_project(tmp / "project", size=args.size)
        line = SyntheticLine(size=(args.size, args.size), defect_rate=0.3, seed=7)
        files = [write_video(tmp / f"{name}.avi", [line.part(i + k * 10_000).image for i in range(args.frames)])
                 for k, name in enumerate(("top", "side"))]
        load_before = os.getloadavg()
        runs: dict[int, list[dict]] = {1: [], 2: []}
        with Project.open(root) as project:
            for r in range(args.rounds):
                for views in (1, 2):
                    got = run_once(project, views, files)
                    runs[views].append(got)
                    print(f"round {r + 1}, {views} view(s): {got['parts']} parts in {got['wall_s']:.1f} s = "
                          f"{got['parts_s']:.1f} parts/s ({got['frames_s']:.1f} frames/s), model p50 "
                          f"{got['infer_ms_p50']} ms, not inspected {got['not_inspected']}", file=sys.stderr, flush=True)
        load_after = os.getloadavg()

    def med(views, key):
        return round(statistics.median(x[key] for x in runs[views]), 2)

    out = {"frames_per_file": args.frames, "size": args.size, "rounds": args.rounds,
           "one_view_parts_s": med(1, "parts_s"), "two_views_parts_s": med(2, "parts_s"),
           "ratio": round(med(2, "parts_s") / med(1, "parts_s"), 3), "two_views_frames_s": med(2, "frames_s"),
           "infer_ms_p50_one": med(1, "infer_ms_p50"), "infer_ms_p50_two": med(2, "infer_ms_p50"),
           "not_inspected_two": sum(x["not_inspected"] for x in runs[2]),
           "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
           "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
