"""Callbacks: hook order and counts, stopping, EarlyStopping and user state across a resume,
Checkpoint every N steps, MetricsLogger, ProgressBar and TensorBoard as callbacks."""

from __future__ import annotations

import io
import json
import math
import sys

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnnlab.train import (
    Callback,
    Checkpoint,
    EarlyStopping,
    MetricsLogger,
    ProgressBar,
    TensorBoard,
    Trainer,
    TrainerOptions,
)

X = torch.randn(48, 3, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([[1.0], [2.0], [-1.0]]) + 0.5


def three_batches(epoch, generator):
    order = torch.randperm(len(X), generator=generator)
    return [(X[order[i:i + 16]], Y[order[i:i + 16]]) for i in range(0, len(X), 16)]


def worsening_validation():
    return [(X, -Y)]  # the opposite function: it gets worse as training improves


def trainer(callbacks=(), seed=0, **changes):
    torch.manual_seed(seed)
    run_dir = changes.pop("run_dir", None)
    options = TrainerOptions(**{"epochs": 2, "learning_rate": 0.05, "early_stopping_patience": 0, **changes})
    return Trainer(nn.Linear(3, 1), F.mse_loss, options, run_dir=run_dir, callbacks=callbacks, quiet=True)


def without_seconds(history):
    return [{key: value for key, value in record.items() if key != "seconds"} for record in history]


class Recorder(Callback):
    """Logs every hook call with what it received."""

    def __init__(self, log=None):
        self.log = [] if log is None else log

    def on_train_begin(self, trainer):
        self.log.append(("train_begin", trainer.epoch, trainer.global_step))

    def on_epoch_begin(self, trainer, epoch):
        self.log.append(("epoch_begin", epoch))

    def on_batch_end(self, trainer, batch):
        self.log.append(("batch_end", batch))

    def on_epoch_end(self, trainer, record):
        self.log.append(("epoch_end", record))

    def on_train_end(self, trainer, result):
        self.log.append(("train_end", result))


def test_hooks_are_called_in_order_with_the_run_s_records():
    recorder = Recorder()
    result = trainer([recorder]).fit(three_batches)
    names = [entry[0] for entry in recorder.log]
    epoch = ["epoch_begin", "batch_end", "batch_end", "batch_end", "epoch_end"]
    assert names == ["train_begin", *epoch, *epoch, "train_end"]
    assert recorder.log[0] == ("train_begin", 1, 0)
    assert [entry[1] for entry in recorder.log if entry[0] == "epoch_begin"] == [1, 2]
    batches = [entry[1] for entry in recorder.log if entry[0] == "batch_end"]
    assert [(b.epoch, b.index, b.num_batches, b.global_step) for b in batches] == [
        (1, 1, 3, 1), (1, 2, 3, 2), (1, 3, 3, 3), (2, 1, 3, 4), (2, 2, 3, 5), (2, 3, 3, 6)]
    for first in (0, 3):  # equal batch sizes: the running loss is the mean of the epoch's losses so far
        losses = [b.loss for b in batches[first:first + 3]]
        assert [b.running_loss for b in batches[first:first + 3]] == pytest.approx(
            [sum(losses[:n]) / n for n in (1, 2, 3)], rel=1e-12)
        assert result.history[first // 3]["train_loss"] == pytest.approx(np.mean(losses), rel=1e-12)
    assert [b.lr for b in batches] == [0.05] * 6
    records = [entry[1] for entry in recorder.log if entry[0] == "epoch_end"]
    assert records == result.history and recorder.log[-1] == ("train_end", result)


def test_user_callbacks_run_after_the_log_and_before_run_dir_s_checkpoint(tmp_path):
    seen = []

    class ReadsTheRunDir(Callback):
        def on_epoch_end(self, trainer, record):
            lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
            pointer = tmp_path / "checkpoint" / "checkpoint.json"
            saved = checkpointed_state(tmp_path / "checkpoint")["epoch"] if pointer.exists() else None
            seen.append(("callback", len(lines), saved, trainer.epoch))

    fitting = trainer([ReadsTheRunDir()], run_dir=tmp_path)
    fitting.on_epoch_end = lambda record: seen.append(("function", record["epoch"]))
    fitting.fit(three_batches)
    # the epoch is logged already, but its checkpoint comes after the callback (it holds what the
    # callback did): at epoch 1's end there is none yet, at epoch 2's the one of epoch 1 (naming epoch 2)
    assert seen == [("callback", 1, None, 2), ("function", 1), ("callback", 2, 2, 3), ("function", 2)]


def test_a_user_callback_s_state_is_in_the_epoch_s_checkpoint(tmp_path):
    fitting = trainer([EpochCounter()], run_dir=tmp_path, epochs=2)
    fitting.fit(three_batches)
    assert checkpointed_state(tmp_path / "checkpoint")["callbacks"]["EpochCounter"] == {"epochs_seen": 2}


def test_a_callback_that_sets_stop_training_ends_the_run_after_that_epoch():
    class StopAfterFirstEpoch(Callback):
        def on_epoch_end(self, trainer, record):
            trainer.stop_training = record["epoch"] == 1

    result = trainer([StopAfterFirstEpoch()], epochs=5).fit(three_batches)
    assert [record["epoch"] for record in result.history] == [1]
    assert result.stopped_early and result.steps == 3


def test_a_stop_asked_for_mid_epoch_takes_effect_at_the_epoch_s_end():
    class StopAtSecondBatch(Callback):
        def on_batch_end(self, trainer, batch):
            if batch.global_step == 2:
                trainer.stop_training = True

    result = trainer([StopAtSecondBatch()], epochs=5).fit(three_batches)
    assert len(result.history) == 1 and result.steps == 3 and result.stopped_early


class Interrupted(Exception):
    """Stands in for a crash."""


class InterruptAt(Callback):
    """Raises after the given optimizer step, or at the given epoch's end (after the built-ins)."""

    def __init__(self, *, step=None, epoch=None):
        self.step, self.epoch = step, epoch

    def on_batch_end(self, trainer, batch):
        if batch.global_step == self.step:
            raise Interrupted

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.epoch:
            raise Interrupted


class EpochCounter(Callback):
    """A user callback with state a resume must restore."""

    def __init__(self):
        self.epochs_seen = 0

    def on_epoch_end(self, trainer, record):
        self.epochs_seen += 1

    def state_dict(self):
        return {"epochs_seen": self.epochs_seen}

    def load_state_dict(self, state):
        self.epochs_seen = state["epochs_seen"]


def checkpointed_state(directory):
    pointer = json.loads((directory / "checkpoint.json").read_text())
    return json.loads((directory / pointer["current"] / "trainer_state.json").read_text())["state"]


def assert_same_run(result, model, expected, expected_model):
    assert result.stopped_early == expected.stopped_early
    assert without_seconds(result.history) == without_seconds(expected.history)
    for ours, theirs in zip(model.parameters(), expected_model.parameters(), strict=True):
        assert torch.equal(ours, theirs)


INTERRUPTIONS = pytest.mark.parametrize("interruption", [{"epoch": 3}, {"step": 10}],
                                        ids=["at-epoch-end", "mid-epoch"])


@INTERRUPTIONS
def test_early_stopping_counters_survive_a_resume(tmp_path, interruption):
    def run(run_dir, callbacks=(), resume=False, seed=0):
        # the interruption comes after the checkpoint, so that the epoch it ends is checkpointed
        checkpoint = Checkpoint(run_dir / "checkpoint", every_steps=1)
        fitting = trainer([checkpoint, *callbacks], seed=seed, epochs=20, early_stopping_patience=3)
        return fitting.fit(three_batches, worsening_validation, resume=resume), fitting.module

    expected, expected_model = run(tmp_path / "reference")
    assert expected.stopped_early and expected.best_epoch == 1 and len(expected.history) == 4
    with pytest.raises(Interrupted):
        run(tmp_path / "interrupted", [InterruptAt(**interruption)])
    state = checkpointed_state(tmp_path / "interrupted" / "checkpoint")
    assert state["callbacks"]["EarlyStopping"] == {"best": expected.best_val_loss, "wait": 2}  # epochs 2, 3
    assert not state["stopped_early"]
    # another seed: all that matters must come from the checkpoint; a fresh EarlyStopping would wait
    # until epoch 7 (its best would be epoch 4's loss)
    assert_same_run(*run(tmp_path / "interrupted", resume=True, seed=1), expected, expected_model)


@INTERRUPTIONS
def test_a_stateful_callback_placed_before_the_checkpoint_resumes_exactly(tmp_path, interruption):
    def run(directory, extra=(), resume=False, seed=0):
        counter = EpochCounter()
        callbacks = [EarlyStopping(patience=3), counter, Checkpoint(directory, every_steps=1), *extra]
        fitting = trainer(callbacks, seed=seed, epochs=20)
        result = fitting.fit(three_batches, worsening_validation, resume=resume)
        return result, fitting.module, counter

    expected, expected_model, expected_counter = run(tmp_path / "reference")
    with pytest.raises(Interrupted):
        run(tmp_path / "interrupted", [InterruptAt(**interruption)])
    assert checkpointed_state(tmp_path / "interrupted")["callbacks"]["EpochCounter"] == {"epochs_seen": 3}
    result, model, counter = run(tmp_path / "interrupted", resume=True, seed=1)
    assert_same_run(result, model, expected, expected_model)
    assert counter.epochs_seen == expected_counter.epochs_seen == 4


def improving_validation():
    return [(X, Y)]


def test_early_stopping_min_delta_demands_a_margin():
    plain = trainer([EarlyStopping(patience=2)], epochs=6).fit(three_batches, improving_validation)
    strict = trainer([EarlyStopping(patience=2, min_delta=10.0)], epochs=6).fit(three_batches, improving_validation)
    assert not plain.stopped_early and len(plain.history) == 6
    val = [record["val_loss"] for record in strict.history]
    assert val[2] < val[1] < val[0] and val[0] - val[2] < 10.0  # improving, but by less than min_delta
    assert strict.stopped_early and len(strict.history) == 3 and strict.best_epoch == 3


def test_early_stopping_needs_validation_and_valid_arguments():
    with pytest.raises(ValueError, match="EarlyStopping needs a validation loss: .* val_loss=None at epoch 1"):
        trainer([EarlyStopping(patience=2)]).fit(three_batches)
    with pytest.raises(ValueError, match="patience must be a positive integer; received 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta must be >= 0; received -0.1"):
        EarlyStopping(patience=1, min_delta=-0.1)


def test_checkpoint_every_n_steps_and_at_each_epoch_end(tmp_path):
    seen = []

    def current():
        state = checkpointed_state(tmp_path)
        return state["global_step"], state["epoch"], state["batches_done"]

    class WatchesTheCheckpoint(Callback):
        def on_batch_end(self, trainer, batch):
            seen.append(current() if (tmp_path / "checkpoint.json").exists() else None)

        def on_epoch_end(self, trainer, record):
            seen.append(current())

    trainer([Checkpoint(tmp_path, every_steps=2), WatchesTheCheckpoint()]).fit(three_batches)
    assert seen == [None, (2, 1, 2), (2, 1, 2), (3, 2, 0),  # steps 2 and 3 (the epoch's end)
                    (4, 2, 1), (4, 2, 1), (6, 2, 3), (6, 3, 0)]  # step 6 twice: its batch, then the epoch's end
    with pytest.raises(ValueError, match="every_steps must be a non-negative integer; received -1"):
        Checkpoint(tmp_path, every_steps=-1)


def test_resume_uses_the_checkpoint_callback_without_a_run_dir(tmp_path):
    expected = trainer(epochs=3).fit(three_batches)
    with pytest.raises(Interrupted):
        trainer([Checkpoint(tmp_path), InterruptAt(epoch=2)], epochs=3).fit(three_batches)
    resumed = trainer([Checkpoint(tmp_path)], epochs=3, seed=1)
    result = resumed.fit(three_batches, resume=True)
    assert without_seconds(result.history) == without_seconds(expected.history) and result.steps == 9


def test_resuming_a_checkpoint_with_unknown_run_state_names_it(tmp_path):
    trainer(run_dir=tmp_path).fit(three_batches)
    pointer = json.loads((tmp_path / "checkpoint" / "checkpoint.json").read_text())
    path = tmp_path / "checkpoint" / pointer["current"] / "trainer_state.json"
    saved = json.loads(path.read_text())
    saved["state"]["bad_epochs"] = 0  # as the trainer wrote it before EarlyStopping was a callback
    path.write_text(json.dumps(saved))
    with pytest.raises(ValueError, match=r"has run state this Trainer does not know; received \['bad_epochs'\]"):
        trainer(run_dir=tmp_path).fit(three_batches, resume=True)


def test_metrics_logger_and_progress_bar_as_user_callbacks(tmp_path):
    path = tmp_path / "logs" / "metrics.jsonl"
    path.parent.mkdir()
    path.write_text('{"epoch": 1, "train_loss": 9.0}\n{"epoch": 2, "tor')  # an old run's lines
    stream = io.StringIO()  # not a terminal: one line per epoch
    result = trainer([MetricsLogger(path), ProgressBar(stream=stream)], epochs=2).fit(three_batches)
    assert [json.loads(line) for line in path.read_text().splitlines()] == json.loads(json.dumps(result.history))
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]  # epochs from the options


def test_callbacks_must_be_callbacks():
    with pytest.raises(TypeError, match="callbacks\\[1\\] must be a Callback; received function"):
        trainer([Recorder(), lambda trainer: None])


def test_tensorboard_without_the_package_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # makes the import fail
    with pytest.raises(ValueError, match="TensorBoard needs the tensorboard package: pip install tensorboard"):
        TensorBoard(tmp_path)


def scalars(directory, tag):
    """(step, value) pairs of `tag` in the event files of `directory`, as TensorBoard reads them."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(directory))
    accumulator.Reload()
    return [(event.step, event.value) for event in accumulator.Scalars(tag)]


def float32(value):
    return float(np.float32(value))  # event files store scalars as float32


def test_tensorboard_logs_the_history_per_epoch_and_the_loss_per_step(tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard tests need the tensorboard package")
    recorder = Recorder()
    result = trainer([TensorBoard(tmp_path), recorder], epochs=3).fit(three_batches, improving_validation)
    for name in ("train_loss", "val_loss", "lr"):
        assert scalars(tmp_path / "epoch", name) == [(r["epoch"], float32(r[name])) for r in result.history]
    batches = [entry[1] for entry in recorder.log if entry[0] == "batch_end"]
    assert scalars(tmp_path / "batch", "batch_loss") == [(b.global_step, float32(b.loss)) for b in batches]
    assert len(batches) == 9


def test_tensorboard_after_a_resume_holds_each_step_once(tmp_path):
    pytest.importorskip("tensorboard", reason="TensorBoard tests need the tensorboard package")
    expected_dir, resumed_dir = tmp_path / "expected", tmp_path / "resumed"
    trainer([TensorBoard(expected_dir)], epochs=3).fit(three_batches, worsening_validation)

    board = TensorBoard(resumed_dir)
    interrupted = trainer([board, Checkpoint(tmp_path / "checkpoint", every_steps=2), InterruptAt(step=5)],
                          epochs=3)
    with pytest.raises(Interrupted):  # step 5 is logged, the last checkpoint is at step 4
        interrupted.fit(three_batches, worsening_validation)
    board.on_train_end(interrupted, None)  # writes out what was logged, as the process's exit would
    assert [step for step, _ in scalars(resumed_dir / "batch", "batch_loss")] == [1, 2, 3, 4, 5]

    trainer([TensorBoard(resumed_dir), Checkpoint(tmp_path / "checkpoint", every_steps=2)], epochs=3).fit(
        three_batches, worsening_validation, resume=True)
    for kind, tag in (("batch", "batch_loss"), ("epoch", "train_loss"), ("epoch", "val_loss")):
        assert scalars(resumed_dir / kind, tag) == scalars(expected_dir / kind, tag)
    assert [step for step, _ in scalars(resumed_dir / "batch", "batch_loss")] == list(range(1, 10))
    assert all(math.isfinite(value) for _, value in scalars(resumed_dir / "epoch", "val_loss"))
