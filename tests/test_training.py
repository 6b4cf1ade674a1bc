"""The terminal progress bar counts epochs from 1, as the plain lines do, without v_num."""

import io

import lightning.pytorch as pl
from lightning.pytorch.demos.boring_classes import BoringModel

from genbench.training import EpochBar


def test_the_bar_counts_epochs_from_one_of_max_without_v_num(tmp_path):
    bar = EpochBar()
    trainer = pl.Trainer(
        max_epochs=2, limit_train_batches=2, limit_val_batches=1, callbacks=[bar],
        default_root_dir=tmp_path, enable_model_summary=False,
    )  # fmt: skip
    descriptions = []
    original = bar.on_train_epoch_start

    def record(trainer, *args):
        original(trainer, *args)
        bar.train_progress_bar.fp = io.StringIO()
        descriptions.append(bar.train_progress_bar.desc)

    bar.on_train_epoch_start = record
    trainer.fit(BoringModel())
    assert descriptions == ["epoch 1/2: ", "epoch 2/2: "]  # tqdm adds the colon
    assert "v_num" not in bar.get_metrics(trainer, trainer.lightning_module)
