"""Only what pyproject.toml cannot say: the wheel carries the shipped training presets.

They live in the repository's top-level models/presets/ (DESIGN.md: "models/ holds the shipped
model presets"); a wheel has no such folder, so build_py copies them into the package as
inspector/presets/*.json, where inspector.core.train_config.presets_dir() looks first. Editable
installs and the source tree keep reading models/presets/ directly."""
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PRESETS = Path(__file__).resolve().parent / "models" / "presets"


class BuildPyWithPresets(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        files = sorted(PRESETS.glob("*.json"))
        if not files:
            raise SystemExit(f"no training presets in {PRESETS} — the package would not train; check the checkout")
        dest = Path(self.build_lib) / "inspector" / "presets"
        self.mkpath(str(dest))
        for f in files:
            self.copy_file(str(f), str(dest / f.name))


setup(cmdclass={"build_py": BuildPyWithPresets})
