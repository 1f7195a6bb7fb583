"""Classification, tagging, translation and series classification from the command line, end to end.

Each task trains on a small file of its own format, then `evaluate --json` and `predict` read the
run back; a fresh interpreter must predict exactly the same (the vocabularies, tokenizers, labels
and scalers travel in config.json). Malformed input is one line on stderr, status 2, nothing written.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab.cli.main import main
from rnnlab.data.bundled import series_classification_files

POSITIVE = ["a fine and moving film", "great acting and a great story", "warm funny and wise", "a joy to watch"]
NEGATIVE = ["a dull and tired mess", "boring plot and bad acting", "flat lifeless and long", "a chore to sit through"]
SMALL = ["--epochs", "2", "--hidden-size", "8", "--batch-size", "8", "--quiet"]


def labelled_csv(path: Path, repeats: int = 6) -> Path:
    rows = [f'"{text}",fresh' for text in POSITIVE] + [f'"{text}",rotten' for text in NEGATIVE]
    path.write_text("text,label\n" + "\n".join(rows * repeats) + "\n", encoding="utf-8")
    return path


def conllu(path: Path, repeats: int = 12) -> Path:
    sentences = [[("O", "DET"), ("gato", "NOUN"), ("dorme", "VERB"), (".", "PUNCT")],
                 [("A", "DET"), ("casa", "NOUN"), ("é", "AUX"), ("grande", "ADJ"), (".", "PUNCT")]]
    blocks = ["\n".join(f"{i}\t{form}\t_\t{tag}\t_\t_\t_\t_\t_\t_" for i, (form, tag) in enumerate(sentence, 1))
              for sentence in sentences]
    path.write_text("\n\n".join(blocks * repeats) + "\n\n", encoding="utf-8")
    return path


def parallel_tsv(path: Path, repeats: int = 6) -> Path:
    pairs = ["the light\tla luz", "the earth\tla tierra", "and god said\ty dijo dios", "the water\tel agua"]
    path.write_text("\n".join(pairs * repeats) + "\n", encoding="utf-8")
    return path


def series_ts(path: Path) -> Path:
    # the bundled BasicMotions training file, cut to its first 16 cases: a real file in the .ts format
    with gzip.open(series_classification_files("basic_motions")[0], "rt", encoding="utf-8") as file:
        lines = file.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    path.write_text("\n".join(lines[: start + 16]) + "\n", encoding="utf-8")
    return path


# task -> (make the training file, extra train options, predict options)
TASKS = {
    "classify-text": (labelled_csv, "train.csv", ["--embedding-dim", "8", "--min-freq", "1"],
                      ["--text", "a great and moving story"]),
    "tag": (conllu, "train.conllu", ["--embedding-dim", "8", "--min-freq", "1"], ["--text", "O gato é grande ."]),
    "translate": (parallel_tsv, "train.tsv", ["--embedding-dim", "8", "--min-freq", "1"], ["--text", "the light"]),
    "classify-series": (series_ts, "train.ts", [], None),
}


def fresh(*argv: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "rnnlab", *argv], capture_output=True, text=True, env=env,
                          check=True)
    return done.stdout


@pytest.mark.parametrize("task", list(TASKS))
def test_train_evaluate_predict_and_a_fresh_process_agrees(task, tmp_path, capsys):
    make, name, extra, predict = TASKS[task]
    data, out = make(tmp_path / name), tmp_path / "run"
    assert main(["train", task, "--data", str(data), "--out", str(out), *SMALL, *extra]) == 0
    trained = json.loads(capsys.readouterr().out)
    for file in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "loss.png",
                 "report.html"):
        assert (out / file).is_file(), file
    assert json.loads((out / "config.json").read_text())["task"] == task
    assert not out.with_name("run.partial").exists()

    assert main(["evaluate", str(out), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["metrics"]["model"] == trained["model"]  # the saved run scores as the trained model did
    assert len(evaluated["metrics"]) >= 2  # the model and at least one baseline

    options = predict if predict is not None else ["--data", str(data)]
    assert main(["predict", str(out), *options]) == 0
    here = capsys.readouterr().out
    assert here.endswith("\n")  # a line per input (a barely trained translator may still say nothing)
    assert fresh("predict", str(out), *options) == here


def test_classifier_prints_a_label_and_its_probability(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "classify-text", "--data", str(labelled_csv(tmp_path / "t.csv")), "--out", str(out),
                 *SMALL, "--embedding-dim", "8", "--min-freq", "1"]) == 0
    capsys.readouterr()
    assert main(["predict", str(out), "--text", "boring and flat"]) == 0
    label, probability = capsys.readouterr().out.strip().split("\t")[:2]
    assert label in {"fresh", "rotten"} and 0.5 <= float(probability) <= 1.0


def bad_csv_columns(tmp_path):
    (tmp_path / "bad.csv").write_text("review,label\nnice,fresh\n", encoding="utf-8")
    return ["train", "classify-text", "--data", str(tmp_path / "bad.csv")], "text"


def bad_csv_empty_text(tmp_path):
    (tmp_path / "bad.csv").write_text('text,label\n"",fresh\nfine,rotten\n', encoding="utf-8")
    return ["train", "classify-text", "--data", str(tmp_path / "bad.csv")], "line"


def bad_csv_bytes(tmp_path):
    (tmp_path / "bad.csv").write_bytes(b"text,label\ncaf\xe9 noir,fresh\n")
    return ["train", "classify-text", "--data", str(tmp_path / "bad.csv")], "UTF-8"


def bad_conllu_without_upos(tmp_path):
    (tmp_path / "bad.conllu").write_text("1\tO\t_\t_\t_\t_\t_\t_\t_\t_\n\n", encoding="utf-8")
    return ["train", "tag", "--data", str(tmp_path / "bad.conllu")], "UPOS"


def bad_tsv_without_tab(tmp_path):
    (tmp_path / "bad.tsv").write_text("the light\tla luz\nno tab here\n", encoding="utf-8")
    return ["train", "translate", "--data", str(tmp_path / "bad.tsv")], "line 2"


def bad_ts_channels(tmp_path):
    (tmp_path / "bad.ts").write_text("@problemName x\n@timeStamps false\n@univariate false\n@dimensions 2\n"
                                     "@equalLength false\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n1,2:b\n",
                                     encoding="utf-8")
    return ["train", "classify-series", "--data", str(tmp_path / "bad.ts")], "line 9"


@pytest.mark.parametrize("case", [bad_csv_columns, bad_csv_empty_text, bad_csv_bytes, bad_conllu_without_upos,
                                  bad_tsv_without_tab, bad_ts_channels])
def test_malformed_input_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    argv, expected = case(tmp_path)
    out = tmp_path / "run"
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and expected in error, error
    assert not out.exists() and not out.with_name("run.partial").exists()


def test_a_label_never_seen_in_training_is_an_error_at_evaluate_time(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "classify-text", "--data", str(labelled_csv(tmp_path / "t.csv")), "--out", str(out),
                 *SMALL, "--embedding-dim", "8", "--min-freq", "1"]) == 0
    other = tmp_path / "other.csv"
    other.write_text("text,label\na fine film,fresh\na dull film,meh\n", encoding="utf-8")
    assert main(["evaluate", str(out), "--data", str(other)]) == 2
    error = capsys.readouterr().err
    assert "meh" in error and error.count("\n") == 1


def test_series_channels_must_match_at_prediction(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "classify-series", "--data", str(series_ts(tmp_path / "t.ts")), "--out", str(out),
                 *SMALL]) == 0
    other = tmp_path / "other.ts"
    other.write_text("@problemName x\n@timeStamps false\n@univariate true\n@dimensions 1\n@equalLength true\n"
                     "@classLabel true a\n@data\n1,2,3,4:a\n", encoding="utf-8")
    assert main(["predict", str(out), "--data", str(other)]) == 2
    assert "channel" in capsys.readouterr().err
