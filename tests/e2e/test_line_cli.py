"""`inspector run` on the line, each a real process: a PLC (a real OPC UA client in this test) triggers
parts with IDs over OPC UA while results also go to a real mosquitto; `inspector results --part`
tells a part's story; `inspector line` saves the station's outputs; bad settings are one line."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_run import CMD, inspector, last_json

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.unit.line_kit import free_port, needs_mosquitto  # noqa: E402


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("line_cli")
    inspector("synth", "--out", root / "parts", "--count", 30, "--size", 64, "--balanced", "--seed", 1)
    inspector("project", "init", root / "proj")
    inspector("import", root / "parts", "--project", root / "proj")
    inspector("train", "--project", root / "proj", "--arch", "cnn", "--epochs", 1, "--quiet", "--json")
    return root, root / "proj"


@needs_mosquitto
def test_run_with_plc_trigger_over_opcua_and_mqtt_then_a_parts_story(project, tmp_path):
    import paho.mqtt.client as mqtt
    from asyncua.sync import Client

    from inspector.core.line.local_broker import LocalBroker
    _, proj = project
    port = free_port()
    url = f"opc.tcp://127.0.0.1:{port}/inspector/"
    with LocalBroker(folder=tmp_path / "broker") as broker:
        got = []
        sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="mes", clean_session=False)
        sub.on_connect = lambda c, u, f, r, p: c.subscribe("inspector/press3/result", qos=1)
        sub.on_message = lambda c, u, m: got.append(json.loads(m.payload))
        sub.connect("127.0.0.1", broker.port)
        sub.loop_start()
        run = subprocess.Popen([*CMD, "run", "--project", str(proj), "--source", "synthetic://line?size=64&fps=50",
                                "--trigger", "plc", "--station", "press3", "--opcua", url, "--opcua-anonymous",
                                "--mqtt", f"127.0.0.1:{broker.port}", "--duration", "60", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            c = Client(url)
            deadline = time.monotonic() + 120
            while True:
                try:
                    c.connect()
                    break
                except Exception:  # noqa: BLE001 - the server is still starting
                    assert time.monotonic() < deadline and run.poll() is None, run.stderr.read() if run.poll() else ""
                    time.sleep(0.5)
            ns = c.get_namespace_index("urn:inspector:line")

            def node(name):
                return c.get_node(f"ns={ns};s=press3.{name}")
            for i in range(3):
                while not node("Ready").read_value():
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                node("TriggerPartId").write_value(f"P-{i}")
                node("Trigger").write_value(True)
                while not node("ResultReady").read_value():
                    assert time.monotonic() < deadline
                    time.sleep(0.02)
                assert node("PartId").read_value() == f"P-{i}"
                assert node("LastVerdict").read_value() in ("ok", "not_ok")
                node("Ack").write_value(True)
            c.disconnect()
            time.sleep(0.5)  # the station notices the PLC left (it looks every 0.1 s)
            while len(got) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            run.send_signal(2)  # Ctrl-C: stop cleanly
            out, err = run.communicate(timeout=60)
            sub.loop_stop()
    s = json.loads(out.strip().splitlines()[-1])
    assert s["triggered"] == 3 and s["line"]["parts"] == 3 and s["line"]["outbox_waiting"] == 0
    assert s["line"]["plc_online"] is False
    assert [m["part_id"] for m in got] == ["P-0", "P-1", "P-2"]
    story = last_json(inspector("results", "--project", proj, "--part", "P-1", "--json"))
    assert len(story["results"]) == 1 and story["results"][0]["trigger"] == "plc"
    assert story["results"][0]["model_version"] == "v1"
    out = inspector("results", "--project", proj, "--part", "nobody", check=False)
    assert out.returncode == 1 and "no results" in out.stderr


def test_line_settings_are_saved_and_bad_ones_are_one_line(project):
    _, proj = project
    out = inspector("line", "--project", proj, "--station", "press4", "--modbus", "5020")
    assert "station press4: modbus 5020 (saved)" in out.stdout
    out = inspector("line", "--project", proj, "--opcua", "opc.tcp://0.0.0.0:4840/", check=False)
    assert out.returncode != 0 and "anonymous" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    taken = free_port()
    import socket
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", taken))
    blocker.listen()
    try:  # the saved station (Modbus 5020) with this run's port on top: taken, so one line and no run
        out = inspector("run", "--project", proj, "--source", "synthetic://line?size=64", "--max-frames", 3,
                        "--modbus", f"127.0.0.1:{taken}", check=False)
    finally:
        blocker.close()
    assert out.returncode != 0 and "in use" in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    out = inspector("run", "--project", proj, "--source", "synthetic://line?size=64", "--trigger", "plc", "--no-line",
                    check=False)
    assert out.returncode != 0 and "--modbus PORT or --opcua" in out.stderr
