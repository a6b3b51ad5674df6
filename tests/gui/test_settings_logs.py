"""Preferences file, window geometry, the log file and the error dialog: typed, isolated, never a traceback."""
import json
import logging
import sys

from conftest import error_dialogs

from inspector.core.errors import ProjectError
from inspector.gui.logs import install_excepthook, log_path, setup_logging, user_message
from inspector.gui.settings import (Preferences, config_dir, geometry_settings, load_preferences, log_dir,
                                    save_preferences)


def test_settings_and_logs_live_in_the_test_folder(isolated_settings):
    assert config_dir() == isolated_settings / "config"
    assert log_dir() == isolated_settings / "logs"
    s = geometry_settings()
    s.setValue("main/geometry", b"abc")
    s.sync()
    assert (isolated_settings / "config" / "window.ini").is_file()


def test_preferences_round_trip_and_bad_values_fall_back(isolated_settings):
    p = Preferences(user="Ana", large_font=True, review_per_minute=45)
    p.remember_project("/a")
    p.remember_project("/b")
    p.remember_project("/a")
    save_preferences(p)
    back = load_preferences()
    assert (back.user, back.large_font, back.review_per_minute) == ("Ana", True, 45)
    assert back.last_project == "/a" and back.recent_projects == ["/a", "/b"]

    path = config_dir() / "preferences.json"
    path.write_text(json.dumps({"user": 3, "large_font": "yes", "review_per_minute": 12, "unknown": 1,
                                "recent_projects": ["/x", 5]}))
    back = load_preferences()
    assert back.user == "" and back.large_font is False and back.review_per_minute == 12
    assert back.recent_projects == []
    path.write_text("{not json")
    assert load_preferences() == Preferences()


def test_uncaught_error_goes_to_the_log_and_a_plain_dialog(qtbot, isolated_settings):
    path = setup_logging()
    assert path == log_path() and path.parent == isolated_settings / "logs"
    old = sys.excepthook
    try:
        hook = install_excepthook()
        try:
            raise ZeroDivisionError("division by zero in some widget")
        except ZeroDivisionError:
            sys.excepthook(*sys.exc_info())
        qtbot.waitUntil(lambda: len(hook.shown) == 1, timeout=2000)
        text = error_dialogs()[0].text()
        assert "Traceback" not in text and "unexpected problem" in text and str(path) in text
        for h in logging.getLogger().handlers:
            h.flush()
        logged = path.read_text()
        assert "Traceback" in logged and "ZeroDivisionError: division by zero in some widget" in logged
        # A user error is shown as written: one line saying what to do.
        assert user_message(ProjectError("x is not a project — create one")) == "x is not a project — create one"
    finally:
        sys.excepthook = old
