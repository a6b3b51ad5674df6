"""Live pipeline benchmark: synthetic://line at full speed (224×224 parts) into an EfficientNet-Lite0
classifier, and in the same run a bare ONNX Runtime session on the same model.onnx and the same frames.

The classifier is trained in a temporary project first, with the CLI in child processes (synth,
import, `inspector train --preset head --epochs 5`: frozen ImageNet backbone, new linear head), so
the pipeline runs exactly what a user deploys, and this process holds no PyTorch memory. The
pipeline runs as shipped: results log and review queue on.

    python bench/live.py [--frames 1500] [--repeats 3] [--threads N] [--corrupt 0.05]

Two source variants each round: "render" draws every part as it is read (the virtual camera's
~3-5 ms of CPU per frame competes with inference on a 2-core PC), "cached" (cache=N) replays the
first N parts drawn beforehand (a camera costs the CPU almost nothing; these are exactly the
bare session's frames). Human lines on stderr; one JSON line last: {"fps", "infer_ms_p50",
"infer_ms_p95", "frame_to_verdict_ms_p95", "overhead_ratio", "rss_growth", ..., "cached_source": {…}}
for the render variant, medians over rounds. overhead_ratio = pipeline wall time per frame / bare
ONNX Runtime time per frame (same thread count, measured in the same round); rss_growth = resident
memory at the end of a run over its value after the run's first 10% of frames (the largest).

--corrupt P: each variant also runs, in the same round, with &corrupt=P (that share of frames arrives
undecodable and must become a not_inspected result row); "corrupt" in the JSON gives its fps, the
parts not inspected and fps_ratio = fps with corrupt frames / fps without (medians over rounds).
fps counts parts a model decided; --frames counts decodable frames, so both runs inspect as many.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector.core.live.pipeline import LiveConfig, LivePipeline  # noqa: E402
from inspector.core.live.runners import default_threads, onnx_session  # noqa: E402
from inspector.core.project import Project  # noqa: E402
from inspector.core.registry import ModelRegistry  # noqa: E402
from inspector.core.synth import SyntheticLine  # noqa: E402

SIZE = 224
SOURCE = "synthetic://line?size=224&seed=42&defect_rate=0.2"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def inspector(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "inspector.cli.main", *map(str, args)], capture_output=True,
                         text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"inspector {' '.join(map(str, args))} failed:\n{out.stderr[-2000:]}")
    return out.stdout


def train(tmp: Path, n: int) -> Project:
    """Through the CLI, in child processes: this process never loads PyTorch, so its memory is
    the pipeline's own, as in a deployed station."""
    t0 = time.perf_counter()
    inspector("synth", "--out", tmp / "parts", "--count", n, "--size", SIZE, "--balanced", "--seed", 7)
    inspector("project", "init", tmp / "proj")
    inspector("import", tmp / "parts", "--project", tmp / "proj")
    t = json.loads(inspector("train", "--project", tmp / "proj", "--preset", "head", "--epochs", 5, "--device", "cpu",
                             "--quiet", "--json").strip().splitlines()[-1])
    log(f"trained {t['version']} (effnet-lite0, head preset, 5 epochs, {n} synthetic parts, val accuracy "
        f"{t['val_accuracy']:.3f}) in {time.perf_counter() - t0:.1f} s")
    return Project.open(tmp / "proj")


def bare(model_path: Path, frames: list[np.ndarray], threads: int | None) -> list[float]:
    """ms per frame of session.run alone, one frame at a time, on frames already in memory (resized
    beforehand to the model's input, as the pipeline's predictor resizes them)."""
    sess = onnx_session(model_path, threads)
    h, w = sess.get_inputs()[0].shape[1:3]
    frames = [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
    for f in frames[:5]:
        sess.run(["probs"], {"image": f[None]})
    out = []
    for f in frames:
        t = time.perf_counter()
        sess.run(["probs"], {"image": f[None]})
        out.append((time.perf_counter() - t) * 1000)
    return out


def pipeline_run(project: Project, source: str, frames: int, threads: int | None) -> dict:
    samples: list[tuple[int, int]] = []
    done = threading.Event()
    pl = LivePipeline(project, LiveConfig(source=source, max_frames=frames, threads=threads))

    def sample_rss() -> None:  # every 0.5 s: (verdicts so far, resident bytes)
        while not done.wait(0.5):
            samples.append((pl.stats_.inspected, rss_bytes()))

    sampler = threading.Thread(target=sample_rss, daemon=True)
    pl.start()
    sampler.start()
    pl.wait()
    done.set()
    samples.append((pl.stats_.inspected, rss_bytes()))
    if pl.error:
        raise pl.error
    s = pl.stats()
    base = next((r for n, r in samples if n >= frames // 10), samples[0][1])
    return {"fps": s.fps, "infer_ms_p50": s.infer_ms_p50, "infer_ms_p95": s.infer_ms_p95,
            "frame_to_verdict_ms_p50": s.latency_ms_p50, "frame_to_verdict_ms_p95": s.latency_ms_p95,
            "inspected": s.inspected, "dropped": s.dropped, "queued_for_review": s.queued_for_review,
            "triggered": s.triggered, "not_inspected": s.not_inspected, "corrupt": s.corrupt,
            "parts_per_s": round(s.fps * s.triggered / s.inspected, 3) if s.inspected else 0.0,
            "backend": s.backend, "rss_start_mb": round(base / 2**20, 1), "rss_end_mb": round(samples[-1][1] / 2**20, 1),
            "rss_max_mb": round(max(r for n, r in samples if n >= frames // 10) / 2**20, 1),
            "rss_growth": round(samples[-1][1] / base - 1, 4)}


def report(tag: str, r: dict) -> None:
    log(f"  pipeline, {tag}: {r['fps']:.1f} frames/s ({1000 / r['fps']:.2f} ms/frame), infer p50 "
        f"{r['infer_ms_p50']:.1f} p95 {r['infer_ms_p95']:.1f} ms, frame to verdict p50 {r['frame_to_verdict_ms_p50']:.1f} "
        f"p95 {r['frame_to_verdict_ms_p95']:.1f} ms, overhead x{r['overhead_ratio']:.3f}, RSS {r['rss_start_mb']} -> "
        f"{r['rss_end_mb']} MB, dropped {r['dropped']}, queued for review {r['queued_for_review']}, parts "
        f"{r['triggered']}, not inspected {r['not_inspected']} (corrupt {r['corrupt']})")


def summarize(runs: list[dict]) -> dict:
    def med(key):
        return round(statistics.median(r[key] for r in runs), 3)

    return {"fps": med("fps"), "infer_ms_p50": med("infer_ms_p50"), "infer_ms_p95": med("infer_ms_p95"),
            "frame_to_verdict_ms_p95": med("frame_to_verdict_ms_p95"), "overhead_ratio": med("overhead_ratio"),
            "rss_growth": max(r["rss_growth"] for r in runs)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=400, help="frames per pipeline run")
    ap.add_argument("--repeats", type=int, default=2, help="rounds of bare + pipeline runs; medians are reported")
    ap.add_argument("--bare-frames", type=int, default=200, help="frames for the bare session (= the cached parts)")
    ap.add_argument("--train-parts", type=int, default=60)
    ap.add_argument("--threads", type=int, help="inference threads for both (default: the pipeline's, all cores but one)")
    ap.add_argument("--only", choices=("render", "cached"), help="run one source variant only (e.g. for a long run)")
    ap.add_argument("--corrupt", type=float, default=0.0,
                    help="also run each variant with this share of undecodable frames (e.g. 0.05), same round")
    args = ap.parse_args()
    variants = {"render": SOURCE, "cached": f"{SOURCE}&cache={args.bare_frames}"}
    if args.only:
        variants = {args.only: variants[args.only]}
    if args.corrupt:
        variants.update({f"{k}+corrupt": f"{v}&corrupt={args.corrupt}" for k, v in list(variants.items())})

    with tempfile.TemporaryDirectory(prefix="inspector-bench-live-") as tmp:
        project = train(Path(tmp), args.train_parts)
        mv = ModelRegistry(project).active("classifier")
        line = SyntheticLine(size=(SIZE, SIZE), defect_rate=0.2, seed=42)
        frames = [line.part(i).image for i in range(args.bare_frames)]  # = the pipeline's frames 0..bare_frames-1
        runs = {k: [] for k in variants}
        bares, ort_defaults = [], []
        for rep in range(args.repeats):
            b = bare(mv.path / "model.onnx", frames, args.threads)
            bares.append(statistics.mean(b))
            log(f"[{rep + 1}] bare ONNX Runtime, same threads as the pipeline ({args.threads or default_threads()}): "
                f"{bares[-1]:.2f} ms/frame mean, p50 {np.percentile(b, 50):.2f}, p95 {np.percentile(b, 95):.2f}")
            d = bare(mv.path / "model.onnx", frames[:50], 0)
            ort_defaults.append(statistics.mean(d))
            log(f"[{rep + 1}] bare ONNX Runtime, its own thread choice: {ort_defaults[-1]:.2f} ms/frame mean")
            for tag, source in variants.items():
                r = pipeline_run(project, source, args.frames, args.threads)
                r["overhead_ratio"] = round((1000 / r["fps"]) / bares[-1], 3)
                runs[tag].append(r)
                report(tag, r)
        project.close()

    main_tag = "render" if "render" in runs else "cached"
    out = summarize(runs[main_tag])
    out.update(source=variants[main_tag], bare_ms_per_frame=round(statistics.median(bares), 3),
               bare_ort_default_threads_ms_per_frame=round(statistics.median(ort_defaults), 3),
               frames=args.frames, repeats=args.repeats, threads=args.threads or default_threads(),
               backend=runs[main_tag][0]["backend"])
    if main_tag == "render" and "cached" in runs:
        out["cached_source"] = summarize(runs["cached"])
    if args.corrupt:
        out["corrupt"] = {}
        for tag in [t for t in runs if not t.endswith("+corrupt")]:
            bad = runs[f"{tag}+corrupt"]
            out["corrupt"][tag] = {
                "rate": args.corrupt, "fps": round(statistics.median(r["fps"] for r in bad), 3),
                "fps_clean": round(statistics.median(r["fps"] for r in runs[tag]), 3),
                "fps_ratio": round(statistics.median(b["fps"] / c["fps"] for b, c in zip(bad, runs[tag])), 3),
                "parts_per_s": round(statistics.median(r["parts_per_s"] for r in bad), 3),
                "not_inspected": [r["not_inspected"] for r in bad], "triggered": [r["triggered"] for r in bad],
                "not_inspected_equals_corrupt": all(r["not_inspected"] == r["corrupt"] for r in bad),
                "rows_add_up": all(r["inspected"] + r["not_inspected"] == r["triggered"] for r in bad)}
    out["torch_loaded"] = "torch" in sys.modules  # the ONNX path should never import PyTorch
    out["runs"] = runs
    print(json.dumps(out))


if __name__ == "__main__":
    main()
