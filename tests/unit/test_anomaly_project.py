"""A project's anomaly model end to end: fit from labelled good parts, save and verify through the
registry, "this part is OK" as a new undoable version with golden-set counts, a corrupt bank refused,
the live pipeline's runner and the GUI's service."""
import numpy as np
import pytest

from inspector.core.anomaly.service import AnomalyService
from inspector.core.anomaly.accept import propose_accept
from inspector.core.anomaly.fitting import fit_project
from inspector.core.anomaly.model import preset
from inspector.core.anomaly.store import BANK_FILE, load_model, load_model_dir
from inspector.core.errors import ModelError
from inspector.core.imageio import encode_png
from inspector.core.project import Project
from inspector.core.registry import ModelRegistry
from inspector.core.synth import SyntheticLine


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly") / "proj"
    line = SyntheticLine(size=(128, 128), seed=11)
    p = Project.init(root)
    p.add_class("good", "ok")
    for d in ("scratch", "crack"):
        p.add_class(d, "defect")
    for i in range(84):
        p.add_image(encode_png(line.part(i, "good").image), source=f"good{i}", label="good", user="t")
    golden = []
    for i, label in enumerate(["good"] * 6 + ["scratch", "crack"] * 3):
        golden.append(p.add_image(encode_png(line.part(500 + i, label).image), source=f"g{i}", label=label,
                                  user="t").sample_id)
    for sid in golden:
        p.set_split(sid, "golden", "t")
    p.add_image(encode_png(line.part(900, "good").image), source="new")  # unreviewed
    out = fit_project(p, frr=0.05, config=preset("detail"), user="t")
    yield p, line, out
    p.close()


def test_fit_saves_an_active_verified_version_with_its_calibration(fitted):
    p, line, out = fitted
    reg = ModelRegistry(p)
    mv = reg.verify(out.version.version)
    assert mv.kind == "anomaly" and mv.active and reg.active("anomaly").version == mv.version
    assert set(mv.files) == {"config.json", BANK_FILE, "features.onnx"}
    cfg = reg.read_config(mv.version)
    val = p.samples(status="labelled", split="val", kind="ok")
    train = p.samples(status="labelled", split="train", kind="ok")
    # every validation part and enough training parts to make 100, each scored leave-one-out (for a histogram)
    assert len(cfg["calibration"]["scores"]) == min(100, len(train) + len(val)) and len(val) >= 5
    assert set(cfg["info"]["val_in_bank"]) == {str(s.id) for s in val}  # val parts are in the bank too
    assert cfg["calibration"]["threshold"] == out.threshold and cfg["bank"]["entries"] == out.bank_size
    assert out.train_images == len(train)
    model = load_model(reg)
    assert model.score(line.part(700, "crack").image).flagged
    assert not model.score(line.part(701, "good").image).flagged


def test_accept_lowers_the_part_under_the_threshold_and_rollback_undoes_it(fitted):
    p, line, out = fitted
    reg = ModelRegistry(p)
    part = next(line.part(i, "scratch") for i in range(800, 820) if load_model(reg).score(line.part(i, "scratch").image).flagged)
    proposal = propose_accept(p, None, [part.image], names=["flagged part"])
    before, after = proposal.parts[0]["before"], proposal.parts[0]["after"]
    assert before["flagged"] and before["score"] > 0.5
    assert not after["flagged"] and after["score"] < 0.5 and proposal.added > 0
    gb, ga = proposal.golden_before, proposal.golden_after
    assert (gb.good, gb.defect) == (ga.good, ga.defect) == (6, 6)
    assert ga.false_rejects <= gb.false_rejects  # a bigger bank never raises a good part's score
    assert reg.list() and len(reg.list()) == 1  # nothing saved by a proposal
    v2 = proposal.save(p, user="ana")
    assert v2.active and v2.parent == out.version.version
    # the corrected version keeps its own validation check, as a fitted one does
    val_good = p.samples(status="labelled", split="val", kind="ok")
    assert proposal.metrics["good"] == len(val_good) and proposal.metrics["frr_ci"]
    assert reg.read_config(v2.version)["metrics"]["val"]["false_rejects"] == proposal.metrics["false_rejects"]
    assert v2.summary["val_frr"] == proposal.metrics["frr"]
    assert load_model(reg).bank.shape[0] == out.bank_size + proposal.added
    assert not load_model(reg).score(part.image).flagged
    assert reg.rollback("ana").version == out.version.version
    assert load_model(reg).score(part.image).flagged


def test_a_corrupt_bank_is_refused_with_a_clear_error(fitted, tmp_path):
    p, line, out = fitted
    reg = ModelRegistry(p)
    bank = out.version.path / BANK_FILE
    good = bank.read_bytes()
    config = reg.read_config(out.version.version)
    try:
        data = bytearray(good)
        data[len(data) // 2] ^= 0xFF
        bank.write_bytes(bytes(data))
        with pytest.raises(ModelError, match=r"bank\.safetensors is corrupt"):
            load_model(reg, out.version.version)
    finally:
        bank.write_bytes(good)
    # a folder used without the registry's hash check still refuses a damaged bank
    copy = tmp_path / "v"
    copy.mkdir()
    for f in out.version.path.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    (copy / BANK_FILE).write_bytes(good[: len(good) // 3])
    with pytest.raises(ModelError, match="unreadable") as e:
        load_model_dir(copy, config)
    assert "\n" not in str(e.value)
    (copy / BANK_FILE).write_bytes(good)
    config["bank"]["entries"] += 1
    with pytest.raises(ModelError, match="does not match"):
        load_model_dir(copy, config)


def test_the_live_runner_and_the_gui_service(fitted):
    from inspector.core.live.runners import load_runner

    p, line, out = fitted
    reg = ModelRegistry(p)
    version = reg.active("anomaly").version
    runner = load_runner(reg, version)
    runner.warm_up(1)
    crack, good = line.part(710, "crack").image, line.part(711, "good").image
    v_bad, v_good = runner.infer([crack, good])
    assert not v_bad.ok and v_bad.score > 0.5 and v_bad.heatmap.shape == crack.shape[:2]
    assert v_good.ok and v_good.score < 0.5 and v_bad.model_version == version
    backend = AnomalyService()
    assert backend.active_version(p) == version
    sid = p.samples(status="unreviewed")[0].id
    [(score, heat)] = backend.score(p.root, version, [sid])
    assert 0 <= score <= 1 and heat.shape == (128, 128)
    h = backend.histogram(p.root, version)
    # the good parts' leave-one-out scores that set the threshold
    assert h.good.sum() == len(reg.read_config(version)["calibration"]["scores"]) and len(h.edges) == 41
    golden_id = p.samples(split="golden", label="good")[0].id
    pv = backend.preview_ok(p.root, version, golden_id)
    assert pv.golden_total == 12 and pv.false_alarms_after <= pv.false_alarms_before
    assert np.isfinite([pv.escapes_before, pv.escapes_after]).all()


def test_the_fit_checks_its_validation_parts_as_new_parts_and_keeps_the_result(fitted):
    """Good validation parts are in the bank: checked against their own patches every one would pass. The fit
    checks them leave-one-out (the scores its threshold came from), saves that operating point with the version,
    and `eval` on the validation split measures them the same way."""
    from inspector.core.anomaly.evaluate import evaluate_anomaly

    p, line, out = fitted
    val_good = p.samples(status="labelled", split="val", kind="ok")
    assert len(val_good) >= 5
    m = out.metrics
    assert m["good"] == len(val_good) and m["frr"] == m["false_rejects"] / m["good"] and m["frr_ci"]
    reg = ModelRegistry(p)
    assert reg.read_config(out.version.version)["metrics"]["val"]["false_rejects"] == m["false_rejects"]
    assert out.version.summary["val_frr"] == m["frr"]
    again = evaluate_anomaly(p, out.version.version)
    assert again["false_rejects"] == m["false_rejects"] and again["good"] == m["good"]
    model = load_model(reg, out.version.version)
    in_bank = model.info["val_in_bank"]
    own = [model.score(p.read_image(s)).raw for s in val_good]
    apart = [model.score_features(model.features(p.read_image(s)), (128, 128), exclude=in_bank[str(s.id)]).raw
             for s in val_good]
    assert np.mean(apart) > np.mean(own)  # against its own patches a part looks better than it is
    cal = set(np.round(model.calibration.scores, 4))
    assert all(round(a, 4) in cal for a in apart)  # the very scores the threshold was set from


def test_a_first_anomaly_model_waits_for_activate_when_a_classifier_runs_the_line(tmp_path):
    # Beside an active classifier, an anomaly model takes over the line's OK / NG: fitting one must not put it on
    # the line unseen (it did: a 7-part model that caught none of the validation defects replaced the classifier).
    from inspector.core.train_config import TrainConfig
    from inspector.core.training import train_project

    line = SyntheticLine(size=(64, 64), seed=5)
    with Project.init(tmp_path / "p") as p:
        p.add_class("good", "ok")
        p.add_class("scratch", "defect")
        for i in range(30):
            label = "scratch" if i % 3 == 0 else "good"
            p.add_image(encode_png(line.part(i, label).image), source=f"s{i}", label=label, user="t")
        cfg = TrainConfig(arch="cnn", mode="scratch", epochs=1, batch_size=8, input_size=[32, 32], device="cpu")
        c1 = train_project(p, cfg, user="t").version.version
        reg = ModelRegistry(p)
        assert reg.active("classifier").version == c1  # the line's first model goes on the line
        a1 = fit_project(p, frr=0.05, config=preset("texture"), user="t").version
        assert not a1.active and reg.active("anomaly") is None and reg.line_version() == c1
        a2 = fit_project(p, frr=0.05, config=preset("texture"), activate=True, user="t").version
        assert a2.active and reg.line_version() == a2.version
