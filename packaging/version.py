"""The one version number: read from pyproject.toml, checked against inspector/__init__.py.

`python packaging/version.py` prints it (the installer and tarball builds use that);
`python packaging/version.py --windows-file OUT` also writes the Windows version resource.
"""
from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def project_version() -> str:
    with open(ROOT / "pyproject.toml", "rb") as f:
        version = tomllib.load(f)["project"]["version"]
    source = (ROOT / "inspector" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', source, re.M)
    if not found or found.group(1) != version:
        raise SystemExit(f"version mismatch: pyproject.toml says {version}, inspector/__init__.py says "
                         f"{found.group(1) if found else 'nothing'} — make them equal before packaging")
    return version


def version_tuple(version: str) -> tuple[int, int, int, int]:
    """0.1.0 -> (0, 1, 0, 0); a pre-release suffix (0.2.0rc1) is dropped, Windows wants four numbers."""
    numbers = [int(n) for n in re.findall(r"\d+", version.split("+")[0])[:3]]
    return tuple((numbers + [0, 0, 0, 0])[:4])


def windows_version_file(version: str) -> str:
    """PyInstaller's VSVersionInfo text: what Explorer shows under Properties > Details."""
    t = version_tuple(version)
    strings = {"CompanyName": "Inspector", "FileDescription": "Inspector — deep-learning inspection workstation",
               "FileVersion": version, "InternalName": "inspector", "LegalCopyright": "Proprietary",
               "OriginalFilename": "inspector.exe", "ProductName": "Inspector", "ProductVersion": version}
    entries = ",\n          ".join(f"StringStruct({k!r}, {v!r})" for k, v in strings.items())
    return f"""VSVersionInfo(
  ffi=FixedFileInfo(filevers={t}, prodvers={t}, mask=0x3f, flags=0x0, OS=0x40004,
                    fileType=0x1, subtype=0x0, date=(0, 0)),
  kids=[
    StringFileInfo([StringTable('040904B0', [
          {entries}])]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


if __name__ == "__main__":
    v = project_version()
    if len(sys.argv) == 3 and sys.argv[1] == "--windows-file":
        Path(sys.argv[2]).parent.mkdir(parents=True, exist_ok=True)
        Path(sys.argv[2]).write_text(windows_version_file(v), encoding="utf-8")
    print(v)
