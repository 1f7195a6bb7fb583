"""Trainer: learning, clipping, early stopping, non-finite losses, schedules, determinism, TBPTT, logs."""

from __future__ import annotations

import io
import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import rnnlab
from rnnlab.train import NonFiniteLossError, ProgressBar, Trainer, TrainerOptions, build_optimizer, build_scheduler

X = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
Y = X @ torch.tensor([[1.0], [2.0], [-1.0]]) + 0.5


def shuffled_batches(xs, ys, batch_size=16):
    def batches(epoch, generator):
        order = torch.randperm(len(xs), generator=generator)
        return [(xs[order[i:i + batch_size]], ys[order[i:i + batch_size]]) for i in range(0, len(xs), batch_size)]
    return batches


def linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(3, 1)


def options(**changes):
    return TrainerOptions(**{"epochs": 5, "learning_rate": 0.05, **changes})


def test_learns_a_tiny_regression():
    trainer = Trainer(linear(), F.mse_loss, options(epochs=40), run_dir=None, quiet=True)
    result = trainer.fit(shuffled_batches(X, Y))
    losses = [record["train_loss"] for record in result.history]
    assert losses[-1] < 0.01 * losses[0]
    assert result.steps == 40 * 4 and result.best_epoch is None and not result.stopped_early


def recorded_gradients(trainer):
    """Gradients as the optimizer sees them, i.e. after clipping."""
    seen = []
    trainer.optimizer.register_step_pre_hook(
        lambda optimizer, args, kwargs: seen.append([p.grad.clone() for p in trainer.module.parameters()]))
    return seen


def huge_loss(outputs, targets):
    return 1e6 * F.mse_loss(outputs, targets)


def test_clipping_by_norm_bounds_the_global_gradient_norm():
    trainer = Trainer(linear(), huge_loss, options(epochs=1, grad_clip_norm=0.5), run_dir=None, quiet=True)
    seen = recorded_gradients(trainer)
    trainer.fit(shuffled_batches(X, Y))
    norms = [torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])) for grads in seen]
    assert len(norms) == 4 and all(0.49 < norm <= 0.5 + 1e-5 for norm in norms)


def test_clipping_by_value_bounds_every_element():
    trainer = Trainer(linear(), huge_loss, options(epochs=1, grad_clip_norm=0.0, grad_clip_value=0.01),
                      run_dir=None, quiet=True)
    seen = recorded_gradients(trainer)
    trainer.fit(shuffled_batches(X, Y))
    assert all(g.abs().max() <= 0.01 for grads in seen for g in grads)
    assert any(g.abs().max() == 0.01 for grads in seen for g in grads)  # it did clip


def test_without_clipping_the_gradients_are_huge():
    trainer = Trainer(linear(), huge_loss, options(epochs=1, grad_clip_norm=0.0), run_dir=None, quiet=True)
    seen = recorded_gradients(trainer)
    trainer.fit(shuffled_batches(X, Y))
    assert max(g.abs().max() for grads in seen for g in grads) > 1e3


def test_early_stopping_stops_and_restores_the_best_weights():
    # validation wants the opposite function, so it gets worse as training improves
    snapshots = {}
    trainer = Trainer(linear(), F.mse_loss, options(epochs=50, early_stopping_patience=3), run_dir=None,
                      quiet=True, on_epoch_end=lambda record: snapshots.__setitem__(
                          record["epoch"], {k: v.clone() for k, v in trainer.module.state_dict().items()}))
    result = trainer.fit(shuffled_batches(X, Y), lambda: [(X, -Y)])
    val = [record["val_loss"] for record in result.history]
    assert result.stopped_early and len(result.history) == result.best_epoch + 3
    assert val[result.best_epoch - 1] == min(val) == result.best_val_loss
    for key, value in trainer.module.state_dict().items():
        assert torch.equal(value, snapshots[result.best_epoch][key])


def with_nan_at(epoch_bad, step_bad):
    base = shuffled_batches(X, Y)

    def batches(epoch, generator):
        result = base(epoch, generator)
        if epoch == epoch_bad:
            inputs, targets = result[step_bad - 1]
            result[step_bad - 1] = (inputs.clone().fill_(float("nan")), targets)
        return result
    return batches


def test_nonfinite_stop_names_epoch_step_and_value():
    trainer = Trainer(linear(), F.mse_loss, options(), run_dir=None, quiet=True)
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss nan at epoch 2, step 3") as caught:
        trainer.fit(with_nan_at(2, 3))
    assert (caught.value.epoch, caught.value.step) == (2, 3)


def test_nonfinite_skip_skips_exactly_the_bad_batch():
    skipping = Trainer(linear(), F.mse_loss, options(nonfinite="skip"), run_dir=None, quiet=True)
    with pytest.warns(RuntimeWarning, match=r"skipping the batch at epoch 2, step 3"):
        result = skipping.fit(with_nan_at(2, 3))
    assert result.steps == 5 * 4 - 1

    base = shuffled_batches(X, Y)

    def without_the_batch(epoch, generator):
        batches = base(epoch, generator)
        return batches[:2] + batches[3:] if epoch == 2 else batches
    reference = Trainer(linear(), F.mse_loss, options(), run_dir=None, quiet=True)
    reference.fit(without_the_batch)
    for ours, theirs in zip(skipping.module.parameters(), reference.module.parameters(), strict=True):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize(("name", "expected"), [
    (None, [1.0] * 12),
    ("constant", [1.0] * 12),
    ("step", [1.0] * 4 + [0.5] * 4 + [0.25] * 4),
    ("linear", [1 - s / 12 for s in range(12)]),
    ("cosine", [0.5 * (1 + torch.cos(torch.tensor(torch.pi * s / 12)).item()) for s in range(12)]),
])
def test_schedules_follow_their_formulas(name, expected):
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], "sgd", 0.1)
    scheduler = build_scheduler(optimizer, name, total_steps=12)
    lrs = []
    for _ in range(12):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.1 * factor for factor in expected])


def test_warmup_rises_linearly_then_the_schedule_starts():
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], "adam", 1.0)
    scheduler = build_scheduler(optimizer, "linear", total_steps=6, warmup_steps=2)
    lrs = []
    for _ in range(6):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.5, 1.0, 1.0, 0.75, 0.5, 0.25])


def test_trainer_applies_the_schedule_per_step():
    trainer = Trainer(linear(), F.mse_loss, options(epochs=3, schedule="step"), run_dir=None, quiet=True)
    result = trainer.fit(shuffled_batches(X, Y))  # 12 steps: lr after epochs 1, 2, 3
    assert [record["lr"] for record in result.history] == pytest.approx([0.05, 0.025, 0.0125])


@pytest.mark.parametrize(("call", "message"), [
    (lambda: build_optimizer([nn.Parameter(torch.zeros(1))], "rmsprop", 0.1),
     "optimizer name must be one of 'adam', 'adamw', 'sgd'; received 'rmsprop'"),
    (lambda: build_scheduler(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1), "exp", 10),
     "schedule name must be None or one of 'constant', 'cosine', 'step', 'linear'; received 'exp'"),
    (lambda: TrainerOptions(nonfinite="ignore"), "nonfinite must be 'stop' or 'skip'; received 'ignore'"),
    (lambda: TrainerOptions(epochs=0), "epochs must be a positive integer; received 0"),
    (lambda: TrainerOptions(grad_clip_norm=-1.0), "grad_clip_norm must be >= 0 .*received -1.0"),
])
def test_bad_arguments_name_themselves_and_the_value(call, message):
    with pytest.raises(ValueError, match=message):
        call()


class LastStep(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = rnnlab.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, xs):
        ys, _ = self.lstm(xs)
        return self.head(ys[:, -1])


def train_lstm(seed):
    torch.manual_seed(0)
    model = LastStep()
    xs = torch.randn(32, 6, 3, generator=torch.Generator().manual_seed(1))
    ys = xs.sum(dim=(1, 2)).unsqueeze(1)
    Trainer(model, F.mse_loss, options(epochs=3, seed=seed), run_dir=None, quiet=True).fit(
        shuffled_batches(xs, ys, batch_size=8))
    return model.state_dict()


def test_same_seed_gives_bitwise_equal_weights():
    first, second, other = train_lstm(seed=0), train_lstm(seed=0), train_lstm(seed=1)
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)  # the seed does change the order


class Tagger(nn.Module):
    """A SupportsTruncatedBPTT model: (B, T, 3) -> (B, T, 1), carrying the LSTM state."""

    def __init__(self):
        super().__init__()
        self.lstm = rnnlab.LSTM(3, 8, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, xs, state=None):
        ys, state = self.lstm(xs, state)
        return self.head(ys), state


def train_tagger(tbptt_steps):
    torch.manual_seed(0)
    model = Tagger().double()
    xs = torch.randn(16, 12, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ys = xs.cumsum(dim=1)[..., :1] * 0.1
    trainer = Trainer(model, F.mse_loss, options(epochs=2, tbptt_steps=tbptt_steps, grad_clip_norm=0.0),
                      run_dir=None, quiet=True)
    return trainer.fit(shuffled_batches(xs, ys, batch_size=8)), model


def test_tbptt_with_one_chunk_equals_full_backpropagation():
    result_full, full = train_tagger(tbptt_steps=12)
    _, plain = train_tagger(tbptt_steps=24)
    result_chunked, chunked = train_tagger(tbptt_steps=4)
    for a, b, c in zip(full.parameters(), plain.parameters(), chunked.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert not torch.allclose(a, c)  # truncation changes the gradient
    assert result_chunked.steps == result_full.steps == 4  # one optimizer step per batch either way


def test_metrics_jsonl_has_one_line_per_epoch(tmp_path):
    trainer = Trainer(linear(), F.mse_loss, options(epochs=3), run_dir=tmp_path, quiet=True)
    result = trainer.fit(shuffled_batches(X, Y), lambda: [(X, Y)])
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2, 3]
    assert set(lines[0]) == {"epoch", "train_loss", "val_loss", "lr", "seconds", "steps"}
    assert lines == json.loads(json.dumps(result.history))


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_redraws_in_place_on_a_terminal_and_prints_one_line_per_epoch_elsewhere():
    record = {"epoch": 1, "train_loss": 0.5, "val_loss": None, "lr": 0.1, "seconds": 1.0}
    terminal, log, silent = FakeTerminal(), io.StringIO(), FakeTerminal()
    for stream, quiet in ((terminal, False), (log, False), (silent, True)):
        bar = ProgressBar(2, quiet=quiet, stream=stream)
        bar.step(1, 4, 4, 0.25)
        bar.epoch_end(record)
    assert terminal.getvalue().startswith("\repoch 1/2  step 4/4  loss 0.25")
    assert terminal.getvalue().count("\n") == 1
    assert log.getvalue() == "epoch 1/2  train_loss 0.5  lr 0.1  1.0s\n"
    assert silent.getvalue() == ""


def test_amp_on_cpu_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="amp=True is ignored on device cpu"):
        Trainer(linear(), F.mse_loss, options(amp=True), run_dir=None, quiet=True)


def test_resume_without_run_dir_is_an_error():
    trainer = Trainer(linear(), F.mse_loss, options(), run_dir=None, quiet=True)
    with pytest.raises(ValueError, match="resume=True needs a run_dir; received run_dir=None"):
        trainer.fit(shuffled_batches(X, Y), resume=True)
