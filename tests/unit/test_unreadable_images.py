"""One unreadable stored image does not stop training: it is left out, listed, and said."""
from __future__ import annotations

import json
import logging

import cv2
import numpy as np
import pytest

from inspector.cli.main import main
from inspector.core.arrays import load_arrays
from inspector.core.project import Project
from inspector.core.train_config import AugmentConfig, TrainConfig
from inspector.core.training import train_project


def bar_png(kind: str, seed: int, size: int = 32) -> bytes:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 60, (size, size, 3), dtype=np.uint8)
    p = int(rng.integers(4, size - 8))
    if kind == "horizontal":
        img[p:p + 4, 4:size - 4] = 230
    else:
        img[4:size - 4, p:p + 4] = 230
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def test_load_arrays_leaves_out_unreadable_files_and_lists_them(tmp_path, caplog):
    paths = []
    for i in range(5):
        paths.append(tmp_path / f"{i}.png")
        paths[-1].write_bytes(bar_png("horizontal", i))
    paths[1].write_bytes(b"this is not a picture")
    paths[3].unlink()
    with caplog.at_level(logging.WARNING, logger="inspector.core.arrays"):
        ds = load_arrays(paths, [0, 1, 0, 1, 0], ["a", "b", "c", "d", "e"], (16, 16), 3)
    assert len(ds) == 3 and ds.keys == ["a", "c", "e"] and ds.labels.tolist() == [0, 0, 0]
    assert ds.images.shape == (3, 16, 16, 3)
    assert [f for f, _ in ds.skipped] == [str(paths[1]), str(paths[3])]
    assert "not found" in ds.skipped[1][1]
    (record,) = [r for r in caplog.records if r.name == "inspector.core.arrays"]
    assert "skipped 2 unreadable image(s) of 5" in record.getMessage() and "1.png" in record.getMessage()
    clean = load_arrays(paths[:1], [0], ["a"], (16, 16), 3)
    assert clean.skipped == [] and len(clean) == 1


@pytest.fixture
def project_with_a_damaged_image(tmp_path):
    with Project.init(tmp_path / "proj") as p:
        for kind in ("horizontal", "vertical"):
            p.add_class(kind)
        for i in range(16):
            kind = ("horizontal", "vertical")[i % 2]
            p.add_image(bar_png(kind, i), source="test", label=kind, user="u")
        damaged = p.image_path(p.samples(split="train")[0])
        damaged.write_bytes(b"\x89PNG half a file")
    return tmp_path / "proj", damaged


def test_training_goes_on_without_the_damaged_image(project_with_a_damaged_image):
    root, damaged = project_with_a_damaged_image
    cfg = TrainConfig(arch="cnn", mode="scratch", epochs=1, batch_size=8, input_size=[32, 32],
                      augment=AugmentConfig(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0))
    with Project.open(root) as p:
        n_train = len(p.samples(split="train"))
        out = train_project(p, cfg, user="u")
        assert out.version.version == "v1"
        config = json.loads((out.version.path / "config.json").read_text())
        assert config["dataset"]["train"] == n_train - 1


def test_the_cli_says_which_images_it_skipped(project_with_a_damaged_image, capsys):
    root, damaged = project_with_a_damaged_image
    assert main(["train", "--project", str(root), "--preset", "cnn", "--epochs", "1", "--no-augment",
                 "--json", "--quiet"]) == 0
    out, err = capsys.readouterr()
    result = json.loads(out.strip().splitlines()[-1])
    assert [s["file"] for s in result["skipped"]] == [str(damaged)]
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and damaged.name in warnings[0] and "skipped 1 unreadable image(s)" in warnings[0]
