"""`inspector run --camera-set` against Aravis's fake GigE Vision camera on loopback, a real process:
the settings reach the camera, a refused one is one line and the run goes on; a typo stops the run
before it starts, in one line."""
import sys
from pathlib import Path

import pytest
from cli_run import inspector

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.unit import genicam_kit  # noqa: E402

camera = genicam_kit.camera  # the fixture
pytestmark = needs_fake_camera = genicam_kit.needs_fake_camera


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("camera_cli")
    inspector("synth", "--out", root / "parts", "--count", 30, "--size", 64, "--balanced", "--seed", 1)
    inspector("project", "init", root / "proj")
    inspector("import", root / "parts", "--project", root / "proj")
    inspector("train", "--project", root / "proj", "--arch", "cnn", "--epochs", 1, "--quiet", "--json")
    return root / "proj"


def test_camera_set_applies_refuses_in_one_line_and_runs_on(project, camera):
    out = inspector("run", "--project", project, "--source", "genicam://127.0.0.1?fps=30",
                    "--camera-set", "Width=320", "--camera-set", "Height=240", "--camera-set", "ExposureTime=5000",
                    "--camera-set", "Gain=50", "--max-frames", 10, "--no-record")
    assert out.stdout.startswith("finished: read 10 frames"), out.stdout
    opened = [line for line in out.stderr.splitlines() if "source_open" in line]
    assert len(opened) == 1 and opened[0].endswith(
        "reading genicam://127.0.0.1 (refused: gain (50 is outside the camera's 0 to 10))"), out.stderr

    bad = inspector("run", "--project", project, "--source", "genicam://127.0.0.1", "--camera-set", "Shutter=5",
                    "--max-frames", 1, check=False)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("error: camera setting 'Shutter' is not known"), bad.stderr
