"""`inspector demo`: the application on a fresh demo project fed by synthetic://line, with a handful of
labelled parts and a first (weak) model, so a new user can watch verdicts, label flagged parts and
train a better model. `--headless` runs the whole loop without a screen instead: import, train
with the Fast preset, evaluate."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from inspector.cli.progress_bar import TerminalProgress


def _demo_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    base = Path.home() / "Inspector"
    return base / time.strftime("demo-%Y%m%d-%H%M%S")


def run_headless(args) -> int:
    from inspector.core.evaluation import evaluate_version
    from inspector.core.importer import import_imagefolder
    from inspector.core.project import Project
    from inspector.core.synth import write_imagefolder
    from inspector.core.train_config import preset
    from inspector.core.training import train_project

    root = _demo_dir(args.dir)
    print(f"demo project: {root}")
    with tempfile.TemporaryDirectory() as tmp:
        s = write_imagefolder(Path(tmp) / "parts", args.count, seed=1, defect_rate=0.5, size=(224, 224))
        print("synthetic line: " + ", ".join(f"{k} {v}" for k, v in sorted(s["per_class"].items())))
        project = Project.init(root, name="demo")
        with project:
            print(import_imagefolder(project, Path(tmp) / "parts", user="demo"))
            out = train_project(project, preset("head"), progress=TerminalProgress(), user="demo")
            m = evaluate_version(project, out.version.version)
    print(f"model {out.version.version}: validation accuracy {m['accuracy']:.3f} on {m['count']} parts "
          f"(trained in {out.wall_s:.1f} s)")
    print(f"next: inspector predict --project {root} IMAGE…   |   inspector models list --project {root}")
    return 0


def run_demo(args) -> int:
    if getattr(args, "headless", False):
        return run_headless(args)
    from inspector.cli.gui_entry import run_gui

    return run_gui(demo=True, demo_dir=args.dir)
