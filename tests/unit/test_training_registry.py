"""Project-level training, model versions on disk, ONNX parity, and refusing tampered files."""
import json

import cv2
import numpy as np
import onnxruntime as ort
import pytest
import torch

from inspector.core.classifier import load_inference_model
from inspector.core.errors import ConfigError, ModelError
from inspector.core.predictor import Predictor
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.train_config import AugmentConfig, TrainConfig
from inspector.core.training import train_project

NO_AUG = AugmentConfig(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0)


def bar_png(kind: str, seed: int, size: int = 40) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    p = int(rng.integers(4, size - 8))
    if kind == "horizontal":
        img[p:p + 4, 4:size - 4] = 230
    elif kind == "vertical":
        img[4:size - 4, p:p + 4] = 230
    ok, buf = cv2.imencode(".png", img)
    return buf.tobytes()


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


def cnn_cfg(**kw):
    d = dict(arch="cnn", mode="scratch", epochs=12, batch_size=16, lr=3e-3, standardize="dataset",
             input_size=[32, 32], augment=NO_AUG, dropout=0.0)
    d.update(kw)
    return TrainConfig(**d)


def test_train_saves_a_complete_version(project):
    out = train_project(project, cnn_cfg(), user="tester")
    reg = ModelRegistry(project)
    mv = out.version
    assert mv.version == "v1" and mv.active  # the first model becomes active
    assert {p.name for p in mv.path.iterdir()} == {"config.json", "weights.safetensors", "model.onnx"}
    cfg = json.loads((mv.path / "config.json").read_text())
    assert cfg["arch"]["name"] == "cnn" and [c["name"] for c in cfg["classes"]] == ["blank", "horizontal", "vertical"]
    assert len(cfg["history"]) == 12 and {"train_loss", "val_loss", "train_accuracy", "val_accuracy"} <= set(cfg["history"][0])
    assert cfg["dataset"]["snapshot"] == project.snapshot_hash()
    assert cfg["train_config"]["optimizer"] == "adam" and cfg["software_version"]
    assert out.metrics["accuracy"] >= 0.85
    assert np.array(out.metrics["confusion_matrix"]).sum() == cfg["dataset"]["val"]
    assert reg.list()[0].summary["val_accuracy"] == out.metrics["accuracy"]


def test_onnx_and_pytorch_agree(project):
    out = train_project(project, cnn_cfg(epochs=2))
    cfg = ModelRegistry(project).read_config(out.version.version)
    torch_model = load_inference_model(out.version.path, cfg)
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    with torch.inference_mode():
        ref = torch_model(torch.from_numpy(images))[0].numpy()
    sess = ort.InferenceSession(str(out.version.path / "model.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(["logits"], {"image": images})[0]
    assert np.abs(ref - got).max() < 1e-4
    onnx_pred = Predictor(out.version.path, backend="onnx").predict(list(images))
    torch_pred = Predictor(out.version.path, backend="torch").predict(list(images))
    assert [p.label for p in onnx_pred] == [p.label for p in torch_pred]
    assert all(abs(sum(p.scores.values()) - 1) < 1e-4 for p in onnx_pred)


def test_versions_activate_rollback_delete(project):
    reg = ModelRegistry(project)
    v1 = train_project(project, cnn_cfg(epochs=1)).version.version
    v2 = train_project(project, cnn_cfg(epochs=1)).version.version
    assert (v1, v2) == ("v1", "v2") and reg.active_version() == "v1"  # later versions wait for activation
    reg.activate(v2, "tester")
    assert reg.active_version() == "v2"
    assert reg.rollback("tester").version == "v1"
    with pytest.raises(ModelError, match="active model"):
        reg.delete("v1")
    reg.delete("v2")
    assert [m.version for m in reg.list()] == ["v1"] and not (project.models_dir / "v2").exists()
    v3 = train_project(project, cnn_cfg(epochs=1)).version.version
    assert v3 == "v3"  # numbers are never reused
    with pytest.raises(ModelError, match="does not exist"):
        reg.activate("v2")


@pytest.mark.parametrize("victim", ["weights.safetensors", "model.onnx", "config.json"])
def test_tampered_or_corrupt_files_are_refused(project, victim):
    out = train_project(project, cnn_cfg(epochs=1))
    path = out.version.path / victim
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt or was modified"):
        ModelRegistry(project).verify(out.version.version)
    path.unlink()
    with pytest.raises(ModelError, match="missing"):
        ModelRegistry(project).read_config(out.version.version)


def test_crash_leftovers_are_cleaned(project):
    reg = ModelRegistry(project)
    train_project(project, cnn_cfg(epochs=1))
    import os
    import time

    (project.models_dir / ".tmp-dead").mkdir()
    old = time.time() - 7200
    os.utime(project.models_dir / ".tmp-dead", (old, old))
    (project.models_dir / ".tmp-busy").mkdir()  # another process may be writing into this one
    (project.models_dir / "v9").mkdir()  # renamed into place, but its row was never committed
    ModelRegistry(project)
    assert sorted(p.name for p in project.models_dir.iterdir()) == [".tmp-busy", "v1"]
    assert reg.get("v1").path.is_dir()


def test_warm_start_keeps_knowledge_and_adds_a_class(project):
    v1 = train_project(project, cnn_cfg(epochs=10)).version.version
    project.add_class("cross")
    for i in range(30):
        png = bar_png("horizontal", 1000 + i)
        img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
        img[4:36, 18:22] = 230
        project.add_image(cv2.imencode(".png", img)[1].tobytes(), source="test", label="cross", user="t")
    # A learning rate too small to learn anything in one epoch shows what the start point knows.
    out = train_project(project, cnn_cfg(epochs=1, lr=1e-6), warm_from=v1)
    assert out.version.parent == v1
    cfg = ModelRegistry(project).read_config(out.version.version)
    assert cfg["training"]["warm_start_from"] == v1 and len(cfg["classes"]) == 4
    scratch = train_project(project, cnn_cfg(epochs=1, lr=1e-6))
    # The warm start still knows the three old classes (3/4 of the validation parts); a cold start guesses.
    assert out.result.history[0]["val_accuracy"] >= 0.6
    assert out.result.history[0]["val_accuracy"] > scratch.result.history[0]["val_accuracy"] + 0.25
    with pytest.raises(ConfigError, match="warm-start"):
        train_project(project, TrainConfig(arch="mlp", mode="scratch", epochs=1), warm_from=v1)


def test_too_few_classes_is_a_clear_error(tmp_path):
    p = Project.init(tmp_path / "p")
    p.add_class("good", kind="ok")
    p.add_image(bar_png("blank", 1), source="t", label="good", user="t")
    with pytest.raises(ConfigError, match="at least two classes"):
        train_project(p, cnn_cfg())
    p.close()


def _fake_version(reg, kind: str) -> str:
    """A version of any kind, with one small file (the registry does not look inside)."""
    return reg.save(kind, {"note": "test"}, {"data.bin": lambda p: p.write_bytes(kind.encode())},
                    summary={}).version


def test_one_active_version_per_kind_and_the_line_runs_the_anomaly_model(tmp_path):
    with Project.init(tmp_path / "p") as project:
        reg = ModelRegistry(project)
        c1, c2 = _fake_version(reg, "classifier"), _fake_version(reg, "classifier")
        a1, a2 = _fake_version(reg, "anomaly"), _fake_version(reg, "anomaly")
        assert reg.line_version() is None
        reg.activate(c1)
        assert reg.line_version() == c1
        reg.activate(a1)
        reg.activate(c2)  # a new classifier does not displace the anomaly model on the line
        assert reg.active_versions() == {"classifier": c2, "anomaly": a1}
        assert reg.line_version() == a1 and reg.active_version() == c2
        assert {m.version for m in reg.list() if m.active} == {c2, a1}
        with pytest.raises(ModelError, match="active model"):
            reg.delete(a1)
        reg.activate(a2)
        assert reg.rollback(kind="anomaly").version == a1  # rolls back within the kind
        assert reg.active_versions() == {"classifier": c2, "anomaly": a1}
        assert reg.rollback(kind="classifier").version == c1
        assert reg.rollback().version == c2  # default: the kind activated last

    with Project.init(tmp_path / "q") as project:
        reg = ModelRegistry(project)
        reg.activate(_fake_version(reg, "classifier"))
        with pytest.raises(ModelError, match="no anomaly model is active"):
            reg.rollback(kind="anomaly")
        with pytest.raises(ModelError, match="no earlier one"):
            reg.rollback()
