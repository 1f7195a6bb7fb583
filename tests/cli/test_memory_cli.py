"""The memory tasks end to end: `rnnlab train adding|copy`, evaluate, predict, probe, and the length study."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from rnnlab.cli.main import main
from rnnlab.layers.base import RecurrentLayer
from rnnlab.tasks.adding_run import AddingConfig, train_adding
from rnnlab.studies.memory import adding_study, longest_beaten, study_configs, table_text
from rnnlab.tasks.registry import get_task

TINY = ["--hidden-size", "6", "--batch-size", "8", "--epochs", "2", "--train-sequences", "32",
        "--val-sequences", "16", "--test-sequences", "40", "--quiet"]


def fresh(*argv: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rnnlab", *argv], capture_output=True, text=True, env=env,
                          check=True).stdout


@pytest.fixture(scope="module")
def adding_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("adding") / "run"
    assert main(["train", "adding", "--length", "12", "--model", "lstm", "--forget-bias", "1.0", "--out", str(out),
                 *TINY]) == 0
    return out


def test_adding_round_trip_through_evaluate_and_predict(adding_run, capsys):
    out = adding_run
    capsys.readouterr()
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "loss.png", "report.html"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"] == "adding" and saved["config"]["length"] == 12
    trained = json.loads((out / "test_metrics.json").read_text())
    assert set(trained) == {"model", "mean"} and trained["mean"]["mse"] == pytest.approx(1 / 6, abs=0.1)

    assert main(["evaluate", str(out), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["metrics"] == trained  # the test sequences are regenerated exactly from the saved seed
    assert evaluated["length"] == 12 and evaluated["test_sequences"] == 40

    assert main(["predict", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5 and all(line.startswith(f"sequence {i}: ") for i, line in enumerate(lines))
    assert fresh("predict", str(out)).splitlines() == lines  # a fresh process answers the same


def test_adding_reads_no_data(adding_run, capsys):
    assert main(["evaluate", str(adding_run), "--data", "x.csv"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "generates its own sequences" in error and "'x.csv'" in error
    assert main(["predict", str(adding_run), "--text", "1 2"]) == 2
    assert "reads no --data or --text" in capsys.readouterr().err


def test_bad_option_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "adding", "--length", "0", "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "length must be a positive integer; received 0" in error
    assert not out.exists() and not out.with_name("run.partial").exists()


def test_copy_round_trip(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "copy", "--length", "5", "--copy-length", "3", "--symbols", "4", "--model", "gru",
                 "--out", str(out), *TINY]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert set(trained) == {"model", "memoryless"} and trained["memoryless"]["accuracy"] == 0.25
    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == trained
    assert main(["predict", str(out)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("sequence 0: shown ") and first.endswith("/3 right)")


def test_probe_keeps_the_contract_and_is_the_training_loss_on_test_sequences(adding_run):
    probe = get_task("adding").probe(adding_run, rows=3)
    assert probe.batch_size == 3 and probe.steps == 12 and probe.description == "3 test sequences of 12 steps"
    assert any(isinstance(module, RecurrentLayer) for module in probe.model.modules())
    assert not any(module.training for module in probe.model.modules())
    loss = probe.loss()
    assert loss.dim() == 0 and loss.requires_grad and torch.equal(loss, probe.loss())
    loss.backward()
    assert probe.model.recurrent.weight_hh_l0.grad.abs().sum() > 0
    # on every test sequence the probe's loss is the MSE that evaluate reports
    with pytest.raises(ValueError, match="rows must be a positive integer; received 0"):
        get_task("adding").probe(adding_run, rows=0)
    whole = get_task("adding").probe(adding_run, rows=1000)
    assert whole.batch_size == 40
    measured = json.loads((adding_run / "test_metrics.json").read_text())["model"]["mse"]
    assert float(whole.loss().detach()) == pytest.approx(measured, rel=1e-5)


def test_copy_probe(tmp_path):
    out = tmp_path / "copy"
    assert main(["train", "copy", "--length", "4", "--copy-length", "2", "--out", str(out), *TINY]) == 0
    probe = get_task("copy").probe(out, rows=5)
    assert probe.batch_size == 5 and probe.steps == 4 + 2 * 2
    assert probe.loss().dim() == 0


def test_tiny_study_trains_every_cell_and_length_with_one_budget(tmp_path):
    rows = adding_study(tmp_path / "study", lengths=(4, 8), seeds=(3,), updates=6, batch_size=8, hidden_size=4,
                        evaluations=2, test_sequences=50, jobs=2)
    assert [(r["length"], r["cell"], r["seed"]) for r in rows] == [(4, "rnn", 3), (4, "lstm", 3), (4, "gru", 3),
                                                                  (8, "rnn", 3), (8, "lstm", 3), (8, "gru", 3)]
    for r in rows:
        run_dir = tmp_path / "study" / f"T{r['length']}" / f"{r['cell']}-seed3"
        assert r["updates"] == 6 and r["run_dir"] == str(run_dir)
        assert json.loads((run_dir / "config.json").read_text())["config"]["hidden_size"] == 4
    assert {r["parameters"] for r in rows if r["cell"] == "lstm"} == {4 * (4 * 2 + 4 * 4 + 2 * 4) + 5}
    assert json.loads((tmp_path / "study" / "study.json").read_text()) == rows
    verdict = longest_beaten(rows)
    assert set(verdict) == {"rnn", "lstm", "gru"}
    assert all(set(v) == {"longest", "stops", "beaten"} for v in verdict.values())
    assert "mean predictor" in table_text(rows)

    # the runs went two at a time in worker processes; one of them trained here gives the same numbers
    config = study_configs(tmp_path / "again", cells=("gru",), lengths=(8,), seeds=(3,), updates=6, evaluations=2,
                           base=AddingConfig(hidden_size=4, batch_size=8, test_sequences=50, patience=0))[0]
    assert train_adding(config, quiet=True)["metrics"]["model"]["mse"] == rows[-1]["mse"]
