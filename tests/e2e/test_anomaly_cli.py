"""The anomaly commands as a vision engineer scripts them, each a real `inspector` process:
synth → import → anomaly fit → eval (both mask layouts) → predict with heatmaps → accept → rollback →
classifier + anomaly together."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli_run import inspector, last_json


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly_cli")
    parts, project = root / "parts", root / "proj"
    inspector("synth", "--out", parts, "--count", 110, "--size", 128, "--seed", 5, "--defect-rate", 0.2)
    inspector("project", "init", project)
    inspector("import", parts, "--project", project)
    fit = last_json(inspector("anomaly", "fit", "--project", project, "--preset", "detail", "--frr", 0.05, "--json"))
    return root, parts, project, fit


def test_fit_eval_predict(fitted):
    root, parts, project, fit = fitted
    assert fit["version"] == "v1" and fit["active"] and fit["bank_size"] > 0 and fit["fit_s"] > 0
    assert fit["threshold"] > 0 and "leave-one-out" in fit["calibration"] and "validation" in fit["calibration"]
    e = last_json(inspector("eval", "--project", project, "--model", "v1", "--data", parts, "--json"))
    assert e["kind"] == "anomaly" and e["good"] + e["defect"] == 110 and e["masks"] == e["defect"]
    assert e["image_auroc"] > 0.85 and e["pixel_auroc"] > 0.85
    assert 0 <= e["frr"] <= 0.2 and 0 <= e["escape_rate"] <= 1
    # the same parts in the Magnetic Tile layout: NAME.jpg with its mask NAME.png beside it, good folder named
    mt = root / "mt"
    for cls, n in (("MT_Free", 8), ("MT_Crack", 4)):
        (mt / cls / "Imgs").mkdir(parents=True)
        src = sorted((parts / ("good" if cls == "MT_Free" else "crack")).glob("*.png"))[:n]
        for f in src:
            cv2.imwrite(str(mt / cls / "Imgs" / (f.stem + ".jpg")), cv2.imread(str(f)))
            mask = parts / "masks" / "crack" / f.name
            cv2.imwrite(str(mt / cls / "Imgs" / f.name),
                        cv2.imread(str(mask)) if mask.exists() else np.zeros((128, 128), np.uint8))
    m = last_json(inspector("eval", "--project", project, "--data", mt, "--good", "MT_Free", "--json"))
    assert (m["good"], m["defect"], m["masks"]) == (8, len(list((mt / "MT_Crack" / "Imgs").glob("*.jpg"))), m["defect"])
    assert m["pixel_auroc"] is not None and m["image_auroc"] is not None

    crack = sorted((parts / "crack").glob("*.png"))[0]
    good = sorted((parts / "good").glob("*.png"))[0]
    heat = root / "heat"
    pr = last_json(inspector("predict", "--project", project, "--model", "v1", crack, good, "--heatmap", heat, "--json"))
    by_name = {Path(r["image"]).name: r for r in pr["predictions"]}
    assert pr["model"] == "v1"
    for img in (crack, good):
        r = by_name[img.name]
        assert r["verdict"] in ("ok", "defect") and 0 <= r["anomaly_score"] <= 1
        assert (r["verdict"] == "defect") == (r["anomaly_score"] > 0.5)
        overlay = cv2.imread(r["heatmap"])
        assert overlay is not None and overlay.shape[:2] == (128, 128)
    text = inspector("predict", "--project", project, "--model", "v1", crack).stdout
    assert "anomaly score" in text


def test_accept_rollback_and_combined_with_a_classifier(fitted):
    root, parts, project, fit = fitted
    preds = last_json(inspector("predict", "--project", project, "--model", "v1",
                                *sorted((parts / "scratch").glob("*.png")), *sorted((parts / "spot").glob("*.png")),
                                "--json"))["predictions"]
    flagged = [r["image"] for r in preds if r["verdict"] == "defect"]
    assert flagged, "no synthetic defect was flagged"
    dry = last_json(inspector("anomaly", "accept", "--project", project, flagged[0], "--dry-run", "--json"))
    assert dry["version"] is None and dry["parts"][0]["after"]["score"] < 0.5
    acc = last_json(inspector("anomaly", "accept", "--project", project, "--model", "v1", flagged[0], "--json"))
    assert acc["version"] == "v2" and acc["active"] and acc["parent"] == "v1"
    assert acc["parts"][0]["before"]["flagged"] and not acc["parts"][0]["after"]["flagged"]
    assert {"false_rejects", "escapes", "good", "defect"} <= set(acc["golden_after"])
    now = last_json(inspector("predict", "--project", project, flagged[0], "--json"))["predictions"][0]
    assert now["verdict"] == "ok"
    assert last_json(inspector("models", "rollback", "--project", project, "--json"))["active"] == "v1"
    again = last_json(inspector("predict", "--project", project, flagged[0], "--json"))["predictions"][0]
    assert again["verdict"] == "defect"

    # with a classifier as well, predict names the defect type of what the anomaly model flags
    t = last_json(inspector("train", "--project", project, "--arch", "cnn", "--epochs", 2, "--json"))
    assert t["version"] == "v3"
    both = last_json(inspector("predict", "--project", project, flagged[0], "--json"))
    assert both["models"] == {"anomaly": "v1", "classifier": "v3"}
    r = both["predictions"][0]
    assert r["verdict"] == "defect" and r["defect_type"] in {"scratch", "spot", "crack", "missing"}
    assert r["label"] is not None  # the classifier's own answer travels along
    # eval without --model follows the model activated last (the classifier now)
    assert "confusion_matrix" in last_json(inspector("eval", "--project", project, "--data", parts, "--json"))
    out = inspector("anomaly", "accept", "--project", project, "--model", "v3", flagged[0], check=False)
    assert out.returncode == 2 and "not an anomaly model" in out.stderr and out.stderr.count("\n") == 1
    # a refit leaves the line as it is, and says how to put the new version on it
    refit = inspector("anomaly", "fit", "--project", project, "--preset", "texture", "--quiet")
    assert "not on the line yet: `inspector models activate v4 --project" in refit.stdout, refit.stdout


def test_user_errors_are_one_line(fitted, tmp_path):
    root, parts, project, fit = fitted
    empty = tmp_path / "empty"
    inspector("project", "init", empty)
    out = inspector("anomaly", "fit", "--project", empty, check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "ok-kind" in out.stderr
    out = inspector("anomaly", "accept", "--project", project, str(root / "missing.png"), check=False)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "missing.png" in out.stderr
    shutil.rmtree(empty)
