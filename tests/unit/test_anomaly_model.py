"""The anomaly model on synthetic parts: fitted on good parts only, it flags defects it never saw, its map
peaks on the defect, the ignore mask hides a defect under it, and ONNX and PyTorch features agree."""
import cv2
import numpy as np
import pytest

from inspector.core.anomaly.features import FeatureRunner, build_extractor, export_onnx, resize_for_scale
from inspector.core.anomaly.model import fit_model, preset
from inspector.core.anomaly.threshold import auroc, calibrate
from inspector.core.synth import SyntheticLine

SIZE = 128
DEFECTS = ("scratch", "spot", "crack", "missing")


@pytest.fixture(scope="module")
def line():
    return SyntheticLine(size=(SIZE, SIZE), seed=7)


@pytest.fixture(scope="module")
def model(line):
    m = fit_model([line.part(i, "good").image for i in range(64)], preset("detail"))
    m.calibration = calibrate([m.score(line.part(100 + i, "good").image).raw for i in range(40)], 0.05)
    return m


@pytest.fixture(scope="module")
def defects(line):
    return [line.part(200 + i, label) for label in DEFECTS for i in range(6)]


def near_mask(mask: np.ndarray, xy, margin: int = 6) -> bool:
    grown = cv2.dilate(mask, np.ones((2 * margin + 1, 2 * margin + 1), np.uint8))
    return bool(grown[xy[1], xy[0]] > 0)


def test_defects_flagged_good_parts_pass_and_maps_peak_on_the_defect(model, line, defects):
    results = [model.score(p.image, with_map=True) for p in defects]
    flagged = [r.flagged for r in results]
    assert sum(flagged) >= 0.85 * len(defects), [(p.label, round(r.score, 3)) for p, r in zip(defects, results)]
    assert all(r.score > 0.5 for r in results if r.flagged)
    peaks_inside = [near_mask(p.mask, r.peak) for p, r in zip(defects, results)]
    assert sum(peaks_inside) >= len(defects) - 1
    for p, r in zip(defects, results):
        assert r.map.shape == p.image.shape[:2] and r.map.dtype == np.float32
        # the map is brighter on the defect than on the rest of the part
        assert r.map[p.mask > 0].max() > np.percentile(r.map, 90)
    goods = [model.score(line.part(300 + i, "good").image) for i in range(24)]
    assert sum(g.flagged for g in goods) <= 2
    labels = [1] * len(results) + [0] * len(goods)
    assert auroc(labels, [r.raw for r in results] + [g.raw for g in goods]) > 0.95


def test_ignore_mask_hides_a_defect_inside_it(model, defects):
    part = next(p for p in defects if p.label == "spot" and model.score(p.image).flagged)
    hide = cv2.dilate(part.mask, np.ones((25, 25), np.uint8))
    elsewhere = np.roll(np.roll(hide, SIZE // 2, axis=0), SIZE // 2, axis=1)  # same area, away from the defect
    assert not (elsewhere & part.mask).any()
    try:
        model.ignore_mask = elsewhere
        assert model.score(part.image).flagged
        model.ignore_mask = hide
        r = model.score(part.image, with_map=True)
        assert not r.flagged and r.score < 0.5
        assert (r.map[hide > 0] == 0).all()
        assert hide[r.peak[1], r.peak[0]] == 0
        # the mask is drawn on the image frame and stretched to other image sizes
        big = cv2.resize(part.image, (2 * SIZE, 2 * SIZE), interpolation=cv2.INTER_LINEAR)
        assert model.cell_mask((16, 16), big.shape[:2]).sum() == model.cell_mask((16, 16), part.image.shape[:2]).sum()
    finally:
        model.ignore_mask = None


def test_onnx_features_match_pytorch_for_any_size():
    torch_model = build_extractor(preset("texture").extractor_dict())
    onnx = FeatureRunner(export_onnx(torch_model))
    eager = FeatureRunner(torch_model=torch_model)
    rng = np.random.default_rng(0)
    for h, w in ((64, 96), (160, 64)):
        img = resize_for_scale(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), 1.0)
        a, b = onnx(img), eager(img)
        assert a.shape == b.shape == (torch_model.dim, h // 16, w // 16) and torch_model.dim == 80 + 112 + 192
        assert np.abs(a - b).max() < 1e-3 * max(1.0, np.abs(b).max())


def test_brightness_change_does_not_flag_a_good_part(model, line):
    good = line.part(300, "good").image
    darker = np.clip(good.astype(np.float32) * 0.8, 0, 255).astype(np.uint8)
    assert model.score(darker).raw < model.calibration.threshold


def test_the_threshold_reuses_the_fits_own_features_within_a_memory_bound(monkeypatch, tmp_path):
    """The parts scored leave-one-out for the threshold are not computed twice while their features fit
    KEEP_FEATURES_BYTES; past it the rest are read again, and the threshold is the same either way."""
    import inspector.core.anomaly.model as model_module
    from inspector.core.anomaly.fitting import fit_good_parts

    line = SyntheticLine(size=(64, 64), seed=4)
    good = [line.part(i, "good").image for i in range(14)]
    kept = fit_model(good, preset("texture"), keep=[0, 3, 5])
    assert sorted(kept.kept) == [0, 3, 5]
    hw, feats = kept.kept[3]
    assert hw == (64, 64) and all(np.array_equal(a, b) for a, b in zip(feats, kept.features(good[3])))
    assert fit_model(good, preset("texture")).kept == {}

    calls = []
    real = model_module.AnomalyModel.features
    monkeypatch.setattr(model_module.AnomalyModel, "features", lambda self, img: calls.append(1) or real(self, img))
    reused, _ = fit_good_parts(good[:10], [(64, 64)] * 10, good[10:], preset_name="texture", frr=0.1)
    passes_reused = len(calls)
    calls.clear()
    monkeypatch.setattr(model_module, "KEEP_FEATURES_BYTES", 0)  # nothing kept: every score computes again
    again, _ = fit_good_parts(good[:10], [(64, 64)] * 10, good[10:], preset_name="texture", frr=0.1)
    assert len(calls) == passes_reused + 14 and reused.kept == {} and again.kept == {}
    assert reused.calibration.threshold == again.calibration.threshold


def test_mirrored_edges_keep_the_grid_and_still_find_a_defect_on_the_border(line):
    # mirror_edges pads the part with its own pixels before the backbone and cuts the map back: the grid,
    # map size and peak position are those of the part, and a defect touching the border is not mirrored away
    good = [line.part(i, "good").image for i in range(40)]
    m = fit_model(good, preset("detail", mirror_edges=True), loo_images=20)
    plain = fit_model(good[:4], preset("detail"))
    img = line.part(400, "good").image
    assert [f.shape for f in m.features(img)] == [f.shape for f in plain.features(img)]
    m.calibration = calibrate(m.info["loo_scores"], 0.05)
    part = img.copy()
    cv2.rectangle(part, (0, 50), (9, 70), (255, 255, 255), -1)  # a bright notch on the left border
    r = m.score(part, with_map=True)
    assert r.flagged and r.peak[0] < 24 and 40 <= r.peak[1] <= 80
    assert r.map.shape == part.shape[:2]
    assert sum(m.score(line.part(300 + i, "good").image).flagged for i in range(20)) <= 2


def test_mirror_edges_must_be_a_yes_or_no():
    from inspector.core.anomaly.model import AnomalyConfig
    from inspector.core.errors import ConfigError

    assert AnomalyConfig.from_dict({"mirror_edges": True}).mirror_edges is True
    with pytest.raises(ConfigError, match="mirror_edges 'false' must be true or false"):
        AnomalyConfig.from_dict({"mirror_edges": "false"})
