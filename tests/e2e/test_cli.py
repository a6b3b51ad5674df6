"""The CLI as a vision engineer scripts it: synth → init → import → train → eval → predict →
models → export, each a real `inspector` process."""
import json

import pytest
from cli_run import inspector, last_json

from inspector.core import decision


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    parts = root / "parts"
    s = last_json(inspector("synth", "--out", parts, "--count", 120, "--size", 96, "--balanced", "--seed", 3, "--json"))
    assert s["count"] == 120
    project = root / "proj"
    inspector("project", "init", project)
    imp = last_json(inspector("import", parts, "--project", project, "--json"))
    assert imp["added"] == 120 and imp["duplicates"] == 0 and imp["rejected"] == []
    return root, parts, project


def test_import_twice_stores_once_and_lists_bad_files(workspace):
    root, parts, project = workspace
    bad = root / "bad"
    (bad / "scratch").mkdir(parents=True)
    (bad / "scratch" / "empty.png").write_bytes(b"")
    (bad / "scratch" / "notes.jpg").write_text("not an image")
    good = next((parts / "good").iterdir())
    (bad / "scratch" / "copy.png").write_bytes(good.read_bytes())
    imp = last_json(inspector("import", bad, "--project", project, "--json"))
    assert imp["added"] == 0 and imp["duplicates"] == 1
    reasons = dict(imp["rejected"])
    assert len(reasons) == 2 and all("\n" not in r for r in reasons.values())
    info = last_json(inspector("project", "info", project, "--json"))
    assert sum(v["total"] for v in info["counts"]["per_class"].values()) == 120
    assert {c["name"]: c["kind"] for c in info["classes"]}["good"] == "ok"


def test_train_eval_predict_models_export(workspace):
    root, parts, project = workspace
    t = last_json(inspector("train", "--project", project, "--arch", "cnn", "--epochs", 6, "--json"))
    assert t["version"] == "v1" and t["active"] and 0 <= t["val_accuracy"] <= 1 and t["wall_s"] > 0
    e = last_json(inspector("eval", "--project", project, "--model", "v1", "--data", parts, "--json"))
    assert e["count"] == 120 and len(e["confusion_matrix"]) == 5
    assert set(e["per_class"]) == {"crack", "good", "missing", "scratch", "spot"}
    op = e["operating_point"]  # OK / NG as the line decides, with intervals
    assert op["good"] + op["defective"] == 120
    # the cut-off was set at training for 1 % false rejects on the good validation parts (core/decision.py)
    assert op["frr_target"] == 0.01 and op["rule"].startswith("calibrated")
    assert decision.MIN_CUTOFF <= op["cutoff"] <= decision.MAX_CUTOFF
    assert op["caught"] + op["escapes"] == op["defective"] and len(op["catch_ci"]) == len(op["frr_ci"]) == 2
    img = next((parts / "spot").iterdir())
    p = last_json(inspector("predict", "--project", project, img, "--json"))
    pred = p["predictions"][0]
    assert p["model"] == "v1" and pred["label"] in e["per_class"] and abs(sum(pred["scores"].values()) - 1) < 1e-4
    assert pred["cutoff"] == op["cutoff"] and pred["verdict"] == ("not_ok" if pred["defect_probability"] >= op["cutoff"]
                                                                   else "ok")

    t2 = last_json(inspector("train", "--project", project, "--arch", "cnn", "--epochs", 2, "--from", "v1",
                             "--optimizer", "momentum", "--lr", "0.01", "--json"))
    assert t2["version"] == "v2" and not t2["active"]
    assert last_json(inspector("models", "activate", "v2", "--project", project, "--json"))["active"] == "v2"
    listing = last_json(inspector("models", "list", "--project", project, "--json"))["models"]
    assert [(m["version"], m["active"], m["parent"]) for m in listing] == [("v1", False, None), ("v2", True, "v1")]
    assert last_json(inspector("models", "rollback", "--project", project, "--json"))["active"] == "v1"
    out = inspector("models", "delete", "v1", "--project", project, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "active" in out.stderr

    exported = root / "export"
    inspector("export", "--project", project, "--to", exported)
    assert sorted(d.name for d in exported.iterdir() if d.is_dir()) == ["crack", "good", "missing", "scratch", "spot"]
    assert sum(1 for f in exported.rglob("*.png")) == 120


def test_training_options_reach_the_saved_model(workspace):
    """--optimizer nesterov, --momentum and --standardize are what the new version records and trains with;
    --from continues from an earlier version of the same network."""
    root, parts, project = workspace
    first = last_json(inspector("train", "--project", project, "--arch", "mlp", "--epochs", 1, "--optimizer", "nesterov",
                                "--momentum", "0.8", "--standardize", "dataset", "--json"))
    saved = json.loads((project / "models" / first["version"] / "config.json").read_text(encoding="utf-8"))
    tc = saved["train_config"]
    assert (tc["optimizer"], tc["momentum"], tc["standardize"]) == ("nesterov", 0.8, "dataset")
    assert saved["preprocessing"]["mean"] != [0.0] and saved["preprocessing"]["std"] != [1.0]  # measured on the images
    again = last_json(inspector("train", "--project", project, "--arch", "mlp", "--epochs", 1, "--standardize", "none",
                                "--from", first["version"], "--json"))
    saved = json.loads((project / "models" / again["version"] / "config.json").read_text(encoding="utf-8"))
    assert (saved["preprocessing"]["mean"], saved["preprocessing"]["std"]) == ([0.0], [1.0])
    assert saved["training"]["warm_start_from"] == first["version"] and saved["train_config"]["momentum"] is None


def test_user_errors_are_one_line(workspace, tmp_path):
    root, parts, project = workspace
    cases = [
        ("train", "--project", tmp_path / "nope"),
        ("predict", "--project", project, "--model", "v99", parts / "good"),
        ("eval", "--project", project, "--data", tmp_path / "missing"),
        ("train", "--project", project, "--arch", "mlp", "--mode", "head"),
        ("train", "--project", project, "--lr", "-1"),
        ("train", "--project", project, "--optimizer", "adam", "--momentum", "0.5"),
        ("train", "--project", project, "--optimizer", "nesterov", "--momentum", "0"),
        ("train", "--project", project, "--arch", "mlp", "--epochs", "1", "--from", "v1"),  # v1 is a cnn
    ]
    for args in cases:
        out = inspector(*args, check=False)
        assert out.returncode == 2, (args, out.stderr)
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
        assert "Traceback" not in out.stderr
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    out = inspector("predict", "--project", project, bad, "--json", check=False)
    assert out.returncode == 1 and "error" in last_json(out)["predictions"][0]


def test_a_cli_command_says_in_one_line_what_opening_moved_to_quarantine(tmp_path):
    from inspector.core.project import Project

    with Project.init(tmp_path / "p"):
        pass
    orphan = tmp_path / "p" / "images" / "ab" / ("ab" + "3" * 62 + ".png")
    orphan.parent.mkdir()
    orphan.write_bytes(b"not in the database")
    out = inspector("project", "info", tmp_path / "p", "--json")
    notes = [line for line in out.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "1 image file(s)" in notes[0] and "quarantine/" in notes[0]
    assert last_json(out)["project"] == str(tmp_path / "p")  # stdout stays clean JSON
    assert len(list((tmp_path / "p" / "quarantine").rglob("*.png"))) == 1
    again = inspector("project", "info", tmp_path / "p")
    assert "note:" not in again.stderr
