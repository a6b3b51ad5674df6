"""The golden guard on a real anomaly model: accepting a golden defect as OK raises escapes, so the accept is
refused for an operator (role) and for an engineer without a reason, and kept — recorded with its reason
and golden figures — when an engineer confirms; activating that version again goes through the same guard."""
from __future__ import annotations

import json

import pytest

from inspector.cli.main import main
from inspector.core import accounts, audit, golden
from inspector.core.anomaly.fitting import fit_project
from inspector.core.anomaly.model import preset
from inspector.core.anomaly.store import load_model
from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.synth import SyntheticLine

PW = "golden-secret"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("golden") / "proj"
    line = SyntheticLine(size=(96, 96), seed=21)
    with Project.init(root) as p:
        p.add_class("good", "ok")
        p.add_class("scratch", "defect")
        for i in range(40):
            p.add_image(encode_png(line.part(i, "good").image), source=f"good{i}", label="good", user="t")
        ids = [p.add_image(encode_png(line.part(300 + i, label).image), source=f"g{i}", label=label,
                           user="t").sample_id for i, label in enumerate(["good", "scratch"] * 3)]
        assert golden.add(p, ids, "t") == ids
        fit_project(p, frr=0.05, config=preset("detail"), user="t")
        accounts.add(p, "root", "admin", PW, by=None)
        admin = accounts.login(p, "root", PW)
        accounts.add(p, "eve", "engineer", PW, by=admin)
        accounts.add(p, "otto", "operator", PW, by=admin)
        reg = ModelRegistry(p)
        v1 = reg.active("anomaly").version
        counts = golden.score(p, reg, v1)
        model = load_model(reg, v1)
        caught = [s for s in golden.members(p) if s.label == "scratch" and model.score(p.read_image(s)).flagged]
        assert counts.defect == 3 and caught, counts
        image = p.image_path(caught[0])
    return root, v1, image


def run(*args):
    return main([str(a) for a in args])


def test_golden_sizes_show_in_project_info(fitted, capsys):
    root, _, _ = fitted
    assert run("project", "info", root) == 0
    out = capsys.readouterr().out
    assert [line.split()[-1] for line in out.splitlines()[1:3]] == ["3", "3"]  # golden, the last column
    assert "golden set: 6 parts" in out
    assert run("golden", "list", "--project", root, "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["sizes"] == {"good": 3, "scratch": 3} and len(listed["samples"]) == 6


def test_an_accept_that_raises_escapes_needs_an_engineer_and_a_reason(fitted, monkeypatch, capsys):
    root, v1, image = fitted
    monkeypatch.setenv("INSPECTOR_PASSWORD", PW)
    assert run("anomaly", "accept", image, "--project", root, "--user", "otto") == 2
    assert "accepting a part as OK into the model needs an engineer" in capsys.readouterr().err
    assert run("anomaly", "accept", image, "--project", root, "--user", "eve") == 2
    err = capsys.readouterr().err
    assert "golden defect(s) through" in err and "--confirm-reason" in err
    with Project.open(root) as p:
        reg = ModelRegistry(p)
        assert [m.version for m in reg.list()] == [v1] and reg.active("anomaly").version == v1
        last = audit.rows(p.db)[-1]
        assert (last.action, last.user, last.detail["action"]) == ("refused", "eve", "model.accept")
        assert last.detail["golden"]["after"]["escapes"] > last.detail["golden"]["before"]["escapes"]

    reason = "scratches under 0.2 mm are cosmetic (QA note 17)"
    assert run("anomaly", "accept", image, "--project", root, "--user", "eve", "--confirm-reason", reason) == 0
    out = capsys.readouterr().out
    assert "escapes" in out
    with Project.open(root) as p:
        reg = ModelRegistry(p)
        v2 = reg.active("anomaly").version
        assert v2 != v1
        acc = audit.rows(p.db, action="model.accept")[-1]
        assert acc.user == "eve" and acc.role == "engineer" and acc.detail["confirmed_escapes_up"] == reason
        g = acc.detail["golden"]
        assert g["after"]["escapes"] > g["before"]["escapes"] and g["version"] == v2

    # Back to v1 (fewer escapes: no reason needed), then v2 again goes through the guard.
    assert run("models", "rollback", "--project", root, "--user", "eve") == 0
    capsys.readouterr()
    assert run("models", "activate", v2, "--project", root, "--user", "eve") == 2
    assert "golden defect(s) through" in capsys.readouterr().err
    with Project.open(root) as p:
        assert ModelRegistry(p).active("anomaly").version == v1  # the line's model did not change
    assert run("models", "activate", v2, "--project", root, "--user", "eve", "--confirm-reason", reason) == 0
    with Project.open(root) as p:
        assert ModelRegistry(p).active("anomaly").version == v2
        act = audit.rows(p.db, action="model.activate")[-1]
        assert act.detail["confirmed_escapes_up"] == reason and act.detail["golden"]["previous"] == v1
        assert audit.verify(p.db).ok


def test_a_classifier_change_is_scored_with_the_line_rule(tmp_path, capsys):
    """Classifiers go through the same guard: each golden part decided by decision.decide (the line's rule,
    with the model's calibrated cut-off), the figures printed and kept with the activation."""
    from inspector.core.decision import decide
    from inspector.core.predictor import Predictor
    from inspector.core.train_config import preset as train_preset
    from inspector.core.training import train_project

    line = SyntheticLine(size=(64, 64), seed=3)
    with Project.init(tmp_path / "cls") as p:
        p.add_class("good", "ok")
        p.add_class("scratch", "defect")
        for i in range(30):
            label = "good" if i % 2 else "scratch"
            p.add_image(encode_png(line.part(i, label).image), source=str(i), label=label, user="t")
        ids = [p.add_image(encode_png(line.part(100 + i, label).image), source=f"g{i}", label=label,
                           user="t").sample_id for i, label in enumerate(["good", "scratch"] * 3)]
        golden.add(p, ids, "t")
        v1 = train_project(p, train_preset("mlp", epochs=3, seed=0), user="t").version.version
        v2 = train_project(p, train_preset("mlp", epochs=1, seed=1), user="t").version.version
        reg = ModelRegistry(p)
        expect = golden.GoldenCounts()
        predictor, cfg = Predictor(reg.get(v2).path, config=reg.read_config(v2)), reg.read_config(v2)
        for s in golden.members(p):
            ng = decide(predictor.predict([p.read_image(s)])[0].scores, cfg)["verdict"] == "not_ok"
            if s.label == "good":
                expect.good, expect.false_rejects = expect.good + 1, expect.false_rejects + ng
            else:
                expect.defect, expect.escapes = expect.defect + 1, expect.escapes + (not ng)
        check = golden.check_activation(p, reg, v2)
        assert (check.previous, check.after) == (v1, expect) and check.before.good + check.before.defect == 6
    reason = ["--confirm-reason", "test"] if check.escapes_up else []
    assert run("models", "activate", v2, "--project", tmp_path / "cls", *reason) == 0
    assert f"{v1} → {v2}: false rejects" in capsys.readouterr().out
    with Project.open(tmp_path / "cls") as p:
        act = audit.rows(p.db, action="model.activate")[-1]
        assert act.detail["golden"]["after"] == {"good": 3, "defect": 3, "false_rejects": expect.false_rejects,
                                                 "escapes": expect.escapes}
