"""Child process for test_crash_safety: runs a fixed plan of adds, duplicate adds and label changes on a
project (or, with mode "models", of model saves and result writes), from a given step, printing one
flushed line per step that returned. The parent kills it."""
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


RESULT_BATCH = 40  # result rows per write, as the recorder writes a batch of verdicts


def model_payload(step: int) -> bytes:
    return hashlib.sha256(str(step).encode()).digest() * 2048  # 64 KiB: the file write takes a while


def model_plan(n: int = 600) -> list[str]:
    """Every third step saves a model version, the others write a batch of result rows."""
    return ["model" if i % 3 == 0 else "results" for i in range(n)]


def main_models(project_path: str, start: int) -> None:
    from inspector.core.live.results import ResultRow, ResultsLog
    from inspector.core.project import Project
    from inspector.core.registry import ModelRegistry

    project = Project.open(project_path)
    registry = ModelRegistry(project)
    log = ResultsLog(project_path)
    run = log.start_run("crash-test", "free", None)
    print("ready", flush=True)
    plan = model_plan()
    for step in range(start, len(plan)):
        if plan[step] == "model":
            def write(path, step=step):
                with open(path, "wb") as f:  # the registry fsyncs it before the rename
                    f.write(model_payload(step))
            mv = registry.save("classifier", {"classes": [], "step": step}, {"payload.bin": write},
                               summary={"step": step})
            print(f"model {step} {mv.version}", flush=True)
        else:
            log.write([ResultRow(run, float(step), "crash-test", step * 1000 + k, k % 5 != 0, "good", 0.9, 0.1,
                                 {"good": 0.9}, "v1", 1.0, 1.0) for k in range(RESULT_BATCH)])
            print(f"results {step}", flush=True)
    log.close()
    project.close()
    print("done", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[3] == "models":
        main_models(sys.argv[1], int(sys.argv[2]))
    else:
        main(sys.argv[1], int(sys.argv[2]))
