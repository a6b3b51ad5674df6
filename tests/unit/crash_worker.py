"""Child process for test_crash_safety: runs a fixed plan of adds, duplicate adds and label changes on a
project, from a given step, printing one flushed line per step that returned. The parent kills it."""
from __future__ import annotations

import hashlib
import random
import sys

import cv2
import numpy as np

N_IMAGES = 1000
LABELS = ("good", "scratch", "dent")


def make_plan(seed: int = 7) -> list[tuple]:
    """("add", image, label|None), ("dup", image) re-adds an earlier image, ("label", image, label)."""
    rng = random.Random(seed)
    plan: list[tuple] = []
    for i in range(N_IMAGES):
        plan.append(("add", i, rng.choice(LABELS) if rng.random() < 0.7 else None))
        if i and rng.random() < 0.1:
            plan.append(("dup", rng.randrange(i)))
        if i and rng.random() < 0.15:
            plan.append(("label", rng.randrange(i), rng.choice(LABELS)))
    return plan


def image_bytes(i: int) -> bytes:
    img = np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    assert ok
    return buf.tobytes()


def main(project_path: str, start: int) -> None:
    from inspector.core.project import Project

    plan = make_plan()
    project = Project.open(project_path)
    print("ready", flush=True)
    for step in range(start, len(plan)):
        op = plan[step]
        if op[0] in ("add", "dup"):
            label = op[2] if op[0] == "add" else None
            r = project.add_image(image_bytes(op[1]), source=f"gen/{op[1]}", label=label, user="worker")
            print(f"added {step} {r.sample_id} {r.image_hash}", flush=True)
        else:
            digest = hashlib.sha256(image_bytes(op[1])).hexdigest()
            sample = project.find_by_hash(digest)
            project.set_label(sample.id, op[2], "worker")
            print(f"label {step} {sample.id} {op[2]}", flush=True)
    project.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
