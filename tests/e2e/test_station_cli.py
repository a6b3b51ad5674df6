"""`inspector station` saves a multi-camera station's views; `inspector run` without --source runs them
together (real processes, video files written by OpenCV); bad input is one line naming the view."""
import sys
from pathlib import Path

import cv2
import pytest
from cli_run import inspector, last_json

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from inspector.core.synth import SyntheticLine  # noqa: E402


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("station_cli")
    inspector("synth", "--out", root / "parts", "--count", 20, "--size", 64, "--balanced", "--seed", 1)
    inspector("project", "init", root / "proj")
    inspector("import", root / "parts", "--project", root / "proj")
    inspector("train", "--project", root / "proj", "--arch", "cnn", "--epochs", 1, "--quiet", "--json")
    line = SyntheticLine(size=(64, 64), defect_rate=0.5, seed=2)
    for name, n, offset in (("top", 10, 0), ("side", 12, 100)):
        out = cv2.VideoWriter(str(root / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 64))
        for i in range(n):
            out.write(cv2.cvtColor(line.part(i + offset).image, cv2.COLOR_RGB2BGR))
        out.release()
    return root, root / "proj"


def test_station_views_saved_then_run_together_one_row_per_part(project):
    root, proj = project
    inspector("station", "--project", proj, "--add", "top", "--source", root / "top.avi")
    out = inspector("station", "--project", proj, "--add", "side", "--source", root / "side.avi", "--roi", "4,4,56,56")
    assert "top:" in out.stdout and "side:" in out.stdout and "region 4,4,56,56" in out.stdout
    s = last_json(inspector("run", "--project", proj, "--json"))
    assert (s["state"], s["triggered"], s["inspected"], s["not_inspected"]) == ("finished", 10, 10, 0)
    assert s["views"] == ["top", "side"]
    said = inspector("run", "--project", proj, "--no-record").stdout  # a station's rate counts parts
    assert "parts/s (views top + side)" in said and "frames/s" not in said, said
    res = last_json(inspector("results", "--project", proj, "--csv", root / "rows.csv", "--json"))
    assert res["triggered"] == 10 and res["runs"][-1]["source"] == "station top+side"
    text = (root / "rows.csv").read_text(encoding="utf-8")
    assert text.count('""view"": ""side""') == 10  # the views column, one JSON list per part
    one = last_json(inspector("run", "--project", proj, "--source", root / "top.avi", "--json", "--no-record"))
    assert one["triggered"] == 10 and "views" not in one  # --source: one camera, as before
    listed = last_json(inspector("station", "--project", proj, "--remove", "side", "--json"))
    assert [v["name"] for v in listed["views"]] == ["top"] and listed["saved"]


@pytest.mark.parametrize("args, words", [
    (["--add", "top", "--source", "nowhere.avi"], "view top: source 'nowhere.avi'"),
    (["--add", "a b", "--source", "0"], "view name 'a b'"),
    (["--add", "top"], "view top: give its --source"),
    (["--remove", "front"], "there is no view 'front'"),
    (["--roi", "1,2,3,4"], "give its name with --add NAME"),
    (["--add", "top", "--source", "0", "--roi", "1,2"], "x,y,w,h"),
    (["--add", "top", "--source", "0", "--model", "v99"], "view top: there is no model 'v99'"),
])
def test_bad_station_input_is_one_line(project, args, words):
    _, proj = project
    out = inspector("station", "--project", proj, *args, check=False)
    assert out.returncode != 0 and words in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_run_without_source_or_views_says_what_to_do(project, tmp_path):
    _, proj = project
    inspector("station", "--project", proj, "--clear")
    out = inspector("run", "--project", proj, check=False)
    assert out.returncode != 0 and "inspector station" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert last_json(inspector("station", "--project", proj, "--json"))["views"] == []
