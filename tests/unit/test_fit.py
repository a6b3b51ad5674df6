"""The training engine on small generated data: real training runs, no mocks."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from inspector.core.arrays import ArrayDataset
from inspector.core.cancel import CancelToken
from inspector.core.errors import Cancelled, ConfigError
from inspector.core.fit import fit
from inspector.core.progress import BatchProgress, EpochEnd
from inspector.core.train_config import OPTIMIZERS, AugmentConfig, TrainConfig

NO_AUG = AugmentConfig(hflip=False, vflip=False, rotate_deg=0, shift=0, brightness=0, contrast=0)


def bars(n: int, size: int = 28, channels: int = 1, seed: int = 0) -> ArrayDataset:
    """Class 0: a horizontal bar, class 1: a vertical bar, at random places, on noise."""
    rng = np.random.default_rng(seed)
    imgs = rng.integers(0, 60, (n, size, size, channels), dtype=np.uint8)
    labels = np.arange(n) % 2
    for i, y in enumerate(labels):
        p = rng.integers(4, size - 8)
        if y == 0:
            imgs[i, p:p + 3, 4:size - 4] = 220
        else:
            imgs[i, 4:size - 4, p:p + 3] = 220
    return ArrayDataset(imgs, labels.astype(np.int64), [f"k{seed}-{i}" for i in range(n)])


def mlp_cfg(**kw) -> TrainConfig:
    d = dict(arch="mlp", mode="scratch", epochs=8, batch_size=16, optimizer="adam", lr=3e-3,
             standardize="dataset", augment=NO_AUG, dropout=0.0)
    d.update(kw)
    return TrainConfig(**d)


def test_mlp_learns_and_reports_progress():
    events = []
    r = fit(mlp_cfg(), bars(200), bars(60, seed=1), ["horizontal", "vertical"], progress=events.append)
    assert r.history[-1]["val_accuracy"] >= 0.9
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    batches = [e for e in events if isinstance(e, BatchProgress)]
    assert len(epochs) == 8 and len(batches) == 8 * 13
    assert all(b.samples_per_s > 0 and b.eta_s >= 0 and b.lr > 0 for b in batches)
    assert epochs[-1].eta_s == pytest.approx(0, abs=1e-6)
    assert r.preprocessing["channels"] == 1 and len(r.preprocessing["mean"]) == 1


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_every_optimizer_trains(opt):
    lr = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.05}.get(opt, 3e-3)
    r = fit(mlp_cfg(optimizer=opt, lr=lr, epochs=6), bars(160), bars(60, seed=1), ["h", "v"])
    assert r.history[-1]["val_accuracy"] >= 0.8, (opt, r.history[-1])


def test_l1_and_l2_shrink_weights():
    def norm(cfg):
        m = fit(cfg, bars(160), None, ["h", "v"]).model
        return sum(p.abs().sum().item() for n, p in m.named_parameters() if p.dim() > 1)

    plain = norm(mlp_cfg(optimizer="sgd", lr=0.05))
    assert norm(mlp_cfg(optimizer="sgd", lr=0.05, l1=1e-3)) < 0.9 * plain
    assert norm(mlp_cfg(optimizer="sgd", lr=0.05, weight_decay=0.05)) < 0.9 * plain


def test_seeded_runs_are_identical():
    a = fit(mlp_cfg(seed=3, epochs=3), bars(80), None, ["h", "v"]).model.state_dict()
    b = fit(mlp_cfg(seed=3, epochs=3), bars(80), None, ["h", "v"]).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_cancel_stops_within_a_batch():
    token = CancelToken()
    seen = []

    def progress(e):
        seen.append(e)
        if isinstance(e, BatchProgress) and e.batch == 3:
            token.set()

    with pytest.raises(Cancelled):
        fit(mlp_cfg(epochs=50), bars(200), None, ["h", "v"], progress=progress, cancel=token)
    assert sum(isinstance(e, BatchProgress) for e in seen) == 3


def test_early_stopping_and_best_checkpoint():
    # Labels are noise: validation cannot improve for long, so training stops early and
    # keeps the weights of its best epoch.
    train, val = bars(120), bars(60, seed=1)
    rng = np.random.default_rng(0)
    train.labels = rng.integers(0, 2, len(train.labels))
    r = fit(mlp_cfg(epochs=60, early_stopping=3, lr=1e-2), train, val, ["h", "v"])
    assert r.stopped_early and len(r.history) < 60
    best = max(r.history, key=lambda h: (h["val_accuracy"], -h["val_loss"]))
    assert r.best_epoch == best["epoch"]
    assert len(r.history) == r.best_epoch + 3


def test_cnn_with_augmentation_and_dropout():
    cfg = TrainConfig(arch="cnn", mode="scratch", epochs=6, batch_size=16, lr=3e-3, dropout=0.3,
                      standardize="dataset", input_size=[32, 32],
                      augment=AugmentConfig(hflip=True, vflip=True, rotate_deg=5, shift=0.05))
    r = fit(cfg, bars(160, size=32, channels=3), bars(60, size=32, channels=3, seed=1), ["h", "v"])
    assert r.history[-1]["val_accuracy"] >= 0.85
    assert r.preprocessing["channels"] == 3


def test_bad_inputs_get_clear_errors():
    with pytest.raises(ConfigError, match="two classes"):
        fit(mlp_cfg(), bars(10), None, ["only"])
    with pytest.raises(ConfigError, match="no labelled training images"):
        fit(mlp_cfg(), bars(10).subset([]), None, ["h", "v"])
    with pytest.raises(ConfigError, match="unknown optimizer"):
        mlp_cfg(optimizer="lbfgs")
    with pytest.raises(ConfigError, match="learning rate"):
        mlp_cfg(lr=-1)
    with pytest.raises(ConfigError, match="pretrained"):
        TrainConfig(arch="mlp", mode="head")
    with pytest.raises(ConfigError, match="unknown training config"):
        TrainConfig.from_dict({"epochz": 3})


def test_pretrained_head_and_finetune_presets(tmp_path):
    from inspector.core.features import FeatureCache

    train, val = bars(48, size=64, channels=3), bars(24, size=64, channels=3, seed=1)
    cache = FeatureCache(tmp_path / "features.sqlite")
    cfg = TrainConfig(arch="effnet-lite0", mode="head", epochs=20, lr=3e-3, input_size=[64, 64], augment=NO_AUG)
    head = fit(cfg, train, val, ["h", "v"], feature_cache=cache)
    assert head.history[-1]["val_accuracy"] >= 0.9
    assert len(cache.get(next(iter(cache._db.execute("SELECT backbone FROM features")))[0], train.keys)) == 48
    # The backbone stayed frozen: its weights are still ImageNet's.
    from inspector.core.nets import build_network

    ref = build_network({"name": "effnet-lite0", "num_classes": 2, "pretrained": True}).state_dict()
    got = head.model.state_dict()
    assert all(torch.equal(ref[k], got[k]) for k in ref if not k.startswith("classifier."))

    ft_cfg = TrainConfig(arch="effnet-lite0", mode="finetune", epochs=1, lr=1e-4, input_size=[64, 64],
                         head_warmup_epochs=20, batch_size=16)
    ft = fit(ft_cfg, train, val, ["h", "v"], feature_cache=cache)
    assert ft.history[-1]["val_accuracy"] >= 0.9  # the warm-up head carries it from the first epoch
    assert not torch.equal(ref["stem.conv.weight"], ft.model.state_dict()["stem.conv.weight"])

    # Accurate as shipped: the stem and the first 5 stages stay ImageNet's, the top two stages and head train on
    # the lower maps of each part and its augmented copies.
    up_cfg = replace(ft_cfg, frozen_stages=5, epochs=2, augment=AugmentConfig())
    up = fit(up_cfg, train, val, ["h", "v"], feature_cache=cache)
    got = up.model.state_dict()
    assert up.history[-1]["val_accuracy"] >= 0.9
    assert all(torch.equal(ref[k], got[k]) for k in ref if k.startswith(("stem.", *(f"stages.{i}." for i in range(5)))))
    assert not torch.equal(ref["stages.5.0.expand.conv.weight"], got["stages.5.0.expand.conv.weight"])
    assert not torch.equal(ref["head.conv.weight"], got["head.conv.weight"])
    # The trained network as a whole gives what training measured on the validation parts.
    from inspector.core.fit import _Standardize
    x = _Standardize(up.preprocessing, torch.device("cpu"))(torch.from_numpy(val.images))
    with torch.inference_mode():
        prob = torch.softmax(up.model.eval()(x), 1).numpy()
    assert np.allclose(prob, up.val_probabilities, atol=2e-2)


def test_accurate_streams_the_frozen_part_when_the_maps_would_not_fit(monkeypatch):
    import inspector.core.fit as fit_module

    monkeypatch.setattr(fit_module, "UPPER_CACHE_BYTES", 1024)  # no part's maps kept: every batch runs stages 0-4
    train, val = bars(48, size=64, channels=3), bars(24, size=64, channels=3, seed=1)
    cfg = TrainConfig(arch="effnet-lite0", mode="finetune", frozen_stages=5, epochs=2, lr=1e-4, input_size=[64, 64],
                      head_warmup_epochs=20, batch_size=16)
    stages = []
    out = fit(cfg, train, val, ["h", "v"], progress=lambda e: stages.append(getattr(e, "stage", None)))
    assert out.history[-1]["val_accuracy"] >= 0.9
    assert not any(s and s.startswith("frozen stages") for s in stages)  # nothing was precomputed


def test_accurate_on_the_eager_path_a_gpu_takes_keeps_the_frozen_stages_out_of_autograd(monkeypatch):
    """On a GPU the frozen stages run in PyTorch, not ONNX Runtime: here that path runs on the CPU. Their maps
    must carry no autograd graph (it would hold every batch's activations and send gradients into the frozen
    stages), in both the kept-maps and the streamed set-up."""
    import inspector.core.features as features
    import inspector.core.fit as fit_module

    made = []

    def eager(model, pre, stage, device):
        run = features.eager_maps(features._LowerGraph(model, pre, stage).eval(), device)

        def checked(images):
            m = run(images)
            made.append(m.requires_grad)
            return m
        return checked

    monkeypatch.setattr(features, "lower_maps", eager)
    train, val = bars(48, size=64, channels=3), bars(24, size=64, channels=3, seed=1)
    cfg = TrainConfig(arch="effnet-lite0", mode="finetune", frozen_stages=5, epochs=2, lr=1e-4, input_size=[64, 64],
                      head_warmup_epochs=20, batch_size=16)
    for cache_bytes in (fit_module.UPPER_CACHE_BYTES, 1024):  # maps kept, then streamed batch by batch
        monkeypatch.setattr(fit_module, "UPPER_CACHE_BYTES", cache_bytes)
        made.clear()
        out = fit(cfg, train, val, ["h", "v"])
        assert made and not any(made)
        assert out.history[-1]["val_accuracy"] >= 0.9
        assert all(p.grad is None for p in out.model.stem.parameters())
        assert all(p.grad is None for s in out.model.stages[:5] for p in s.parameters())


def test_shipped_presets_are_valid():
    from inspector.core.train_config import load_presets, preset

    presets = load_presets()
    assert {"head", "finetune", "cnn", "mlp"} <= set(presets)
    for name, d in presets.items():
        assert d["label"] and d["description"]
        cfg = preset(name)
        assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # round-trips through JSON-able dicts
    assert preset("mlp").optimizer == "adam" and preset("mlp").lr == 0.01 and preset("mlp").batch_size == 100
    with pytest.raises(ConfigError, match="unknown preset"):
        preset("turbo")


# -- optimizers: each name does what it says --------------------------------------------------------
def _two_steps(cfg: TrainConfig, device: str = "cpu") -> list[float]:
    """A weight w = 1 under a constant gradient of 1 (loss = w): where it stands after each of two steps."""
    from inspector.core.optimizers import make_optimizer

    w = torch.nn.Parameter(torch.ones(1))
    opt = make_optimizer([w], cfg, device)
    out = []
    for _ in range(2):
        opt.zero_grad()
        w.sum().backward()
        opt.step()
        out.append(float(w.detach()))
    return out


@pytest.mark.parametrize("device", [None, "cpu"])  # per-tensor and fused steps
def test_momentum_is_classical_and_nesterov_has_its_own_name(device):
    lr = 0.1
    # Classical (heavy-ball), the seed's optim.SGD(momentum=0.9): v1 = g, v2 = 0.9 v1 + g = 1.9.
    assert _two_steps(mlp_cfg(optimizer="momentum", lr=lr), device) == pytest.approx([1 - lr, 1 - lr - lr * 1.9])
    # Nesterov looks ahead: each step uses g + 0.9 v, so the first step is already 1.9 g.
    assert _two_steps(mlp_cfg(optimizer="nesterov", lr=lr), device) == pytest.approx(
        [1 - lr * 1.9, 1 - lr * 1.9 - lr * (1 + 0.9 * 1.9)])
    # An explicit momentum is used: 0.5 gives v2 = 1.5.
    assert _two_steps(mlp_cfg(optimizer="momentum", lr=lr, momentum=0.5), device)[1] == pytest.approx(1 - lr - lr * 1.5)


def test_rmsprop_uses_the_momentum_setting():
    plain = _two_steps(mlp_cfg(optimizer="rmsprop", lr=0.01))
    assert plain == _two_steps(mlp_cfg(optimizer="rmsprop", lr=0.01, momentum=0.0))  # default: none
    with_m = _two_steps(mlp_cfg(optimizer="rmsprop", lr=0.01, momentum=0.5))
    # Same first step; the second adds half the first one's update (torch's RMSprop momentum buffer).
    assert with_m[0] == pytest.approx(plain[0])
    assert (1 - with_m[1]) - (1 - plain[1]) == pytest.approx(0.5 * (1 - plain[0]), rel=1e-3)


def test_momentum_settings_are_checked():
    from inspector.core.train_config import effective_momentum

    with pytest.raises(ConfigError, match="nesterov needs a momentum above 0"):
        mlp_cfg(optimizer="nesterov", momentum=0.0)
    with pytest.raises(ConfigError, match="momentum must be in"):
        mlp_cfg(optimizer="momentum", momentum=1.0)
    assert effective_momentum(mlp_cfg(optimizer="momentum")) == 0.9
    assert effective_momentum(mlp_cfg(optimizer="rmsprop")) == 0.0
    assert effective_momentum(mlp_cfg(optimizer="adam")) == 0.0
    with pytest.raises(ConfigError, match="optimizer adam has no momentum setting — momentum applies to momentum, "
                                          "nesterov, rmsprop"):
        mlp_cfg(optimizer="adam", momentum=0.5)  # Adam has betas, not momentum: say so rather than ignore it


def test_fused_steps_on_the_cpu_match_per_tensor_steps():
    from inspector.core.optimizers import make_optimizer

    for name in ("sgd", "momentum", "nesterov", "adagrad", "adam", "adamw"):
        cfg = mlp_cfg(optimizer=name, lr=0.05, weight_decay=1e-3)
        assert make_optimizer([torch.nn.Parameter(torch.ones(2))], cfg, "cpu").defaults.get("fused") is True, name
        assert _two_steps(cfg, "cpu") == pytest.approx(_two_steps(cfg, None), rel=1e-5), name


# -- input standardization --------------------------------------------------------------------------
def test_standardize_choices_set_the_saved_preprocessing():
    data = bars(40)
    fixed = fit(mlp_cfg(standardize="fixed", epochs=1), data, None, ["h", "v"]).preprocessing
    none = fit(mlp_cfg(standardize="none", epochs=1), data, None, ["h", "v"]).preprocessing
    measured = fit(mlp_cfg(standardize="dataset", epochs=1), data, None, ["h", "v"]).preprocessing
    assert (none["mean"], none["std"]) == ([0.0], [1.0])
    assert (fixed["mean"], fixed["std"]) == ([0.0], [1.0])  # the mlp's own: the seed's pixel / 255
    x = data.images.astype(np.float64) / 255
    assert measured["mean"] == pytest.approx([x.mean()]) and measured["std"] == pytest.approx([x.std()])
    cnn = fit(TrainConfig(arch="cnn", mode="scratch", epochs=1, input_size=[28, 28], augment=NO_AUG), data, None,
              ["h", "v"]).preprocessing
    assert (cnn["mean"], cnn["std"]) == ([0.5], [0.25])  # "fixed" is the default: the cnn's own
    with pytest.raises(ConfigError, match="unknown standardize 'zscore' — choose one of fixed, dataset, none"):
        mlp_cfg(standardize="zscore")


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_prepared_inputs_train_exactly_like_per_batch_conversion(monkeypatch, arch):
    """The loop standardizes a small split once (fit.PREPARED_BYTES); the same run with every batch
    converted on its own gives the same weights and the same history."""
    import inspector.core.fit as fit_mod

    cfg = mlp_cfg(arch=arch, epochs=2, input_size=[28, 28] if arch == "cnn" else None)
    train, val = bars(64), bars(32, seed=1)
    a = fit(cfg, train, val, ["h", "v"])
    monkeypatch.setattr(fit_mod, "PREPARED_BYTES", 0)
    b = fit(cfg, train, val, ["h", "v"])
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.allclose(sa[k], sb[k], atol=1e-6) for k in sa)
    assert [h["train_loss"] for h in a.history] == pytest.approx([h["train_loss"] for h in b.history], rel=1e-5)
    assert (a.val_predictions == b.val_predictions).all()
