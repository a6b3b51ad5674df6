"""Train: counts with warnings, a real (small) training run with live curves, results beside the active
model, Activate. Models: activate, roll back, export ONNX, delete."""
import json
import shutil

import onnx
from conftest import error_dialogs, image_is_not_blank, shot

from inspector.core.registry import ModelRegistry


def test_counts_warn_about_small_classes(window):
    panel = window.train_panel
    rows = {panel.counts.item(r, 0).text(): (panel.counts.item(r, 1).text(), panel.counts.item(r, 4).text())
            for r in range(panel.counts.rowCount())}
    assert set(rows) == {"good", "scratch", "spot", "crack", "missing"}
    assert all(note.startswith(("label", "not trained")) for _, note in rows.values())
    assert "18 labelled" in panel.counts_note.text()


def test_training_shows_curves_then_results_and_activates(window, qtbot):
    panel = window.train_panel
    window.show_panel("train")
    panel.advanced.setChecked(True)
    panel.advanced.arch.setCurrentText("cnn")
    panel.advanced.epochs.setValue(3)
    cfg = panel.config()
    assert (cfg.arch, cfg.mode, cfg.epochs) == ("cnn", "scratch", 3)
    with qtbot.waitSignal(panel.training_changed, timeout=5000):
        panel.train_btn.click()
    assert not panel.train_btn.isEnabled() and panel.cancel_btn.isEnabled()
    qtbot.waitUntil(lambda: panel.summary is not None and not panel.training, timeout=120_000)
    s = panel.summary
    assert s.version == "v2" and not s.active and s.compared_with == "v1"
    assert panel.plots.points("batch_loss") >= 3 and panel.plots.points("train_loss") == 3
    assert "v2" in panel.headline.text() and panel.confusion.rowCount() == 5
    assert panel.comparison.rowCount() == 5
    assert panel.activate_btn.isEnabled() and panel.activate_btn.text() == "Activate v2"
    assert image_is_not_blank(shot(window, "train"))
    panel.activate_btn.click()
    assert window.session.registry.active_version() == "v2"
    assert not panel.activate_btn.isEnabled() and "active" in panel.activate_btn.text()
    assert window.models_panel.table.rowCount() == 2
    assert window.model_label.text() == "Active model: v2"


def _copy_as_new_version(session, **train_config) -> str:
    reg = session.registry
    v1 = reg.get("v1")
    config = reg.read_config("v1")
    config["train_config"].update(train_config)
    writers = {n: (lambda dst, src=v1.path / n: shutil.copyfile(src, dst)) for n in ("weights.safetensors", "model.onnx")}
    mv = reg.save("classifier", config, writers, summary=dict(v1.summary), parent="v1")
    session.models_changed.emit()
    return mv.version


def test_models_activate_rollback_export_delete(window, tmp_path, qtbot):
    session, panel = window.session, window.models_panel
    v2 = _copy_as_new_version(session)
    window.show_panel("models")
    assert [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())] == [v2, "v1"]
    panel.select(v2)
    assert panel.activate_btn.isEnabled() and panel.delete_btn.isEnabled()
    assert "classes: good, scratch, spot, crack, missing" in panel.details.text()
    panel.activate_selected()
    assert session.registry.active_version() == v2 and panel.table.item(0, 2).text() == "active"
    assert not panel.delete_btn.isEnabled()
    assert image_is_not_blank(shot(window, "models"))

    task = panel.export(v2, tmp_path / "line.onnx")
    with qtbot.waitSignal(task.finished, timeout=20_000):
        pass
    onnx.checker.check_model(onnx.load(str(tmp_path / "line.onnx")))
    side = json.loads((tmp_path / "line.json").read_text())
    assert side["version"] == v2 and [c["name"] for c in side["classes"]][0] == "good"

    panel.rollback()
    assert session.registry.active_version() == "v1"
    assert panel.delete(v2)
    assert [m.version for m in ModelRegistry(session.project).list()] == ["v1"]
    assert not panel.delete("v1")  # the active model: refused with a dialog
    assert "active model" in error_dialogs()[-1].text()


def test_advanced_training_options_and_warm_start(window, qtbot):
    """Inputs (standardization), Momentum and nesterov are set in Advanced and reach the config; "Continue
    from the active model" trains from v1's weights (the seed's online learning)."""
    from inspector.core.train_config import effective_momentum

    panel = window.train_panel
    window.show_panel("train")
    panel.advanced.setChecked(True)
    assert panel.advanced.standardize.currentData() == "fixed"  # the Fast preset's
    assert [panel.advanced.standardize.itemData(i) for i in range(panel.advanced.standardize.count())] == ["fixed", "dataset", "none"]
    assert not panel.advanced.momentum.isEnabled()  # Adam has no momentum setting
    panel.advanced.optimizer.setCurrentText("nesterov")
    assert panel.advanced.momentum.isEnabled() and panel.advanced.momentum.value() == 0.9
    panel.advanced.momentum.setValue(0.8)
    panel.advanced.standardize.setCurrentIndex(panel.advanced.standardize.findData("dataset"))
    cfg = panel.config()
    assert (cfg.optimizer, cfg.momentum, cfg.standardize) == ("nesterov", 0.8, "dataset")
    panel.advanced.optimizer.setCurrentText("rmsprop")
    assert panel.advanced.momentum.value() == 0.0 and effective_momentum(panel.config()) == 0.0
    panel.advanced.optimizer.setCurrentText("adam")
    assert not panel.advanced.momentum.isEnabled() and panel.config().momentum is None
    assert panel.advanced.local.isEnabled() and panel.config().local_evidence == "auto"  # Fast's fine-defect setting
    panel.advanced.local.setCurrentIndex(panel.advanced.local.findData("off"))
    assert panel.config().local_evidence == "off"
    assert image_is_not_blank(shot(panel, "train_advanced"))

    assert panel.warm.isEnabled() and panel.warm.text() == "Continue from the active model (v1)"
    assert panel.warm_from() is None  # unticked: a fresh start
    panel.warm.setChecked(True)
    assert panel.warm_from() == "v1"
    panel.advanced.epochs.setValue(2)
    panel.advanced.standardize.setCurrentIndex(panel.advanced.standardize.findData("fixed"))  # v1 was trained with the fixed inputs
    with qtbot.waitSignal(panel.training_changed, timeout=5000):
        panel.train_btn.click()
    qtbot.waitUntil(lambda: panel.summary is not None and not panel.training, timeout=120_000)
    assert not error_dialogs()
    config = window.session.registry.read_config(panel.summary.version)
    assert config["training"]["warm_start_from"] == "v1" and config["train_config"]["epochs"] == 2
    assert window.session.registry.get(panel.summary.version).parent == "v1"

    # Another network cannot continue from v1 (an effnet-lite0): one line says so, nothing is saved.
    panel.advanced.arch.setCurrentText("mlp")
    versions = len(window.session.registry.list())
    with qtbot.waitSignal(panel.training_changed, timeout=5000):
        panel.train_btn.click()
    qtbot.waitUntil(lambda: bool(error_dialogs()) and not panel.training, timeout=120_000)
    text = error_dialogs()[-1].text()
    assert "cannot warm-start a mlp from v1 (effnet-lite0)" in text and "\n" not in text
    assert len(window.session.registry.list()) == versions


def test_warm_start_is_off_without_an_active_model(tmp_path, qtbot):
    from inspector.core.demo_project import make_demo_project
    from inspector.gui.session import Session
    from inspector.gui.train_panel import TrainPanel

    session = Session.open(make_demo_project(tmp_path / "p", user="demo", train=False), "Ana")
    try:
        panel = TrainPanel(session)
        qtbot.addWidget(panel)
        assert not panel.warm.isEnabled() and panel.warm_from() is None
        assert "no active model" in panel.warm.toolTip()
    finally:
        session.close(timeout_s=10)


def test_models_say_what_accurate_fine_tuned(window):
    session, panel = window.session, window.models_panel
    v2 = _copy_as_new_version(session, mode="finetune", frozen_stages=5)
    v3 = _copy_as_new_version(session, mode="finetune", frozen_stages=0)
    window.show_panel("models")
    panel.select(v2)
    assert "fine-tuned: stages 5–6 and the head (stem and stages 0–4 kept as ImageNet's)" in panel.details.text()
    panel.select(v3)
    assert "fine-tuned: the whole network" in panel.details.text()
    panel.select("v1")
    assert "fine-tuned" not in panel.details.text()
