"""Start-up of the frozen application (dist/inspector, built by `make package`): a fresh process to
its first window (offscreen) and to its first live verdict on synthetic://line.

    python bench/startup.py [--bundle dist/inspector] [--runs 3] [--drop-caches]

first window: `inspector --self-test window` starts Qt and shows the main window on a new project,
as `inspector` does when it reopens the last project, and prints a line at once; the time is from
process start to that line.
first verdict: `inspector run --project P --source synthetic://line --max-frames 1 --json` on a
project whose active model is the Fast preset (frozen EfficientNet-Lite0 + head), trained first by
the bundle itself (not timed); the time is from process start to the JSON line, which is printed
after the verdict and after the pipeline has stopped (so it is an upper bound).
Each figure is the median over --runs fresh processes: wall time, and (as *_cpu_s) the CPU time,
user + system, of the whole process, which other programs on the PC hardly change. --drop-caches
(root) empties the page cache before each start, as after a reboot ("cold disk"); without it the
bundle's files are in the cache.
Human lines on stderr; one JSON line last: {"first_window_s", "first_verdict_s", "bundle_mb", ...}.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bundle_size(path: Path) -> tuple[float, int]:
    """(MB, files): what the folder holds on disk, by apparent size."""
    files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
    return sum(p.stat().st_size for p in files) / 1e6, len(files)


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def time_to_line(cmd: list[str], env: dict, want: str) -> tuple[float, str, float]:
    """(seconds from starting cmd to its first stdout line containing `want`, the line, the CPU
    seconds, user + system, that the whole process used). The CPU time hardly grows when other
    programs compete for the cores, the wall time does: both are reported."""
    with tempfile.TemporaryFile(mode="w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        found = None
        for line in proc.stdout:
            if found is None and want in line:
                found = (time.perf_counter() - t0, line)
        _, status, usage = os.wait4(proc.pid, 0)  # reap it here: wait4 also gives its CPU time
        proc.returncode = os.waitstatus_to_exitcode(status)
        if found is None or proc.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{cmd[1:]} failed or printed no {want!r}: {err.read()[-2000:]}")
    return found[0], found[1], usage.ru_utime + usage.ru_stime


def run_json(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[1:3])} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=str(ROOT / "dist" / "inspector"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drop-caches", action="store_true", help="empty the page cache before each start (root)")
    args = ap.parse_args()
    bundle = Path(args.bundle)
    exe = bundle / ("inspector.exe" if sys.platform == "win32" else "inspector")
    if not exe.is_file():
        sys.exit(f"no bundle at {bundle} — run `make package` first")
    mb, files = bundle_size(bundle)
    log(f"bundle {bundle}: {mb:.0f} MB in {files} files")

    with tempfile.TemporaryDirectory(prefix="inspector-startup-") as tmp_name:
        tmp = Path(tmp_name)
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "INSPECTOR_CONFIG_DIR": str(tmp / "config"),
               "INSPECTOR_LOG_DIR": str(tmp / "logs")}
        project = tmp / "project"
        log("preparing a project with the bundle: 40 synthetic parts, Fast preset (not timed)")
        run_json([str(exe), "synth", "--out", str(tmp / "parts"), "--count", "40", "--size", "224", "--balanced",
                  "--json"], env)
        run_json([str(exe), "project", "init", str(project), "--json"], env)
        run_json([str(exe), "import", str(tmp / "parts"), "--project", str(project), "--json"], env)
        trained = run_json([str(exe), "train", "--project", str(project), "--preset", "head", "--epochs", "5",
                            "--quiet", "--json"], env)
        log(f"model {trained['version']} ({trained['arch']}, {trained['mode']}) trained in {trained['wall_s']:.1f} s")

        window, verdict, window_cpu, verdict_cpu, dropped = [], [], [], [], []
        for i in range(args.runs):
            dropped.append(drop_caches() if args.drop_caches else False)
            s, line, cpu = time_to_line([str(exe), "--self-test", "window"], env, "window_shown")
            if not json.loads(line)["window_shown"]:
                raise RuntimeError("the main window was not shown")
            window.append(s)
            window_cpu.append(cpu)
            dropped.append(drop_caches() if args.drop_caches else False)
            s, line, cpu = time_to_line([str(exe), "run", "--project", str(project), "--source", "synthetic://line",
                                         "--max-frames", "1", "--no-record", "--json"], env, '"inspected"')
            got = json.loads(line)
            if got["inspected"] != 1:
                raise RuntimeError(f"no verdict in the first frame: {got}")
            verdict.append(s)
            verdict_cpu.append(cpu)
            log(f"run {i + 1}: first window {window[-1]:.2f} s (CPU {window_cpu[-1]:.2f} s), first verdict "
                f"{verdict[-1]:.2f} s (CPU {verdict_cpu[-1]:.2f} s; {got['backend']}, inference {got['infer_ms_p50']:.0f} ms)")

    result = {"first_window_s": round(statistics.median(window), 2),
              "first_verdict_s": round(statistics.median(verdict), 2),
              "bundle_mb": round(mb), "bundle_files": files,
              "first_window_cpu_s": round(statistics.median(window_cpu), 2),
              "first_verdict_cpu_s": round(statistics.median(verdict_cpu), 2),
              "load_avg_1min": round(os.getloadavg()[0], 1), "cores": os.cpu_count(),
              "first_window_runs_s": [round(s, 2) for s in window],
              "first_verdict_runs_s": [round(s, 2) for s in verdict],
              "page_cache": "dropped before each start" if all(dropped) else "warm (not dropped)"}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
