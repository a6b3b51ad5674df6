"""`inspector run --mes URL`, a real process, posting each part to a real http.server on loopback (the
MES), in order; `inspector line --mes` keeps a typed token out of the project; a bad URL is one line."""
import json
import sys
from pathlib import Path

import pytest
from cli_run import inspector, last_json

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.unit.mes_kit import Mes  # noqa: E402


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("mes_cli")
    inspector("synth", "--out", root / "parts", "--count", 30, "--size", 64, "--balanced", "--seed", 1)
    inspector("project", "init", root / "proj")
    inspector("import", root / "parts", "--project", root / "proj")
    inspector("train", "--project", root / "proj", "--arch", "cnn", "--epochs", 1, "--quiet", "--json")
    return root / "proj"


def test_run_posts_each_part_to_the_mes_in_order(project, tmp_path, monkeypatch):
    monkeypatch.setenv("INSPECTOR_SECRETS_FILE", str(tmp_path / "secrets.json"))
    mes = Mes().start()
    try:
        typed = mes.url.replace("http://", "http://bearer:tok3n@")
        saved = inspector("line", "--project", project, "--station", "press3", "--mes", typed, "--json")
        assert json.loads(saved.stdout)["mes"] == mes.url.replace("http://", "http://bearer@")  # no token
        assert "tok3n" in (tmp_path / "secrets.json").read_text()
        out = inspector("run", "--project", project, "--source", "synthetic://line?size=64&fps=50",
                        "--max-frames", 20, "--json")
        summary = last_json(out)
        assert summary["line"]["mes_waiting"] == 0 and summary["line"]["mes_connected"] is True
    finally:
        mes.stop()
    assert [m["seq"] for m in mes.got] == list(range(1, summary["triggered"] + 1)) and summary["triggered"] >= 19
    assert {m["station"] for m in mes.got} == {"press3"}
    assert mes.headers[0]["Authorization"] == "Bearer tok3n"
    inspector("line", "--project", project, "--mes", "")  # off again

    bad = inspector("run", "--project", project, "--source", "synthetic://line?size=64", "--mes", "mes.local/api",
                    "--max-frames", 1, check=False)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("error: MES webhook URL 'mes.local/api' is not http"), \
        bad.stderr
