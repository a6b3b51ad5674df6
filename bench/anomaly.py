"""Anomaly-detection benchmark on Magnetic Tile: MT_Free split 50/50 with a fixed seed (the model is fitted
on one half, whose leave-one-out scores set the threshold), the other half plus every defect image is test.

    python bench/anomaly.py [--data ../shared/datasets/magnetic-tile] [--seed 0] [--preset auto|texture|detail]

The fit is the product's own (`fit_good_parts`, as `inspector anomaly fit`): with the default preset `auto`
the settings are searched on the fit half with synthetic defects; fit_s includes that search.

fit_s: wall seconds from the file list to a calibrated model (decoding included). score_ms_per_image:
decoded image in, score and full-size anomaly map out. bank_mb: the memory bank as stored.
Prints one JSON line last: {"image_auroc", "pixel_auroc", "fit_s", "score_ms_per_image", "bank_mb", …}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inspector.core.anomaly.autoconfig import wilson  # noqa: E402
from inspector.core.anomaly.fitting import fit_good_parts  # noqa: E402
from inspector.core.anomaly.model import AnomalyConfig, load_source, source_size  # noqa: E402
from inspector.core.anomaly.threshold import auroc  # noqa: E402

DEFECTS = ("Blowhole", "Break", "Crack", "Fray", "Uneven")


def listing(data: Path, seed: int):
    free = sorted((data / "MT_Free" / "Imgs").glob("*.jpg"))
    order = np.random.default_rng(seed).permutation(len(free))
    half = len(free) // 2
    fit_half = [free[i] for i in sorted(order[:half])]
    test_good = [free[i] for i in sorted(order[half:])]
    defects = [(c, f) for c in DEFECTS for f in sorted((data / f"MT_{c}" / "Imgs").glob("*.jpg"))]
    return fit_half, test_good, defects


def read_mask(image: Path, shape) -> np.ndarray:
    m = cv2.imread(str(image.with_suffix(".png")), cv2.IMREAD_GRAYSCALE)
    if m is None:
        return np.zeros(shape, bool)
    if m.shape != shape:
        m = cv2.resize(m, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
    return m > 127


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "datasets" / "magnetic-tile"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--val-fraction", type=float, default=0.0,
                    help="share of the fit half held out for the threshold (default 0: every fit image goes into "
                         "the bank and the threshold comes from leave-one-out scores of 100 of them)")
    ap.add_argument("--frr", type=float, default=0.01)
    ap.add_argument("--defects", type=int, default=0, help="labelled defective parts given to the fit (a seeded "
                    "pick across classes, left out of the test); the threshold then comes from 20 %% of the fit half")
    ap.add_argument("--preset", default="auto", choices=("auto", "texture", "detail"))
    ap.add_argument("--classes", default=",".join(DEFECTS),
                    help="defect classes in the test (and the labelled pick), e.g. Crack: one kind of defect, as "
                         "on a line whose parts fail one way")
    ap.add_argument("--config", default=None, help='fixed settings instead of a preset: JSON overrides of '
                                                   'AnomalyConfig, e.g. {"coreset_ratio": 0.04}')
    args = ap.parse_args()
    data = Path(args.data)
    cfg = AnomalyConfig.from_dict(json.loads(args.config)) if args.config else None
    fit_half, test_good, defects = listing(data, args.seed)
    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    if unknown := set(classes) - set(DEFECTS):
        ap.error(f"unknown class {sorted(unknown)[0]}: choose from {', '.join(DEFECTS)}")
    defects = [d for d in defects if d[0] in classes]
    labelled = []
    if args.defects:
        pick = np.random.default_rng(args.seed + 3).permutation(len(defects))[:args.defects]
        labelled = [defects[i][1] for i in sorted(pick)]
        defects = [d for i, d in enumerate(defects) if i not in set(pick.tolist())]
        args.val_fraction = args.val_fraction or 0.2
    n_val = int(round(len(fit_half) * args.val_fraction))
    order = np.random.default_rng(args.seed + 1).permutation(len(fit_half))
    val = [fit_half[i] for i in sorted(order[:n_val])]
    train = [fit_half[i] for i in sorted(order[n_val:])]

    t0 = time.perf_counter()
    model, report = fit_good_parts(train, [source_size(f) for f in train], val, preset_name=args.preset, config=cfg,
                                   frr=args.frr, seed=args.seed, defects=labelled)
    fit_s = time.perf_counter() - t0
    print(f"fit: {len(train)} images, {model.info['train_patches']} patches -> bank {len(model.bank)} "
          f"× {model.bank.shape[1]}; threshold from {model.calibration.source}, total {fit_s:.1f} s", file=sys.stderr)
    if report is not None:
        print("auto: " + report.reason, file=sys.stderr)
        for line in report.expected_lines():
            print("  " + line, file=sys.stderr)
        for r in report.results:
            print(f"  tried {r.name} sigma {r.smooth_sigma:g}: catch {r.catch:.3f} auroc {r.auroc:.3f} "
                  f"{r.score_ms:.0f} ms", file=sys.stderr)

    tests = [("Free", f) for f in test_good] + defects
    images = [load_source(f) for _, f in tests]
    labels = np.array([c != "Free" for c, _ in tests])
    scores, pix_s, pix_y, times = [], [], [], []
    for (cls, f), img in zip(tests, images):
        t = time.perf_counter()
        r = model.score(img, with_map=True)
        times.append(time.perf_counter() - t)
        scores.append(r.raw)
        # pixel AUROC at half resolution per side: a quarter of the memory, same ranking up to detail
        small = (max(1, img.shape[1] // 2), max(1, img.shape[0] // 2))
        pix_s.append(cv2.resize(r.map, small, interpolation=cv2.INTER_AREA).ravel())
        mask = read_mask(f, img.shape[:2]) if cls != "Free" else np.zeros(img.shape[:2], bool)
        pix_y.append(cv2.resize(mask.astype(np.uint8), small, interpolation=cv2.INTER_NEAREST).ravel() > 0)
    scores = np.array(scores)
    per_class = {c: round(auroc(np.r_[np.zeros((~labels).sum()), np.ones(sum(k == c for k, _ in tests))],
                                np.r_[scores[~labels], scores[[k == c for k, _ in tests]]]), 4) for c in classes}
    thr = model.calibration.threshold
    out = {
        "image_auroc": round(auroc(labels, scores), 4),
        "pixel_auroc": round(auroc(np.concatenate(pix_y), np.concatenate(pix_s)), 4),
        "fit_s": round(fit_s, 2),
        "score_ms_per_image": round(1000 * float(np.mean(times)), 2),
        "bank_mb": round(model.bank_bytes / 2**20, 2),
        "score_ms_median": round(1000 * float(np.median(times)), 2),
        "per_class_auroc": per_class,
        "test_frr": round(float((scores[~labels] > thr).mean()), 4),
        "test_escape_rate": round(float((scores[labels] <= thr).mean()), 4),
        "catch_ci": [round(v, 4) for v in wilson(int((scores[labels] > thr).sum()), int(labels.sum()))],
        "frr_ci": [round(v, 4) for v in wilson(int((scores[~labels] > thr).sum()), int((~labels).sum()))],
        "preset": args.preset if cfg is None else "config", "labelled_defects": len(labelled),
        "classes": classes,
        "supervised": model.info.get("supervised"), "chosen": report.chosen if report else None,
        "expected_catch": report.best.catch if report and report.best else None,
        "bank_entries": int(len(model.bank)),
        "train_images": len(train), "val_images": len(val), "test_good": int((~labels).sum()),
        "test_defect": int(labels.sum()), "seed": args.seed,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
