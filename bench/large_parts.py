"""Large images, small defects: a fit on good parts of about 5 MP (2448 × 2048, a brushed metal surface
drawn here) with the default `auto` preset, then scoring parts with a 3-px crack.

    python bench/large_parts.py [--count 300] [--side 2448x2048] [--seed 0]

Prints one JSON line last: fit_s, peak_rss_mb (the whole process, decoded images included), bank_mb,
score_ms_5mp (decoded part in, score and full-size map out), crack_caught (share of 20 cracked parts
flagged), crack_peak_px (median distance from the map's peak to the crack, full-resolution pixels),
frr (share of 20 new good parts flagged), chosen."""
from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector.core.anomaly.fitting import fit_good_parts  # noqa: E402
from inspector.core.anomaly.model import AnomalyConfig  # noqa: E402
from inspector.core.anomaly.threshold import auroc  # noqa: E402


def brushed(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Grey 8-bit brushed metal: streaks along x, a slow light gradient, sensor noise."""
    small = rng.normal(0, 1, (h // 4, w // 4)).astype(np.float32)
    streaks = cv2.GaussianBlur(small, (0, 0), sigmaX=12, sigmaY=0.6)
    streaks = cv2.resize(streaks, (w, h), interpolation=cv2.INTER_LINEAR)
    streaks *= 40 / (streaks.std() + 1e-6)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 30 * np.sin(xx / w * np.pi * rng.uniform(0.8, 1.2) + rng.uniform(0, 1)) * (yy / h)
    img = 140 + streaks + light + rng.normal(0, 3, (h, w)).astype(np.float32)
    return img.clip(0, 255).astype(np.uint8)


def crack(rng: np.random.Generator, img: np.ndarray, level: int = 60, width: int = 3) -> tuple[np.ndarray, tuple[int, int]]:
    """A dark crack `width` px wide and about 120 px long, drawn at grey `level` (the surface is ~140);
    returns the part and the crack's centre (x, y)."""
    h, w = img.shape
    mx, my = min(200, w // 4), min(200, h // 4)
    cx, cy = int(rng.integers(mx, w - mx)), int(rng.integers(my, h - my))
    pts, a = [(cx, cy)], rng.uniform(0, np.pi)
    for _ in range(12):
        a += rng.normal(0, 0.4)
        pts.append((pts[-1][0] + 10 * np.cos(a), pts[-1][1] + 10 * np.sin(a)))
    out = img.copy()
    cv2.polylines(out, [np.round(pts).astype(np.int32).reshape(-1, 1, 2)], False, level, thickness=width, lineType=cv2.LINE_AA)
    p = np.array(pts)
    return out, (int(p[:, 0].mean()), int(p[:, 1].mean()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--side", default="2448x2048", help="WIDTHxHEIGHT")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tests", type=int, default=20, help="cracked and new good parts scored (each)")
    ap.add_argument("--crack-level", type=int, default=60, help="grey level of the crack on the ~140 surface "
                    "(closer to 140 = fainter)")
    ap.add_argument("--crack-width", type=int, default=3)
    ap.add_argument("--config", default=None, help='fixed settings instead of the auto search: JSON AnomalyConfig '
                    'fields, e.g. {"stages": [3, 4, 5], "grid": 16, "long_sides": [960], "smooth_sigma": 4}')
    args = ap.parse_args()
    w, h = (int(v) for v in args.side.lower().split("x"))
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(args.count):
            f = Path(tmp) / f"good{i:04d}.png"
            cv2.imwrite(str(f), brushed(rng, h, w), [cv2.IMWRITE_PNG_COMPRESSION, 1])
            files.append(f)
        n_val = max(5, args.count // 5)
        t0 = time.perf_counter()
        model, report = fit_good_parts(files[n_val:], [(h, w)] * (args.count - n_val), files[:n_val], seed=args.seed,
                                       config=AnomalyConfig.from_dict({**json.loads(args.config), "seed": args.seed})
                                       if args.config else None)
        fit_s = time.perf_counter() - t0
    if report is not None:
        print("auto: " + report.reason, file=sys.stderr)
        for r in report.results:
            print(f"  tried {r.name} sigma {r.smooth_sigma:g}: catch {r.catch:.3f} auroc {r.auroc:.3f} "
                  f"{r.score_ms:.0f} ms", file=sys.stderr)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    caught, dists, times, bad_s = 0, [], [], []
    for _ in range(args.tests):
        part, (x, y) = crack(rng, brushed(rng, h, w), args.crack_level, args.crack_width)
        t = time.perf_counter()
        r = model.score(part, with_map=True)
        times.append(time.perf_counter() - t)
        caught += int(r.flagged)
        bad_s.append(r.raw)
        dists.append(float(np.hypot(r.peak[0] - x, r.peak[1] - y)))
        assert r.map.shape == (h, w)
    good = [model.score(brushed(rng, h, w)) for _ in range(args.tests)]
    frr = float(np.mean([r.flagged for r in good]))
    good_s = [r.raw for r in good]
    print(json.dumps({"fit_s": round(fit_s, 1), "peak_rss_mb": round(rss_mb), "bank_mb": round(model.bank_bytes / 2**20, 2),
                      "score_ms_5mp": round(1000 * float(np.median(times)), 1), "crack_caught": caught / args.tests,
                      "image_auroc": round(auroc(np.r_[np.zeros(len(good_s)), np.ones(len(bad_s))], np.r_[good_s, bad_s]), 4),
                      "crack_peak_px": round(float(np.median(dists)), 1), "frr": frr, "tests": args.tests,
                      "crack_level": args.crack_level, "crack_width": args.crack_width,
                      "chosen": report.chosen if report else None, "count": args.count, "side": [w, h],
                      "search_s": report.seconds if report else None,
                      "final_fit_estimate_s": report.final_fit_s if report else None}))


if __name__ == "__main__":
    main()
