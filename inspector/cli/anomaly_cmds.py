"""`inspector anomaly …` and the anomaly paths of `eval` and `predict` (chosen by the model's kind)."""
from __future__ import annotations

import json
from pathlib import Path

from inspector.cli._common import emit
from inspector.core.errors import ConfigError, ImageDecodeError

EVAL_DATA_HELP = ("anomaly models: DIR/good/ (or ok/, or --good NAME) holds good parts, every other folder "
                  "defects; masks beside the image as NAME.png (Magnetic Tile: x.jpg + x.png) or under "
                  "DIR/masks/<class>/<same name>.png (what `inspector synth` writes)")


def model_kind(project, version: str | None) -> str | None:
    """The kind of the named version, or of the active model (the last one activated)."""
    from inspector.core.registry import ModelRegistry

    registry = ModelRegistry(project)
    if version:
        return registry.get(version).kind
    active = registry.active_version()
    return registry.get(active).kind if active else None


def eval_is_anomaly(args) -> bool:
    """`inspector eval` takes the anomaly path when --model (or, without it, the active model) is one."""
    from inspector.cli._common import open_project

    with open_project(args.project) as p:
        return model_kind(p, args.model) == "anomaly"


def predict_route(args) -> str | None:
    """"anomaly" for --model naming an anomaly version; "combined" without --model while an anomaly
    model is active (the active classifier, if any, then names the defect type); None: classifier only."""
    from inspector.cli._common import open_project
    from inspector.core.registry import ModelRegistry

    with open_project(args.project) as p:
        if args.model:
            return "anomaly" if model_kind(p, args.model) == "anomaly" else None
        return "combined" if ModelRegistry(p).active("anomaly") is not None else None


# -- anomaly fit / accept / mask ------------------------------------------------------------------------
def cmd_fit(args) -> int:
    from inspector.cli._common import open_project
    from inspector.cli.progress_bar import TerminalProgress
    from inspector.core.anomaly.fitting import fit_project
    from inspector.core.anomaly.model import preset
    from inspector.core.cancel import CancelToken

    cfg = None
    if args.preset != "auto":
        cfg = preset(args.preset, coreset_ratio=args.coreset_ratio)
    elif args.coreset_ratio is not None:
        raise ConfigError("--coreset-ratio sets a fixed configuration — use it with --preset texture or detail")
    from inspector.cli.account_cmds import activate_after_fit, login

    with open_project(args.project) as p:
        actor = login(p, args.user, "model.fit")
        out = fit_project(p, frr=args.frr, config=cfg, preset_name=args.preset, activate=None,
                          user=actor.name, progress=TerminalProgress(quiet=args.quiet or args.json), cancel=CancelToken())
        if args.activate:
            out.version = activate_after_fit(p, actor, out.version, args.confirm_reason)
    obj = {"version": out.version.version, "active": out.version.active, "fit_s": round(out.fit_s, 3),
           "threshold": out.threshold, "frr_target": args.frr, "bank_size": out.bank_size,
           "train_images": out.train_images, "calibration": out.calibration_source, "preset": args.preset,
           "auto": out.auto.to_dict() if out.auto is not None else None, "supervised": out.supervised,
           "validation": out.metrics}
    text = (f"saved anomaly model {out.version.version}{' (active)' if out.version.active else ''}: "
            f"{out.train_images} good images, bank {out.bank_size} patches, threshold {out.threshold:.4g} "
            f"at {args.frr:.2%} false rejects ({out.calibration_source}), {out.fit_s:.1f} s")
    if not out.version.active:  # a classifier runs the line: the anomaly model would take over its OK / NG
        where = f'"{args.project}"' if any(c.isspace() for c in str(args.project)) else args.project
        text += (f"\nnot on the line yet: `inspector models activate {out.version.version} --project {where}` "
                 "puts it there (or fit with --activate)")
    if out.auto is not None:
        text += f"\nsettings: {out.auto.reason}\n" + "\n".join(f"  {line}" for line in out.auto.expected_lines())
    if out.metrics:
        from inspector.core.anomaly.records import operating_point_text

        text += "\nvalidation: " + operating_point_text(out.metrics)
    if out.supervised:
        from inspector.core.anomaly.records import supervised_text

        text += "\n" + supervised_text(out.supervised)
    emit(args, obj, text)
    return 0


def cmd_accept(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.anomaly.accept import propose_accept

    from inspector.cli.account_cmds import login
    from inspector.core import golden

    with open_project(args.project) as p:
        actor = login(p, args.user, "model.accept") if not args.dry_run else None
        proposal = propose_accept(p, args.model, [Path(i) for i in args.images])
        version = None
        if not args.dry_run:  # more golden escapes are refused unless an engineer confirms with a reason
            detail = golden.approve(p, proposal.golden_check(), actor, args.confirm_reason, "model.accept")
            version = proposal.save(p, activate=True if args.activate else None, user=actor.name, detail=detail)
    obj = proposal.to_dict()
    obj.update(version=version.version if version else None, active=bool(version and version.active),
               dry_run=bool(args.dry_run))
    gb, ga = proposal.golden_before, proposal.golden_after
    lines = [f"{'would add' if args.dry_run else 'added'} {proposal.added} patches from {len(proposal.parts)} part(s) "
             f"to {proposal.parent}'s bank" + (f" -> {version.version}{' (active)' if version.active else ''}" if version else "")]
    for part in proposal.parts:
        b, a = part["before"], part["after"]
        lines.append(f"  {part['image']}: score {b['score']:.3f} -> {a['score']:.3f} "
                     f"({'flagged' if a['flagged'] else 'ok'} now)")
    lines.append(f"threshold {proposal.threshold_before:.4g} -> {proposal.threshold_after:.4g} ({proposal.threshold_note})")
    if gb.good + gb.defect:
        lines.append(f"golden set ({gb.good} good, {gb.defect} defect): false rejects {gb.false_rejects} -> "
                     f"{ga.false_rejects}, escapes {gb.escapes} -> {ga.escapes}")
    else:
        lines.append("golden set: empty — mark labelled parts golden (`inspector golden add ID…`, or Ctrl+G in "
                     "Review) to check corrections")
    emit(args, obj, "\n".join(lines))
    return 0


def cmd_mask(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.anomaly.store import write_ignore_mask
    from inspector.core.imageio import decode_image, read_image_bytes

    if bool(args.set) == bool(args.clear):
        raise ConfigError("give either --set MASK.png or --clear")
    from inspector.cli.account_cmds import login

    with open_project(args.project) as p:
        login(p, args.user, "mask.edit")
        mask = None if args.clear else decode_image(read_image_bytes(args.set)).max(axis=2) > 127
        path = write_ignore_mask(p, mask)
    emit(args, {"ignore_mask": None if args.clear else str(path)},
          "ignore mask removed" if args.clear else f"ignore mask stored as {path}; refit to use it")
    return 0


# -- eval and predict on anomaly models -----------------------------------------------------------------
def cmd_eval(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.anomaly.evaluate import evaluate_anomaly

    with open_project(args.project) as p:
        m = evaluate_anomaly(p, args.model, args.data, good_names=args.good, backend=args.backend)
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    lines = [f"anomaly model {m['version']} on {m['data']}: {m['good']} good, {m['defect']} defect images",
             f"  image AUROC {fmt(m['image_auroc'])}, pixel AUROC {fmt(m['pixel_auroc'])}"
             f"{'' if m['masks'] else ' (no masks found)'}",
             f"  at the threshold: catches {m['defect'] - m['escapes']}/{m['defect']}{_ci(m['catch_rate'], m['catch_ci'])}, "
             f"false rejects {m['false_rejects']}/{m['good']}{_ci(m['frr'], m['frr_ci'])}; {m['score_ms']} ms per image"]
    for name, c in m["per_class"].items():
        lines.append(f"  {name:<20} {c['flagged']:>5}/{c['count']:<5} flagged"
                     + (f"  AUROC {c['auroc']:.4f}" if c["auroc"] is not None else ""))
    lines += [f"  skipped {path}: {why}" for path, why in m["rejected"]]
    emit(args, m, "\n".join(lines))
    return 0


def _ci(rate, ci) -> str:
    return "" if rate is None else f" ({rate:.1%}, 95 % CI {ci[0]:.1%}-{ci[1]:.1%})"


def cmd_predict(args, combined: bool) -> int:
    """combined: the active anomaly model plus the active classifier (when there is one); otherwise the
    anomaly version named by --model alone."""
    from inspector.cli._common import open_project
    from inspector.core.anomaly.combined import CombinedPredictor
    from inspector.core.anomaly.heatmap import overlay
    from inspector.core.image_store import write_file_atomically
    from inspector.core.imageio import decode_image, encode_png, read_image_bytes

    with open_project(args.project) as p:
        if combined:
            predictor = CombinedPredictor.from_project(p, backend=args.backend)
        else:
            predictor = CombinedPredictor.from_project(p, anomaly_version=args.model, backend=args.backend,
                                                       with_classifier=False)
    out_dir = Path(args.heatmap) if args.heatmap else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    results, failed, used = [], 0, set()
    for path in args.images:
        try:
            img = decode_image(read_image_bytes(path))
        except ImageDecodeError as e:
            failed += 1
            results.append({"image": path, "error": str(e)})
            continue
        r = predictor.predict(img, with_map=out_dir is not None)
        row = {"image": path, **r.to_dict()}
        if out_dir is not None and r.anomaly is not None:
            name = Path(path).stem + "_heatmap.png"
            while name in used:
                name = f"{Path(name).stem}_{len(used)}.png"
            used.add(name)
            write_file_atomically(out_dir / name, encode_png(overlay(img, r.anomaly.map, r.anomaly.peak)))
            row["heatmap"] = str(out_dir / name)
        results.append(row)
    if args.json:
        print(json.dumps({"model": predictor.versions["anomaly"], "models": predictor.versions,
                          "predictions": results}))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['image']}: {r['error']}")
                continue
            kind = f" {r['defect_type']} ({r['defect_confidence']:.3f})" if r.get("defect_type") else ""
            print(f"{r['image']}: {r['verdict']}{kind}  anomaly score {r['anomaly_score']:.3f}"
                  + (f"  heatmap {r['heatmap']}" if r.get("heatmap") else ""))
    return 1 if failed else 0


# -- the parser ---------------------------------------------------------------------------------------
def add_parser(sub) -> None:
    ap = sub.add_parser("anomaly", help="anomaly detection from good parts: fit, accept a part as OK, ignore mask",
                        description="anomaly detection from good parts only")
    asub = ap.add_subparsers(dest="anomaly_command", metavar="ACTION", required=True)

    sp = asub.add_parser("fit", help="fit on the good (ok-kind) training parts; threshold from good validation parts")
    sp.add_argument("--project", required=True)
    sp.add_argument("--frr", type=float, default=0.01, help="target false-reject rate on good parts (default 0.01)")
    sp.add_argument("--preset", choices=("auto", "texture", "detail"), default="auto",
                    help="auto (default): try several settings on held-out good parts with synthetic defects "
                         "(and any labelled defective parts) and keep the one that catches most; texture: "
                         "surfaces and region defects; detail: small sharp defects on a consistent part")
    sp.add_argument("--coreset-ratio", type=float, help="share of training patches kept in the memory bank")
    sp.add_argument("--activate", action="store_true", help="make the new version active (default: only when "
                                                            "no anomaly model is active yet)")
    sp.add_argument("--confirm-reason", metavar="TEXT", help="with --activate: why a model with more golden "
                                                             "escapes may go on the line (recorded)")
    sp.add_argument("--user", help="your account (an engineer or admin when the project has accounts)")
    sp.add_argument("--quiet", action="store_true")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(fn=cmd_fit)

    sp = asub.add_parser("accept", help="this flagged part is OK: add it to the model as a new version")
    sp.add_argument("images", nargs="+", metavar="IMAGE")
    sp.add_argument("--project", required=True)
    sp.add_argument("--model", help="the anomaly version to correct (default: the active one)")
    sp.add_argument("--dry-run", action="store_true", help="show the effect and the golden-set check, save nothing")
    sp.add_argument("--activate", action="store_true",
                    help="activate the new version (default: when the corrected one was active)")
    sp.add_argument("--confirm-reason", metavar="TEXT", help="why a correction that lets more golden defects "
                                                             "through may be kept (an engineer's, recorded)")
    sp.add_argument("--user", help="your account (an engineer or admin when the project has accounts)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(fn=cmd_accept)

    sp = asub.add_parser("mask", help="set or clear the project's ignore mask (white = ignore)")
    sp.add_argument("--project", required=True)
    sp.add_argument("--set", metavar="PNG", help="a mask image drawn on the part image frame")
    sp.add_argument("--clear", action="store_true")
    sp.add_argument("--user", help="your account (an engineer or admin when the project has accounts)")
    sp.add_argument("--json", action="store_true", help="print one JSON object")
    sp.set_defaults(fn=cmd_mask)
