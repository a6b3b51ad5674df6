"""`inspector run` and `inspector results` as a vision engineer scripts them, each a real process:
synthetic line, belt with presence trigger, a video file with a ROI, Ctrl-C, CSV export, user errors."""
import csv
import json
import signal
import subprocess

import cv2
import pytest
from cli_run import CMD, inspector, last_json

from inspector.core.synth import SyntheticLine

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("live_cli")
    inspector("synth", "--out", root / "parts", "--count", 30, "--size", 64, "--balanced", "--seed", 1)
    inspector("project", "init", root / "proj")
    inspector("import", root / "parts", "--project", root / "proj")
    t = last_json(inspector("train", "--project", root / "proj", "--arch", "cnn", "--epochs", 1, "--quiet", "--json"))
    assert t["version"] == "v1" and t["active"]
    return root, root / "proj"


def test_run_synthetic_line_prints_a_summary_and_results_exports_it(project):
    root, proj = project
    s = last_json(inspector("run", "--project", proj, "--source", "synthetic://line?size=64&seed=3",
                            "--max-frames", 25, "--json"))
    assert (s["state"], s["frames_read"], s["inspected"], s["dropped"], s["corrupt"]) == ("finished", 25, 25, 0, 0)
    # the CPU build of onnxruntime; on a GPU PC PyTorch runs the model on CUDA instead
    assert 0 <= s["not_ok"] <= 25 and s["model_version"] == "v1" and s["backend"] in ("onnx-cpu", "torch-cuda")
    assert 0 < s["latency_ms_p50"] <= s["latency_ms_p95"] and s["fps"] > 0 and s["run_id"] >= 1

    text = inspector("run", "--project", proj, "--source", "synthetic://line?size=64&seed=4", "--max-frames", 5).stdout
    assert "read 5 frames, 5 parts: ok " in text and "not inspected 0" in text and "frames/s" in text and "p95" in text

    r = last_json(inspector("results", "--project", proj, "--run", s["run_id"], "--csv", root / "run.csv", "--json"))
    assert r["inspected"] == 25 and r["not_ok"] == s["not_ok"] and r["exported"] == 25
    assert r["yield"] == pytest.approx((25 - s["not_ok"]) / 25)
    with open(root / "run.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [int(x["frame_id"]) for x in rows] == list(range(25))
    assert sum(x["verdict"] == "not_ok" for x in rows) == s["not_ok"] and all(x["model_version"] == "v1" for x in rows)
    everything = last_json(inspector("results", "--project", proj, "--since", "1h", "--json"))
    assert everything["inspected"] >= 30 and len(everything["runs"]) >= 2
    assert "yield" in inspector("results", "--project", proj).stdout


def test_presence_trigger_on_the_belt_and_a_video_file_with_a_roi(project):
    root, proj = project
    s = last_json(inspector("run", "--project", proj, "--source", "synthetic://line?size=64&mode=belt&count=4&seed=2",
                            "--trigger", "presence", "--json"))
    assert (s["state"], s["frames_read"], s["triggered"], s["inspected"]) == ("finished", 4 * 13, 4, 4)

    line = SyntheticLine(size=(96, 128), seed=5)
    video = root / "line.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (128, 96))
    for i in range(12):
        out.write(cv2.cvtColor(line.part(i).image, cv2.COLOR_RGB2BGR))
    out.release()
    s = last_json(inspector("run", "--project", proj, "--source", video, "--roi", "16,0,96,96", "--json"))
    assert (s["state"], s["frames_read"], s["inspected"], s["dropped"]) == ("finished", 12, 12, 0)


def test_software_trigger_fires_once_per_line_on_stdin(project):
    _, proj = project
    out = subprocess.run([*CMD, "run", "--project", str(proj), "--source", "synthetic://line?size=64&fps=100",
                          "--trigger", "software", "--duration", "3", "--json"],
                         input="\n\n\n", capture_output=True, text=True, timeout=120)
    s = json.loads(out.stdout.strip().splitlines()[-1])
    assert out.returncode == 0 and s["state"] == "stopped" and s["triggered"] == s["inspected"] == 3
    assert s["frames_read"] > 50


def test_ctrl_c_stops_a_live_run_cleanly_with_a_summary(project):
    _, proj = project
    p = subprocess.Popen([*CMD, "run", "--project", str(proj), "--source", "synthetic://line?size=64&fps=30"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:  # wait until frames flow
            if "source_open" in line:
                break
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 0, stderr
    assert stdout.startswith("stopped: read ")


def test_corrupt_frames_are_parts_not_inspected_in_run_and_results(project):
    _, proj = project
    s = last_json(inspector("run", "--project", proj, "--source", "synthetic://line?size=64&seed=5&corrupt=0.2",
                            "--max-frames", 40, "--json"))
    assert s["state"] == "finished" and s["not_inspected"] == s["corrupt"] > 0
    assert s["ok"] + s["not_ok"] + s["not_inspected"] == s["triggered"] and s["not_inspected_as"] == "not_ok"
    assert s["not_inspected_reasons"] == {"corrupt_frame": s["corrupt"]} and s["rejected"] == s["not_ok"] + s["corrupt"]
    r = last_json(inspector("results", "--project", proj, "--run", s["run_id"], "--json"))
    assert (r["triggered"], r["ok"], r["not_ok"], r["not_inspected"]) == (
        s["triggered"], s["ok"], s["not_ok"], s["not_inspected"])
    assert r["ok"] + r["not_ok"] + r["not_inspected"] == r["triggered"] and r["rejected"] == s["rejected"]
    text = inspector("results", "--project", proj, "--run", s["run_id"]).stdout
    assert f"not inspected {s['corrupt']} (corrupt frame {s['corrupt']})" in text

    ok = last_json(inspector("run", "--project", proj, "--source", "synthetic://line?size=64&seed=5&corrupt=0.2",
                             "--max-frames", 40, "--not-inspected-as", "ok", "--json"))
    assert ok["not_inspected_as"] == "ok" and ok["rejected"] == ok["not_ok"] and ok["not_inspected"] > 0


@pytest.mark.parametrize("args, words", [
    (["--source", "synthetic://line", "--stall-s", "0"], "stall time 0"),
    (["--source", "synthetic://line?corrupt=2"], "corrupt=2"),
    (["--source", "/no/such/folder"], "not a camera index"),
    (["--source", "synthetic://line", "--trigger", "sometimes"], "trigger 'sometimes'"),
    (["--source", "synthetic://line", "--roi", "1,2,3"], "x,y,w,h"),
    (["--source", "synthetic://line", "--model", "v9"], "v9"),
])
def test_run_user_errors_are_one_line(project, args, words):
    _, proj = project
    out = inspector("run", "--project", proj, *args, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and words in out.stderr


def test_results_user_errors_are_one_line(project):
    _, proj = project
    out = inspector("results", "--project", proj, "--since", "last tuesday", check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "not understood" in out.stderr
