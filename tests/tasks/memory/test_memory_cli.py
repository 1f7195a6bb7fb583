"""The memory tasks from the command line and from Python: what they print, read and probe."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnlab.cli.main import main
from rnnlab.layers.base import RecurrentLayer
from rnnlab.tasks.memory import AddingProblem, CopyProblem

TINY = dict(hidden_size=6, batch_size=8, epochs=2, train_sequences=32, val_sequences=16, test_sequences=40)


def flags(settings: dict) -> list[str]:
    return [word for name, value in settings.items() for word in ("--" + name.replace("_", "-"), str(value))]


@pytest.fixture(scope="module")
def adding_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("adding") / "run"
    assert main(["train", "adding", "--length", "12", "--model", "lstm", "--forget-bias", "1.0", "--out", str(out),
                 *flags(TINY), "--quiet"]) == 0
    return out


def test_adding_runs_hold_the_mean_baseline_and_print_five_examples(adding_run, capsys):
    capsys.readouterr()
    saved = json.loads((adding_run / "config.json").read_text())
    assert saved["task"] == "adding" and saved["config"]["length"] == 12 and "out" not in saved["config"]
    trained = json.loads((adding_run / "test_metrics.json").read_text())
    assert set(trained) == {"model", "mean"} and trained["mean"]["mse"] == pytest.approx(1 / 6, abs=0.1)
    assert main(["evaluate", str(adding_run), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["length"] == 12 and evaluated["test_sequences"] == 40
    assert main(["predict", str(adding_run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith(f"sequence {i}: ") for i, line in enumerate(lines))


def test_adding_reads_no_data(adding_run, capsys):
    assert main(["evaluate", str(adding_run), "--data", "x.csv"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "generates its own sequences" in error and "'x.csv'" in error
    assert main(["predict", str(adding_run), "--text", "1 2"]) == 2
    assert "reads no data or text; received text '1 2'" in capsys.readouterr().err


def test_copy_scores_the_copied_symbols_against_the_memoryless_strategy(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "copy", "--length", "5", "--copy-length", "3", "--symbols", "4", "--model", "gru",
                 "--out", str(out), *flags(TINY), "--quiet"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert set(trained) == {"model", "memoryless"} and trained["memoryless"]["accuracy"] == 0.25
    assert main(["predict", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("sequence 0: shown ") and first.endswith("/3 right)")


def test_the_probe_is_the_training_loss_on_the_test_sequences(adding_run):
    problem = AddingProblem.load(adding_run)
    probe = problem.probe(3)
    assert probe.batch_size == 3 and probe.steps == 12 and probe.description == "3 test sequences of 12 steps"
    assert any(isinstance(module, RecurrentLayer) for module in probe.model.modules())
    assert not any(module.training for module in probe.model.modules())
    loss = probe.loss()
    assert loss.dim() == 0 and loss.requires_grad and torch.equal(loss, probe.loss())
    loss.backward()
    assert probe.model.recurrent.weight_hh_l0.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="rows must be a positive integer; received 0"):
        problem.probe(0)
    whole = problem.probe(1000)  # a run has test_sequences of them: asking for more gives them all
    assert whole.batch_size == 40
    # on every test sequence the probe's loss is the MSE that evaluate reports
    assert float(whole.loss().detach()) == pytest.approx(problem.test_metrics_["model"]["mse"], rel=1e-5)


def test_predict_answers_sequences_given_in_memory(adding_run):
    problem = AddingProblem.load(adding_run)
    inputs, targets = problem.task_.held_out()
    answers = problem.predict(inputs.numpy())
    assert answers.shape == (40,) and answers.dtype == np.float64
    mse = float(np.mean((answers - targets.flatten().numpy()) ** 2))
    assert mse == pytest.approx(problem.test_metrics_["model"]["mse"], rel=1e-5)
    with pytest.raises(ValueError, match=r"inputs must have shape \(N, T, 2\); received \(40, 12\)"):
        problem.predict(inputs[..., 0].numpy())


def test_copy_predicts_a_symbol_at_every_step_and_probes_every_step(tmp_path):
    problem = CopyProblem(length=4, copy_length=2, **TINY).fit()
    inputs, _ = problem.task_.held_out()
    assert problem.predict(inputs[:3].numpy()).shape == (3, 4 + 2 * 2)
    probe = problem.probe(5)
    assert probe.batch_size == 5 and probe.steps == 4 + 2 * 2 and probe.loss().dim() == 0
    with pytest.raises(ValueError, match="reads no data or text"):
        problem.fit() and problem.evaluate("x.csv")
