"""`inspector station`: a multi-camera station's views (name, source, region, model) saved in the
project. `inspector run` and the Live tab then trigger every view together and give one result per
part; `inspector run --source …` still runs one camera."""
from __future__ import annotations

import json


def add_commands(add) -> None:
    sp = add("station", cmd_station, "show, add or remove the views of a multi-camera station (top, side…): "
                                     "`inspector run` then inspects them together, one result per part")
    sp.add_argument("--project", required=True)
    sp.add_argument("--add", metavar="NAME", help="add a view (or replace the one of that name), e.g. top")
    sp.add_argument("--source", help="the view's camera index, stream URL, video file or folder (with --add)")
    sp.add_argument("--roi", help="the view's region, x,y,w,h in pixels (with --add; default: the whole picture)")
    sp.add_argument("--model", help="the view's model (with --add): a version to pin (v3), anomaly or classifier "
                                    "(that kind's active model), default: the line model")
    sp.add_argument("--remove", metavar="NAME", help="remove a view")
    sp.add_argument("--clear", action="store_true", help="remove every view: back to one camera")


def cmd_station(args) -> int:
    from inspector.cli._common import open_project
    from inspector.core.errors import ConfigError
    from inspector.core.live.station_config import (ViewConfig, check_source_form, drop_view, load_views, put_view,
                                                    save_views)
    if args.add is None and any(v is not None for v in (args.source, args.roi, args.model)):
        raise ConfigError("--source, --roi and --model describe a view: give its name with --add NAME")
    with open_project(args.project) as project:
        views = load_views(project)
        changed = False
        if args.clear:
            views, changed = [], True
        if args.remove is not None:
            views, changed = drop_view(views, args.remove), True
        if args.add is not None:
            if not args.source:
                raise ConfigError(f"view {args.add}: give its --source (camera index, stream URL, video file or folder)")
            new = ViewConfig(args.add, args.source, args.roi or None, args.model or None)
            versions = None
            if new.model:  # a pinned version must exist (the Live tab's Views… dialog checks the same)
                from inspector.core.registry import ModelRegistry
                versions = [m.version for m in ModelRegistry(project).list()]
            views = put_view(views, new, versions)  # a bad name or region, an unknown model: one line
            check_source_form(new)  # the address's form only: the camera need not be plugged in yet
            changed = True
        if changed:
            save_views(project, views)  # checked first: a bad name or region is one line, nothing saved
    if args.json:
        from inspector.core.live.credentials import redact  # a password in an address is never printed
        print(json.dumps({"views": [{**vars(v), "source": redact(v.source)} for v in views], "saved": changed}))
    elif not views:
        print("no views: `inspector run` inspects one camera (--source); add views with "
              "`inspector station --project P --add top --source 0`")
    else:
        print(f"station of {len(views)} view{'s' if len(views) != 1 else ''}" + (" (saved)" if changed else "") + ":")
        for v in views:
            print("  " + v.describe())
    return 0


def views_for_run(args, project) -> list:
    """`inspector run` without --source: the station's views; none saved is a one-line error."""
    from inspector.core.errors import ConfigError
    from inspector.core.live.station_config import load_views
    if args.source:
        return []
    views = load_views(project)
    if not views:
        raise ConfigError("no --source given and this project has no station views — give --source (e.g. 0 or "
                          "video.mp4), or add views with `inspector station --project P --add top --source 0`")
    if getattr(args, "camera_set", None):
        raise ConfigError("--camera-set applies to --source; put a view's camera settings in its source address")
    return views
