"""Classification benchmark on an ImageFolder (NEU-DET by default): seeded stratified 80/20
split, the `head` and `finetune` presets, wall seconds from start to metrics, validation accuracy.

    python bench/classify.py --data ../shared/datasets/neu-det/images [--preset head]

Prints one JSON line last: {"head": {"val_accuracy": …, "wall_s": …}, "finetune": {…}}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector.core.arrays import load_arrays  # noqa: E402
from inspector.core.fit import fit, preprocessing_for  # noqa: E402
from inspector.core.imageio import IMAGE_EXTENSIONS  # noqa: E402
from inspector.core.progress import EpochEnd  # noqa: E402
from inspector.core.train_config import preset  # noqa: E402
from inspector.core.metrics import classification_metrics  # noqa: E402


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int):
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(len(idx) * val_fraction))
        val += idx[:k].tolist()
        train += idx[k:].tolist()
    return np.array(sorted(train)), np.array(sorted(val))


def run_preset(name: str, data: Path, seed: int, epochs: int | None) -> dict:
    t0 = time.perf_counter()
    classes = sorted(d.name for d in data.iterdir() if d.is_dir())
    files, labels = [], []
    for i, c in enumerate(classes):
        for f in sorted((data / c).iterdir()):
            if f.suffix.lower() in IMAGE_EXTENSIONS:
                files.append(f)
                labels.append(i)
    labels = np.array(labels)
    cfg = preset(name, seed=seed, epochs=epochs)
    pre = preprocessing_for(cfg)
    ds = load_arrays(files, labels, [f"{f.parent.name}/{f.name}" for f in files], pre["size"], pre["channels"])
    t_loaded = time.perf_counter()
    tr, va = stratified_split(labels, 0.2, seed)
    train, val = ds.subset(tr), ds.subset(va)

    def progress(e):
        if isinstance(e, EpochEnd) and (e.epoch % 10 == 0 or e.epoch == e.epochs or name == "finetune"):
            print(f"[{name}] epoch {e.epoch}/{e.epochs} train loss {e.train_loss:.4f} val acc {e.val_accuracy:.4f}",
                  file=sys.stderr)

    result = fit(cfg, train, val, classes, progress=progress)
    metrics = classification_metrics(val.labels, result.val_predictions, classes)
    wall = time.perf_counter() - t0
    print(f"[{name}] load {t_loaded - t0:.1f} s, fit {result.train_s:.1f} s, val acc {metrics['accuracy']:.4f}, "
          f"errors {int(round((1 - metrics['accuracy']) * len(val)))}/{len(val)}", file=sys.stderr)
    return {"val_accuracy": round(metrics["accuracy"], 4), "wall_s": round(wall, 2),
            "train": len(train), "val": len(val), "best_epoch": result.best_epoch}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "neu-det" / "images"))
    ap.add_argument("--preset", choices=("head", "finetune"), action="append")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, help="override the preset's epochs")
    args = ap.parse_args()
    out = {name: run_preset(name, Path(args.data), args.seed, args.epochs) for name in (args.preset or ["head", "finetune"])}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
