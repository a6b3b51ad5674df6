"""`inspector run` (the live pipeline, headless) and `inspector results` (the results log)."""
from __future__ import annotations

import json
import sys
import threading
import time


def add_commands(add) -> None:
    """Register the subcommands; `add(name, fn, help)` is main.py's helper (it adds --json)."""
    sp = add("run", cmd_run, "inspect a live source: camera, stream, video file, hot folder or synthetic://line")
    sp.add_argument("--project", required=True)
    sp.add_argument("--source",
                    help="camera index (0), rtsp:// or http:// URL, video file[?loop=1], folder, "
                         "or synthetic://line?fps=30&defect_rate=0.1 (default: the station's views, "
                         "`inspector station`, all triggered together)")
    sp.add_argument("--trigger", default="free",
                    help="free | interval:MS | software (each line on stdin) | presence[:x,y,w,h] | "
                         "plc (the PLC writes a Modbus coil or an OPC UA variable: needs --modbus or --opcua)")
    sp.add_argument("--roi", help="region inspected, x,y,w,h in pixels (default: the whole frame)")
    sp.add_argument("--camera-set", action="append", metavar="NAME=VALUE",
                    help="a genicam:// camera setting, repeatable: ExposureTime=5000, Gain=2, PixelFormat=Mono8, "
                         "OffsetX/OffsetY/Width/Height=PX, AcquisitionFrameRate=30, TriggerSource=free|software|line1; "
                         "one the camera refuses is reported and the run goes on")
    sp.add_argument("--model", help="a model version (default: the active model, followed when it changes)")
    sp.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    sp.add_argument("--threads", type=int, help="inference threads (default: all cores but one; 0: the runtime's choice)")
    sp.add_argument("--max-frames", type=int, help="stop after reading this many frames")
    sp.add_argument("--duration", type=float, help="stop after inspecting for this many seconds (the model's "
                                                   "loading and warm-up not counted)")
    sp.add_argument("--no-record", action="store_true", help="do not write the results log or the review queue")
    sp.add_argument("--not-inspected-as", choices=("ng", "ok"),
                    help="how a part that was not inspected (queue full, inference error, corrupt frame, no model) "
                         "counts in this run (default: the project's setting from the Live tab, else ng)")
    sp.add_argument("--stall-s", type=float, default=2.0,
                    help="a camera or stream with no picture for this many seconds is STALLED and reconnected")
    sp.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    sp.add_argument("--user", help="who runs the line (an account, operator or above, when the project has accounts; "
                                   "password from INSPECTOR_PASSWORD or a prompt); recorded on every result")
    from inspector.cli.line_cmds import add_commands as add_line_commands, add_run_flags

    add_run_flags(sp)

    sp = add("results", cmd_results, "counters of the results log (inspected, not ok, yield); --csv exports rows")
    sp.add_argument("--project", required=True)
    sp.add_argument("--since", help="2026-11-27, 2026-11-27T08:00, or back from now: 90m, 12h, 7d")
    sp.add_argument("--until", help="same forms as --since")
    sp.add_argument("--run", type=int, help="only this run (see the run ids in the output)")
    sp.add_argument("--csv", metavar="FILE", help="write the matching rows to FILE")
    sp.add_argument("--part", metavar="ID", help="one part's whole story: every result, model version, review "
                                                 "sample, who labelled it and when")
    add_line_commands(add)
    from inspector.cli.station_cmds import add_commands as add_station_commands

    add_station_commands(add)


def _summary(stats, run_id, views: list[str] | None = None) -> dict:
    """views: a station's view names (its fps counts parts, each seen by every view)."""
    d = stats.as_dict()
    keys = ("state", "frames_read", "triggered", "inspected", "ok", "not_ok", "not_inspected", "not_inspected_reasons",
            "not_inspected_as", "rejected", "dropped", "corrupt", "reconnects", "stalls", "queued_for_review", "latency_ms_p50", "latency_ms_p95", "infer_ms_p50", "infer_ms_p95", "fps",
            "elapsed_s", "model_version", "backend", "errors", "unrecorded")
    return {"run_id": run_id, **{k: d[k] for k in keys}, **({"views": views} if views else {})}


def _rate_unit(views) -> str:
    """A station's verdict is a part's (N frames, one per view); one camera's is a frame's."""
    return "parts/s" if views else "frames/s"


def _ms(v) -> str:
    return "-" if v is None else f"{v:.1f} ms"


def cmd_run(args) -> int:
    from inspector.cli._common import open_project
    from functools import partial

    from inspector.core.live.pipeline import LiveConfig, LivePipeline
    from inspector.core.live.station import StationPipeline

    quiet = args.quiet or args.json

    def on_event(e) -> None:
        if not quiet and e.kind != "state":
            print(f"[{time.strftime('%H:%M:%S')}] {e.kind}: {e.message}", file=sys.stderr, flush=True)

    from inspector.cli.line_cmds import line_for_run

    from inspector.core.live.camera_settings import parse_pairs, with_settings

    source = with_settings(args.source, parse_pairs(args.camera_set)) if args.source else ""  # a typo: one line
    config = LiveConfig(source=source, trigger=args.trigger, roi=args.roi, model=args.model,
                        backend=args.backend, threads=args.threads, max_frames=args.max_frames,
                        record=not args.no_record, not_inspected_as=args.not_inspected_as, stall_s=args.stall_s)
    with open_project(args.project) as project:
        from inspector.cli.account_cmds import login
        config.user = login(project, args.user, "line.run").name
        line, config.part_id = line_for_run(args, project, lambda kind, message: on_event(_LineEvent(kind, message)))
        if line is not None and line.plc is not None:
            config.trigger = line.plc
        from inspector.cli.station_cmds import views_for_run
        views = views_for_run(args, project)  # no --source: the station's views
        try:
            make = LivePipeline if not views else partial(StationPipeline, views=views)
            pipeline = make(project, config=config, on_event=on_event if line is None else (
                lambda e: (line.pipeline_event(e), on_event(e))), on_result=None if line is None else line.publish)
            pipeline.start()
        except BaseException:
            if line is not None:
                line.close()
            raise
        try:
            _watch(pipeline, args, quiet)
        finally:
            if line is not None:
                line.close()
        if pipeline.error is not None:
            raise pipeline.error
        summary = _summary(pipeline.stats(), pipeline.run_id, views and [v.name for v in views])
        if line is not None:
            summary["line"] = line.status()
    _report(summary, args.json)
    return 0


class _LineEvent:
    """A line output's event, printed like the pipeline's."""

    def __init__(self, kind: str, message: str):
        self.kind, self.message = kind, message


def _watch(pipeline, args, quiet: bool) -> None:
    """Until the run ends: --duration, Ctrl-C, progress lines."""
    if str(pipeline.trigger_mode) == "software":
        _trigger_on_enter(pipeline, quiet)
    t0 = None  # --duration counts from the first inspection-ready moment, not the model's loading
    last = time.monotonic()
    try:
        while not pipeline.wait(0.2):
            now = time.monotonic()
            if t0 is None and pipeline.stats().state not in ("idle", "starting", "warming_up"):
                t0 = now
            if args.duration is not None and t0 is not None and now - t0 >= args.duration:
                pipeline.stop()
                break
            if not quiet and now - last >= 2.0:
                last = now
                s = pipeline.stats()
                print(f"  {s.state}: read {s.frames_read}, inspected {s.inspected}, not ok {s.not_ok}, "
                      f"not inspected {s.not_inspected}, dropped {s.dropped}, {s.fps:.1f} "
                      f"{_rate_unit(getattr(pipeline, 'views', None))}, "
                      f"p95 {_ms(s.latency_ms_p95)}",
                      file=sys.stderr, flush=True)
    except KeyboardInterrupt:  # Ctrl-C is how a headless run is ended: stop cleanly, then report
        pipeline.stop()
    pipeline.wait(30)


def _report(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
    else:
        s = summary
        reasons = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(s["not_inspected_reasons"].items()))
        print(f"{s['state']}: read {s['frames_read']} frames, {s['triggered']} parts: ok {s['ok']}, not ok {s['not_ok']}, "
              f"not inspected {s['not_inspected']}{f' ({reasons})' if reasons else ''}, counted as "
              f"{'OK' if s['not_inspected_as'] == 'ok' else 'NG'}; rejected {s['rejected']}; dropped {s['dropped']}, "
              f"stalls {s['stalls']}, queued for review {s['queued_for_review']}\n"
              f"frame to verdict p50 {_ms(s['latency_ms_p50'])}, p95 {_ms(s['latency_ms_p95'])}; "
              f"model {s['model_version']} ({s['backend']}) p50 {_ms(s['infer_ms_p50'])}; "
              f"{s['fps']:.1f} {_rate_unit(s.get('views'))}"
              + (f" (views {' + '.join(s['views'])})" if s.get("views") else ""))


def _trigger_on_enter(pipeline, quiet: bool) -> None:
    """--trigger software from a terminal or a script: each line on stdin inspects the next frame."""
    def read() -> None:
        for _ in sys.stdin:
            pipeline.trigger()

    if not quiet:
        print("software trigger: press Enter to inspect the next frame, Ctrl-C to stop", file=sys.stderr, flush=True)
    threading.Thread(target=read, name="stdin-trigger", daemon=True).start()


def cmd_results(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.live.results import ResultsLog, parse_time

    if args.part:
        from inspector.cli.line_cmds import part_story, print_story
        with open_project(args.project) as project:
            story = part_story(project, args.part)
        if args.json:
            print(json.dumps(story, default=str))
        else:
            print_story(story)
        return 0 if story["results"] else 1
    since, until = parse_time(args.since), parse_time(args.until)
    with open_project(args.project) as project, ResultsLog(project.root) as log:
        counters = log.counters(since=since, until=until, run_id=args.run)
        runs = [r for r in log.runs() if args.run is None or r["id"] == args.run]
        exported = log.export_csv(args.csv, since=since, until=until, run_id=args.run) if args.csv else None
    obj = {**counters, "runs": [{k: r[k] for k in ("id", "started_at", "ended_at", "source", "trigger", "user")}
                                for r in runs[-20:]]}
    if exported is not None:
        obj["exported"] = exported
        obj["csv"] = args.csv
    if args.json:
        print(json.dumps(obj, default=str))
        return 0
    y = counters["yield"]
    reasons = ", ".join(f"{k.replace('_', ' ')} {n}" for k, n in sorted(counters["not_inspected_reasons"].items()))
    print(f"parts {counters['triggered']}: ok {counters['ok']}, not ok {counters['not_ok']}, "
          f"not inspected {counters['not_inspected']}{f' ({reasons})' if reasons else ''}, "
          f"rejected {counters['rejected']}, yield {'-' if y is None else f'{100 * y:.2f} %'}, "
          f"queued for review {counters['queued_for_review']}")
    for name, n in counters["per_class"].items():
        print(f"  {name or '(no class)':<20} {n:>8}")
    if exported is not None:
        print(f"wrote {exported} rows to {args.csv}")
    return 0
