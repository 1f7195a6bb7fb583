"""The forecasting command line: its files and numbers, its input errors, resume, torchrun, timestamps."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnlab.cli.main import main


def write_series_csv(path: Path, n: int = 120) -> Path:
    """A monthly-looking series with trend and a 12-step season, plus a second input column."""
    lines = ["date,sales,temperature"]
    for t in range(n):
        sales = 100 + 0.8 * t + 15 * math.sin(2 * math.pi * t / 12)
        lines.append(f"t{t:04d},{sales:.3f},{10 + 5 * math.cos(2 * math.pi * t / 12):.3f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_args(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "forecast", "--data", str(data), "--target", "sales", "--epochs", "3", "--hidden-size", "8",
            "--out", str(out), "--quiet", *extra]


def test_round_trip_train_evaluate_predict(tmp_path, capsys):
    data = write_series_csv(tmp_path / "shop.csv")
    out = tmp_path / "run"
    assert main(train_args(data, out, "--horizon", "2")) == 0
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "predictions.csv",
                 "loss.png", "forecast.png", "report.html"):
        assert (out / name).is_file(), name
    assert not out.with_name("run.partial").exists()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3  # one line per epoch
    capsys.readouterr()

    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["metrics"]) == {"model", "naive", "seasonal_naive"}
    assert result["season"] == 12 and result["horizon"] == 2
    assert result["metrics"] == json.loads((out / "test_metrics.json").read_text())

    assert main(["predict", str(out), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["t+1", "t+2"]
    assert all(math.isfinite(float(line.split("\t")[1])) for line in lines)


def test_predictions_csv_holds_the_test_windows(tmp_path):
    data = write_series_csv(tmp_path / "shop.csv")
    out = tmp_path / "run"
    assert main(train_args(data, out)) == 0
    rows = (out / "predictions.csv").read_text().splitlines()
    assert rows[0] == "time,step,actual,forecast,naive,seasonal_naive"
    first = rows[1].split(",")
    assert first[0].startswith("t0") and first[1] == "1"
    # the naive forecast of a one-step window is the value just before it
    index = int(first[0][1:])
    source = (tmp_path / "shop.csv").read_text().splitlines()
    assert float(first[4]) == pytest.approx(float(source[index].split(",")[1]), rel=1e-5)


def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    good = write_series_csv(tmp_path / "good.csv")
    text = tmp_path / "text.csv"
    lines = good.read_text().splitlines()
    lines[6] = "t0005,abc,1.0"  # a word where sales should be a number
    text.write_text("\n".join(lines) + "\n")
    all_nan = tmp_path / "nan.csv"
    all_nan.write_text("date,sales,temperature\n" + "".join(f"t{i},,1.0\n" for i in range(60)))
    short = tmp_path / "short.csv"
    short.write_text("date,sales,temperature\n" + "".join(f"t{i},{i + 1},1.0\n" for i in range(10)))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    out = str(tmp_path / "run")
    return {
        "missing file": train_args(tmp_path / "nope.csv", Path(out)),
        "missing column": train_args(good, Path(out))[:4] + ["--target", "revenue"] + train_args(good, Path(out))[6:],
        "text in a numeric column": train_args(text, Path(out)),
        "all-NaN column": train_args(all_nan, Path(out), "--fill", "ffill"),
        "series too short": train_args(short, Path(out)),
        "empty file": train_args(empty, Path(out)),
        "negative window": train_args(good, Path(out), "--window", "-3"),
    }


@pytest.mark.parametrize("case", ["missing file", "missing column", "text in a numeric column", "all-NaN column",
                                  "series too short", "empty file", "negative window"])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, capsys, case):
    args = _bad_inputs(tmp_path)[case]
    assert main(args) != 0
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab train: error:"), error
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_an_existing_run_is_never_overwritten(tmp_path, capsys):
    data = write_series_csv(tmp_path / "shop.csv")
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(train_args(data, out)) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "mine"


def test_datasets_lists_the_bundled_series(capsys):
    assert main(["datasets"]) == 0
    text = capsys.readouterr().out
    for name in ("airline", "co2", "seattle_weather"):
        assert name in text


def test_resume_finishes_an_interrupted_run_with_the_same_weights(tmp_path, monkeypatch, capsys):
    from safetensors.torch import load_file

    from rnnlab.tasks.forecast import ForecastTask

    data = write_series_csv(tmp_path / "shop.csv")
    assert main(train_args(data, tmp_path / "straight", "--epochs", "4")) == 0

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process died after its last checkpoint

    with monkeypatch.context() as patch:
        patch.setattr(ForecastTask, "score", interrupted)
        with pytest.raises(KeyboardInterrupt):
            main(train_args(data, tmp_path / "resumed", "--epochs", "4"))
    assert (tmp_path / "resumed.partial" / "checkpoint").is_dir() and not (tmp_path / "resumed").exists()
    assert main(train_args(data, tmp_path / "resumed", "--epochs", "4", "--resume")) == 0
    straight = load_file(str(tmp_path / "straight" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_resume_without_an_interrupted_run_is_an_error(tmp_path, capsys):
    data = write_series_csv(tmp_path / "shop.csv")
    assert main(train_args(data, tmp_path / "run", "--resume")) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_train_forecast_under_torchrun_with_two_cpu_processes(tmp_path):
    data = write_series_csv(tmp_path / "shop.csv")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "rnnlab", *train_args(data, out, "--batch-size", "16")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count('"seasonal_naive"') == 1  # rank 0 alone reports
    assert (out / "model.safetensors").is_file() and (out / "report.html").is_file()
    assert not out.with_name("run.partial").exists()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3  # written once, not per process


def test_predict_labels_each_step_with_the_series_own_next_timestamps(tmp_path, capsys):
    months = [f"{1990 + t // 12}-{t % 12 + 1:02d}" for t in range(120)]
    data = tmp_path / "monthly.csv"
    data.write_text("month,sales\n" + "".join(f"{m},{100 + t + 10 * math.sin(t / 2):.3f}\n"
                                              for t, m in enumerate(months)), encoding="utf-8")
    assert main(train_args(data, tmp_path / "run", "--horizon", "3")) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "run"), "--data", str(data)]) == 0
    assert [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()] == ["2000-01", "2000-02", "2000-03"]
