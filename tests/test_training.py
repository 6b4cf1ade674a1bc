"""The terminal progress bar counts epochs from 1, as the plain lines do, without v_num; the
best epoch's weights are kept in memory and written once."""

import io
from types import SimpleNamespace

import lightning.pytorch as pl
import torch
from lightning.pytorch.demos.boring_classes import BoringModel

from genbench.training import EpochBar, make_trainer


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


class ScriptedValidation(BoringModel):
    """A BoringModel whose val_loss per epoch is scripted, recording its weights at each."""

    def __init__(self, losses: list[float]) -> None:
        super().__init__()
        self.losses, self.weights = losses, []

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self.losses[self.current_epoch])

    def on_validation_epoch_end(self) -> None:
        self.weights.append(self.layer.weight.detach().clone())


def settings(**changes):
    return SimpleNamespace(**{
        "max_epochs": 4, "max_steps": -1, "batch_size": 2, "patience": 0, "accelerator": "cpu",
        "devices": "1", "strategy": "auto", "precision": "32-true", "gradient_clip_val": 0.0,
        "deterministic": False, **changes,
    })  # fmt: skip


def test_the_best_epochs_weights_are_kept_and_written_once_at_the_end(tmp_path):
    module = ScriptedValidation([3.0, 1.0, float("nan"), 2.0])
    trainer, best, _ = make_trainer(settings(), tmp_path, False, monitor="val_loss")
    trainer.limit_train_batches = trainer.limit_val_batches = 2
    trainer.fit(module)
    assert best.epoch == 1 and best.score == 1.0  # NaN never counts as an improvement
    assert torch.equal(best.state_dict_["layer.weight"], module.weights[1])
    assert not torch.equal(module.weights[1], module.weights[3])  # it did train on
    stored = torch.load(tmp_path / "checkpoints" / "best.ckpt", weights_only=True)
    assert stored["epoch"] == 1 and torch.equal(
        stored["state_dict"]["layer.weight"], module.weights[1]
    )
    checkpoints = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.ckpt"))
    assert checkpoints == ["checkpoints/best.ckpt", "checkpoints/last.ckpt"]  # no Lightning default


def test_without_a_monitor_the_last_epoch_is_best(tmp_path):
    module = ScriptedValidation([3.0, 1.0])
    trainer, best, _ = make_trainer(settings(max_epochs=2), tmp_path, False, monitor=None)
    trainer.limit_train_batches = trainer.limit_val_batches = 2
    trainer.fit(module)
    assert best.epoch == 1 and torch.equal(best.state_dict_["layer.weight"], module.layer.weight)
