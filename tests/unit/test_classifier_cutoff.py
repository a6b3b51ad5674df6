"""A classifier's OK/NG cut-off is set like the anomaly model's threshold — for a target false-reject rate
on the good validation parts — stored with the model, and used by eval, predict and the live runner
(core/decision.py, the one rule); models saved before it keep the fixed 0.5."""
import json

import numpy as np
import pytest

from inspector.cli.main import main
from inspector.core import decision
from inspector.core.errors import ConfigError
from inspector.core.evaluation import evaluate_version
from inspector.core.live.runners import load_runner
from inspector.core.predictor import Predictor
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.training import train_project

from test_training_registry import bar_png, cnn_cfg


def test_cutoff_is_the_lowest_that_keeps_good_parts_under_the_target():
    rng = np.random.default_rng(0)
    good = rng.uniform(0.0, 0.4, 200)
    bad = rng.uniform(0.1, 1.0, 100)
    truth = np.r_[np.zeros(200, bool), np.ones(100, bool)]
    probs = np.r_[good, bad]
    for target in (0.0, 0.01, 0.05, 0.2):
        d = decision.calibrate_cutoff(truth, probs, target)
        called = decision.is_ng(good, d["cutoff"])
        assert called.mean() <= target + 1e-12  # never above the target on these parts…
        lower = np.nextafter(d["cutoff"], 0.0)
        if d["rule"] == "calibrated":  # …and any lower cut-off would be
            assert decision.is_ng(good, lower).mean() > target
        assert d["operating_point"]["false_rejects"] == int(called.sum())
    # a looser target catches at least as many defects
    catches = [decision.calibrate_cutoff(truth, probs, t)["operating_point"]["caught"] for t in (0.0, 0.05, 0.2)]
    assert catches == sorted(catches)


def test_cutoff_limits_fallbacks_and_the_score_scale():
    truth = np.r_[np.zeros(30, bool), True]
    low = decision.calibrate_cutoff(truth, [*np.linspace(0.001, 0.003, 30), 0.9], 0.01)
    assert low["cutoff"] == decision.MIN_CUTOFF and "minimum" in low["rule"]
    high = decision.calibrate_cutoff(truth, [*np.linspace(0.97, 0.99, 30), 0.999], 0.01)
    assert high["cutoff"] == decision.MAX_CUTOFF and "maximum" in high["rule"]
    # A handful of good parts may raise the cut-off but not lower it below 0.5: their highest score says
    # little about the next hundred good parts.
    few = np.array([0, 0, 0, 1], bool)
    held = decision.calibrate_cutoff(few, [0.05, 0.08, 0.09, 0.9], 0.01)
    assert held["cutoff"] == decision.CUTOFF and "3 good validation parts are too few" in held["rule"]
    raised = decision.calibrate_cutoff(few, [0.6, 0.7, 0.8, 0.9], 0.01)
    assert raised["cutoff"] > 0.8 and raised["rule"] == "calibrated"
    assert "too few to set it lower" in decision.describe({**held["operating_point"], "cutoff": held["cutoff"],
                                                           "frr_target": 0.01, "rule": held["rule"]})
    # the Train result's short line: a held cut-off was not set for the target, so it says why, not the target
    short = decision.describe({**held["operating_point"], "cutoff": held["cutoff"], "frr_target": 0.01,
                               "rule": held["rule"]}, short=True)
    assert "held at 0.5: 3 good validation parts are too few" in short and "false rejects)" not in short
    one = decision.calibrate_cutoff(np.array([0, 1], bool), [0.1, 0.9], 0.01)
    assert "1 good validation part is too few" in one["rule"]
    none = decision.calibrate_cutoff(np.ones(3, bool), [0.2, 0.6, 0.9], 0.01)
    assert none["cutoff"] == decision.CUTOFF and none["rule"].startswith("fixed")
    with pytest.raises(ConfigError):
        decision.calibrate_cutoff(truth, [0.1, 0.1, 0.1, 0.9], 0.7)
    assert decision.cutoff_of({}) == decision.cutoff_of({"decision": {"cutoff": "x"}}) == 0.5
    assert decision.cutoff_of({"decision": {"cutoff": 0.2}}) == 0.2
    p = np.linspace(0, 1, 101)
    s = decision.normalized_score(p, 0.2)
    assert decision.normalized_score(0.2, 0.2) == 0.5 and np.all(np.diff(s) > 0) and s[0] == 0 and s[-1] == 1
    assert "1.0% false rejects" in decision.describe({**low["operating_point"], "cutoff": low["cutoff"],
                                                      "frr_target": 0.01, "rule": low["rule"]})


@pytest.fixture
def project(tmp_path):
    p = Project.init(tmp_path / "proj")
    p.add_class("blank", kind="ok")
    for kind in ("horizontal", "vertical"):
        p.add_class(kind)
    for i in range(90):
        kind = ("blank", "horizontal", "vertical")[i % 3]
        p.add_image(bar_png(kind, i), source="test", label=kind, user="tester")
    yield p
    p.close()


def test_training_stores_the_cutoff_and_eval_predict_and_the_line_use_it(project, tmp_path, capsys):
    out = train_project(project, cnn_cfg(epochs=6, frr_target=0.05), user="tester")
    reg = ModelRegistry(project)
    cfg = reg.read_config(out.version.version)
    d = cfg["decision"]
    assert d["frr_target"] == 0.05 and d["rule"].startswith("calibrated") and "validation split" in d["source"]
    op = out.metrics["operating_point"]
    assert op["cutoff"] == d["cutoff"] and op["good"] + op["defective"] == out.metrics["count"]
    assert op["frr"] <= 0.05

    m = evaluate_version(project, out.version.version)  # the same validation parts, the same rule
    assert m["operating_point"]["cutoff"] == d["cutoff"]
    assert (m["operating_point"]["caught"], m["operating_point"]["false_rejects"]) == (op["caught"], op["false_rejects"])

    # the live runner and predict decide every validation part exactly as eval counted it
    runner = load_runner(reg, out.version.version)
    predictor = Predictor(out.version.path, config=cfg)
    samples = project.samples(status="labelled", split="val")
    ng_live, ng_predict = 0, 0
    for s in samples:
        img = project.read_image(s)
        v = runner.infer([img])[0]
        pred = predictor.predict([img])[0]
        called = decision.decide(pred.scores, cfg)
        assert (not v.ok) == (called["verdict"] == "not_ok")
        assert (v.score >= 0.5) == (not v.ok)  # 0.5 on the verdict's scale is the cut-off
        ng_live += not v.ok
        ng_predict += called["verdict"] == "not_ok"
    runner.close()
    assert ng_live == ng_predict == op["caught"] + op["false_rejects"]

    path = tmp_path / "one.png"
    path.write_bytes(bar_png("horizontal", 999))
    assert main(["predict", str(path), "--project", str(project.root), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["predictions"][0]
    assert got["verdict"] in ("ok", "not_ok") and got["cutoff"] == d["cutoff"]
    assert main(["eval", "--project", str(project.root)]) == 0
    text = capsys.readouterr().out
    assert "set for 5.0% false rejects" in text and f">= {d['cutoff']:.3g}" in text


def test_a_model_saved_before_calibration_keeps_the_fixed_rule(project):
    out = train_project(project, cnn_cfg(epochs=2), user="tester")
    cfg = ModelRegistry(project).read_config(out.version.version)
    old = {k: v for k, v in cfg.items() if k != "decision"}
    assert decision.cutoff_of(old) == 0.5
    scores = {"blank": 0.55, "horizontal": 0.25, "vertical": 0.2}
    assert decision.decide(scores, old)["verdict"] == "ok"  # 0.45 of defect: OK at 0.5
    assert decision.decide(scores, {**old, "decision": {"cutoff": 0.3}})["verdict"] == "not_ok"
