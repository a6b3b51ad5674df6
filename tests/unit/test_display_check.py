"""`inspector` on a Linux desktop without the X11 libraries Qt's xcb plugin links: one line with the
apt-get install to run, exit 2, instead of Qt's abort. The missing library is real: a copy of PySide6's
own plugin whose DT_NEEDED entry names a library that no system has."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from inspector.cli import display_check
from inspector.cli.display_check import APT_LINE, DEBIAN_PACKAGES, PLUGIN_ENV, display_problem, platforms_qt_will_try

ROOT = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's xcb plugin: Linux only")


@pytest.fixture
def broken_plugin(tmp_path) -> Path:
    """PySide6's libqxcb.so, copied beside a link to its Qt libraries, now needing libxcb-icccm.so.9."""
    real = display_check.xcb_plugin_path()
    if real is None:
        pytest.skip("this PySide6 has no xcb plugin")
    qt = tmp_path / "Qt"
    (qt / "plugins" / "platforms").mkdir(parents=True)
    (qt / "lib").symlink_to(real.parents[2] / "lib")  # the plugin's RUNPATH is $ORIGIN/../../lib
    data = real.read_bytes()
    needed = b"\0libxcb-icccm.so.4\0"
    assert needed in data, "PySide6's xcb plugin no longer links libxcb-icccm.so.4: pick another name"
    fake = qt / "plugins" / "platforms" / "libqxcb.so"
    fake.write_bytes(data.replace(needed, b"\0libxcb-icccm.so.9\0"))
    return fake


@linux_only
def test_bare_inspector_prints_the_apt_line_instead_of_qts_abort(broken_plugin, monkeypatch, capsys):
    from inspector.cli.main import main

    monkeypatch.setenv(PLUGIN_ENV, str(broken_plugin))
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)  # as `make run` starts it
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "libxcb-icccm.so.9" in err and err.rstrip().endswith(APT_LINE), err


@linux_only
def test_without_ldd_the_plugin_is_loaded_in_a_child_process(broken_plugin, monkeypatch):
    monkeypatch.setattr(display_check.shutil, "which", lambda name: None)
    assert display_check.missing_libraries(broken_plugin) == ["libxcb-icccm.so.9"]


@linux_only
def test_a_plugin_missing_qts_own_libraries_says_reinstall(broken_plugin, monkeypatch):
    (broken_plugin.parents[2] / "lib").unlink()  # the bundle lost its Qt libraries
    monkeypatch.setenv(PLUGIN_ENV, str(broken_plugin))
    problem = display_problem({"DISPLAY": ":0"})
    assert problem.startswith("error: ") and problem.endswith("— reinstall Inspector") and "libQt6" in problem


@linux_only
def test_no_display_and_other_platforms(monkeypatch, tmp_path):
    monkeypatch.setenv(PLUGIN_ENV, str(tmp_path / "absent.so"))
    assert "DISPLAY is not set" in display_problem({})
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None  # the tests, the self-test
    assert display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}) is None
    assert platforms_qt_will_try({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}) == ["wayland", "xcb"]
    assert platforms_qt_will_try({"QT_QPA_PLATFORM": "xcb:foo=1"}) == ["xcb"]
    assert display_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}).endswith("— reinstall Inspector")


def test_readme_install_script_and_ci_install_the_same_packages():
    for path in ("README.md", "packaging/README.md", "packaging/linux/install.sh", ".ci/run"):
        text = (ROOT / path).read_text(encoding="utf-8")
        missing = [p for p in DEBIAN_PACKAGES if not re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w.-])", text)]
        assert not missing, f"{path} does not install {missing}"
    assert APT_LINE in (ROOT / "README.md").read_text(encoding="utf-8")


@linux_only
def test_the_bundle_carries_the_xcb_libraries_and_refuses_to_build_without_one(broken_plugin):
    with pytest.raises(SystemExit, match=r"lacks libxcb-icccm\.so\.9.*apt-get install -y"):
        display_check.libraries_to_bundle(broken_plugin)
    real = display_check.xcb_plugin_path()
    if display_check.missing_libraries(real):
        pytest.skip("this machine lacks some of the xcb libraries (README's apt-get line)")
    names = {Path(p).name for p in display_check.libraries_to_bundle(real)}
    assert {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxcb-cursor.so.0"} <= names, names
    assert not names & {"libxcb.so.1", "libGL.so.1", "libEGL.so.1"}, names  # the target's own


@linux_only
def test_the_self_test_on_a_real_display_says_what_to_install(broken_plugin, tmp_path):
    """`QT_QPA_PLATFORM=xcb inspector --self-test window` (how packaging checks the real display), in a fresh
    process where Qt would otherwise abort."""
    import os
    import subprocess

    env = {**os.environ, PLUGIN_ENV: str(broken_plugin), "DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb",
           "INSPECTOR_CONFIG_DIR": str(tmp_path / "config"), "INSPECTOR_LOG_DIR": str(tmp_path / "logs")}
    proc = subprocess.run([sys.executable, "-m", "inspector.cli.main", "--self-test", "window"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.rstrip().endswith(APT_LINE), proc.stderr[-2000:]
