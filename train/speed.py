"""Training throughput: images per second over the training batches (validation excluded)."""

from __future__ import annotations

import time

import lightning as L


class Throughput(L.Callback):
    """Accumulates training images and wall time spent in training batches."""

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._start: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._start is not None:
            self.seconds += time.perf_counter() - self._start
            self.images += len(batch[0]) * trainer.world_size
            self._start = None
