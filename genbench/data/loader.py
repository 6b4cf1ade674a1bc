"""Batches from splits held as tensors on the training device, drawn by index.

Small datasets fit on the device whole; indexing them costs far less than per-item DataLoader
collation, and nothing is copied from the host per batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import lightning.pytorch as pl
import torch
from torch import Tensor

from genbench.data.base import Dataset, Split


class IndexBatches:
    """Iterate (x, y) batches of a split; shuffled with a permutation that depends only on
    (seed, epoch), so a run resumed at an epoch boundary sees the same batches.

    With `world` > 1 (one run on several processes), each `rank` takes every world-th example
    of the same order, all ranks the same number (a remainder of fewer than `world` examples is
    left out of that epoch), so every process steps the same number of times.
    """

    def __init__(
        self,
        split: Split,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        epoch: Callable[[], int] = lambda: 0,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        self.split = split
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = epoch
        self.rank = rank
        self.world = world

    def __len__(self) -> int:
        return math.ceil(len(self.split) // self.world / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor | None]]:
        x, y = self.split.x, self.split.y
        n = len(x)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch())
            order = torch.randperm(n, generator=generator).to(x.device)  # one copy per epoch
        else:
            order = torch.arange(n, device=x.device)
        if self.world > 1:
            order = order[: n - n % self.world][self.rank :: self.world]
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield x[index], None if y is None else y[index]


class TensorDataModule(pl.LightningDataModule):
    """Serves a Dataset's train and val splits from the device the Trainer trains on."""

    def __init__(self, data: Dataset, batch_size: int, eval_batch_size: int, seed: int) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.seed = seed

    def setup(self, stage: str) -> None:
        device = self.trainer.strategy.root_device
        self.train_split = self.data.train.to(device)
        self.val_split = self.data.val.to(device)

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Batches are slices of tensors already on the device: nothing to move."""
        return batch

    def train_dataloader(self) -> IndexBatches:
        return IndexBatches(
            self.train_split,
            self.batch_size,
            shuffle=True,
            seed=self.seed,
            epoch=lambda: self.trainer.current_epoch,
            **self._shard(),
        )

    def val_dataloader(self) -> IndexBatches:
        return IndexBatches(self.val_split, self.eval_batch_size, **self._shard())

    def _shard(self) -> dict[str, int]:
        """This process's share of the data in a multi-process run (DDP)."""
        return {"rank": self.trainer.global_rank, "world": self.trainer.world_size}
