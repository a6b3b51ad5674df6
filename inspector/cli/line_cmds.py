"""Line I/O on the command line: `inspector run` flags for the PLC / MES outputs, the PLC trigger and
part IDs; `inspector line` shows or saves a station's settings in the project (the Live tab's too);
`inspector results --part ID` tells one part's whole story."""
from __future__ import annotations

import json
import sys
import time


def add_run_flags(sp) -> None:
    g = sp.add_argument_group("line outputs (default: the project's line settings, `inspector line`)")
    _settings_flags(g)
    g.add_argument("--no-line", action="store_true", help="run without the project's line outputs")
    sp.add_argument("--part-id", metavar="SOURCE",
                    help="part IDs: plc (with --trigger plc, the default then), file (hot-folder file name), "
                         "counter, or barcode[:x,y,w,h] (barcode / DataMatrix / QR in that region)")


def _settings_flags(g) -> None:
    g.add_argument("--station", help="the station's name in topics and OPC UA (default station1)")
    g.add_argument("--modbus", metavar="[HOST:]PORT", help="serve Modbus TCP, e.g. 502 or 0.0.0.0:5020")
    g.add_argument("--opcua", metavar="ENDPOINT", help="serve OPC UA, e.g. opc.tcp://0.0.0.0:4840/inspector/")
    g.add_argument("--opcua-anonymous", action="store_true", default=None,
                   help="allow anonymous OPC UA clients (only on a network you trust)")
    g.add_argument("--opcua-cert", metavar="FILE", help="server certificate: Basic256Sha256 endpoints only")
    g.add_argument("--opcua-key", metavar="FILE", help="the certificate's private key (PEM)")
    g.add_argument("--opcua-trusted", metavar="DIR", help="folder of client certificates allowed in")
    g.add_argument("--mqtt", metavar="HOST[:PORT]", help="publish each part to this MQTT broker")
    g.add_argument("--mqtt-user", help="MQTT user (password from INSPECTOR_MQTT_PASSWORD)")
    g.add_argument("--mes", metavar="URL", help="POST each part's JSON to this MES webhook, e.g. "
                   "https://mes.local/api/results (token: INSPECTOR_MES_TOKEN, or https://bearer:TOKEN@…, kept "
                   "out of the project by `inspector line`); '' turns it off")


def settings_from(args, project):
    """The project's line settings with the command line's flags on top."""
    from inspector.core.line.outputs import LineSettings
    s = LineSettings.load(project)
    for name in ("station", "modbus", "opcua", "opcua_anonymous", "opcua_cert", "opcua_key", "opcua_trusted",
                 "mqtt", "mqtt_user", "mes"):
        value = getattr(args, name, None)
        if value is not None:
            setattr(s, name, (value or None) if name == "mes" else value)
    return s


def line_for_run(args, project, say):
    """(LineIO or None, part-id spec) for `inspector run`; LineIO started. say(kind, message)."""
    from inspector.core.errors import ConfigError
    from inspector.core.line.outputs import LineIO
    plc = str(args.trigger).strip().lower() == "plc"
    settings = settings_from(args, _NoProject() if getattr(args, "no_line", False) else project)
    part_id = args.part_id or ("plc" if plc else None)
    if not settings.any:
        if plc:
            raise ConfigError("--trigger plc needs a server for the PLC to write to: --modbus PORT or --opcua ENDPOINT")
        return None, part_id
    io = LineIO(settings, outbox_folder=project.root, plc_trigger=plc, on_event=say)
    io.start()
    return io, part_id


class _NoProject:
    def get_meta(self, key, default=None):
        return default


def add_commands(add) -> None:
    sp = add("line", cmd_line, "show or save this station's line outputs (Modbus, OPC UA, MQTT, MES webhook) in the project")
    sp.add_argument("--project", required=True)
    _settings_flags(sp)
    sp.add_argument("--clear", action="store_true", help="remove every output (the station name stays)")


def cmd_line(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.line.outputs import LineIO, LineSettings
    with open_project(args.project) as project:
        s = settings_from(args, project)
        if args.clear:
            s = LineSettings(station=s.station)
        changed = args.clear or any(getattr(args, n, None) is not None for n in (
            "station", "modbus", "opcua", "opcua_anonymous", "opcua_cert", "opcua_key", "opcua_trusted", "mqtt",
            "mqtt_user", "mes"))
        if changed:
            if s.mes:  # a token typed into the URL goes to the user-only secrets file, not the project
                from inspector.core.live import credentials
                s.mes = credentials.remember(s.mes)
            LineIO(s, outbox_folder=project.root)  # checks the settings (one line each) before they are saved
            s.save(project)
    d = json.loads(s.to_json())
    if args.json:
        print(json.dumps(d))
    else:
        print(f"station {s.station}: " + (", ".join(f"{k} {d[k]}" for k in ("modbus", "opcua", "mqtt", "mes") if d[k])
                                          or "no line outputs") + (" (saved)" if changed else ""))
    return 0


def part_story(project, part_id: str) -> dict:
    """Everything known about one part: each result (model version, verdict, score, run), the review
    sample it was queued as (its image, label, who labelled it and when) and the audit rows about it."""
    from inspector.core.live.results import ResultsLog
    with ResultsLog(project.root) as log:
        rows = log.part_rows(part_id)
        runs = {r["id"]: r for r in log.runs()}
    story = {"part_id": part_id, "results": [], "samples": []}
    seen = set()
    for r in rows:
        run = runs.get(r["run_id"], {})
        story["results"].append({
            "at": r["at"], "time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"])),
            "verdict": r["verdict"], "class": r["class"], "score": r["score"], "model_version": r["model_version"],
            "reason": r["reason"], "counted_as": r["counted_as"], "run_id": r["run_id"], "source": r["source"],
            "frame_id": r["frame_id"], "trigger": run.get("trigger"), "sample_id": r["sample_id"],
            "user": r["user"], "views": json.loads(r["views"]) if r["views"] else None})
        if r["sample_id"] is not None and r["sample_id"] not in seen:
            seen.add(r["sample_id"])
            story["samples"].append(_sample(project, r["sample_id"]))
    return story


def _sample(project, sample_id: int) -> dict:
    row = project.db.execute(
        "SELECT s.image_hash, s.ext, s.status, c.name, s.labelled_by, s.labelled_at FROM samples s "
        "LEFT JOIN classes c ON c.id = s.label_id WHERE s.id = ?", (sample_id,)).fetchone()
    if row is None:
        return {"sample_id": sample_id, "missing": True}
    digest, ext, status, label, by, at = row
    return {"sample_id": sample_id, "image": str(project.image_path(f"{digest}.{ext}")), "status": status,
            "label": label, "reviewed_by": by,
            "reviewed_at": None if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))}


def print_story(story: dict) -> None:
    if not story["results"]:
        print(f"part {story['part_id']}: no results in this project's log", file=sys.stderr)
        return
    print(f"part {story['part_id']}: {len(story['results'])} result(s)")
    for r in story["results"]:
        what = r["verdict"] + (f" ({r['class']})" if r["class"] else "") + (
            f", score {r['score']:.3f}" if r["score"] is not None else f", {r['reason']}")
        print(f"  {r['time']}  {what}  model {r['model_version'] or '-'}  run {r['run_id']}  {r['source']}"
              + (f"  by {r['user']}" if r.get("user") else ""))
    for s in story["samples"]:
        who = f"labelled {s.get('label')} by {s.get('reviewed_by')} at {s.get('reviewed_at')}" \
            if s.get("reviewed_by") else s.get("status", "missing")
        print(f"  review sample {s['sample_id']}: {who}  {s.get('image', '')}")
