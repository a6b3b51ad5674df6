"""`pip install .` (not editable) gives a working Inspector: the wheel carries the training presets
(setup.py copies models/presets/ into inspector/presets/), and the installed package trains on
synthetic parts from a folder that is neither the checkout nor next to it. Offline: no build
isolation, no dependencies fetched (they come from the test's own environment). About 25 s here,
so it runs with `make test`."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "inspector", "models")


def _run(cmd, cwd, env, timeout=600):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out


def test_the_installed_wheel_trains_outside_the_checkout(tmp_path):
    # Build from a copy, so the build leaves nothing in the checkout (build/, *.egg-info).
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy2)(
            ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__", "*.pyc")}
                                        if (ROOT / name).is_dir() else {}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_INDEX_URL", "PIP_FIND_LINKS")}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", QT_QPA_PLATFORM="offscreen")
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", wheels, src], src, env)
    (wheel,) = wheels.glob("inspector-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    presets = sorted(n for n in names if n.startswith("inspector/presets/"))
    assert presets == sorted(f"inspector/presets/{p.name}" for p in (ROOT / "models" / "presets").glob("*.json"))
    assert not [n for n in names if n.startswith(("tests/", "models/", "bench/"))]

    target = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "--target", target, wheel], tmp_path, env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    env["PYTHONPATH"] = str(target)  # before the editable checkout on sys.path
    where = _run([sys.executable, "-c", "import inspector, inspector.core.train_config as tc; "
                  "print(inspector.__file__); print(tc.presets_dir()); print(sorted(tc.load_presets()))"], work, env)
    module, presets_dir, names_line = where.stdout.strip().splitlines()
    assert Path(module).is_relative_to(target) and Path(presets_dir) == target / "inspector" / "presets"
    assert "head" in names_line and "cnn" in names_line

    cli = [sys.executable, "-m", "inspector.cli.main"]
    _run([*cli, "synth", "--out", "parts", "--count", "24", "--size", "48", "--balanced"], work, env)
    _run([*cli, "project", "init", "line"], work, env)
    _run([*cli, "import", "parts", "--project", "line"], work, env)
    out = _run([*cli, "train", "--project", "line", "--preset", "cnn", "--epochs", "1", "--json", "--quiet"], work, env)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["version"] == "v1" and result["arch"] == "cnn"
    assert (work / "line" / "models" / "v1" / "model.onnx").is_file()
