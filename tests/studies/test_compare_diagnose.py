"""`rnnlab compare TASK` and `rnnlab diagnose DIR` end to end on tiny runs, and `compare` from Python."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import rnnlab
from rnnlab.cli.main import main
from rnnlab.studies.compare import compare

TINY_FORECAST = ["--data", "airline", "--epochs", "2", "--hidden-size", "4"]


def test_compare_trains_each_model_for_each_seed_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", "forecast", *TINY_FORECAST, "--models", "rnn", "gru", "--seeds", "0", "1",
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "RNN" in printed and "GRU" in printed and "seasonal_naive" in printed
    assert "run 1 of 4: RNN seed 0: mase" in printed and "run 4 of 4: GRU seed 1: mase" in printed
    result = json.loads((out / "compare.json").read_text())
    assert [row["name"] for row in result["rows"]] == ["RNN", "GRU"]
    assert [(run["name"], run["seed"]) for run in result["runs"]] == [("RNN", 0), ("RNN", 1), ("GRU", 0), ("GRU", 1)]
    for row in result["rows"]:
        mine = [run["metric"] for run in result["runs"] if run["name"] == row["name"]]
        assert row["metric"] == pytest.approx(sum(mine) / 2)
        assert row["metric_spread"] == pytest.approx(abs(mine[0] - mine[1]) / math.sqrt(2))
        assert row["saved_bytes"] > 0 and row["inference_ms"] > 0 and row["parameters"] > 0
    # the GRU has three gate blocks to the RNN's one: about three times the recurrent parameters
    assert result["rows"][1]["parameters"] > 2 * result["rows"][0]["parameters"]
    for name in ("RNN", "GRU"):
        layers = result["flow"][name]["layers"]
        assert len(next(iter(layers.values()))["norms"]) == 12  # one per step of a 12-step window
    for run in result["runs"]:
        assert (Path(run["run_dir"]) / "model.safetensors").is_file()
    html = (out / "report.html").read_text()
    assert html.count("<img") >= 5 and "gradient flow through time" in html
    assert not (tmp_path / "cmp.partial").exists()


def test_compare_can_vary_a_setting(tmp_path):
    out = tmp_path / "cmp"
    assert main(["compare", "forecast", *TINY_FORECAST, "--models", "lstm", "--seeds", "0",
                 "--vary", "hidden_size=4,6", "--out", str(out)]) == 0
    rows = json.loads((out / "compare.json").read_text())["rows"]
    assert [row["name"] for row in rows] == ["LSTM hidden_size=4", "LSTM hidden_size=6"]
    assert rows[0]["parameters"] < rows[1]["parameters"]


@pytest.mark.parametrize("vary,message", [("width=4,6", "vary must be SETTING=V1,V2 with a setting of this task"),
                                          ("hidden_size=four", "vary values must be of hidden_size's type int"),
                                          ("hidden_size=", "vary must be SETTING=V1,V2")])
def test_compare_refuses_a_bad_vary_before_writing(tmp_path, capsys, vary, message):
    out = tmp_path / "cmp"
    assert main(["compare", "forecast", *TINY_FORECAST, "--vary", vary, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert message in error and repr(vary.partition("=")[2] if "type" in message else vary) in error
    assert len(error.strip().splitlines()) == 1
    assert not out.exists() and not (tmp_path / "cmp.partial").exists()


@pytest.mark.parametrize("vary", ["seed=1,2", "model=rnn,gru"])
def test_compare_refuses_to_vary_what_it_crosses_already(tmp_path, capsys, vary):
    # `--vary seed=1,2` used to crash with a traceback and leave cmp.partial behind, and
    # `--models gru --vary model=rnn,gru` trained an RNN and labelled it GRU
    out = tmp_path / "cmp"
    assert main(["compare", "forecast", *TINY_FORECAST, "--models", "gru", "--vary", vary, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"vary cannot name '{vary.partition('=')[0]}'" in error
    assert not out.exists() and not (tmp_path / "cmp.partial").exists()


def test_a_run_that_fails_midway_leaves_nothing_behind(tmp_path, monkeypatch):
    from rnnlab.tasks.forecast import ForecastTask

    calls = []

    def fails_the_second_time(self, model, prepared):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the machine caught fire")
        return original(self, model, prepared)

    original = ForecastTask.score
    monkeypatch.setattr(ForecastTask, "score", fails_the_second_time)
    with pytest.raises(RuntimeError, match="caught fire"):
        compare(rnnlab.Forecaster(epochs=1, hidden_size=4), "airline", tmp_path / "cmp", models=("rnn", "gru"),
                log=lambda line: None)
    assert not any(tmp_path.iterdir())


def test_compare_from_python_leaves_the_estimator_it_was_given_as_it_was(tmp_path):
    base = rnnlab.Forecaster(epochs=1, hidden_size=4, window=6)
    lines = []
    result = compare(base, "airline", tmp_path / "cmp", models=("rnn", "lstm"), seeds=(0,),
                     vary=("hidden_size", [4, 6]), log=lines.append)
    assert [row["name"] for row in result["rows"]] == ["RNN hidden_size=4", "RNN hidden_size=6",
                                                      "LSTM hidden_size=4", "LSTM hidden_size=6"]
    assert lines[0].startswith("run 1 of 4: RNN hidden_size=4 seed 0")
    assert base.get_params() == rnnlab.Forecaster(epochs=1, hidden_size=4, window=6).get_params()
    assert not hasattr(base, "network_")  # the runs are fitted copies


def test_compare_refuses_an_existing_out(tmp_path, capsys):
    (tmp_path / "cmp").mkdir()
    assert main(["compare", "forecast", *TINY_FORECAST, "--out", str(tmp_path / "cmp")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_diagnose_writes_gates_and_gradient_flow_and_replaces_an_earlier_one(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "forecast", *TINY_FORECAST, "--model", "lstm", "--out", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["diagnose", str(run_dir), "--json", "--rows", "8"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["task"] == "forecast" and summary["model"] == "lstm" and "8 test windows" in summary["probe"]
    layer = summary["flow"]["layers"]["encoder"]
    assert len(layer["norms"]) == 12 and layer["growth_per_step"] > 0
    files = {path.name for path in (run_dir / "diagnose").iterdir()}
    assert {"report.html", "diagnose.json", "gradient_flow.png", "gates_0.png", "gate_histograms_0.png"} <= files
    html = (run_dir / "diagnose" / "report.html").read_text()
    for gate in ("i", "f", "g", "o", "c"):
        assert f"<td>{gate}</td>" in html
    (run_dir / "diagnose" / "stale.txt").write_text("from before")
    assert main(["diagnose", str(run_dir)]) == 0
    assert "growth/step" in capsys.readouterr().out
    assert not (run_dir / "diagnose" / "stale.txt").exists()


def test_diagnose_errors_are_one_line(tmp_path, capsys):
    assert main(["diagnose", str(tmp_path / "missing")]) == 2
    assert "has no config.json" in capsys.readouterr().err
    assert main(["diagnose", str(tmp_path), "--rows", "0"]) == 2
    assert "rows must be a positive integer; received 0" in capsys.readouterr().err
