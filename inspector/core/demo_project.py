"""The demo project: the demo's classes, a handful of labelled synthetic parts, the live settings for
synthetic://line and a first (weak) model. Used by `inspector demo`, the GUI's "New demo project" and
the benches; Qt-free, so the GUI runs it on a worker like any other operation."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

# Parts on a belt, inspected once each as they arrive under the camera; seed differs from the
# labelled parts, so the live line shows parts the first model has never seen. The line makes all four
# defect types, fine ones too (2-px scratches, 5-px spots): the first model, from three examples of each,
# is poor at them, and one trained after labelling 40 parts of the line names them better because Fast
# then adds local evidence (nets/local_evidence.py). The labelled parts are drawn through the demo's camera
# (demo_camera): drawn bare, without its belt, the first model called every live part NG.
# bench/demo_loop.py, 600 new parts as the camera shows them: accuracy 0.66 -> 0.83 after 20 -> 0.87
# after 40 (OK / NG 0.70 -> 0.91).
DEMO_SOURCE = "synthetic://line?mode=belt&fps=15&size=256&defect_rate=0.35&seed=11&defects=scratch,spot,crack,missing"
DEMO_TRIGGER = "presence"
DEMO_CLASSES = (("good", "ok"), ("scratch", "defect"), ("spot", "defect"), ("crack", "defect"), ("missing", "defect"))
# A handful: enough for a first model that works a little (about a quarter of the good parts called NG, a
# third of the defective ones passed), few enough that labelling helps visibly.
DEMO_LABELLED = {"good": 6, "scratch": 3, "spot": 3, "crack": 3, "missing": 3}


def make_demo_project(root: str | Path, *, user: str = "demo", labelled: dict[str, int] | None = None,
                      size: int = 256, train: bool = True, progress=None, cancel=None) -> Path:
    """A new project at root: the demo's classes, a few labelled synthetic parts, the live settings
    for synthetic://line, and (train=True) a first model trained with the Fast preset, active."""
    from inspector.core.imageio import encode_png
    from inspector.core.progress import StageProgress
    from inspector.core.project import Project
    from inspector.core.synth import SyntheticLine
    from inspector.core.train_config import preset
    from inspector.core.training import train_project

    progress = progress or (lambda e: None)
    labelled = DEMO_LABELLED if labelled is None else labelled
    root = Path(root)
    with Project.init(root, name="demo") as project:
        for name, kind in DEMO_CLASSES:
            project.add_class(name, kind)
        project.set_meta("live.source", DEMO_SOURCE)
        project.set_meta("live.trigger", DEMO_TRIGGER)
        line = SyntheticLine(size=(size, size), defect_rate=0.5, seed=1)
        camera = demo_camera(size)
        wanted = [name for name, n in labelled.items() for _ in range(n)]
        for i, name in enumerate(wanted):
            if cancel is not None:
                cancel.check()
            part = line.part(i, label=name)
            project.add_image(encode_png(camera.centred(part.image)), source="synthetic://line (demo)",
                              label=part.label, user=user)
            progress(StageProgress("making labelled parts", i + 1, len(wanted)))
        if train:
            train_project(project, preset("head"), progress=progress, cancel=cancel, user=user, activate=True)
    return root


def demo_camera(size: int = 256):
    """The demo line's camera (DEMO_SOURCE at this size, not paced): its centred frames are what the Live tab
    inspects, so the labelled parts are drawn through it — the same belt, light and noise."""
    from inspector.core.live.synthetic import SyntheticSource

    spec = urlsplit(DEMO_SOURCE)
    options = dict(parse_qsl(spec.query), size=str(int(size)), fps="0")
    return SyntheticSource.from_spec(spec._replace(query=urlencode(options, safe=",")).geturl())
