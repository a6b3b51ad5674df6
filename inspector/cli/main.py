"""`inspector …` — every command a vision engineer can script. Heavy modules load lazily so
`inspector project init` answers at once."""
from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys

from inspector import __version__
from inspector.cli._common import emit, open_project
from inspector.core.errors import Cancelled, InspectorError


class _SkippedImages(logging.Handler):
    """Collects the images core.arrays left out as unreadable while a command runs (its warning record
    carries the list), so the command can say which, in one line and in --json."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.files: list[tuple[str, str]] = []
        self._logger = logging.getLogger("inspector.core.arrays")

    def emit(self, record: logging.LogRecord) -> None:
        self.files += getattr(record, "skipped", [])

    def __enter__(self) -> "_SkippedImages":
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)

    def line(self) -> str:
        shown = "; ".join(f"{f} ({why})" for f, why in self.files[:10])
        more = f"; and {len(self.files) - 10} more (--json lists all)" if len(self.files) > 10 else ""
        return (f"skipped {len(self.files)} unreadable image(s), trained without them — re-import or discard "
                f"them: {shown}{more}")


# -- project, import, export, synth -------------------------------------------------------------------
def cmd_project_init(args) -> int:
    from inspector.core.project import Project

    p = Project.init(args.path, name=args.name)
    emit(args, {"project": str(p.root)}, f"created project {p.root}")
    p.close()
    return 0


def cmd_project_info(args) -> int:
    from inspector.core.registry import ModelRegistry

    with open_project(args.path) as p:
        counts = p.counts()
        per_class = counts["per_class"]
        active = ModelRegistry(p).active_version()
        classes = [{"name": c.name, "kind": c.kind, "color": c.color, "shortcut": c.shortcut} for c in p.classes()]
        obj = {"project": str(p.root), "classes": classes, "counts": counts, "active_model": active}
        lines = [f"project {p.root}  (active model: {active or 'none'}; unreviewed {counts.get('unreviewed', 0)},"
                 f" discarded {counts.get('discarded', 0)})"]
        for c in classes:
            n = per_class.get(c["name"], {})
            lines.append(f"  {c['name']:<20} {c['kind']:<7} train {n.get('train', 0):>5}  val {n.get('val', 0):>5}"
                         f"  golden {n.get('golden', 0):>5}")
        golden_n = sum(n.get("golden", 0) for n in per_class.values())
        lines.append(f"golden set: {golden_n} parts" + ("" if golden_n else " — `inspector golden add ID…` marks "
                                                                       "labelled parts that every model change is "
                                                                       "checked on"))
        emit(args, obj, "\n".join(lines))
    return 0


def cmd_import(args) -> int:
    from inspector.core.importer import import_imagefolder

    from inspector.cli.account_cmds import login

    with open_project(args.project) as p:
        actor = login(p, args.user, "import")
        s = import_imagefolder(p, args.src, user=actor.name)
    obj = {"added": s.added, "duplicates": s.duplicates, "rejected": [list(r) for r in s.rejected],
           "per_class": s.per_class}
    emit(args, obj, str(s))
    return 0


def cmd_export(args) -> int:
    from inspector.core.exporter import export_imagefolder

    with open_project(args.project) as p:
        from inspector.cli.account_cmds import login

        s = export_imagefolder(p, args.to, user=login(p, args.user, "export").name)
    emit(args, s, f"exported {s.get('exported', s)} images to {args.to}")
    return 0


def cmd_synth(args) -> int:
    from inspector.core.synth import write_imagefolder

    s = write_imagefolder(args.out, args.count, seed=args.seed, defect_rate=args.defect_rate,
                          size=(args.size, args.size), balanced=args.balanced)
    emit(args, s, f"wrote {s['count']} parts to {args.out}: "
                   + ", ".join(f"{k} {v}" for k, v in sorted(s["per_class"].items())))
    return 0


# -- training and models -----------------------------------------------------------------------------
def _train_config(args):
    from inspector.core.train_config import preset

    name = args.preset
    if name is None:
        name = {"mlp": "mlp", "cnn": "cnn"}.get(args.arch or "", args.mode if args.mode in ("head", "finetune") else "head")
    over = dict(arch=args.arch, mode=args.mode, epochs=args.epochs, optimizer=args.optimizer, lr=args.lr,
                batch_size=args.batch_size, weight_decay=args.weight_decay, l1=args.l1, dropout=args.dropout,
                early_stopping=args.early_stopping, seed=args.seed, device=args.device, schedule=args.schedule,
                momentum=args.momentum, standardize=args.standardize, frr_target=args.frr,
                local_evidence=args.local_evidence)
    if args.no_augment:
        over["augment"] = dict(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0)
    return preset(name, **over)


def cmd_train(args) -> int:
    from inspector.cli.progress_bar import TerminalProgress
    from inspector.core.cancel import CancelToken
    from inspector.core.training import train_project

    from inspector.cli.account_cmds import activate_after_fit, login

    cfg = _train_config(args)
    with open_project(args.project) as p, _SkippedImages() as skipped:
        actor = login(p, args.user, "train")
        out = train_project(p, cfg, warm_from=args.warm_from, progress=TerminalProgress(quiet=args.quiet),
                            cancel=CancelToken(), user=actor.name, activate=None)
        if args.activate:
            out.version = activate_after_fit(p, actor, out.version, args.confirm_reason)
    if skipped.files:
        print(f"warning: {skipped.line()}", file=sys.stderr)
    m = out.metrics
    obj = {"version": out.version.version, "active": out.version.active, "arch": cfg.arch, "mode": cfg.mode,
           "val_accuracy": m.get("accuracy"), "val": {k: m.get(k) for k in ("accuracy", "per_class", "confusion_matrix",
                                                                              "count")},
           "best_epoch": out.result.best_epoch, "train_s": round(out.result.train_s, 3),
           "local_evidence": bool(out.result.arch.get("local")),
           "wall_s": round(out.wall_s, 3), "device": out.result.device,
           "skipped": [{"file": f, "reason": why} for f, why in skipped.files]}
    acc = f"{m['accuracy']:.4f}" if m else "n/a (no validation images)"
    emit(args, obj, f"saved model {out.version.version}{' (active)' if out.version.active else ''}: "
                     f"validation accuracy {acc}, {out.wall_s:.1f} s")
    return 0


def cmd_eval(args) -> int:
    from inspector.cli import anomaly_cmds
    from inspector.core.evaluation import evaluate_version

    if anomaly_cmds.eval_is_anomaly(args):
        return anomaly_cmds.cmd_eval(args)

    with open_project(args.project) as p:
        m = evaluate_version(p, args.model, args.data, backend=args.backend)
    lines = [f"model {m['version']} on {m['data']}: accuracy {m['accuracy']:.4f} ({m['count']} images)"]
    for name, c in m["per_class"].items():
        lines.append(f"  {name:<20} precision {c['precision']:.3f} recall {c['recall']:.3f} support {c['support']}")
    lines.append("confusion matrix (rows true, columns predicted): " + json.dumps(m["confusion_matrix"]))
    op = m.get("operating_point")
    if op:
        from inspector.core.decision import describe

        lines.append(describe(op))
    lines += [f"  skipped {path}: {why}" for path, why in m["rejected"]]
    emit(args, m, "\n".join(lines))
    return 0


def cmd_predict(args) -> int:
    from inspector.cli import anomaly_cmds
    from inspector.core.errors import ImageDecodeError
    from inspector.core.imageio import decode_image, read_image_bytes
    from inspector.core.predictor import Predictor
    from inspector.core.registry import ModelRegistry
    from inspector.core.decision import decide
    from inspector.core.training import require_classifier

    route = anomaly_cmds.predict_route(args)
    if route is not None:
        return anomaly_cmds.cmd_predict(args, combined=route == "combined")
    with open_project(args.project) as p:
        reg = ModelRegistry(p)
        mv = require_classifier(reg, args.model)
        predictor = Predictor(mv.path, backend=args.backend, config=reg.read_config(mv.version))
    results, failed = [], 0
    for path in args.images:
        try:
            pred = predictor.predict([decode_image(read_image_bytes(path))])[0]
            results.append({"image": path, "label": pred.label, "confidence": pred.confidence, "scores": pred.scores,
                            **(decide(pred.scores, predictor.config) or {})})  # OK/NG as the line decides
        except ImageDecodeError as e:
            failed += 1
            results.append({"image": path, "error": str(e)})
    if args.json:
        print(json.dumps({"model": mv.version, "predictions": results}))
    else:
        for r in results:
            print(f"{r['image']}: " + (r["error"] if "error" in r else f"{r['label']} ({r['confidence']:.3f})"
                                       + (f" — {'NG' if r['verdict'] == 'not_ok' else 'OK'}" if "verdict" in r else "")))
    return 1 if failed else 0


def cmd_models(args) -> int:
    from inspector.cli.account_cmds import login
    from inspector.core import golden
    from inspector.core.registry import ModelRegistry

    with open_project(args.project) as p:
        reg = ModelRegistry(p)
        if args.action == "list":
            rows = reg.list()
            obj = {"models": [{"version": m.version, "kind": m.kind, "created_at": m.created_at, "active": m.active,
                               "parent": m.parent, **m.summary} for m in rows]}
            lines = [f"{'*' if m.active else ' '} {m.version:<6} {m.kind:<10} {m.summary.get('arch', ''):<13} "
                     f"val acc {m.summary.get('val_accuracy') if m.summary.get('val_accuracy') is not None else '-'}"
                     f"  train {m.summary.get('train', '-')}" for m in rows] or ["no models yet — run `inspector train`"]
            emit(args, obj, "\n".join(lines))
        elif args.action == "activate":  # the golden set is scored first; more escapes need a confirmation
            actor = login(p, args.user, "model.activate")
            check = golden.check_activation(p, reg, _need_version(args))
            m = reg.activate(check.version, actor.name,
                             detail=golden.approve(p, check, actor, args.confirm_reason, "model.activate"))
            emit(args, {"active": m.version, "golden": check.to_dict()}, f"{m.version} is now active\n{check.line()}")
        elif args.action == "rollback":
            actor = login(p, args.user, "model.rollback")
            target, current = reg.rollback_target(), reg.active()
            check = golden.check_change(p, reg, target.version, current.version)
            m = reg.rollback(actor.name, detail=golden.approve(p, check, actor, args.confirm_reason, "model.rollback"))
            emit(args, {"active": m.version, "golden": check.to_dict()},
                  f"rolled back: {m.version} is now active\n{check.line()}")
        elif args.action == "delete":
            v = _need_version(args)
            actor = login(p, args.user, "model.delete")
            reg.delete(v, actor.name)
            emit(args, {"deleted": v}, f"deleted {v}")
    return 0


def _need_version(args) -> str:
    if not args.version:
        raise InspectorError(f"`inspector models {args.action}` needs a version, e.g. v3 — see `inspector models list`")
    return args.version


def cmd_demo(args) -> int:
    from inspector.cli.demo import run_demo

    return run_demo(args)


# -- the parser ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from inspector.cli import anomaly_cmds
    from inspector.core.train_config import OPTIMIZERS, STANDARDIZE, STANDARDIZE_HELP

    ap = argparse.ArgumentParser(prog="inspector", description="Deep-learning inspection workstation")
    ap.add_argument("--version", action="version", version=f"inspector {__version__}")
    ap.add_argument("--self-test", nargs="?", const="all", choices=("all", "window"), metavar="PART",
                    help="check that this installation works offline, then exit (0 = passed)")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_, description=help_)
        sp.set_defaults(fn=fn)
        sp.add_argument("--json", action="store_true", help="print one JSON object")
        return sp

    pp = sub.add_parser("project", help="create or describe a project")
    psub = pp.add_subparsers(dest="project_command", metavar="ACTION", required=True)
    sp = psub.add_parser("init", help="create a new project folder")
    sp.add_argument("path")
    sp.add_argument("--name")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_project_init)
    sp = psub.add_parser("info", help="classes, sample counts and the active model")
    sp.add_argument("path")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(fn=cmd_project_info)

    sp = add("import", cmd_import, "import an ImageFolder (one folder per class; good/ok = ok parts), or one "
                                   "folder of images as the class it is named after (e.g. parts/good)")
    sp.add_argument("src")
    sp.add_argument("--project", required=True)
    sp.add_argument("--user", help="who labels the imported parts (an account when the project has accounts; "
                                   "default: the computer's user)")

    sp = add("export", cmd_export, "write the labelled set as an ImageFolder")
    sp.add_argument("--project", required=True)
    sp.add_argument("--to", required=True)
    sp.add_argument("--user", help="who exports (an account when the project has accounts; recorded in the "
                                   "export's marker and the audit trail)")

    sp = add("synth", cmd_synth, "write synthetic parts with known defects as an ImageFolder")
    sp.add_argument("--out", required=True)
    sp.add_argument("--count", type=int, default=200)
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--defect-rate", type=float, default=0.2)
    sp.add_argument("--size", type=int, default=256)
    sp.add_argument("--balanced", action="store_true", help="equal counts per class")

    sp = add("train", cmd_train, "train a classifier on the project's labelled images")
    sp.add_argument("--project", required=True)
    sp.add_argument("--preset", choices=("head", "finetune", "cnn", "mlp"))
    sp.add_argument("--arch", choices=("mlp", "cnn", "effnet-lite0"))
    sp.add_argument("--mode", choices=("head", "finetune", "scratch"))
    sp.add_argument("--epochs", type=int)
    sp.add_argument("--optimizer", choices=OPTIMIZERS,
                    help="momentum: SGD with classical momentum; nesterov: SGD with Nesterov momentum")
    sp.add_argument("--momentum", type=float,
                    help="for momentum and nesterov (default 0.9) and rmsprop (default 0: none)")
    sp.add_argument("--lr", type=float)
    sp.add_argument("--batch-size", type=int)
    sp.add_argument("--weight-decay", type=float, help="L2 regularization")
    sp.add_argument("--l1", type=float, help="L1 regularization")
    sp.add_argument("--dropout", type=float)
    sp.add_argument("--schedule", choices=("constant", "cosine"))
    sp.add_argument("--early-stopping", type=int, metavar="PATIENCE")
    sp.add_argument("--frr", type=float, metavar="RATE",
                    help="set the OK/NG cut-off for this false-reject rate on the good validation parts "
                         "(default 0.01 = 1 %%)")
    sp.add_argument("--no-augment", action="store_true")
    sp.add_argument("--local-evidence", choices=("auto", "on", "off"),
                    help="Fast and Accurate: also score each patch against the good parts' patches, for fine defects "
                         "(auto: on with at least 5 good and at most 1,000 training images)")
    sp.add_argument("--standardize", choices=STANDARDIZE,
                    help="input standardization: " + "; ".join(f"{k}: {v}" for k, v in STANDARDIZE_HELP.items())
                    + " (default: the preset's)")
    sp.add_argument("--seed", type=int)
    sp.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"))
    sp.add_argument("--from", dest="warm_from", metavar="VERSION",
                    help="warm start: continue from this version's weights (same network) on today's labels")
    sp.add_argument("--activate", action="store_true", help="make the new version active (after the golden-set "
                                                            "check)")
    sp.add_argument("--confirm-reason", metavar="TEXT", help="with --activate: why a model with more golden "
                                                             "escapes may go on the line (recorded)")
    sp.add_argument("--user", help="your account (an engineer or admin when the project has accounts)")
    sp.add_argument("--quiet", action="store_true")

    sp = add("eval", cmd_eval, "accuracy, per-class precision/recall and confusion matrix; on an anomaly model: "
                               "image and pixel AUROC, false-reject and escape rates")
    sp.add_argument("--project", required=True)
    sp.add_argument("--model")
    sp.add_argument("--data", help="an ImageFolder outside the project (default: the validation split); "
                                   + anomaly_cmds.EVAL_DATA_HELP)
    sp.add_argument("--good", action="append", metavar="FOLDER", help="anomaly models: a folder of good parts "
                                                                       "(repeatable; default good, ok)")
    sp.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")

    sp = add("predict", cmd_predict, "classify images; with an active anomaly model: verdict, anomaly score and "
                                     "(from the active classifier) the defect type")
    sp.add_argument("images", nargs="+")
    sp.add_argument("--project", required=True)
    sp.add_argument("--model")
    sp.add_argument("--backend", choices=("auto", "onnx", "torch"), default="auto")
    sp.add_argument("--heatmap", metavar="DIR", help="anomaly models: write a PNG overlay per image into DIR")

    sp = add("models", cmd_models, "list, activate, roll back or delete model versions")
    sp.add_argument("action", choices=("list", "activate", "rollback", "delete"))
    sp.add_argument("version", nargs="?")
    sp.add_argument("--project", required=True)
    sp.add_argument("--user", help="your account (an engineer or admin when the project has accounts); the "
                                   "password comes from INSPECTOR_PASSWORD, else a prompt")
    sp.add_argument("--confirm-reason", metavar="TEXT", help="activate / rollback a model that lets more golden "
                                                             "defects through: why (an engineer's confirmation, "
                                                             "recorded)")

    from inspector.cli.live_cmds import add_commands as add_live_commands

    add_live_commands(add)

    from inspector.cli.maintenance_cmds import add_commands as add_maintenance_commands

    add_maintenance_commands(add)

    anomaly_cmds.add_parser(sub)

    from inspector.cli import account_cmds, audit_cmds

    audit_cmds.add_parser(sub)
    account_cmds.add_parsers(sub)

    sp = add("demo", cmd_demo, "open the application on a fresh demo project fed by synthetic://line")
    sp.add_argument("--dir", help="where to create the demo project (default: a fresh folder in ~/Inspector)")
    sp.add_argument("--headless", action="store_true",
                    help="no window: import synthetic parts, train with the Fast preset, evaluate")
    sp.add_argument("--count", type=int, default=300, help="parts made by --headless")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.self_test:  # the installed or frozen app checks itself: inspector/selftest.py
        from inspector.selftest import run_self_test

        return run_self_test(args.self_test)
    if not getattr(args, "fn", None):  # `inspector` alone: the application (last project or start page)
        from inspector.cli.gui_entry import run_gui

        return run_gui()
    try:
        return args.fn(args)
    except InspectorError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as e:  # damage found after the file opened
        print(f"error: a project or results database is damaged ({e}) — run `inspector maintenance --project P` "
              "to check it, then restore the file from a backup (a damaged results.sqlite may be moved aside)",
              file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Cancelled):
        print("cancelled — nothing already saved was changed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
