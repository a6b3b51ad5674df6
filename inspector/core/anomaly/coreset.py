"""Greedy k-center coreset (PatchCore's memory-bank reduction), fast on a CPU: distances in a small
random projection, and two levels (inside cache-sized chunks as features arrive, then over the survivors)."""
from __future__ import annotations

import math

import numpy as np
import torch


def random_projection(dim: int, out_dim: int, seed: int = 0) -> torch.Tensor:
    """A dim×out_dim Gaussian matrix: distances survive it up to a small relative error
    (Johnson–Lindenstrauss), which is all the farthest-point choice needs."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(dim, out_dim, generator=g) / math.sqrt(out_dim)


def greedy_kcenter(z: torch.Tensor, n: int, start: int = 0, cancel=None) -> torch.Tensor:
    """Indices of n rows of z chosen farthest-first: each new row is the one farthest from all rows
    chosen so far, so rare patterns are kept and common ones thinned out."""
    count = z.shape[0]
    n = min(int(n), count)
    sq = (z * z).sum(1)
    mind = torch.full((count,), float("inf"))
    chosen = torch.empty(n, dtype=torch.long)
    idx = int(start) % count
    for i in range(n):
        if cancel is not None and i % 512 == 0:
            cancel.check()
        chosen[i] = idx
        # ||z - c||² = ||z||² - 2 z·c + ||c||²: one matrix-vector product per pick
        d = torch.addmv(sq, z, z[idx], alpha=-2.0).add_(sq[idx])
        torch.minimum(mind, d, out=mind)
        idx = int(torch.argmax(mind))
    return chosen


class StreamingCoreset:
    """Feed patch features image by image with add(); finish() returns the chosen rows.

    Level 1 runs the greedy inside each chunk of `chunk` rows (their projections stay in the CPU
    cache) and keeps twice the final share; level 2 runs it over all survivors. Memory holds one
    chunk plus the survivors, never every patch, and the result differs little from one greedy
    over everything at a fraction of the time (a single greedy over 200k patches took minutes).

    When the bank will be capped at max_size, the final share is max_size / all rows, not `ratio`:
    expect() tells how many rows will come so that level 1 keeps less (200 parts of 1 MP, 624k patches:
    50k survivors instead of 100k)."""

    def __init__(self, dim: int, ratio: float, *, max_size: int, proj_dim: int = 32, chunk: int = 16384,
                 seed: int = 0, sample: int = 20000):
        self.ratio, self.max_size, self.chunk = float(ratio), int(max_size), int(chunk)
        self.proj = random_projection(dim, proj_dim, seed) if dim > proj_dim else None
        self.gen = torch.Generator().manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.buffer: list[np.ndarray] = []
        self.buffer_ids: list[np.ndarray] = []
        self.buffered = 0
        self.kept: list[torch.Tensor] = []
        self.kept_ids: list[torch.Tensor] = []
        self.total = 0
        self.share = min(1.0, 2.0 * self.ratio)  # of each chunk kept by level 1
        # A uniform sample of all rows (reservoir), to measure later how well the bank covers them.
        self.sample_size = int(sample)
        self.sample: np.ndarray | None = None
        self.dim = dim
        # Running sums for the mean and covariance of all rows (float64: exact enough for PCA).
        self.sum = np.zeros(dim, np.float64)
        self.outer = np.zeros((dim, dim), np.float64)

    def expect(self, total_rows: int) -> None:
        """The number of rows that add() will be given in all (an estimate): with the cap, level 1 keeps
        twice the final share of what is expected, between `ratio` and twice `ratio`. (Down to twice the
        final share alone, ELPV cells at 300 px on an 8-px grid, 1.0 M patches, kept 3.9 % at level 1: test
        false rejects 4.4 % against 2.3 %, image AUROC 0.902 against 0.904.)"""
        if total_rows > 0:
            final = min(self.ratio, self.max_size / float(total_rows))
            self.share = min(1.0, 2.0 * self.ratio, max(self.ratio, 2.0 * final))

    def add(self, rows: np.ndarray, source: int = -1, cancel=None) -> None:
        """rows: N×dim features; source: an id kept with each chosen row (e.g. the image index)."""
        rows = np.ascontiguousarray(rows, dtype=np.float32)
        if not len(rows):
            return
        self.sum += rows.sum(0, dtype=np.float64)
        # one part's products in float32 (half the time of float64; a few thousand rows lose nothing that
        # matters to PCA), summed over parts in float64
        self.outer += (rows.T @ rows).astype(np.float64)
        self._reservoir(rows)
        self.total += len(rows)
        self.buffer.append(rows)
        self.buffer_ids.append(np.full(len(rows), source, np.int32))
        self.buffered += len(rows)
        if self.buffered >= self.chunk:
            self._reduce(cancel)

    def _reservoir(self, rows: np.ndarray) -> None:
        """Algorithm R, vectorised: row number t replaces a random slot with probability size / (t + 1)."""
        if self.sample is None:
            self.sample = np.empty((self.sample_size, self.dim), np.float32)
        t = self.total + np.arange(len(rows))
        fill = t < self.sample_size
        self.sample[t[fill]] = rows[fill]
        slots = (self.rng.random(len(rows)) * (t + 1)).astype(np.int64)
        hit = ~fill & (slots < self.sample_size)
        self.sample[slots[hit]] = rows[hit]

    def sampled(self) -> np.ndarray:
        """The uniform sample of every row added (up to `sample` rows)."""
        if self.sample is None:
            return np.empty((0, self.dim), np.float32)
        return self.sample[:min(self.total, self.sample_size)]

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.proj).contiguous() if self.proj is not None else x.contiguous()

    def _reduce(self, cancel) -> None:
        x = torch.from_numpy(np.concatenate(self.buffer))
        ids = torch.from_numpy(np.concatenate(self.buffer_ids))
        self.buffer, self.buffer_ids, self.buffered = [], [], 0
        k = max(1, math.ceil(self.share * len(x)))
        start = int(torch.randint(len(x), (1,), generator=self.gen))
        pick = greedy_kcenter(self._project(x), k, start, cancel)
        self.kept.append(x[pick])
        self.kept_ids.append(ids[pick])

    def target_size(self) -> int:
        return max(1, min(self.max_size, math.ceil(self.ratio * self.total)))

    def finish(self, cancel=None) -> tuple[torch.Tensor, torch.Tensor]:
        """The chosen rows (n × dim float32, n = min(ratio × rows seen, max_size)) and their source ids."""
        if self.buffer:
            self._reduce(cancel)
        if not self.kept:
            raise ValueError("no patch features were added")
        pool, ids = torch.cat(self.kept), torch.cat(self.kept_ids)
        n = self.target_size()
        if n >= len(pool):
            return pool, ids
        start = int(torch.randint(len(pool), (1,), generator=self.gen))
        pick = greedy_kcenter(self._project(pool), n, start, cancel)
        return pool[pick], ids[pick]

    def mean_and_cov(self) -> tuple[np.ndarray, np.ndarray]:
        mean = self.sum / max(self.total, 1)
        cov = self.outer / max(self.total, 1) - np.outer(mean, mean)
        return mean, cov
