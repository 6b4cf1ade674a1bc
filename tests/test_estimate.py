"""The training-time estimate: its arithmetic on known numbers, and what a run prints and when."""

import io
import math
import time
from types import SimpleNamespace

import lightning.pytorch as pl
import pytest
from lightning.pytorch.demos.boring_classes import BoringModel

from genbench import estimate
from genbench.estimate import QUICKER, TimeEstimate, duration, epochs_left, estimate_seconds
from genbench.training import EpochBar, make_trainer


def test_estimate_seconds_on_known_numbers():
    # 10 steps in 2 s: 0.2 s a step; 3 epochs of 100 steps, each with a 1 s validation
    assert estimate_seconds(10, 2.0, 100, 3, val_seconds=1.0) == pytest.approx(63.0)
    # half of this epoch and 2 more: 250 steps, but 3 validations still due
    assert estimate_seconds(10, 2.0, 100, 2.5, val_seconds=1.0) == pytest.approx(53.0)
    assert estimate_seconds(4, 1.0, 8, 0) == 0.0
    with pytest.raises(ValueError, match="steps_done"):
        estimate_seconds(0, 1.0, 8, 1)


def test_epochs_left_by_max_epochs_and_by_max_steps():
    # a quarter into epoch 3 (index 2) of 10, 100 batches an epoch
    assert epochs_left(2, 25, 100, 10) == pytest.approx(7.75)
    assert epochs_left(2, 25, 100, 10, step=225, max_steps=1000) == pytest.approx(7.75)
    assert epochs_left(2, 25, 100, 10, step=225, max_steps=500) == pytest.approx(2.75)
    # a GAN steps its two optimizers each batch: 550 steps left are 275 batches
    assert epochs_left(2, 25, 100, 10, 450, 1000, steps_per_batch=2) == pytest.approx(2.75)
    assert epochs_left(2, 25, 100, -1) == math.inf  # no limit at all
    assert epochs_left(9, 100, 100, 10) == 0.0


def test_duration_reads_as_a_person_would_say_it():
    assert [duration(s) for s in (8.34, 42.2, 250, 900, 7500, 7200)] == [
        "8.3 s", "42 s", "4 min 10 s", "15 min", "2 h 5 min", "2 h",
    ]  # fmt: skip


def fake_trainer(**changes):
    """What TimeEstimate reads from a Trainer, at the first epoch's 20th of 100 batches."""
    state = dict(
        global_step=20, current_epoch=0, num_training_batches=100, max_epochs=55, max_steps=-1,
        should_stop=False, early_stopping_callbacks=[object()], is_global_zero=True,
        strategy=SimpleNamespace(root_device=SimpleNamespace(type="cpu")),
    )  # fmt: skip
    return SimpleNamespace(**{**state, **changes})


def measured(trainer, seconds_a_batch=0.1, **kwargs):
    """A TimeEstimate that saw 20 batches of `seconds_a_batch` in this attempt."""
    callback = TimeEstimate(stream=io.StringIO(), **kwargs)
    callback.reset(trainer.global_step - 20, trainer.current_epoch)
    callback.started -= 20 * seconds_a_batch
    callback.mark = (callback.started, 0, 0.0)
    callback.batches = callback.epoch_batches = 20
    callback.said = True
    return callback


def test_the_pace_leaves_out_the_warm_up_batches_however_slow(monkeypatch):
    """Batches of about 2 s after a first batch of 5 s (one-time costs): the estimate waits
    for 3 batches after the warm-up and takes their pace, not the first batch's."""
    now = [0.0]
    monkeypatch.setattr(estimate.time, "perf_counter", lambda: now[0])
    trainer = fake_trainer(global_step=0, max_epochs=1, early_stopping_callbacks=[])
    trainer.val_dataloaders, trainer.num_val_batches, trainer.train_dataloader = None, 0, None
    callback = TimeEstimate(stream=io.StringIO())
    callback.on_train_start(trainer, None)
    for batch, seconds in enumerate([5.0, 2.0, 2.5, 1.5, 2.0]):
        now[0] += seconds
        trainer.global_step = batch + 1
        assert callback.stream.getvalue() == ""  # not before 3 batches after the warm-up
        callback.on_train_batch_end(trainer, None, None, None, batch)
    assert callback.estimated == pytest.approx(13 + 95 * 2.0)  # 100 batches in all
    assert "estimated training time: 3 min 23 s for 1 epoch\n" in callback.stream.getvalue()


def test_the_line_bounds_a_run_that_may_stop_early_and_records_the_total():
    trainer = fake_trainer()
    callback = measured(trainer)
    callback.announce(trainer)
    # 55 epochs of 100 batches at 0.1 s: 550 s, no validation data to guess from
    assert callback.estimated == pytest.approx(550, rel=0.01)
    assert callback.stream.getvalue() == (
        "genbench: estimated training time: 9 min 10 s for 55 epochs "
        "(at most; early stopping may end it sooner)\n"
    )


def test_a_resumed_run_estimates_what_is_left_and_rank_1_prints_nothing():
    trainer = fake_trainer(current_epoch=30, global_step=3020, early_stopping_callbacks=[])
    callback = measured(trainer, clock=SimpleNamespace(previous=300.0))
    callback.announce(trainer)
    # 25 epochs left less the 20 batches done: 2480 batches, 248 s, plus 300 s trained before
    assert callback.seconds_left(trainer) == pytest.approx(248 - 2, rel=0.01)
    assert callback.estimated == pytest.approx(548, rel=0.01)
    line = callback.stream.getvalue()
    assert line.startswith("genbench: estimated training time left: 4 min ")
    assert line.endswith(" for epochs 31-55 (resumed)\n")
    quiet = measured(fake_trainer(is_global_zero=False))
    quiet.announce(fake_trainer(is_global_zero=False))
    assert quiet.stream.getvalue() == "" and quiet.estimated is not None


def test_max_steps_bounds_the_estimate_and_is_named():
    trainer = fake_trainer(max_steps=520)  # 500 steps left at one a batch: 50 s
    callback = measured(trainer)
    callback.announce(trainer)
    assert callback.estimated == pytest.approx(52, rel=0.01)
    assert "for 520 steps" in callback.stream.getvalue()


def test_a_long_run_on_a_cpu_says_so_in_one_line_with_the_quicker_choices(monkeypatch):
    monkeypatch.setattr(estimate, "SLOW_ON_CPU_SECONDS", 500)  # the fake run's 550 s cross it
    said = {}
    for device, advice in (("cpu", QUICKER), ("cpu", None), ("cuda", QUICKER)):
        trainer = fake_trainer(strategy=SimpleNamespace(root_device=SimpleNamespace(type=device)))
        callback = measured(trainer, advice=advice)
        callback.announce(trainer)
        said[device, advice] = callback.stream.getvalue().splitlines()[1:]
    warning = "genbench: warning: that is over 8 min 20 s of training on a CPU"
    assert said["cpu", QUICKER] == [f"{warning}; quicker: {QUICKER}"]
    assert "--set trainer.preset=quick" in QUICKER and "--set trainer.max_epochs=N" in QUICKER
    assert said["cpu", None] == [warning]
    assert said["cuda", QUICKER] == []
    monkeypatch.setattr(estimate, "SLOW_ON_CPU_SECONDS", 600)
    callback = measured(fake_trainer(), advice=QUICKER)
    callback.announce(fake_trainer())
    assert "warning" not in callback.stream.getvalue()


def test_a_run_prints_its_estimate_before_its_first_epoch_line(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(estimate, "SLOW_ON_CPU_SECONDS", 0)
    settings = SimpleNamespace(
        max_epochs=2, max_steps=-1, batch_size=2, patience=0, accelerator="cpu", devices="1",
        strategy="auto", precision="32-true", gradient_clip_val=0.0, deterministic=False,
    )  # fmt: skip
    trainer, _, clock = make_trainer(settings, tmp_path, False, monitor=None, advice=QUICKER)
    started = time.perf_counter()
    trainer.fit(BoringModel())  # 64 batches an epoch
    lines = capsys.readouterr().err.splitlines()
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1/2"))
    said = [i for i, line in enumerate(lines) if "estimated training time: " in line]
    assert said and said[0] < first_epoch
    assert lines[said[0]].endswith(" for 2 epochs")  # no early stopping: no "at most"
    assert "warning: that is over 0.0 s of training on a CPU; quicker: a GPU" in lines[said[0] + 1]
    assert " eta " in lines[first_epoch]  # the time left of the whole run, after epoch 1 of 2
    recorded = estimate.find(trainer).estimated
    assert 0 < recorded <= time.perf_counter() - started + 5 and clock.seconds > 0


def test_the_bar_shows_the_time_left_of_the_whole_run(tmp_path):
    bar, callback = EpochBar(), TimeEstimate(stream=io.StringIO())
    trainer = pl.Trainer(
        max_epochs=2, limit_train_batches=4, limit_val_batches=1, callbacks=[callback, bar],
        default_root_dir=tmp_path, enable_model_summary=False, logger=False,
        enable_checkpointing=False,
    )  # fmt: skip
    shown = []
    original = bar.get_metrics

    def record(*args):
        metrics = original(*args)
        shown.append((trainer.current_epoch, metrics.get("run_left")))
        return metrics

    bar.get_metrics = record
    trainer.fit(BoringModel())
    assert shown[0] == (0, None)  # nothing until the pace is measured
    assert any(left for epoch, left in shown if epoch == 1)  # still shown in the last epoch
    assert "estimated training time: " in callback.stream.getvalue()
