"""Line I/O benchmark: a PLC triggers parts and reads the results, over real protocol stacks on loopback.

A temporary project gets a small trained classifier (the CLI in child processes: synth, import,
`train --arch cnn --epochs 1`, 64×64 parts). Then the station runs as shipped — a real `inspector run`
process with --trigger plc, a Modbus TCP server, an OPC UA server (anonymous, loopback only) and the
MQTT output to a mosquitto broker this bench starts. This process plays the PLC at --rate parts/s:
parts alternate between a Modbus TCP client (part ID into holding 10-29, TRIGGER coil, poll the
result coils, ACK) and an OPC UA client (TriggerPartId, Trigger, poll ResultReady, Ack). Trigger →
result is timed from the trigger write to the client seeing the result, so it holds the camera's
wait for its next frame (--fps), the model and both protocol stacks. The model's own time per part
(infer_ms from the results log) is reported beside it, and `*_over_model_ms_p99` = p99 of (trigger →
result − that part's model time).

An MQTT subscriber (persistent session, QoS 1) counts the result messages; halfway through, the
broker is restarted (down --broker-down-s seconds): mqtt_lost (parts with a results row and no
message) and mqtt_out_of_order (a message whose part came before one already received) must be 0;
mqtt_duplicates counts re-sent messages (at least once delivery).

    python bench/line_io.py                  # 400 parts, about 20 s of line time
    python bench/line_io.py --parts 10000    # the full figure (about 8.5 minutes at 20 parts/s)

Human lines on stderr; one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inspector.core.line.local_broker import LocalBroker, free_port  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def inspector(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "inspector.cli.main", *map(str, args)], capture_output=True,
                         text=True)
    if out.returncode != 0:
        raise SystemExit(f"inspector {' '.join(map(str, args[:2]))} failed: {out.stderr[-2000:]}")
    return out.stdout


def p99(xs: list[float]) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(0.99 * (len(xs) - 1))))], 2)


def p50(xs: list[float]) -> float | None:
    return round(statistics.median(xs), 2) if xs else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", type=int, default=400)
    ap.add_argument("--rate", type=float, default=20.0, help="parts per second the PLC triggers")
    ap.add_argument("--fps", type=float, default=200.0, help="the virtual camera's frame rate")
    ap.add_argument("--broker-down-s", type=float, default=2.0)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="line-io-"))
    log(f"training a small classifier in {tmp}")
    inspector("synth", "--out", tmp / "parts", "--count", 40, "--size", 64, "--balanced", "--seed", 7)
    inspector("project", "init", tmp / "proj")
    inspector("import", tmp / "parts", "--project", tmp / "proj")
    inspector("train", "--project", tmp / "proj", "--arch", "cnn", "--epochs", 1, "--quiet", "--json")

    import paho.mqtt.client as mqtt
    from asyncua.sync import Client
    from pymodbus.client import ModbusTcpClient

    from inspector.core.line import modbus_server as mb

    broker = LocalBroker(folder=tmp / "broker").start()
    received: list[int] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-mes", clean_session=False)
    sub.reconnect_delay_set(0.1, 0.5)
    sub.on_connect = lambda c, u, f, r, p: c.subscribe("inspector/bench/result", qos=1)
    sub.on_message = lambda c, u, m: received.append(json.loads(m.payload)["part_id"])
    sub.connect("127.0.0.1", broker.port)
    sub.loop_start()

    mport, oport = free_port(), free_port()
    url = f"opc.tcp://127.0.0.1:{oport}/inspector/"
    station = subprocess.Popen(
        [sys.executable, "-m", "inspector.cli.main", "run", "--project", str(tmp / "proj"),
         "--source", f"synthetic://line?size=64&fps={args.fps:g}&cache=32", "--trigger", "plc", "--station", "bench",
         "--modbus", f"127.0.0.1:{mport}", "--opcua", url, "--opcua-anonymous", "--mqtt", f"127.0.0.1:{broker.port}",
         "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err_lines: list[str] = []
    threading.Thread(target=lambda: err_lines.extend(station.stderr), daemon=True).start()

    deadline = time.monotonic() + 180
    modbus = ModbusTcpClient("127.0.0.1", port=mport)
    opc = Client(url, timeout=10)
    while True:
        try:
            opc.connect()
            break
        except Exception:  # noqa: BLE001 - still loading
            if station.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the station did not start: " + "".join(err_lines[-5:]))
            time.sleep(0.5)
    assert modbus.connect()
    ns = opc.get_namespace_index("urn:inspector:line")
    node = {n: opc.get_node(f"ns={ns};s=bench.{n}") for n in ("Ready", "Trigger", "TriggerPartId", "ResultReady",
                                                               "Ack")}
    while not (modbus.read_coils(0, count=mb.N_COILS).bits[mb.READY] and node["Ready"].read_value()):
        if time.monotonic() > deadline:
            raise SystemExit("the station never became ready")
        time.sleep(0.1)
    log(f"station ready; {args.parts} parts at {args.rate:g}/s, camera {args.fps:g} frames/s, broker restart mid-run")

    lat = {"modbus": {}, "opcua": {}}
    timeouts = 0
    period = 1.0 / args.rate
    t_next = time.perf_counter()
    restart_at = args.parts // 2
    restarter = None
    for i in range(args.parts):
        now = time.perf_counter()
        if now < t_next:
            time.sleep(t_next - now)
        t_next += period
        pid = f"B{i:06d}"
        via = "modbus" if i % 2 == 0 else "opcua"
        if via == "modbus":
            modbus.write_registers(mb.PART_ID, mb.encode_text(pid))
            t0 = time.perf_counter()
            modbus.write_coil(mb.TRIGGER, True)
            while True:
                bits = modbus.read_coils(0, count=mb.N_COILS).bits
                if bits[mb.OK] or bits[mb.NG] or bits[mb.NOT_INSPECTED]:
                    break
                if time.perf_counter() - t0 > 5:
                    timeouts += 1
                    break
                time.sleep(0.0005)  # a PLC scan polls, it does not spin
            lat["modbus"][pid] = (time.perf_counter() - t0) * 1000
            modbus.write_coil(mb.ACK, True)
        else:
            node["TriggerPartId"].write_value(pid)
            t0 = time.perf_counter()
            node["Trigger"].write_value(True)
            while not node["ResultReady"].read_value():
                if time.perf_counter() - t0 > 5:
                    timeouts += 1
                    break
                time.sleep(0.0005)
            lat["opcua"][pid] = (time.perf_counter() - t0) * 1000
            node["Ack"].write_value(True)
        if i == restart_at:
            log(f"part {i}: restarting the broker (down {args.broker_down_s:g} s)")
            restarter = threading.Thread(target=broker.restart, args=(args.broker_down_s,))
            restarter.start()
        if i and i % 1000 == 0:
            log(f"  {i} parts, modbus p99 {p99(list(lat['modbus'].values()))} ms, "
                f"opcua p99 {p99(list(lat['opcua'].values()))} ms")
    if restarter is not None:
        restarter.join()
    end = time.monotonic() + 60  # the station reconnects with backoff: let the outbox drain before stopping
    while len(set(received)) < args.parts and time.monotonic() < end:
        time.sleep(0.2)
    opc.disconnect()
    modbus.close()
    station.send_signal(signal.SIGINT)
    out, _ = station.communicate(timeout=120)
    summary = json.loads(out.strip().splitlines()[-1])
    end = time.monotonic() + 60
    while len(set(received)) < summary["triggered"] and time.monotonic() < end:
        time.sleep(0.2)
    sub.loop_stop()
    broker.stop()

    db = sqlite3.connect(str(tmp / "proj" / "results.sqlite"))
    infer = {pid: ms or 0.0 for pid, ms in db.execute("SELECT part_id, infer_ms FROM results")}
    db.close()
    first = list(dict.fromkeys(received))
    rank = {pid: k for k, pid in enumerate(sorted(infer))}  # part IDs are made in trigger order
    out_of_order = sum(1 for a, b in zip(first, first[1:]) if rank.get(b, 0) < rank.get(a, 0))
    model = [infer[p] for p in infer]
    result = {
        "parts": args.parts, "rate": args.rate, "camera_fps": args.fps,
        "modbus_ms_p50": p50(list(lat["modbus"].values())), "modbus_ms_p99": p99(list(lat["modbus"].values())),
        "opcua_ms_p50": p50(list(lat["opcua"].values())), "opcua_ms_p99": p99(list(lat["opcua"].values())),
        "model_ms_p50": p50(model), "model_ms_p99": p99(model),
        "modbus_over_model_ms_p99": p99([v - infer.get(k, 0.0) for k, v in lat["modbus"].items()]),
        "opcua_over_model_ms_p99": p99([v - infer.get(k, 0.0) for k, v in lat["opcua"].items()]),
        "timeouts": timeouts, "results_rows": len(infer), "triggered": summary["triggered"],
        "not_inspected": summary["not_inspected"],
        "mqtt_lost": len(set(infer) - set(received)), "mqtt_out_of_order": out_of_order,
        "mqtt_duplicates": len(received) - len(first), "mqtt_outbox_left": summary["line"]["outbox_waiting"],
        "cpu_count": os.cpu_count(),
    }
    log(f"modbus p99 {result['modbus_ms_p99']} ms, opcua p99 {result['opcua_ms_p99']} ms, model p99 "
        f"{result['model_ms_p99']} ms; mqtt lost {result['mqtt_lost']}, out of order {result['mqtt_out_of_order']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
