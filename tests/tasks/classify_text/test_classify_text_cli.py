"""The text classification command line end to end: train, evaluate, predict, reload; bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.cli.main import main

def train_args(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "classify-text", "--data", str(data), "--epochs", "3", "--hidden-size", "8", "--embedding-dim",
            "8", "--batch-size", "16", "--min-freq", "1", "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, build) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("classify")
    data = build.reviews_csv(folder / "reviews.csv")
    out = folder / "run"
    assert main(train_args(data, out, "--epochs", "6", "--learning-rate", "0.02")) == 0
    return data, out


def test_train_writes_a_complete_run(trained, capsys):
    data, out = trained
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "predictions.csv",
                 "loss.png", "confusion.png", "report.html"):
        assert (out / name).is_file(), name
    assert not out.with_name("run.partial").exists()
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"] == "classify-text" and saved["classes"] == ["fresh", "rotten"]
    assert saved["tokenizer"] == {"kind": "word", "lowercase": True}
    assert "<unk>" in saved["vocabulary"]["tokens"] and "wonderful" in saved["vocabulary"]["tokens"]
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert set(metrics) == {"model", "majority"}
    assert metrics["model"]["accuracy"] > metrics["majority"]["accuracy"]  # one word decides: easy to beat
    with (out / "predictions.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == saved["split_sizes"]["test"] == sum(map(sum, metrics["model"]["confusion_matrix"]))
    assert set(rows[0]) == {"text", "label", "predicted", "probability"}
    correct = np.mean([row["label"] == row["predicted"] for row in rows])
    assert correct == pytest.approx(metrics["model"]["accuracy"])
    assert "Confusion matrix" in (out / "report.html").read_text()


def test_evaluate_repeats_the_test_metrics_and_takes_a_new_file(trained, tmp_path, capsys, build):
    data, out = trained
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"] == json.loads((out / "test_metrics.json").read_text())
    assert result["split"] == "test" and result["labels"] == ["fresh", "rotten"]
    other = build.reviews_csv(tmp_path / "other.csv", rows=50, seed=1)
    assert main(["evaluate", str(out), "--data", str(other)]) == 0
    text = capsys.readouterr().out
    assert "50 texts (all)" in text and "majority" in text


def test_predict_prints_label_and_probability(trained, capsys):
    data, out = trained
    assert main(["predict", str(out), "--text", "A wonderful, charming film."]) == 0
    label, probability = capsys.readouterr().out.strip().split("\t")
    assert label == "fresh" and 0.5 <= float(probability) <= 1.0
    assert main(["predict", str(out), "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 240 and all(len(line.split("\t")) == 3 for line in lines)
    assert {line.split("\t")[0] for line in lines} <= {"fresh", "rotten"}


def test_a_run_reloaded_in_a_fresh_process_predicts_the_same(trained, tmp_path, capsys):
    data, out = trained
    unlabelled = tmp_path / "unlabelled.csv"
    texts = ["Tedious plot.", "the cast is wonderful", "Story of the film", "words it never saw, plus dull"]
    unlabelled.write_text("id,text\n" + "".join(f"{i},{json.dumps(t)}\n" for i, t in enumerate(texts)))
    assert main(["predict", str(out), "--data", str(unlabelled)]) == 0
    here = capsys.readouterr().out
    fresh = subprocess.run([sys.executable, "-m", "rnnlab", "predict", str(out), "--data", str(unlabelled)],
                           capture_output=True, text=True, timeout=120)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == here and len(here.splitlines()) == 4


def test_trains_on_the_bundled_data_by_name(tmp_path, capsys):
    out = tmp_path / "bundled"
    args = ["train", "classify-text", "--epochs", "1", "--hidden-size", "4", "--embedding-dim", "4", "--max-vocab",
            "300", "--max-length", "8", "--batch-size", "256", "--no-bidirectional", "--out", str(out), "--quiet"]
    assert main(args) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["majority"]["accuracy"] == pytest.approx(0.578, abs=0.01)  # 'fresh' is 7403 of 12808
    saved = json.loads((out / "config.json").read_text())
    assert saved["config"]["data"] == "rotten_tomatoes" and len(saved["vocabulary"]["tokens"]) == 302


def _bad_files(folder: Path, build) -> dict[str, Path]:
    good = build.reviews_csv(folder / "good.csv", rows=40)
    lines = good.read_text().splitlines()
    files = {"columns": "review,sentiment\n" + "\n".join(lines[1:]) + "\n",
             "empty text": "\n".join(lines[:5] + ['"  ",fresh'] + lines[5:]) + "\n"}
    for name, content in files.items():
        (folder / f"{name}.csv").write_text(content)
    (folder / "latin1.csv").write_bytes("text,label\nun film génial,fresh\n".encode("latin-1"))
    return {"wrong column names": folder / "columns.csv", "empty text": folder / "empty text.csv",
            "bytes that are not UTF-8": folder / "latin1.csv"}


@pytest.mark.parametrize("case, expected", [("wrong column names", "no 'text' or 'label' column"),
                                            ("empty text", "line 6 has an empty text cell"),
                                            ("bytes that are not UTF-8", "not UTF-8")])
def test_bad_training_input_is_one_line_and_writes_nothing(tmp_path, capsys, build, case, expected):
    data = _bad_files(tmp_path, build)[case]
    assert main(train_args(data, tmp_path / "run")) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab train: error:") and expected in error, error
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_a_label_training_never_saw_is_an_error_at_evaluate(trained, tmp_path, capsys):
    _, out = trained
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("text,label\na wonderful film,fresh\na film of its time,certified\n")
    assert main(["evaluate", str(out), "--data", str(unseen)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "'certified', which training never saw" in error, error
    assert "['fresh', 'rotten']" in error


@pytest.mark.parametrize("args, expected", [
    (["--text", "   "], "text must not be empty"),
    ([], "exactly one of --text"),
    (["--text", "fine", "--data", "x.csv"], "exactly one of --text"),
    (["--data", "MISSING"], "does not exist"),
])
def test_bad_predict_input_is_one_line(trained, capsys, args, expected):
    _, out = trained
    assert main(["predict", str(out), *args]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab predict: error:") and expected in error, error


@pytest.mark.parametrize("content, expected", [
    ("review\nfine\n", "no 'text' column; columns found: ['review']"),
    ('id,text\n1,fine\n2,"  "\n', "line 3 has an empty text cell"),
])
def test_predict_data_needs_a_text_in_every_row(trained, tmp_path, capsys, content, expected):
    _, out = trained
    data = tmp_path / "reviews.csv"
    data.write_text(content)
    assert main(["predict", str(out), "--data", str(data)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and expected in error, error


def test_training_needs_two_labels(tmp_path, capsys):
    data = tmp_path / "one.csv"
    data.write_text("text,label\n" + "a fine film,fresh\n" * 30)
    assert main(train_args(data, tmp_path / "run")) == 2
    assert "at least 2 labels; its training split has ['fresh']" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
