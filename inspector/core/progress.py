"""Plain progress events sent by long tasks; the CLI prints them, the GUI turns them into signals."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageProgress:
    """A phase that is not an epoch: decoding images, computing features, exporting."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class BatchProgress:
    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based within the epoch
    batches: int
    loss: float
    accuracy: float
    lr: float
    samples_per_s: float
    eta_s: float


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    epochs: int
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    lr: float
    samples_per_s: float
    eta_s: float
    best: bool  # this epoch's weights are the best so far and are kept


ProgressEvent = StageProgress | BatchProgress | EpochEnd
