"""The anomaly model as a new user meets it: defaults everywhere, through the real `inspector` command.
`project init` → `import` of a good/ folder → `anomaly fit --json` (preset auto) → `eval --json`; then the
same with labelled defective parts imported beside the good ones (defect/)."""
import shutil

import pytest
from cli_run import inspector, last_json


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    root = tmp_path_factory.mktemp("auto_cli")
    parts = root / "parts"
    inspector("synth", "--out", parts, "--count", 90, "--size", 128, "--seed", 8, "--defect-rate", 0.3)
    good = root / "learn" / "good"
    good.mkdir(parents=True)
    files = sorted((parts / "good").glob("*.png"))
    for f in files[:36]:
        shutil.copy(f, good / f.name)
    test = root / "test"
    (test / "good").mkdir(parents=True)
    for f in files[36:]:
        shutil.copy(f, test / "good" / f.name)
    defects = [f for d in sorted(parts.iterdir()) if d.is_dir() and d.name not in ("good", "masks")
               for f in sorted(d.glob("*.png"))]
    (test / "defect").mkdir()
    for f in defects[8:]:
        shutil.copy(f, test / "defect" / f"{f.parent.name}_{f.name}")
    return root, test, defects[:8]


def test_defaults_from_good_parts_alone_then_with_labelled_defects(line):
    root, test, labelled = line
    project = root / "proj"
    inspector("project", "init", project)
    inspector("import", root / "learn", "--project", project)
    fit = last_json(inspector("anomaly", "fit", "--project", project, "--json"))
    assert fit["preset"] == "auto" and fit["version"] == "v1" and fit["active"]
    auto = fit["auto"]
    assert auto["chosen"] and auto["results"] and auto["expected"][0].startswith("catches about")
    e = last_json(inspector("eval", "--project", project, "--model", "v1", "--data", test, "--json"))
    for key in ("image_auroc", "escape_rate", "frr", "catch_rate", "catch_ci", "frr_ci"):
        assert key in e
    assert e["image_auroc"] > 0.7 and e["catch_rate"] == pytest.approx(1 - e["escape_rate"])
    text = inspector("eval", "--project", project, "--model", "v1", "--data", test).stdout
    assert "catches" in text and "95 % CI" in text

    # labelled defective parts beside the good ones: they judge the settings and train the supervised part
    (root / "learn" / "defect").mkdir()
    for f in labelled:
        shutil.copy(f, root / "learn" / "defect" / f"{f.parent.name}_{f.name}")
    inspector("import", root / "learn", "--project", project)
    fit2 = last_json(inspector("anomaly", "fit", "--project", project, "--activate", "--json"))
    assert fit2["version"] == "v2" and fit2["auto"]["real_defects"] == 8
    assert any("labelled defective parts" in line for line in fit2["auto"]["expected"])
    e2 = last_json(inspector("eval", "--project", project, "--model", "v2", "--data", test, "--json"))
    assert e2["image_auroc"] > 0.7
