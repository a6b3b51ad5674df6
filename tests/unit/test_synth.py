"""inspector.core.synth: a deterministic synthetic production line with known, located defects."""
import csv

import cv2
import numpy as np
import pytest

from inspector.core.errors import ConfigError, InspectorError
from inspector.core.imageio import decode_image
from inspector.core.synth import DEFECT_TYPES, SyntheticLine, contact_sheet, write_imagefolder


@pytest.fixture(scope="module")
def line():
    return SyntheticLine(size=(128, 128), seed=7)


def _gray(img):
    return img.astype(np.float32).mean(axis=2)


def test_defect_types_include_the_four_kinds():
    assert {"scratch", "spot", "crack", "missing"} <= set(DEFECT_TYPES)


def test_part_shapes_and_types():
    ln = SyntheticLine(size=(96, 160), seed=1)
    for label in ("good", *DEFECT_TYPES):
        p = ln.part(3, label)
        assert p.label == label and p.index == 3
        assert p.image.shape == (96, 160, 3) and p.image.dtype == np.uint8
        assert p.mask.shape == (96, 160) and p.mask.dtype == np.uint8
        assert set(np.unique(p.mask)) <= {0, 255}


def test_same_seed_and_index_give_identical_parts():
    a, b = SyntheticLine(size=(128, 128), seed=3), SyntheticLine(size=(128, 128), seed=3)
    for i in (0, 5, 123):
        pa, pb = a.part(i), b.part(i)
        assert pa.label == pb.label and pa.bbox == pb.bbox
        np.testing.assert_array_equal(pa.image, pb.image)
        np.testing.assert_array_equal(pa.mask, pb.mask)
    np.testing.assert_array_equal(a.part(9, "crack").image, a.part(9, "crack").image)


def test_different_indices_and_seeds_differ(line):
    imgs = [line.part(i, "good").image.astype(int) for i in range(4)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(imgs[i] - imgs[j]).mean() > 5
    other = SyntheticLine(size=(128, 128), seed=8).part(0, "good").image.astype(int)
    assert np.abs(other - imgs[0]).mean() > 5


def test_defect_rate_roughly_respected():
    ln = SyntheticLine(size=(48, 48), seed=11, defect_rate=0.2)
    labels = [ln.part(i).label for i in range(500)]
    rate = sum(lab != "good" for lab in labels) / len(labels)
    assert 0.14 <= rate <= 0.26, rate
    assert set(labels) - {"good"} == set(DEFECT_TYPES)  # every kind turns up


def test_defect_rate_extremes_and_subset():
    ln0 = SyntheticLine(size=(48, 48), defect_rate=0.0)
    assert all(ln0.part(i).label == "good" for i in range(50))
    ln1 = SyntheticLine(size=(48, 48), defect_rate=1.0, defect_types=("crack",))
    assert all(ln1.part(i).label == "crack" for i in range(50))


def test_good_parts_have_empty_masks(line):
    for i in range(10):
        p = line.part(i, "good")
        assert not p.mask.any() and p.bbox is None


@pytest.mark.parametrize("label", DEFECT_TYPES)
def test_defect_masks_are_nonempty_match_bbox_and_lie_on_the_part(line, label):
    for i in range(12):
        p = line.part(i, label)
        ys, xs = np.nonzero(p.mask)
        assert xs.size > 0, f"empty mask for {label} #{i}"
        assert p.bbox == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        # on the part: the same part without the defect shows metal there, not the dark belt
        # (for "missing" the good part has a hole there, so look at the undrilled part itself)
        clean = p.image if label == "missing" else line.part(i, "good").image
        metal = _gray(clean)[p.mask > 0]
        assert np.median(metal) > 90 and (metal > 70).mean() > 0.8, (label, i)


@pytest.mark.parametrize("label", DEFECT_TYPES)
def test_defect_changes_pixels_only_at_its_mask(line, label):
    # A forced label keeps pose, light and noise: good and defect versions differ only at the defect.
    for i in range(6):
        good, bad = line.part(i, "good"), line.part(i, label)
        diff = np.abs(bad.image.astype(int) - good.image.astype(int)).max(axis=2)
        near = cv2.dilate(bad.mask, np.ones((9, 9), np.uint8)) > 0
        assert diff[~near].max(initial=0) <= 3, (label, i)
        assert diff[bad.mask > 0].max() >= 25, f"{label} #{i} is not visible"


def test_missing_removes_a_hole(line):
    for i in range(8):
        good, bad = line.part(i, "good"), line.part(i, "missing")
        core = cv2.erode(bad.mask, np.ones((5, 5), np.uint8)) > 0
        assert core.sum() > 10
        # where the hole should be: belt seen through it on a good part, solid metal when not drilled
        assert _gray(good.image)[core].mean() < 90
        assert _gray(bad.image)[core].mean() > 110


def test_defects_are_not_given_away_by_mean_brightness(line):
    good_means = np.array([_gray(line.part(i, "good").image).mean() for i in range(30)])
    for label in DEFECT_TYPES:
        shift = [abs(_gray(line.part(i, label).image).mean() - good_means[i]) for i in range(10)]
        assert max(shift) < good_means.std(), (label, max(shift), good_means.std())
    assert good_means.std() > 2  # exposure and pose really vary from part to part


def test_bad_arguments_raise_config_errors():
    with pytest.raises(ConfigError):
        SyntheticLine(defect_rate=1.5)
    with pytest.raises(ConfigError):
        SyntheticLine(defect_types=("dent", "scratch"))
    with pytest.raises(ConfigError):
        SyntheticLine(size=(16, 16))
    with pytest.raises(ConfigError):
        SyntheticLine(size=(48, 48)).part(0, "bent")


def test_tiny_images_still_get_defect_masks():
    ln = SyntheticLine(size=(32, 32), seed=2)
    for i in range(40):
        for label in DEFECT_TYPES:
            assert ln.part(i, label).mask.any(), (label, i)


def test_write_imagefolder_balanced_layout_and_ground_truth(tmp_path):
    out = tmp_path / "Daten Ü"
    summary = write_imagefolder(out, 10, seed=4, size=(64, 80), balanced=True)
    classes = ("good", *DEFECT_TYPES)
    assert summary["count"] == 10 and summary["out"] == str(out)
    assert summary["per_class"] == {c: 2 for c in classes}
    for c in classes:
        assert len(list((out / c).glob("*.png"))) == 2
    with open(out / "ground_truth.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10 and list(rows[0]) == ["file", "label", "mask", "x0", "y0", "x1", "y1"]
    for row in rows:
        img = decode_image(out / row["file"])
        assert img.shape == (64, 80, 3)
        assert row["file"].split("/")[0] == row["label"]
        if row["label"] == "good":
            assert row["mask"] == "" and row["x0"] == ""
            continue
        assert row["mask"] == f"masks/{row['label']}/{row['file'].split('/')[1]}"
        mask = decode_image(out / row["mask"])[..., 0]
        ys, xs = np.nonzero(mask)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == tuple(int(row[k]) for k in ("x0", "y0", "x1", "y1"))
    # files on disk are exactly the ones in the CSV
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*.png")}
    assert on_disk == {r["file"] for r in rows} | {r["mask"] for r in rows if r["mask"]}


def test_write_imagefolder_default_keeps_good_parts_common(tmp_path):
    summary = write_imagefolder(tmp_path / "ds", 40, seed=5, size=(48, 48))
    pc = summary["per_class"]
    assert sum(pc.values()) == 40
    assert pc["good"] > 40 // 2


def test_write_imagefolder_matches_the_line(tmp_path):
    write_imagefolder(tmp_path / "ds", 3, seed=6, size=(64, 64), balanced=True)
    p = SyntheticLine(size=(64, 64), seed=6).part(1, "scratch")
    np.testing.assert_array_equal(decode_image(tmp_path / "ds" / "scratch" / "part_000001.png"), p.image)


def test_write_imagefolder_refuses_a_non_empty_folder(tmp_path):
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(InspectorError):
        write_imagefolder(tmp_path, 2, size=(48, 48))


def test_contact_sheet_tiles_parts(line):
    parts = [line.part(i, lab) for i, lab in enumerate(("good", *DEFECT_TYPES))]
    sheet = contact_sheet(parts, cols=3)
    assert sheet.dtype == np.uint8 and sheet.shape == (2 * 132 + 4, 3 * 132 + 4, 3)
