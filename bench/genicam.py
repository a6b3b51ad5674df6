"""GenICam acquisition benchmark: Aravis's fake GigE Vision camera (arv-fake-gv-camera-0.8) on
loopback — the real GVCP / GVSP protocols — read through Inspector's genicam:// source at --fps,
640×480, for --seconds (default 60; the issue's figure is --seconds 600). Each frame is converted to
RGB as the pipeline would get it. genicam_frames_lost = incomplete buffers + gaps in the camera's
frame ids; genicam_packets_lost from the stream statistics; frames_short = frames expected at the
camera's rate minus frames received (a slow reader).

    python bench/genicam.py [--seconds 600] [--fps 30]

Needs aravis-tools, gir1.2-aravis-0.8 and python3-gi (Debian/Ubuntu). One JSON line last."""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector.core.live.sources import open_source  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=30.0)
    args = ap.parse_args()
    fake = shutil.which("arv-fake-gv-camera-0.8")
    if fake is None:
        raise SystemExit("arv-fake-gv-camera-0.8 is missing: apt-get install aravis-tools")
    cam = subprocess.Popen([fake, "-i", "127.0.0.1", "-s", "BENCH"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        src = open_source(f"genicam://127.0.0.1?roi=0,0,640,480&fps={args.fps:g}&pixel_format=Mono8")
        src.open()
        print(f"reading {src.name} for {args.seconds:g} s at {args.fps:g} frames/s"
              + (f", refused: {src.refused}" if src.refused else ""), file=sys.stderr, flush=True)
        frames, first_id, last_id, shape = 0, None, None, None
        t0 = time.monotonic()
        while time.monotonic() - t0 < args.seconds:
            got = src.read(1.0)
            if got is None:
                continue
            image, meta = got
            frames += 1
            shape = image.shape
            first_id = meta["index"] if first_id is None else first_id
            last_id = meta["index"]
        elapsed = time.monotonic() - t0
        src.close()
    finally:
        cam.terminate()
        cam.wait(10)
    sent = (last_id - first_id + 1) if first_id is not None else 0
    out = {"seconds": round(elapsed, 1), "fps_set": args.fps, "frames": frames,
           "fps_measured": round(frames / elapsed, 2), "shape": list(shape) if shape else None,
           "camera_frames_sent": sent, "genicam_frames_lost": src.lost_frames,
           "genicam_packets_lost": src.lost_packets, "frames_short": max(0, sent - frames - src.lost_frames)}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
