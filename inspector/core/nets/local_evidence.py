"""Local evidence for the Fast classifier: fine defects that a globally pooled feature cannot see.

A scratch of 2 px or a spot of 5 px on a 256 px part barely moves the 1,280 pooled features, so a head
trained on a few dozen parts learns "everything is good" (bench/demo_loop.py: 0.52 on four defect
types). Beside the pooled features, this network measures, at two resolutions, how far each patch of
the part is from every patch of the good training parts (a PatchCore-style bank fitted at training
time), and passes the head the distances (largest, top-5 mean, mean) and the features of the most
unusual patch: whether something is wrong and what it looks like. Measured on the demo line with all
four defect types, 52 labelled parts: 0.86–0.87 five-class accuracy against 0.52 (see bench/RESULTS.md).

Everything lives inside the network (banks are buffers), so the ONNX export, the live runner and
Predictor need nothing new. Fast ("head" mode) and Accurate use it; Accurate then trains only what lies above
the stages the banks read (FROZEN_STAGES).
It costs time: ~76 ms a part against ~7 ms on the 2-core VM (most of it the fine level's 2,304 patches
against 4,000 bank entries), so a fast line may turn it off.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inspector.core.nets.efficientnet_lite import NUM_FEATURES, STAGE_CHANNELS, STAGE_STRIDES, EfficientNetLite0

# Two levels: fine detail (stride-8 and stride-16 maps of the image enlarged 1.5x, 8 px patches) and
# texture and structure (stride-16 and stride-32 maps at about the classifier's size, 16 px patches).
# Either alone lost a defect type on the demo line: detail missed missing holes (AUROC 0.59), texture
# missed spots (0.56); together every type was found.
LEVELS = ({"stages": [2, 3], "grid": 8, "scale": 1.5}, {"stages": [3, 4, 5], "grid": 16, "scale": 0.875})
INPUT_SIZE = [256, 256]  # the classifier's input when local evidence is on (224 otherwise)
PCA_DIM = 96
BANK_SIZE = 4000  # patches kept per level (greedy k-center coreset), 1.5 MB each
BANK_CHUNK = 1024
NEIGHBOURHOOD = 3
NORM_STD = 15.0  # per-image brightness and contrast normalisation, as the anomaly model's
STATS = 4  # max, top-5 mean, mean, log(1 + max) of the patch distances
PEAK_SHARPNESS = 20.0  # softmax weight on distance for the "most unusual patch": soft, so ONNX and PyTorch agree; 4 blurred it (0.77), 50 no better (0.84)
# Accurate keeps the stages the banks were fitted on frozen: only stage 6 and the head train above them.
# A patch this close to a bank entry (in coverage units) is that entry itself, and a part with this share of
# its patches found so is one the bank was fitted on (see EvidenceLevel.own_images).
OWN_PATCH = 1e-3
OWN_SHARE = 0.005  # a bank of 4,000 patches from 200 parts keeps ~1 % of each part's 2,304 fine patches
FROZEN_STAGES = 1 + max(max(lv["stages"]) for lv in LEVELS)
AUTO_MAX_IMAGES = 1000  # above this many training images "auto" leaves it off (3 backbone passes per image)
AUTO_MIN_GOOD = 5


def level_configs(input_size: Sequence[int], bank: int = BANK_SIZE, pca: int = PCA_DIM) -> list[dict]:
    """The arch dict's "local" entry for an input of this [h, w]: level sizes are multiples of 32 so the
    traced graph's padding is exact."""
    out = []
    for lv in LEVELS:
        size = [max(32, int(round(s * lv["scale"] / 32)) * 32) for s in input_size]
        out.append({"stages": list(lv["stages"]), "grid": lv["grid"], "size": size, "bank": bank,
                    "pca": min(pca, sum(STAGE_CHANNELS[s] for s in lv["stages"]))})
    return out


def supported(cfg) -> bool:
    """Fast, or Accurate with frozen lower stages (they carry the banks' features), on EfficientNet-Lite0 with the
    fixed standardization (the network undoes it to see raw pixels)."""
    return (cfg.arch == "effnet-lite0" and cfg.standardize == "fixed"
            and (cfg.mode == "head" or (cfg.mode == "finetune" and cfg.frozen_stages > 0)))


def wanted(cfg, n_train: int, n_good: int) -> bool:
    """Does a run with this TrainConfig use local evidence? Its local_evidence: on / off / auto (auto: a good class
    of at least AUTO_MIN_GOOD training parts and at most AUTO_MAX_IMAGES training images, where its cost fits
    Fast's minute)."""
    setting = cfg.local_evidence
    if setting == "off" or not supported(cfg) or n_good < 1:
        return False
    return setting == "on" or (n_good >= AUTO_MIN_GOOD and n_train <= AUTO_MAX_IMAGES)


class EvidenceLevel(nn.Module):
    """One resolution: the bank (PCA space) and what scores a patch against it."""

    def __init__(self, stages: Sequence[int], grid: int, size: Sequence[int], bank: int, pca: int):
        super().__init__()
        self.stages, self.grid, self.size = [int(s) for s in stages], int(grid), [int(v) for v in size]
        dim = sum(STAGE_CHANNELS[s] for s in self.stages)
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("basis", torch.zeros(dim, pca))
        self.register_buffer("bank", torch.zeros(bank, pca))
        self.register_buffer("bank_sq", torch.zeros(bank))
        self.register_buffer("bank_ids", torch.full((bank,), -1, dtype=torch.int64))
        self.register_buffer("coverage", torch.ones(1))

    @property
    def out_dim(self) -> int:
        return STATS + self.basis.shape[1]

    def patch_maps(self, trunk: EfficientNetLite0, raw: torch.Tensor) -> torch.Tensor:
        """raw: N×3×H×W pixels (0..255) -> N×L×D patch features on this level's grid."""
        x = raw
        if list(x.shape[-2:]) != self.size:
            x = F.interpolate(x, size=self.size, mode="bilinear", align_corners=False)
        mu = x.mean(dim=(1, 2, 3), keepdim=True)
        sd = ((x - mu) ** 2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
        x = ((x - mu) / (sd + 1.0) * NORM_STD + 128.0 - 127.0) / 128.0  # EfficientNet-Lite's (p - 127) / 128
        maps = []
        for s, f in zip(self.stages, trunk.forward_stages(x, self.stages)):
            f = F.avg_pool2d(f, NEIGHBOURHOOD, stride=1, padding=NEIGHBOURHOOD // 2, count_include_pad=False)
            if STAGE_STRIDES[s] > self.grid:
                f = F.interpolate(f, scale_factor=float(STAGE_STRIDES[s] // self.grid), mode="bilinear",
                                  align_corners=False)
            elif STAGE_STRIDES[s] < self.grid:
                f = F.avg_pool2d(f, self.grid // STAGE_STRIDES[s])
            maps.append(f)
        m = torch.cat(maps, 1)
        return m.flatten(2).transpose(1, 2)

    def project(self, rows: torch.Tensor) -> torch.Tensor:
        return (rows - self.mean) @ self.basis

    def _chunks(self, q: torch.Tensor, exclude: torch.Tensor | None = None):
        """(first bank index, N×L×chunk squared distances) over the bank in chunks: N×L×bank floats would take
        gigabytes. exclude: per image, the training image whose own patches must not count, -1 for none."""
        qq = (q * q).sum(-1, keepdim=True)
        for s in range(0, self.bank.shape[0], BANK_CHUNK):
            d2 = qq - 2.0 * q @ self.bank[s:s + BANK_CHUNK].T + self.bank_sq[s:s + BANK_CHUNK]
            if exclude is not None:
                own = self.bank_ids[s:s + BANK_CHUNK].view(1, 1, -1) == exclude.view(-1, 1, 1)
                d2 = d2.masked_fill(own, float("inf"))
            yield s, d2

    def distances(self, q: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        """N×L nearest-bank distances in units of the bank's coverage. exclude: per image, the training
        image whose own patches must not count (leave-one-out while training), -1 for none."""
        best = None
        for _, d2 in self._chunks(q, exclude):
            m = d2.min(-1).values
            best = m if best is None else torch.minimum(best, m)
        return best.clamp_min(0.0).sqrt() / self.coverage

    def own_images(self, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per image (N×L patches in PCA space), the bank image these patches are from, -1 for a part the bank
        was not fitted on: the coreset keeps some of each fitted image's own patches, and those it finds again
        at distance ~0, which no other part comes near (sensor noise alone puts a new part's patches a good
        fraction of the coverage away). Also the N×L distances as `distances(q)` gives them."""
        best, which = None, None
        for s, d2 in self._chunks(q):
            m, i = d2.min(-1)
            i = i + s
            best, which = (m, i) if best is None else (torch.minimum(best, m), torch.where(m < best, i, which))
        dist = best.clamp_min(0.0).sqrt() / self.coverage
        owner = torch.where(dist < OWN_PATCH, self.bank_ids[which], torch.full_like(which, -1))
        out = torch.full((len(q),), -1, dtype=torch.int64)
        for n in range(len(q)):
            ids = owner[n][owner[n] >= 0]
            if len(ids) >= max(2.0, OWN_SHARE * q.shape[1]):
                out[n] = torch.mode(ids).values
        return out, dist

    def forward(self, trunk: EfficientNetLite0, raw: torch.Tensor, exclude: torch.Tensor | None = None,
                unseen: bool = False) -> torch.Tensor:
        """unseen: a part the bank was fitted on leaves its own patches out, as training measures the good
        parts (for the feature map; the exported graph never does this)."""
        q = self.project(self.patch_maps(trunk, raw))
        if unseen:  # one pass over the bank for new parts; a second only for the parts it was fitted on
            owner, d = self.own_images(q)
            seen = owner >= 0
            if bool(seen.any()):
                d = d.clone()
                d[seen] = self.distances(q[seen], owner[seen])
        else:
            d = self.distances(q, exclude)
        top = torch.topk(d, min(5, d.shape[1]), dim=1).values.mean(1, keepdim=True)
        dmax = d.max(1, keepdim=True).values
        w = torch.softmax(PEAK_SHARPNESS * d, dim=1).unsqueeze(-1)
        peak = (w * q).sum(1)
        peak = peak / (peak.norm(dim=1, keepdim=True) + 1e-6)
        return torch.cat([dmax, top, d.mean(1, keepdim=True), torch.log1p(dmax), peak], 1)

    @torch.inference_mode()
    def fit(self, trunk: EfficientNetLite0, raws: Sequence[torch.Tensor], cancel=None) -> None:
        """The bank from good images (batches of N×3×H×W pixels): PCA of their patches, a greedy k-center
        coreset, and the coverage (the 95th percentile of the good patches' leave-one-out distances)."""
        from inspector.core.anomaly.coreset import greedy_kcenter

        rows, ids, start = [], [], 0
        for raw in raws:
            if cancel is not None:
                cancel.check()
            r = self.patch_maps(trunk, raw)
            rows.append(r.reshape(-1, r.shape[-1]))
            ids.append(torch.arange(start, start + len(raw)).repeat_interleave(r.shape[1]))
            start += len(raw)
        x, img_ids = torch.cat(rows).double(), torch.cat(ids)
        mean = x.mean(0)
        cov = ((x - mean).T @ (x - mean)) / max(1, len(x) - 1)
        vecs = torch.linalg.eigh(cov)[1].flip(1)[:, :self.basis.shape[1]]
        self.mean.copy_(mean.float())
        self.basis.copy_(vecs.float())
        z = self.project(x.float())
        n = self.bank.shape[0]
        chosen = greedy_kcenter(z, n, cancel=cancel) if len(z) > n else torch.arange(len(z))
        if len(chosen) < n:  # fewer patches than places: repeat some (a duplicate changes no distance)
            chosen = chosen[torch.arange(n) % len(chosen)]
        self.bank.copy_(z[chosen])
        self.bank_sq.copy_((self.bank * self.bank).sum(1))
        self.bank_ids.copy_(img_ids[chosen])
        self.coverage.fill_(1.0)
        per_image = [self.distances(z[img_ids == i].unsqueeze(0), torch.tensor([i])) for i in range(start)]
        d = torch.cat([p.flatten() for p in per_image])
        d = d[torch.isfinite(d)]
        self.coverage.fill_(max(float(torch.quantile(d[:1_000_000], 0.95)) if len(d) else 1.0, 1e-6))


class LocalEvidenceLite0(EfficientNetLite0):
    """EfficientNet-Lite0 whose head sees the pooled features and the local evidence of each level
    (standardized with the training parts' mean and spread, which the head needs: distances and
    pooled features differ in scale by orders of magnitude)."""

    NOT_PRETRAINED = ("levels.", "local_")

    def __init__(self, num_classes: int, dropout: float, levels: Sequence[dict]):
        super().__init__(num_classes, dropout)
        self.levels = nn.ModuleList(EvidenceLevel(lv["stages"], lv["grid"], lv["size"], lv["bank"], lv["pca"])
                                    for lv in levels)
        extra = sum(lv.out_dim for lv in self.levels)
        self.register_buffer("local_mean", torch.zeros(extra))
        self.register_buffer("local_std", torch.ones(extra))
        # PyTorch's default init (±1/sqrt(fan-in)), not the reference's ±1/sqrt(classes): with ~200 standardized
        # inputs that one starts at logits of ±6, which a few dozen parts never train away (demo line: 0.71 vs 0.86).
        self.classifier = nn.Linear(NUM_FEATURES + extra, num_classes)

    @staticmethod
    def raw_pixels(x: torch.Tensor) -> torch.Tensor:
        """Undo the classifier's fixed standardization ((p - 127) / 128, see nets.default_preprocessing)."""
        return x * 128.0 + 127.0

    def local_features(self, x: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        raw = self.raw_pixels(x)
        return torch.cat([lv(self, raw, exclude) for lv in self.levels], 1)

    def unseen_local_features(self, x: torch.Tensor) -> torch.Tensor:
        """Standardized local features as a new part gets them, also for the good parts the banks were fitted
        on (each leaves its own patches out): measured plainly, those sit at distance 0 and stand apart from
        every part on the line in the Analysis tab's feature map."""
        raw = self.raw_pixels(x)
        local = torch.cat([lv(self, raw, unseen=True) for lv in self.levels], 1)
        return (local - self.local_mean) / self.local_std

    def forward_features(self, x: torch.Tensor, exclude: torch.Tensor | None = None) -> torch.Tensor:
        local = (self.local_features(x, exclude) - self.local_mean) / self.local_std
        return torch.cat([super().forward_features(x), local], 1)

    @torch.inference_mode()
    def fit_evidence(self, good: np.ndarray, cancel=None, batch: int = 16) -> None:
        """Fit every level's bank on the good training images (uint8 N×H×W×3 at the input size)."""
        self.eval()
        raws = [_pixels(good[i:i + batch]) for i in range(0, len(good), batch)]
        for lv in self.levels:
            lv.fit(self, raws, cancel)

    def set_standardization(self, local: torch.Tensor) -> None:
        """local: the training images' raw local features (N×extra)."""
        self.local_mean.copy_(local.mean(0))
        self.local_std.copy_(local.std(0).clamp_min(1e-3) if len(local) > 1 else torch.ones_like(self.local_std))

    def plain_trunk(self) -> EfficientNetLite0:
        """An EfficientNet-Lite0 with this network's trunk weights: its pooled features are the ordinary Fast
        ones, so they share the feature cache with every other Fast run."""
        plain = EfficientNetLite0(1, 0.0)
        own = {k: v for k, v in self.state_dict().items() if not k.startswith(("classifier.", *self.NOT_PRETRAINED))}
        plain.load_state_dict(own, strict=False)
        return plain.eval()


def _pixels(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()


@torch.inference_mode()
def head_features(model: LocalEvidenceLite0, datasets: dict, good_classes: Sequence[int], global_features,
                  cancel=None, progress=None, batch: int = 16) -> dict[str, torch.Tensor]:
    """The head's inputs for each dataset ({"train": ds, "val": ds or None}): the banks are fitted on the
    good training images first; their own local features are then measured leave-one-out (against the
    banks without their own patches), as a new good part would be. global_features(name, ds) gives the
    pooled features (cached)."""
    train = datasets["train"]
    is_good = np.isin(train.labels, np.asarray(list(good_classes), dtype=np.int64))
    model.fit_evidence(train.images[is_good], cancel)
    own = np.full(len(train), -1, np.int64)
    own[is_good] = np.arange(int(is_good.sum()))
    local = {}
    for name, ds in datasets.items():
        if ds is None:
            continue
        rows = []
        for i in range(0, len(ds), batch):
            if cancel is not None:
                cancel.check()
            exclude = torch.from_numpy(own[i:i + batch]) if name == "train" else None
            rows.append(model.local_features((_pixels(ds.images[i:i + batch]) - 127.0) / 128.0, exclude))
            if progress is not None:
                progress(name, min(i + batch, len(ds)), len(ds))
        local[name] = torch.cat(rows)
    model.set_standardization(local["train"])
    return {name: torch.cat([global_features(name, datasets[name]),
                             (loc - model.local_mean) / model.local_std], 1) for name, loc in local.items()}
