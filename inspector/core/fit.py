"""The training engine: one fit() for the CLI and the GUI.

fit(config, train, val, classes, progress=..., cancel=...) -> FitResult, after Orange3's task
contract: plain inputs, plain progress events, a cancel token checked every batch, no Qt.
"""
from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inspector.core.arrays import ArrayDataset
from inspector.core.augment import augment_batch
from inspector.core.cancel import CancelToken
from inspector.core.devices import select_device, torch_threads
from inspector.core.errors import ConfigError
from inspector.core.nets import build_network, default_arch, default_preprocessing, local_evidence
from inspector.core.nets.efficientnet_lite import NUM_FEATURES, STAGE_CHANNELS, STAGE_STRIDES
from inspector.core.optimizers import l1_penalty, make_optimizer, make_scheduler
from inspector.core.progress import BatchProgress, EpochEnd, ProgressEvent, StageProgress
from inspector.core.train_config import TrainConfig

Progress = Callable[[ProgressEvent], None]


@dataclass
class FitResult:
    model: torch.nn.Module  # the network with the kept (best) weights, on the CPU, in eval mode
    arch: dict
    preprocessing: dict  # size [h, w], channels, mean, std (0..1 pixel units)
    classes: list[str]
    history: list[dict] = field(default_factory=list)  # one dict per epoch
    best_epoch: int = 0
    stopped_early: bool = False
    val_predictions: np.ndarray | None = None  # predicted class per validation image, from the kept weights
    val_probabilities: np.ndarray | None = None  # their class probabilities (N×C): the OK/NG cut-off is set on them
    train_s: float = 0.0
    device: str = "cpu"


def preprocessing_for(cfg: TrainConfig, channels: int | None = None) -> dict:
    """What images must look like for this config (size, channels); mean/std may be refined by fit()."""
    pre = dict(default_preprocessing(cfg.arch))
    if cfg.input_size:
        pre["size"] = list(cfg.input_size)
    if channels is not None and cfg.arch != "effnet-lite0":
        pre["channels"] = channels
        pre["mean"], pre["std"] = [pre["mean"][0]] * channels, [pre["std"][0]] * channels
    if cfg.standardize == "none":
        pre["mean"], pre["std"] = [0.0] * pre["channels"], [1.0] * pre["channels"]
    return pre


def dataset_mean_std(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and std in 0..1 units (input standardization from the training data)."""
    x = images.reshape(-1, images.shape[-1]).astype(np.float64) / 255.0
    std = np.maximum(x.std(0), 1e-3)
    return x.mean(0).tolist(), std.tolist()


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


class _Standardize:
    """uint8 N×H×W×C batch -> float N×C×H×W standardized, with augmentation in between."""

    def __init__(self, pre: dict, device: torch.device):
        c = pre["channels"]
        self.mean = torch.tensor(pre["mean"], dtype=torch.float32, device=device).view(1, c, 1, 1)
        self.std = torch.tensor(pre["std"], dtype=torch.float32, device=device).view(1, c, 1, 1)

    def __call__(self, batch_u8: torch.Tensor, augment=None) -> torch.Tensor:
        x = batch_u8.permute(0, 3, 1, 2).float().div_(255.0)
        if augment is not None:
            x = augment(x)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x

    def prepare(self, images: np.ndarray, device: torch.device) -> torch.Tensor:
        """A whole uint8 N×H×W×C set standardized once, on `device`, for training without augmentation:
        each step then indexes ready floats instead of converting its batch again. The same arithmetic
        as __call__, in place: one float copy of the set and no temporaries."""
        x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float()  # NHWC memory: channels_last
        x.div_(255.0).sub_(self.mean).div_(self.std)
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def fit(cfg: TrainConfig, train: ArrayDataset, val: ArrayDataset | None, classes: list[str], *,
        progress: Progress | None = None, cancel: CancelToken | None = None,
        init_state: dict | None = None, feature_cache=None, good_classes: Sequence[int] = ()) -> FitResult:
    """Train a network on in-memory images. Raises Cancelled when the token is set.
    good_classes: indices of the ok-kind classes (local evidence fits its banks on their training images)."""
    t_start = time.perf_counter()
    progress = progress or (lambda e: None)
    cancel = cancel or CancelToken()
    if len(train) == 0:
        raise ConfigError("there are no labelled training images — label some parts first")
    if len(classes) < 2:
        raise ConfigError("training needs at least two classes with labelled images — label parts of another class")
    gen = seed_everything(cfg.seed)
    device = select_device(cfg.device)
    channels = int(train.images.shape[-1])
    pre = preprocessing_for(cfg, channels)
    if cfg.standardize == "dataset":
        pre["mean"], pre["std"] = dataset_mean_std(train.images)
    arch = default_arch(cfg.arch, len(classes), channels)
    arch["dropout"] = cfg.dropout
    if cfg.arch == "effnet-lite0":
        arch["pretrained"] = cfg.mode in ("head", "finetune")
        n_good = int(np.isin(train.labels, np.asarray(list(good_classes), dtype=np.int64)).sum())
        if cfg.local_evidence == "on" and n_good < 2:
            raise ConfigError("local evidence needs at least 2 good (OK-class) training parts — label more good "
                              "parts, or set it to auto or off")
        if local_evidence.wanted(cfg, len(train), n_good):
            arch["local"] = local_evidence.level_configs(pre["size"])
            if cfg.mode == "finetune":  # the banks read stages up to 5: those stay as they were fitted
                cfg = replace(cfg, frozen_stages=max(cfg.frozen_stages, local_evidence.FROZEN_STAGES))
    # A warm start overwrites every weight, so the ImageNet checkpoint need not be read first.
    model = build_network({**arch, "pretrained": arch["pretrained"] and init_state is None} if "pretrained" in arch else arch)
    if init_state is not None:
        # With local evidence on either side (this run's or the earlier version's) the banks and head are
        # fitted anew; only what fits carries over
        local_keys = ("levels.", "local_")
        if arch.get("local") or any(k.startswith(local_keys) for k in init_state):
            ours = model.state_dict()
            model.load_state_dict({k: v for k, v in init_state.items() if k in ours and ours[k].shape == v.shape
                                   and not k.startswith(local_keys)}, strict=False)
        else:
            model.load_state_dict(init_state)
    model.to(device)
    std = _Standardize(pre, device)

    val = val if val is not None and len(val) else None
    head_inputs: dict[str, torch.Tensor] = {}  # what the head was trained on (pooled features, local evidence)
    if cfg.mode == "head":
        history, best_epoch, stopped, val_pred = _fit_head(cfg, model, train, val, pre, device, gen, feature_cache,
                                                           progress, cancel, good_classes)
    elif cfg.mode == "finetune" and init_state is None and cfg.head_warmup_epochs:
        # Linear probe first, then fine-tune (LP-FT): a random head's large gradients would
        # otherwise wreck the pretrained features in the first epoch.
        warm = replace(cfg, mode="head", frozen_stages=0, epochs=cfg.head_warmup_epochs, lr=3e-3, schedule="cosine",
                       early_stopping=0)
        _fit_head(warm, model, train, val, pre, device, gen, feature_cache, progress, cancel, good_classes, head_inputs)
        model.to(device)
    if cfg.mode == "finetune" and cfg.frozen_stages:
        if getattr(model, "levels", None) and not head_inputs:  # no warm-up: the banks are fitted here
            model.cpu()
            head_inputs.update(local_evidence.head_features(
                model, {"train": train, "val": val}, good_classes, _no_pooled, cancel,
                lambda name, d, t: progress(StageProgress(f"fine-defect evidence of the {_PARTS[name]}", d, t))))
            model.to(device)
        extra = {k: v[:, NUM_FEATURES:] for k, v in head_inputs.items()} if getattr(model, "levels", None) else None
        history, best_epoch, stopped, val_pred = _fit_upper(cfg, model, train, val, pre, device, gen, progress, cancel,
                                                            extra)
    elif cfg.mode != "head":
        if device.type == "cpu" and cfg.arch != "mlp":
            model.to(memory_format=torch.channels_last)
        runner = _ImageRunner(model, std, cfg, gen)
        small = sum(p.numel() for p in model.parameters()) < 200_000
        # The one-off conversion runs on the loop's threads too: on the busy 2-core VM, converting the seed's
        # 5,000 digits batch by batch took 1.2 s on two threads and 0.04 s on one; in place, 2-18 ms (2026-11-29).
        with torch_threads(1 if small and device.type == "cpu" else None):
            data_train = (_inputs(train.images, std, device, prepare=not cfg.augment.enabled),
                          torch.from_numpy(train.labels))
            data_val = ((_inputs(val.images, std, device, prepare=True), torch.from_numpy(val.labels))
                        if val is not None else None)
            history, best_epoch, stopped, val_pred = _loop(cfg, model, runner, data_train, data_val, device, gen,
                                                           progress, cancel)
    model.cpu().eval()
    return FitResult(model=model, arch=arch, preprocessing=pre, classes=list(classes), history=history,
                     best_epoch=best_epoch, stopped_early=stopped,
                     val_predictions=None if val_pred is None else val_pred.argmax(1), val_probabilities=val_pred,
                     train_s=time.perf_counter() - t_start,
                     device=str(device))


def _no_pooled(name, ds) -> torch.Tensor:
    return torch.zeros(len(ds), NUM_FEATURES)


_PARTS = {"train": "training parts", "val": "validation parts"}  # progress lines say which parts are read


def _fit_head(cfg, model, train, val, pre, device, gen, feature_cache, progress, cancel, good_classes=(),
              head_inputs=None):
    """Train only the classifier on frozen-backbone features, computed once per image (and cached).
    head_inputs: a dict that receives the head's inputs per split."""
    from inspector.core.features import extract_features  # only the pretrained presets need it

    def pooled(name, ds, net=model):
        return extract_features(net, ds, pre, device, cache=feature_cache, cancel=cancel,
                                progress=lambda d, t: progress(StageProgress(f"features of the {_PARTS[name]}", d, t)))

    if getattr(model, "levels", None):
        model.cpu()  # banks are fitted and scored on the CPU: a few dozen to a thousand parts
        plain = model.plain_trunk()
        feats = local_evidence.head_features(
            model, {"train": train, "val": val}, good_classes, lambda name, ds: pooled(name, ds, plain), cancel,
            lambda name, d, t: progress(StageProgress(f"fine-defect evidence of the {_PARTS[name]}", d, t)))
        model.to(device)
    else:
        feats = {name: pooled(name, ds) for name, ds in (("train", train), ("val", val)) if ds is not None}
    if head_inputs is not None:
        head_inputs.update(feats)
    # Raw pooled features, not standardized ones: per-feature scaling amplifies near-dead units
    # and cost 1–2 points on NEU-DET (measured: 0.992 vs 1.000 validation accuracy, same seed).
    data_train = (feats["train"], torch.from_numpy(train.labels))
    data_val = (feats["val"], torch.from_numpy(val.labels)) if val is not None else None
    # Enough steps per epoch on small sets: a head sees at least 8 batches an epoch.
    cfg = replace(cfg, batch_size=max(1, min(cfg.batch_size, math.ceil(len(train) / 8))))
    head = model.classifier
    # With local evidence (a few parts per defect type), every class weighs the same in the loss: else the
    # many good parts drown the five scratches (demo line, four defect types: 0.79 -> 0.84, probe 2026-11-29).
    weight = None
    if getattr(model, "levels", None):
        counts = np.bincount(train.labels, minlength=len(head.bias)).astype(np.float32)
        weight = torch.from_numpy(np.where(counts > 0, counts.sum() / np.maximum(counts, 1) / len(counts), 0.0)
                                  .astype(np.float32)).to(device)
    # A linear head is tiny: one thread beats two (see torch_threads).
    with torch_threads(1 if device.type == "cpu" else None):
        return _loop(cfg, head, _HeadRunner(head, cfg.dropout), data_train, data_val, device, gen, progress, cancel,
                     weight)


# The frozen part's maps (float16) of every training view together stay under this: ELPV's 2,099 cells at 288 px
# take 152 MB a view. Past it (some 14,000 parts at 288 px) the frozen part runs again for each batch.
UPPER_CACHE_BYTES = 2**30
UPPER_VIEWS = 4  # each training part and three augmented copies of it, drawn once


def _fit_upper(cfg, model, train, val, pre, device, gen, progress, cancel, extra=None):
    """Accurate: the stem and the first cfg.frozen_stages stages keep their ImageNet weights; their maps are
    computed once for each training part and a few augmented copies of it, and only the stages above, the 1x1
    head conv and the classifier train on them. End to end, one epoch on ELPV's 2,099 cells did not finish in
    25 minutes on the 2-core VM; this way the whole run takes about 8 (bench/RESULTS.md).
    extra: {"train": N×E, "val": M×E} further head inputs per part (local evidence), or None."""
    from inspector.core.features import lower_maps

    run = lower_maps(model, pre, cfg.frozen_stages - 1, device)
    upper = _Upper(model, cfg.frozen_stages)
    if device.type == "cpu":  # a training step 28 % faster on the 2-core VM (10.8 -> 7.7 ms a 224 px part)
        upper.to(memory_format=torch.channels_last)

    def batch_maps(images: np.ndarray, augment: bool) -> torch.Tensor:
        if augment:
            x = augment_batch(torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0), cfg.augment, gen)
            images = x.mul_(255.0).round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        return run(images)

    h, w = pre["size"]
    stride = STAGE_STRIDES[cfg.frozen_stages - 1]
    per_view = len(train) * STAGE_CHANNELS[cfg.frozen_stages - 1] * math.ceil(h / stride) * math.ceil(w / stride) * 2
    views = 0  # 0: too many parts to keep their maps; the frozen part then runs again for every batch
    if per_view <= UPPER_CACHE_BYTES:
        views = int(max(1, min(UPPER_VIEWS, UPPER_CACHE_BYTES // per_view))) if cfg.augment.enabled else 1
    inputs: dict[str, torch.Tensor] = {}
    for name, ds, copies in (("train", train, views), ("val", val, 1 if views and val is not None else 0)):
        out = None
        for v in range(copies):
            for i in range(0, len(ds), 32):
                cancel.check()
                m = batch_maps(ds.images[i:i + 32], augment=v > 0)
                if out is None:  # parts × views × C×h×w, filled in place (no second copy while stacking)
                    out = torch.empty((len(ds), copies, *m.shape[1:]), dtype=m.dtype)
                out[i:i + len(m), v] = m
                progress(StageProgress(f"frozen stages ({name})", v * len(ds) + i + len(m), copies * len(ds)))
        if out is not None:
            inputs[name] = (out if name == "train" else out[:, 0]).to(device)
    extra = {k: v.to(device) for k, v in extra.items()} if extra else None

    def stream(split: str, ix: torch.Tensor, training: bool) -> torch.Tensor:
        images = (train if split == "train" else val).images[ix.cpu().numpy()]
        return batch_maps(images, augment=training and cfg.augment.enabled).to(device)

    # The loop hands the runner part numbers; it looks up their maps (and extra inputs) itself.
    data_val = (torch.arange(len(val)), torch.from_numpy(val.labels)) if val is not None else None
    runner = _UpperRunner(upper, gen, inputs, extra, stream)
    return _loop(cfg, upper, runner, (torch.arange(len(train)), torch.from_numpy(train.labels)), data_val, device,
                 gen, progress, cancel)


class _Upper(nn.Module):
    """The trained part of an Accurate run: EfficientNet-Lite0's stages from `first` on, its head conv and
    classifier (the same modules, so training them trains the model)."""

    def __init__(self, model, first: int):
        super().__init__()
        self.stages = nn.ModuleList(model.stages[first:])
        self.head, self.pool, self.dropout, self.classifier = model.head, model.pool, model.dropout, model.classifier

    def forward(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        for stage in self.stages:
            x = stage(x)
        x = self.pool(self.head(x)).flatten(1)
        if extra is not None:  # as LocalEvidenceLite0.forward_features: pooled features, then the local ones
            x = torch.cat([x, extra], 1)
        return self.classifier(self.dropout(x))


class _UpperRunner:
    def __init__(self, upper: _Upper, gen: torch.Generator, inputs: dict, extra: dict | None, stream):
        self.upper, self.gen, self.inputs, self.extra, self.stream = upper, gen, inputs, extra, stream

    def __call__(self, ix: torch.Tensor, training: bool) -> torch.Tensor:
        split = "train" if training else "val"  # the loop trains on "train" only and evaluates "val" only
        if split not in self.inputs:  # maps not kept: the frozen part runs on this batch now
            x = self.stream(split, ix, training)
        else:
            x = self.inputs[split][ix]
            if training:  # one of each part's views, drawn anew every epoch
                pick = torch.randint(x.shape[1], (len(x),), generator=self.gen).to(x.device)
                x = x[torch.arange(len(x), device=x.device), pick]
        extra = self.extra[split][ix] if self.extra else None
        return self.upper(x.float().contiguous(memory_format=torch.channels_last), extra)


class _HeadRunner:
    """Trains only the classifier on cached backbone features."""

    def __init__(self, head: torch.nn.Module, dropout: float):
        self.head, self.dropout = head, dropout

    def __call__(self, xb: torch.Tensor, training: bool) -> torch.Tensor:
        if training and self.dropout:
            xb = F.dropout(xb, self.dropout, training=True)
        return self.head(xb)


# Standardized floats of a whole split are kept up to this size (4 bytes a value): the seed's 5,000
# MNIST digits take 16 MB, 1,000 RGB parts at 128 px 197 MB. Larger sets convert batch by batch.
PREPARED_BYTES = 256 * 2**20


def _inputs(images: np.ndarray, std: _Standardize, device: torch.device, prepare: bool) -> torch.Tensor:
    """The images as the loop takes them: standardized floats on the device when `prepare` and they fit
    PREPARED_BYTES, else the uint8 array (standardized, and augmented, one batch at a time)."""
    if prepare and images.size * 4 <= PREPARED_BYTES:
        return std.prepare(images, device)
    return torch.from_numpy(images)


class _ImageRunner:
    def __init__(self, model, std: _Standardize, cfg: TrainConfig, gen: torch.Generator):
        self.model, self.std, self.cfg, self.gen = model, std, cfg, gen

    def __call__(self, xb: torch.Tensor, training: bool) -> torch.Tensor:
        if xb.is_floating_point():  # prepared by _inputs: standardized already, never augmented
            return self.model(xb)
        aug = None
        if training and self.cfg.augment.enabled:
            aug = lambda x: augment_batch(x, self.cfg.augment, self.gen)  # noqa: E731
        return self.model(self.std(xb, aug))


MIN_VAL_TO_CHOOSE = 20


def _loop(cfg, module, runner, data_train, data_val, device, gen, progress, cancel, class_weight=None):
    x_train, y_train = data_train
    n = len(y_train)
    bs = min(cfg.batch_size, n)
    batches = math.ceil(n / bs)  # equal-sized batches: no lone sample at the end of an epoch
    # Float inputs (prepared images, cached features) and labels go to the device once, not every step.
    if x_train.is_floating_point():
        x_train = x_train.to(device)
    y_train = y_train.to(device)
    opt = make_optimizer(module.parameters(), cfg, device)
    sched = make_scheduler(opt, cfg, cfg.epochs * batches)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = _amp_dtype(device)
    # bfloat16 needs no loss scaling. float16 (GPUs before Ampere) does; a modest first scale, because the
    # default (65536) overflowed and skipped every step of a short fine-tune on an H200 (seen 2026-11-27).
    scaler = torch.amp.GradScaler("cuda", init_scale=2.0 ** 10, enabled=use_amp and amp_dtype == torch.float16)
    scaled = scaler.is_enabled()
    history: list[dict] = []
    best_key, best_state, best_epoch, since_best, best_pred = None, None, 0, 0, None
    seen, t0 = 0, time.perf_counter()
    total_samples = cfg.epochs * n
    stopped = False
    # A handful of validation parts cannot rank epochs (one part is 10 points of accuracy): below this the
    # last epoch is kept. Demo line, 10 validation parts: the "best" was epoch 4 of 60, 0.81 against 0.85 at the end.
    choose_by_val = data_val is not None and len(data_val[1]) >= MIN_VAL_TO_CHOOSE
    for epoch in range(1, cfg.epochs + 1):
        module.train()
        if cfg.mode == "finetune":
            # Keep the pretrained BatchNorm statistics: small inspection batches would replace
            # them with noisy estimates (measured on a small test set: val accuracy 0.67 with them updating, 1.0 frozen).
            for m in module.modules():
                if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                    m.eval()
        perm = torch.randperm(n, generator=gen)
        perm_x = perm.to(x_train.device)
        perm_y = perm_x if y_train.device == x_train.device else perm.to(y_train.device)
        loss_sum, correct = 0.0, 0
        lr = opt.param_groups[0]["lr"]
        for b, (ix, iy) in enumerate(zip(torch.tensor_split(perm_x, batches), torch.tensor_split(perm_y, batches))):
            cancel.check()
            xb = x_train[ix].to(device, non_blocking=True)
            yb = y_train[iy]
            if use_amp:
                with torch.autocast(device.type, dtype=amp_dtype):
                    logits = runner(xb, True)
            else:
                logits = runner(xb, True)
            loss = F.cross_entropy(logits.float(), yb, weight=class_weight, label_smoothing=cfg.label_smoothing)
            if cfg.l1:
                loss = loss + cfg.l1 * l1_penalty(module).to(device)
            opt.zero_grad(set_to_none=True)
            if scaled:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            if sched is not None:
                sched.step()
                lr = opt.param_groups[0]["lr"]
            # One read of the loss and of the hit count per step (each .item() waits for an accelerator);
            # they feed both the batch event and the epoch's totals.
            k = len(iy)
            seen += k
            batch_loss = loss.item()
            hits = int((logits.argmax(1) == yb).sum())
            loss_sum += batch_loss * k
            correct += hits
            rate = seen / max(time.perf_counter() - t0, 1e-9)
            progress(BatchProgress(epoch, cfg.epochs, b + 1, batches, batch_loss, hits / k, lr,
                                   rate, (total_samples - seen) / rate))
        train_loss, train_acc = loss_sum / n, correct / n
        val_loss, val_acc, val_pred = (_evaluate(runner, module, data_val, device, bs, use_amp) if data_val
                                       else (None, None, None))
        key = (val_acc, -val_loss) if data_val and choose_by_val else (epoch, 0)
        better = best_key is None or key > best_key
        if better:
            best_key, best_epoch, since_best = key, epoch, 0
            best_state, best_pred = copy.deepcopy(module.state_dict()), val_pred
        else:
            since_best += 1
        rate = seen / max(time.perf_counter() - t0, 1e-9)
        history.append(dict(epoch=epoch, train_loss=train_loss, train_accuracy=train_acc, val_loss=val_loss,
                            val_accuracy=val_acc, lr=opt.param_groups[0]["lr"], seconds=time.perf_counter() - t0))
        progress(EpochEnd(epoch, cfg.epochs, train_loss, train_acc, val_loss, val_acc, opt.param_groups[0]["lr"],
                          rate, (total_samples - seen) / rate, better))
        if cfg.early_stopping and data_val and choose_by_val and since_best >= cfg.early_stopping:
            stopped = True
            break
    module.load_state_dict(best_state)
    return history, best_epoch, stopped, best_pred


def _amp_dtype(device) -> torch.dtype:
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


@torch.inference_mode()
def _evaluate(runner, module, data, device, bs, use_amp):
    module.eval()
    x, y = data
    loss_sum, probs = 0.0, []
    for i in range(0, len(y), bs):
        xb, yb = x[i:i + bs].to(device), y[i:i + bs].to(device)
        with torch.autocast(device.type, dtype=_amp_dtype(device), enabled=use_amp):
            logits = runner(xb, False).float()
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").item()
        probs.append(torch.softmax(logits, 1).cpu())
    prob = torch.cat(probs).numpy()  # class probabilities, as the saved model's "probs" output gives them
    return loss_sum / len(y), float((prob.argmax(1) == y.numpy()).mean()), prob
