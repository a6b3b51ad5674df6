"""The feature map of the Analysis tab: a model's features of recent parts, projected to 2-D."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inspector.core.errors import ModelError
from inspector.core.progress import StageProgress


@dataclass(frozen=True)
class Embedding:
    sample_ids: np.ndarray
    labels: list[str | None]  # None = not labelled yet
    xy: np.ndarray  # N×2 projection
    explained: tuple[float, float]  # variance fraction of each axis
    version: str


def feature_map(root, version_dir, limit: int = 1500, *, progress, cancel) -> Embedding:
    """The model's features of the newest `limit` labelled or unreviewed parts, projected to 2-D with
    PCA (the first two principal axes: what separates the parts most)."""
    import torch

    from inspector.core.arrays import load_arrays
    from inspector.core.classifier import load_network, read_config
    from inspector.core.features import FeatureCache, extract_features
    from inspector.core.nets.local_evidence import LocalEvidenceLite0
    from inspector.core.project import Project

    version_dir = Path(version_dir)
    config = read_config(version_dir)
    pre = config["preprocessing"]
    with Project.open(root) as project:
        samples = project.samples(status=("labelled", "unreviewed"), order="-id")[:limit]
        if len(samples) < 3:
            raise ModelError("the feature map needs at least 3 labelled or flagged parts — label some first")
        paths = [project.image_path(s) for s in samples]
    ds = load_arrays(paths, [0] * len(samples), [s.image_hash for s in samples], pre["size"], pre["channels"],
                     progress=lambda d, t: progress(StageProgress("loading images", d, t)), cancel=cancel)
    net = load_network(version_dir, config)
    local = isinstance(net, LocalEvidenceLite0)
    cache = FeatureCache(Path(root) / "cache" / "features.sqlite")
    try:
        # a local-evidence model's pooled part is the plain trunk's (cached like any Fast run's features)
        feats = extract_features(net.plain_trunk() if local else net, ds, pre, torch.device("cpu"), cache=cache,
                                 cancel=cancel, progress=lambda d, t: progress(StageProgress("features", d, t))).numpy()
        if local:
            feats = np.concatenate([feats, _unseen_local(net, ds, pre, cache, progress, cancel)], 1)
    finally:
        cache.close()
    x = feats.astype(np.float64) - feats.mean(0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    var = s ** 2 / max(float((s ** 2).sum()), 1e-12)
    xy = x @ vt[:2].T
    if xy.shape[1] < 2:
        xy = np.pad(xy, ((0, 0), (0, 2 - xy.shape[1])))
    return Embedding(np.array([s.id for s in samples]), [s.label for s in samples], xy.astype(np.float32),
                     (float(var[0]), float(var[1]) if len(var) > 1 else 0.0), config.get("version", "?"))


def _unseen_local(net, ds, pre, cache, progress, cancel, batch: int = 16) -> np.ndarray:
    """The local evidence of every part as a new part gets it (see LocalEvidenceLite0.unseen_local_features),
    cached under this network's own id (its banks included): a second Compute reads them back."""
    import torch

    from inspector.core.features import backbone_id

    bid = backbone_id(net, pre) + ":unseen-local"
    have = cache.get(bid, ds.keys)
    todo = [i for i, k in enumerate(ds.keys) if k not in have]
    net.eval()
    new = {}
    with torch.inference_mode():
        for s in range(0, len(todo), batch):
            if cancel is not None:
                cancel.check()
            idx = todo[s:s + batch]
            x = torch.from_numpy(np.ascontiguousarray(ds.images[idx])).permute(0, 3, 1, 2).float()
            new.update(zip((ds.keys[i] for i in idx), net.unseen_local_features((x - 127.0) / 128.0).numpy()))
            progress(StageProgress("fine-defect evidence", len(ds) - len(todo) + s + len(idx), len(ds)))
    if new:
        cache.put(bid, new)
    have.update(new)
    return np.stack([have[k] for k in ds.keys])
