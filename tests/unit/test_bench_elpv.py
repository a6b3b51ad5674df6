"""bench/elpv.py on a tiny generated stand-in for ELPV: the label format it reads, its seeded
stratified split, and one real run through the project's train path (a benchmark that breaks
silently measures nothing)."""
import importlib.util
import sys
from argparse import Namespace
from pathlib import Path

import cv2
import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "elpv.py"


@pytest.fixture(scope="module")
def elpv():
    spec = importlib.util.spec_from_file_location("bench_elpv", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def fake_elpv(root: Path, n_good: int = 20, n_bad: int = 10) -> Path:
    """Grey cells, ELPV's labels.csv layout: path, probability, type — whitespace separated."""
    (root / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n_good + n_bad):
        img = rng.integers(90, 140, (48, 48), dtype=np.uint8)
        prob = 0.0 if i < n_good else (1.0 if i % 2 else 0.6666666666666666)
        if prob >= 0.5:  # a dark crack across the cell
            cv2.line(img, (4, int(rng.integers(4, 44))), (44, int(rng.integers(4, 44))), 10, 3)
        name = f"images/cell{i:04d}.png"
        cv2.imwrite(str(root / name), img)
        lines.append(f"{name}  {prob:<19} {'mono' if i % 3 else 'poly'}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    return root


def test_labels_and_split(elpv, tmp_path):
    data = fake_elpv(tmp_path / "elpv")
    paths, probs, types = elpv.read_labels(data)
    assert len(paths) == 30 and paths[0] == data / "images/cell0000.png" and types[0] == "poly"
    y = (probs >= 0.5).astype(int)
    assert y.sum() == 10
    is_val = elpv.stratified_split(y, 0.2, seed=0)
    assert is_val[y == 0].sum() == 4 and is_val[y == 1].sum() == 2
    assert (is_val == elpv.stratified_split(y, 0.2, seed=0)).all()
    assert (is_val != elpv.stratified_split(y, 0.2, seed=1)).any()


def test_classify_runs_through_the_train_path(elpv, tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_CACHE_DIR", str(tmp_path / "cache"))
    data = fake_elpv(tmp_path / "elpv")
    out = elpv.main_classify(Namespace(data=str(data), preset="fast", seed=0, epochs=5, task="classify"))
    assert out["train_preset"] == "head" and out["val"] == 6 and out["val_defective"] == 2 and out["train"] == 24
    for key in ("val_accuracy", "defect_recall", "false_reject_rate"):
        assert 0.0 <= out[key] <= 1.0
    # the ONNX model the line runs agrees with training-time evaluation
    assert out["val_accuracy"] == out["fit_val_accuracy"]
    assert out["wall_s"] > 0


def test_anomaly_task_is_handed_to_its_own_module(elpv, monkeypatch, capsys):
    seen = {}
    fake = type(sys)("elpv_anomaly")
    fake.main_anomaly = lambda args: seen.update(args=args)  # it prints its own JSON line
    monkeypatch.setitem(sys.modules, "elpv_anomaly", fake)
    monkeypatch.setattr(sys, "argv", ["elpv.py", "--task", "anomaly", "--data", "X", "--seed", "3"])
    elpv.main()
    assert seen["args"].task == "anomaly" and seen["args"].seed == 3 and seen["args"].data == "X"
