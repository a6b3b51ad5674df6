"""The place baseline (AnomalyConfig.place_baseline): each place on the part judged against how high good
parts score there. Its leave-one-out form, a fit that uses it, and a saved model that keeps it."""
import numpy as np
import pytest

from inspector.core.anomaly.model import fit_model, preset
from inspector.core.anomaly.places import place_baseline, place_baselines_without_each
from inspector.core.anomaly.threshold import auroc, calibrate
from inspector.core.synth import SyntheticLine


def test_each_parts_baseline_is_that_of_the_others():
    rng = np.random.default_rng(0)
    maps = [rng.integers(0, 6, (9, 7)).astype(np.float32) for _ in range(23)]  # ties on purpose
    for j, b in enumerate(place_baselines_without_each(maps)):
        assert np.array_equal(b, place_baseline(maps[:j] + maps[j + 1:]))


def test_maps_of_other_sizes_meet_in_the_parts_own_coordinates():
    maps = [np.zeros((10, 4), np.float32) for _ in range(12)] + [np.zeros((12, 5), np.float32)]
    for m in maps:
        m[0] = 5.0  # every part scores high along its top edge
    b = place_baseline(maps)
    assert b.shape == (10, 4) and b[0].min() > 4.0 and np.abs(b[2:]).max() == 0.0


@pytest.fixture(scope="module")
def coded_parts():
    # each part carries a date code printed where it always is, different on every part
    line, rng = SyntheticLine(size=(128, 128), seed=7), np.random.default_rng(3)

    def coded(img):
        img = img.copy()
        img[8:28, 92:120] = rng.integers(0, 256, (20, 28, 1)).astype(np.uint8)
        return img

    return ([coded(line.part(i, "good").image) for i in range(60)],
            [coded(line.part(300 + i, "good").image) for i in range(30)],
            [coded(line.part(200 + i, "scratch").image) for i in range(20)])


def test_the_place_baseline_lifts_the_catch_and_keeps_the_false_rejects(coded_parts):
    good, test_good, scratched = coded_parts
    out = {}
    for on in (False, True):
        m = fit_model(good, preset("detail", place_baseline=on), loo_images=40)
        m.calibration = calibrate(m.info["loo_scores"], 0.05)
        g, d = [m.score(x) for x in test_good], [m.score(x) for x in scratched]
        out[on] = (auroc([0] * len(g) + [1] * len(d), [r.raw for r in g + d]), sum(r.flagged for r in d),
                   sum(r.flagged for r in g))
        assert (m.baseline is not None) == on
    assert m.info["place_baseline"] == {"good_parts": 40, "grid": [32, 32]}
    assert out[True][0] > out[False][0] + 0.02 and out[True][1] >= out[False][1] + 2
    assert out[True][2] <= 3 and out[False][2] <= 3


def test_too_few_good_parts_leave_the_baseline_off(coded_parts):
    good, _, _ = coded_parts
    m = fit_model(good[:12], preset("detail", place_baseline=True), loo_images=6)
    assert m.baseline is None and "needs 10 good parts" in m.info["place_baseline"]["off"]


def test_a_fitted_version_keeps_its_baseline_on_disk(tmp_path, coded_parts):
    import json

    from inspector.core.anomaly.fitting import fit_project
    from inspector.core.anomaly.store import load_model, load_model_dir
    from inspector.core.errors import ModelError
    from inspector.core.imageio import encode_png
    from inspector.core.project import Project
    from inspector.core.registry import ModelRegistry

    good, test_good, scratched = coded_parts
    p = Project.init(tmp_path / "proj")
    p.add_class("good", "ok")
    for i, img in enumerate(good[:40]):
        p.add_image(encode_png(img), source=f"good{i}", label="good", user="t")
    out = fit_project(p, frr=0.05, config=preset("detail", place_baseline=True), user="t")
    reg = ModelRegistry(p)
    cfg = reg.read_config(out.version.version)
    assert cfg["anomaly"]["place_baseline"] is True and cfg["baseline"] == [32, 32]
    assert len(cfg["calibration"]["scores"]) == 40  # every good part scored with the others' baseline
    model = load_model(reg)
    assert model.baseline is not None and model.baseline.shape == (32, 32)
    r = model.score(scratched[0], with_map=True)
    assert r.map.shape == (128, 128)
    model.baseline = None  # the saved baseline is what scores: without it the same part scores otherwise
    assert model.score(scratched[0]).raw != pytest.approx(r.raw, rel=1e-6)
    bad = dict(cfg, baseline=[16, 16])  # a config that does not match the bank file is refused
    with pytest.raises(ModelError, match="does not match its config.json"):
        load_model_dir(reg.get(out.version.version).path, json.loads(json.dumps(bad)))
    p.close()
