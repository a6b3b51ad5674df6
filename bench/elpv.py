"""ELPV solar cells (electroluminescence, 300×300, fine cracks and dark regions) through Inspector's own
project and train path.

    python bench/elpv.py --data ../shared/datasets/elpv --task classify --preset fast|accurate [--seed N]
    python bench/elpv.py --data ../shared/datasets/elpv --task anomaly [--seed N]

classify: binary, defective = expert probability >= 0.5 (labels.csv: path, probability, module type,
whitespace separated); a seeded stratified 80/20 split set on a fresh project, then `train_project`
(what `inspector train` and the GUI's Train run: load, features, fit, ONNX export with its parity check,
save). wall_s counts train_project only; import_s (storing the 2,624 images in the project) is apart.
The metrics come from the ONNX model the live runner would use, on the validation cells.
anomaly: see bench/elpv_anomaly.py.
Prints one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PRESETS = {"fast": "head", "accurate": "finetune"}  # the GUI's names -> models/presets/*.json


def read_labels(data: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    paths, probs, types = [], [], []
    for line in (data / "labels.csv").read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            paths.append(data / parts[0])
            probs.append(float(parts[1]))
            types.append(parts[2] if len(parts) > 2 else "")
    return paths, np.array(probs), types


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> np.ndarray:
    """True where a sample goes to validation: per class, a seeded round(n * fraction) of it."""
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        is_val[idx[:int(round(len(idx) * val_fraction))]] = True
    return is_val


def main_classify(args) -> dict:
    from inspector.core.predictor import Predictor
    from inspector.core.progress import EpochEnd, StageProgress
    from inspector.core.project import Project
    from inspector.core.train_config import preset
    from inspector.core.training import train_project

    data = Path(args.data)
    paths, probs, types = read_labels(data)
    y = (probs >= 0.5).astype(np.int64)
    is_val = stratified_split(y, 0.2, args.seed)
    names = ("good", "defective")
    cfg = preset(PRESETS.get(args.preset, args.preset), seed=args.seed, epochs=args.epochs)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with Project.init(Path(tmp) / "elpv", name="elpv") as project:
            project.add_class("good", "ok")
            project.add_class("defective", "defect")
            for p, label, val in zip(paths, y, is_val):
                r = project.add_image(p, source=str(p), label=names[label], user="bench")
                project.set_split(r.sample_id, "val" if val else "train", user="bench")
            import_s = time.perf_counter() - t0
            print(f"imported {len(paths)} cells in {import_s:.1f} s ({int(is_val.sum())} validation)", file=sys.stderr)
            stage = {"name": None}

            def progress(e):
                if isinstance(e, StageProgress) and e.stage != stage["name"]:
                    stage["name"] = e.stage
                    print(f"  {e.stage} ({time.perf_counter() - t1:.1f} s)", file=sys.stderr)
                elif isinstance(e, EpochEnd) and (e.epoch % 10 == 0 or e.epoch == e.epochs or cfg.mode != "head"):
                    print(f"  epoch {e.epoch}/{e.epochs} loss {e.train_loss:.4f} val acc {e.val_accuracy}"
                          f" ({time.perf_counter() - t1:.1f} s)", file=sys.stderr)

            t1 = time.perf_counter()
            out = train_project(project, cfg, progress=progress, user="bench")
            wall = time.perf_counter() - t1
            # Judge the saved model as the line runs it: model.onnx on the validation cells.
            pred = Predictor(out.version.path, backend="onnx")
            val_idx = np.flatnonzero(is_val)
            from inspector.core.imageio import decode_image, read_image_bytes
            images = [decode_image(read_image_bytes(paths[i])) for i in val_idx]
            said = np.array([names.index(p.label) for p in pred.predict(images)])
            truth = y[val_idx]
            fit_acc = out.metrics.get("accuracy")
    defect = truth == 1
    return {"task": "classify", "preset": args.preset, "train_preset": cfg.mode if args.preset in PRESETS else args.preset,
            "seed": args.seed, "val_accuracy": round(float((said == truth).mean()), 4),
            "defect_recall": round(float((said[defect] == 1).mean()), 4),
            "false_reject_rate": round(float((said[~defect] == 1).mean()), 4),
            "fit_val_accuracy": None if fit_acc is None else round(float(fit_acc), 4),
            "val": int(len(truth)), "val_defective": int(defect.sum()), "train": int((~is_val).sum()),
            "wall_s": round(wall, 1), "import_s": round(import_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "elpv"))
    ap.add_argument("--task", choices=("classify", "anomaly"), default="classify")
    ap.add_argument("--preset", default=None, help="classify: fast or accurate (or any preset name); anomaly: the fit preset")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, help="classify: override the preset's epochs")
    args = ap.parse_args()
    if args.task == "anomaly":
        from elpv_anomaly import main_anomaly  # written beside this file (its own bench)

        result = main_anomaly(args)
        if result is not None:
            print(json.dumps(result))
        return
    args.preset = args.preset or "fast"
    print(json.dumps(main_classify(args)))


if __name__ == "__main__":
    main()
