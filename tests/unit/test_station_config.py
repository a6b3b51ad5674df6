"""station_config's put_view / drop_view / check_model / check_source_form: the checks the CLI's
`inspector station` and the Live tab's Views… dialog share, each refusal one line."""
import pytest

from inspector.core.errors import ConfigError
from inspector.core.live.station_config import ViewConfig, check_source_form, drop_view, put_view

SYN = "synthetic://line?fps=5"


def test_put_view_adds_replaces_and_checks():
    views = put_view([], ViewConfig("top", SYN))
    views = put_view(views, ViewConfig("side", SYN, "0,0,8,8", "anomaly"), ["v1"])
    assert [v.name for v in views] == ["top", "side"]
    views = put_view(views, ViewConfig("TOP", SYN, model="v1"), ["v1"])  # the same name: replaced, in place
    assert [(v.name, v.model) for v in views] == [("TOP", "v1"), ("side", "anomaly")]
    with pytest.raises(ConfigError, match="^view side: there is no model 'v9' — give a version \\(v1\\)"):
        put_view(views, ViewConfig("side", SYN, model="v9"), ["v1"])
    with pytest.raises(ConfigError, match="named twice"):
        put_view([*views, ViewConfig("side", SYN)], ViewConfig("side", SYN))
    with pytest.raises(ConfigError, match="^view x: give its source"):
        put_view(views, ViewConfig("x", " "))
    with pytest.raises(ConfigError):
        put_view(views, ViewConfig("x", SYN, "1,2"))


def test_drop_view_and_source_form(tmp_path):
    views = [ViewConfig("top", SYN), ViewConfig("side", SYN)]
    assert [v.name for v in drop_view(views, "SIDE")] == ["top"]
    with pytest.raises(ConfigError, match="^there is no view 'left' — the views are: top, side$"):
        drop_view(views, "left")
    check_source_form(ViewConfig("top", "0"))  # a camera need not be plugged in
    with pytest.raises(ConfigError, match="^view top: source "):
        check_source_form(ViewConfig("top", str(tmp_path / "missing.mp4")))
