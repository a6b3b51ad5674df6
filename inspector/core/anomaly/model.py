"""The anomaly model (PatchCore family): a memory bank of good-part patch features; a patch's score is
its distance to the nearest bank entry, the image score the peak of the smoothed score map."""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from inspector.core.anomaly.coreset import StreamingCoreset
from inspector.core.anomaly.features import FeatureRunner, build_extractor, export_onnx, resize_for_scale
from inspector.core.anomaly.places import MIN_PLACE_MAPS, fit_grid, place_baseline, place_baselines_without_each
from inspector.core.anomaly.threshold import Calibration
from inspector.core.errors import ConfigError, ImageDecodeError
from inspector.core.imageio import decode_image, image_info, read_image_bytes
from inspector.core.progress import StageProgress

ImageSource = np.ndarray | str | Path


@dataclass
class AnomalyConfig:
    """Settings of a fit. The defaults were chosen on the Magnetic Tile set (bench/anomaly.py)."""

    # EfficientNet-Lite0 stages: 3 (stride 16, 80 ch), 4 (stride 16, 112 ch), 5 (stride 32, 192 ch). Adding
    # stage 3 to (4, 5) raised image AUROC on Magnetic Tile from 0.9767 / 0.9757 to 0.9811 / 0.9790
    # (seeds 0 / 1) at the same bank size and about the same scoring time (bench/RESULTS.md).
    stages: tuple[int, ...] = (3, 4, 5)
    neighbourhood: int = 3  # k×k averaging of each stage's map (local context, as PatchCore)
    grid: int = 16  # pixels per patch on the model input
    norm_std: float = 15.0  # per-image brightness/contrast normalisation; 0 = off
    # Input scales, as the long side (px) that the median training image gets: every image is then
    # resized by the same factors, so texture keeps its size whatever the part's shape. Two scales,
    # one shared bank: each patch is compared at both and the maps averaged.
    long_sides: tuple[int, ...] = (180, 216)
    coreset_ratio: float = 0.08  # share of all training patches kept in the bank
    max_bank: int = 20000  # the bank never holds more entries, however many good images there are
    pca_dim: int = 96  # bank and queries live in this many principal directions
    smooth_sigma: float = 2.0  # Gaussian smoothing of the score map, in patches
    # Where a patch is on the part, as two extra feature dimensions: 0 = anywhere (parts that vary in shape
    # or position); > 0 = a patch is compared mostly with good patches from the same place (parts that are
    # always framed alike: a scratch that looks like an edge elsewhere still stands out). 1.0 makes a move
    # across the whole part cost about the spread of the features.
    position_weight: float = 0.0
    # Mirror the part's own pixels around it (mirror_px) before the backbone and cut them from the map again:
    # patches on the border then see image content, not the network's zero padding. On crops of a larger
    # surface (machined strips) the border patches were the good parts' highest scores; on whole objects
    # whose outline ends at the border (Magnetic Tile) it cost AUROC. The auto search decides.
    mirror_edges: bool = False
    # Judge each place on the part against how high good parts score there: the upper level of the good parts'
    # leave-one-out maps at each place, in the part's own coordinates (place_baseline), is taken off the map
    # before its peak. Where every good part scores high at one place (a dark rim, an edge that moves a
    # little from part to part), a defect elsewhere need not outscore it. The auto search decides.
    place_baseline: bool = False
    seed: int = 0

    def __post_init__(self) -> None:
        self.stages = tuple(int(s) for s in self.stages)
        self.long_sides = tuple(int(s) for s in self.long_sides)
        if not self.long_sides or any(not 32 <= s <= 4096 for s in self.long_sides):
            raise ConfigError(f"anomaly long_sides {self.long_sides} must be pixel sizes from 32 to 4096")
        if not 0.0 < self.coreset_ratio <= 1.0:
            raise ConfigError(f"coreset ratio {self.coreset_ratio} must be in (0, 1] — e.g. 0.08")
        if self.max_bank < 16 or self.pca_dim < 0 or self.neighbourhood < 1 or self.neighbourhood % 2 == 0:
            raise ConfigError("anomaly settings out of range: max_bank >= 16, pca_dim >= 0, odd neighbourhood >= 1")
        if self.smooth_sigma < 0:
            raise ConfigError(f"smooth_sigma {self.smooth_sigma} must be 0 or more")
        if self.position_weight < 0:
            raise ConfigError(f"position_weight {self.position_weight} must be 0 or more")
        for name in ("mirror_edges", "place_baseline"):  # "false" from a hand-written JSON would read as on
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} {getattr(self, name)!r} must be true or false")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["stages"], d["long_sides"] = list(self.stages), list(self.long_sides)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "AnomalyConfig":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown anomaly setting(s) {', '.join(unknown)} — allowed: {', '.join(sorted(known))}")
        return cls(**d)

    def extractor_dict(self) -> dict:
        return {"stages": list(self.stages), "neighbourhood": self.neighbourhood, "grid": self.grid,
                "norm_std": self.norm_std}


# Named settings. "texture": tuned on Magnetic Tile (surfaces whose defects are regions of odd texture,
# parts of varying shape and brightness). "detail": small sharp defects on a consistent part (the
# synthetic flanges): shallower stages on a finer grid, images enlarged, less smoothing.
PRESETS = {
    "texture": {},
    "detail": {"stages": (2, 3), "grid": 8, "long_sides": (256,), "smooth_sigma": 1.0},
}


def preset(name: str = "texture", **overrides) -> AnomalyConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown anomaly preset {name!r} — choose one of {', '.join(PRESETS)}")
    return AnomalyConfig.from_dict({**PRESETS[name], **{k: v for k, v in overrides.items() if v is not None}})


@dataclass
class AnomalyResult:
    score: float  # normalized: 0.5 = threshold, ~0.25 = a typical good part (NaN before calibration)
    raw: float  # the image score in feature-distance units
    flagged: bool  # raw > threshold
    map: np.ndarray | None = None  # H×W float32 normalized score per pixel (0.5 = threshold)
    peak: tuple[int, int] = (0, 0)  # (x, y) of the highest score, in image pixels
    extra: dict = field(default_factory=dict)


def load_source(src: ImageSource, name: str | None = None) -> np.ndarray:
    if isinstance(src, np.ndarray):
        return src
    return decode_image(read_image_bytes(src), name=name or Path(src).name)


def source_size(src: ImageSource) -> tuple[int, int]:
    """(height, width) without decoding the pixels."""
    if isinstance(src, np.ndarray):
        return int(src.shape[0]), int(src.shape[1])
    _, w, h = image_info(read_image_bytes(src))
    return int(h), int(w)


def nearest(q: torch.Tensor, bank: torch.Tensor, bank_sq: torch.Tensor, chunk: int = 2048):
    """Distance from each row of q to its nearest bank row and that row's index, by the matrix
    trick ||q||² - 2 q·b + ||b||² in float32, a chunk of queries at a time."""
    dist = torch.empty(len(q))
    idx = torch.empty(len(q), dtype=torch.long)
    for s in range(0, len(q), chunk):
        qs = q[s:s + chunk]
        d2 = torch.addmm(bank_sq[None, :], qs, bank.T, alpha=-2.0)
        m, i = d2.min(1)
        dist[s:s + chunk] = (m + (qs * qs).sum(1)).clamp_min_(0).sqrt_()
        idx[s:s + chunk] = i
    return dist, idx


class AnomalyModel:
    """A fitted bank plus what is needed to score: the feature graph, the input scales, the PCA basis,
    the threshold calibration and the optional ignore mask."""

    def __init__(self, cfg: AnomalyConfig, *, scales: list[float], ref_side: float, mean: np.ndarray,
                 basis: np.ndarray, bank: torch.Tensor, coverage: float, runner: FeatureRunner,
                 bank_ids: torch.Tensor | None = None, onnx: bytes | None = None,
                 calibration: Calibration | None = None, ignore_mask: np.ndarray | None = None,
                 info: dict | None = None, head: dict | None = None, pos_scale: float = 0.0,
                 baseline: np.ndarray | None = None):
        self.cfg = cfg
        self.scales = [float(s) for s in scales]
        self.ref_side = float(ref_side)
        self.mean = torch.from_numpy(np.ascontiguousarray(mean, np.float32))
        self.basis = torch.from_numpy(np.ascontiguousarray(basis, np.float32))
        self.coverage = float(coverage)  # distance below which a good patch counts as already known
        self.runner = runner
        self.onnx = onnx
        self.calibration = calibration
        self.ignore_mask = ignore_mask
        self.info = dict(info or {})
        self.pos_scale = float(pos_scale)  # feature units per part width of the two position dimensions
        # per place, what good parts score there above their typical level (place_baseline), or None
        self.baseline = None if baseline is None else np.ascontiguousarray(baseline, np.float32)
        self.version: str | None = None  # set when loaded from a model version
        self.kept: dict[int, tuple[tuple[int, int], list[np.ndarray]]] = {}  # fit_model(keep=...): features to reuse
        self.loo_raw: dict[int, float] = {}  # fit_good_parts: leave-one-out raw score per source index
        self.set_bank(bank, bank_ids)
        self.set_head(head)

    def set_head(self, head: dict | None) -> None:
        """The supervised component learnt from labelled (and synthetic) defects (supervised.py), or None:
        {"w": [dim + 1 weights], "b": bias, "weight": how much of it joins the distance map}."""
        self.head = head
        if head:
            self._head_w = torch.tensor(head["w"], dtype=torch.float32)
            self._head_b = float(head["b"])

    def set_bank(self, bank: torch.Tensor, ids: torch.Tensor | None = None) -> None:
        """ids: where each entry came from (the training image index; -1 = unknown or added later)."""
        self.bank = bank.contiguous().float()
        self.bank_sq = (self.bank * self.bank).sum(1)
        self.bank_ids = ids.to(torch.int32) if ids is not None else torch.full((len(bank),), -1, dtype=torch.int32)

    def val_in_bank(self) -> dict[int, int]:
        """Project sample id -> bank source index of each good validation part whose patches are in the bank
        (saved by fit_project), so it can be scored without them, as a new part would be."""
        d = self.info.get("val_in_bank")
        return {int(k): int(v) for k, v in d.items()} if isinstance(d, dict) else {}

    # -- features ------------------------------------------------------------------------------------
    def project(self, rows: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Rows of extractor features (plus, with positions on, their two position columns) into the
        bank's space: the principal directions, then the position columns unchanged."""
        x = torch.as_tensor(rows, dtype=torch.float32)
        d = self.mean.shape[0]
        out = (x[:, :d] - self.mean) @ self.basis
        return torch.cat([out, x[:, d:]], 1) if x.shape[1] > d else out

    def features(self, img: np.ndarray) -> list[np.ndarray]:
        """Per scale: the extractor's D×h×w patch features."""
        px = mirror_px(self.cfg.grid) if self.cfg.mirror_edges else 0
        c = px // self.cfg.grid
        out = []
        for s in self.scales:
            x = resize_for_scale(img, s)
            if px:
                x = cv2.copyMakeBorder(x, px, px, px, px, cv2.BORDER_REFLECT_101)
            f = self.runner(x)
            out.append(np.ascontiguousarray(f[:, c:-c, c:-c]) if c else f)
        return out

    def patches(self, img: np.ndarray, feats: list[np.ndarray] | None = None) -> list[tuple[torch.Tensor, tuple[int, int]]]:
        """Per scale: projected patch features (h·w × dim) and the grid shape (h, w)."""
        out = []
        for f in feats if feats is not None else self.features(img):
            d, h, w = f.shape
            rows = f.reshape(d, h * w).T
            if self.pos_scale > 0:
                rows = np.concatenate([rows, position_columns(h, w, self.pos_scale)], 1)
            out.append((self.project(rows), (h, w)))
        return out

    def pixel_mask(self, image_hw: tuple[int, int]) -> np.ndarray | None:
        """The ignore mask stretched to an image of this (height, width), as booleans."""
        if self.ignore_mask is None:
            return None
        m = self.ignore_mask
        if m.shape != tuple(image_hw):
            m = cv2.resize(m, (int(image_hw[1]), int(image_hw[0])), interpolation=cv2.INTER_NEAREST)
        return m > 0

    def cell_mask(self, shape: tuple[int, int], image_hw: tuple[int, int]) -> np.ndarray | None:
        """Boolean h×w grid of the cells that the ignore mask covers by half or more."""
        m = self.pixel_mask(image_hw)
        if m is None:
            return None
        frac = cv2.resize(m.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
        return frac >= 0.5

    # -- scoring -------------------------------------------------------------------------------------
    def distance_grid(self, parts, exclude: int | None = None) -> np.ndarray:
        """Nearest-bank distance per patch, averaged over the scales, on the first scale's grid (h0×w0).
        exclude: leave out the bank entries that came from this training image (leave-one-out)."""
        bank_sq = self.bank_sq
        if exclude is not None:
            bank_sq = torch.where(self.bank_ids == exclude, torch.tensor(float("inf")), bank_sq)
        h0, w0 = parts[0][1]
        acc = np.zeros((h0, w0), np.float32)
        for q, (h, w) in parts:
            d = nearest(q, self.bank, bank_sq)[0].numpy().reshape(h, w)
            acc += d if (h, w) == (h0, w0) else cv2.resize(d, (w0, h0), interpolation=cv2.INTER_LINEAR)
        acc /= len(parts)
        return acc

    def head_logits(self, q0: torch.Tensor, dist: np.ndarray) -> np.ndarray:
        """The supervised component's logit per patch of the first scale (features + distance / coverage)."""
        x = torch.cat([q0, torch.from_numpy(dist.reshape(-1, 1) / max(self.coverage, 1e-6))], 1)
        return (x @ self._head_w + self._head_b).numpy().reshape(dist.shape)

    def cell_scores(self, parts, exclude: int | None = None) -> np.ndarray:
        """Per cell of the first scale's grid: patch distance, plus the supervised component's defect
        probability (in units of the bank's coverage) when the model has one; before the place baseline
        and smoothing."""
        acc = self.distance_grid(parts, exclude)
        if self.head and self.head.get("weight", 0) > 0:
            prob = 1.0 / (1.0 + np.exp(-np.clip(self.head_logits(parts[0][0], acc), -30, 30)))
            acc = acc + np.float32(self.head["weight"] * max(self.coverage, 1e-6)) * prob.astype(np.float32)
        return acc

    def finish_map(self, cells: np.ndarray, image_hw: tuple[int, int],
                   baseline: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
        """cell_scores less the place baseline, ignored cells filled, smoothed; and the ignored cells."""
        acc = cells - fit_grid(baseline, cells.shape) if baseline is not None else cells  # cells stay as they are
        ignored = self.cell_mask(acc.shape, image_hw)
        if ignored is not None and ignored.any():
            # Ignored cells take the typical level of the rest before smoothing, so a defect under the
            # mask cannot leak into its neighbours through the blur.
            acc = np.where(ignored, np.float32(np.median(acc[~ignored])) if (~ignored).any() else np.float32(0.0), acc)
        if self.cfg.smooth_sigma > 0:
            acc = cv2.GaussianBlur(acc, (0, 0), self.cfg.smooth_sigma)
        return acc, ignored

    def raw_map(self, parts, image_hw: tuple[int, int], exclude: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """The score map on the first scale's grid (cell_scores, finished by finish_map), and the ignored cells."""
        return self.finish_map(self.cell_scores(parts, exclude), image_hw, self.baseline)

    def score(self, img: np.ndarray, *, with_map: bool = False) -> AnomalyResult:
        """Score one RGB (or grey) image; with_map adds the image-sized anomaly map."""
        img = _rgb(img)
        return self.score_features(self.features(img), img.shape[:2], with_map=with_map)

    def score_features(self, feats: list[np.ndarray], image_hw: tuple[int, int], *, with_map: bool = False,
                       exclude: int | None = None) -> AnomalyResult:
        """Score from features() already computed for an image of size image_hw (height, width)."""
        grid, ignored = self.raw_map(self.patches(None, feats), image_hw, exclude)
        return self.result(grid, ignored, image_hw, with_map=with_map)

    def result(self, grid: np.ndarray, ignored: np.ndarray | None, image_hw: tuple[int, int], *,
               with_map: bool = False) -> AnomalyResult:
        """The image's result from its finished map (finish_map)."""
        valid = grid if ignored is None or not (~ignored).any() else np.where(ignored, -np.inf, grid)
        k = int(np.argmax(valid))
        raw = float(valid.flat[k])
        gy, gx = divmod(k, grid.shape[1])
        h, w = int(image_hw[0]), int(image_hw[1])
        peak = (int((gx + 0.5) * w / grid.shape[1]), int((gy + 0.5) * h / grid.shape[0]))
        cal = self.calibration
        score = cal.normalize(raw) if cal is not None else float("nan")
        flagged = cal.flagged(raw) if cal is not None else False
        heat = None
        if with_map:
            full = cv2.resize(grid, (w, h), interpolation=cv2.INTER_LINEAR)
            heat = (cal.normalize(full) if cal is not None else full / max(raw, 1e-6)).astype(np.float32)
            if self.ignore_mask is not None:
                heat[self.pixel_mask((h, w))] = 0.0
        return AnomalyResult(score, raw, flagged, heat, peak)

    def score_good_cells(self, cells: Sequence[tuple[np.ndarray, tuple[int, int]]]) -> list[float]:
        """Raw scores of good parts from their leave-one-out (cell_scores, image size), as a new part's would
        be. With place_baseline on, the model's baseline is first set from them all, and each is scored
        with the baseline of the others."""
        maps = [c for c, _ in cells]
        bases: list[np.ndarray | None] = [None] * len(maps)
        self.baseline = None
        if self.cfg.place_baseline:
            if len(maps) >= MIN_PLACE_MAPS:
                self.baseline = place_baseline(maps)
                bases = place_baselines_without_each(maps)
                self.info["place_baseline"] = {"good_parts": len(maps), "grid": list(self.baseline.shape)}
            else:
                self.info["place_baseline"] = {"good_parts": len(maps), "off": f"needs {MIN_PLACE_MAPS} good parts"}
        return [self.result(*self.finish_map(c, hw, b), hw).raw for (c, hw), b in zip(cells, bases)]

    def raw_scores(self, images: Sequence[ImageSource], cancel=None, progress=None) -> np.ndarray:
        out = []
        for i, src in enumerate(images):
            if cancel is not None:
                cancel.check()
            out.append(self.score(load_source(src)).raw)
            if progress is not None:
                progress(i + 1, len(images))
        return np.asarray(out, np.float64)

    @property
    def bank_bytes(self) -> int:
        return int(self.bank.numel() * 4)


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return np.repeat(img[:, :, None], 3, axis=2)
    if img.shape[2] == 1:
        return np.repeat(img, 3, axis=2)
    return img[:, :, :3]


def mirror_px(grid: int) -> int:
    """Pixels mirrored on each side with mirror_edges: whole patches, and the sides stay multiples of 32."""
    return max(16, int(grid))


def position_columns(h: int, w: int, scale: float) -> np.ndarray:
    """(h·w)×2: each grid cell's centre as a fraction of the part's width and height, times scale."""
    ys, xs = np.mgrid[0:h, 0:w]
    return (np.stack([(xs.ravel() + 0.5) / w, (ys.ravel() + 0.5) / h], 1) * scale).astype(np.float32)


def pca_basis(mean: np.ndarray, cov: np.ndarray, dim: int) -> np.ndarray:
    """Top `dim` principal directions (D×dim), or the identity when dim is 0 or not smaller than D."""
    d = cov.shape[0]
    if dim <= 0 or dim >= d:
        return np.eye(d, dtype=np.float32)
    vals, vecs = np.linalg.eigh(cov)
    return np.ascontiguousarray(vecs[:, ::-1][:, :dim], np.float32)


# Features of the images that are scored leave-one-out after the fit are kept from the fit's own pass up to
# this many bytes (1250 x 800 parts at 1,250 px: 6 MB each; 5 MP parts at 1,280 px: 8 MB); past it they are
# read and computed again. 200 parts of 1 MP: the threshold's 100 scores took 23 s instead of 37.
KEEP_FEATURES_BYTES = 512 * 2**20


def fit_model(train: Sequence[ImageSource], cfg: AnomalyConfig | None = None, *,
              sizes: Sequence[tuple[int, int]] | None = None, ignore_mask: np.ndarray | None = None,
              loo_images: int = 0, keep: Sequence[int] = (), progress: Callable | None = None,
              cancel=None) -> AnomalyModel:
    """Fit a bank on good images (arrays or files). sizes: their (height, width) when known, which
    spares reading headers. The model comes back without calibration (see threshold.calibrate).

    loo_images > 0: that many training images (a seeded pick) are also scored leave-one-out, against
    the bank without the entries that came from them; model.info["loo_scores"] holds the scores, a
    stand-in for held-out good images when there are too few of those.
    keep: indices of images whose (image size, features) the caller will score again: model.kept holds
    them, as many as KEEP_FEATURES_BYTES allows, so that they need not be read and computed twice."""
    cfg = cfg or AnomalyConfig()
    progress = progress or (lambda e: None)
    if len(train) == 0:
        raise ConfigError("no good images to fit on — label some parts with an ok-kind class first")
    t0 = time.perf_counter()
    sizes = list(sizes) if sizes is not None else [source_size(s) for s in train]
    ref_side = float(np.median([max(h, w) for h, w in sizes]))
    scales = [s / ref_side for s in cfg.long_sides]
    torch_model = build_extractor(cfg.extractor_dict())
    onnx = export_onnx(torch_model)
    runner = FeatureRunner(onnx)
    dim = torch_model.dim
    pos_dims = 2 if cfg.position_weight > 0 else 0
    pos_scale = 0.0
    stream = StreamingCoreset(dim + pos_dims, cfg.coreset_ratio, max_size=cfg.max_bank, seed=cfg.seed)
    # a throwaway model object gives the same resize and mask handling as scoring
    probe = AnomalyModel(cfg, scales=scales, ref_side=ref_side, mean=np.zeros(dim), basis=np.eye(dim),
                         bank=torch.zeros(1, dim), coverage=0.0, runner=runner, ignore_mask=ignore_mask)
    loo_pick = set(np.random.default_rng(cfg.seed).permutation(len(train))[:loo_images].tolist())
    kept: dict[int, tuple[tuple[int, int], list[np.ndarray]]] = {}
    wanted, kept_bytes = set(int(i) for i in keep), 0
    skipped: list[tuple[str, str]] = []
    told = False
    for i, src in enumerate(train):
        if cancel is not None:
            cancel.check()
        try:
            img = _rgb(load_source(src))
        except ImageDecodeError as e:  # one unreadable part must not stop the fit: listed, left out
            skipped.append((str(src), str(e)))
            continue
        feats = probe.features(img)
        for f in feats:
            d, h, w = f.shape
            rows = f.reshape(d, h * w).T
            if pos_dims:
                if pos_scale == 0.0:  # the features' spread (RMS distance from their mean), from the first image
                    pos_scale = cfg.position_weight * float(np.sqrt(((rows - rows.mean(0)) ** 2).sum(1).mean()))
                    pos_scale = max(pos_scale, 1e-6)
                rows = np.concatenate([rows, position_columns(h, w, pos_scale)], 1)
            ignored = probe.cell_mask((h, w), img.shape[:2])
            if ignored is not None:
                rows = rows[~ignored.ravel()]
            stream.add(rows, i, cancel)
        if not told:  # the first part read stands for all (alike to within the factor 2 the coreset allows)
            stream.expect(stream.total * len(train))
            told = True
        if i in loo_pick:
            kept[i] = (img.shape[:2], feats)
        elif i in wanted and kept_bytes + sum(f.nbytes for f in feats) <= KEEP_FEATURES_BYTES:
            kept[i] = (img.shape[:2], feats)
            kept_bytes += sum(f.nbytes for f in feats)
        progress(StageProgress("computing patch features", i + 1, len(train)))
    if stream.total == 0:
        raise ConfigError(f"none of the {len(train)} good images could be read — "
                          + (skipped[0][1] if skipped else "check the image files"))
    progress(StageProgress("choosing the memory bank", 0, 1))
    chosen, ids = stream.finish(cancel)
    mean, cov = stream.mean_and_cov()
    mean, cov = mean[:dim], cov[:dim, :dim]  # principal directions of the features, positions kept apart
    basis = pca_basis(mean, cov, cfg.pca_dim)
    model = AnomalyModel(cfg, scales=scales, ref_side=ref_side, mean=mean, basis=basis, bank=torch.zeros(1, 1),
                         coverage=0.0, runner=runner, onnx=onnx, ignore_mask=ignore_mask, pos_scale=pos_scale)
    model.set_bank(model.project(chosen), ids)
    # How closely the bank covers good patches: the 99th percentile over a uniform sample of them.
    sample = model.project(stream.sampled())
    model.coverage = float(np.quantile(nearest(sample, model.bank, model.bank_sq)[0].numpy(), 0.99)) if len(sample) else 0.0
    model.info = {"train_images": len(train) - len(skipped), "train_patches": stream.total,
                  "bank_size": int(len(chosen)), "fit_bank_s": round(time.perf_counter() - t0, 3),
                  "skipped": [{"image": f, "error": e} for f, e in skipped]}
    if loo_pick:
        model.info["loo_scores"] = model.score_good_cells(
            [(model.cell_scores(model.patches(None, feats), exclude=i), hw) for i, (hw, feats) in sorted(kept.items())
             if i in loo_pick])
    model.kept = {i: v for i, v in kept.items() if i in wanted}
    progress(StageProgress("choosing the memory bank", 1, 1))
    return model
