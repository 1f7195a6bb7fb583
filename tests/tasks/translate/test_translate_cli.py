"""The translation command line: train on a small TSV, the run directory, evaluate, predict, translate; bad input."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pytest

from rnnlab.cli import translate as translate_command
from rnnlab.cli.main import main
from rnnlab.tasks import load

WORDS = {"the": "el", "king": "rey", "said": "dijo", "and": "y", "god": "dios", "saw": "vio", "light": "luz",
         "good": "buena", "was": "era", "land": "tierra", "water": "agua", "unto": "á"}


def write_pairs(path: Path, count: int = 90, seed: int = 0) -> Path:
    """Word-for-word "translations" of random sentences, with a final full stop on both sides."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = rng.choices(list(WORDS), k=rng.randint(2, 6))
        lines.append(" ".join(words).capitalize() + ".\t" + " ".join(WORDS[w] for w in words).capitalize() + ".")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_args(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "translate", "--data", str(data), "--out", str(out), "--epochs", "2", "--hidden-size", "8",
            "--embedding-dim", "8", "--batch-size", "16", "--min-freq", "1", "--beam-size", "3",
            "--val-fraction", "0.1", "--test-fraction", "0.1", "--quiet", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("translate")
    data = write_pairs(folder / "pairs.tsv")
    out = folder / "run"
    assert main(train_args(data, out)) == 0
    return data, out


def test_the_run_directory(trained, capsys):
    _, out = trained
    for name in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "predictions.tsv",
                 "loss.png", "attention.png", "report.html"):
        assert (out / name).is_file(), name
    assert not out.with_name("run.partial").exists()
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # one line per epoch
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"] == "translate" and saved["tokenizer"] == {"kind": "word", "lowercase": True}
    assert "rey" in saved["target_vocab"]["tokens"] and "king" in saved["source_vocab"]["tokens"]
    rows = (out / "predictions.tsv").read_text(encoding="utf-8").splitlines()
    assert rows[0].split("\t") == ["source", "reference", "translation", "greedy", "log_prob"]
    assert len(rows) == 1 + 9 and all(len(row.split("\t")) == 5 for row in rows)  # 10% of 90 test pairs
    assert "Reproduce" in (out / "report.html").read_text(encoding="utf-8")


def test_evaluate_matches_the_training_metrics(trained, capsys):
    _, out = trained
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["metrics"]) == {"model", "model_greedy", "copy_source"}
    assert result["metrics"] == json.loads((out / "test_metrics.json").read_text())
    assert result["pairs"] == 9 and result["beam_size"] == 3
    assert result["log_prob"]["beam_worse"] == 0 and result["log_prob"]["beam"] >= result["log_prob"]["greedy"]
    assert main(["evaluate", str(out)]) == 0
    assert "copy_source" in capsys.readouterr().out


def test_predict_and_translate(trained, capsys):
    data, out = trained
    capsys.readouterr()
    assert main(["predict", str(out), "--text", "The king said."]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    translator = load(out)
    assert line == translator.translate("The king said.")
    assert main(["predict", str(out), "--data", str(data)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 90  # one translation per pair

    parser = argparse.ArgumentParser(prog="rnnlab")
    translate_command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["translate", str(out), "God saw the light.", "The land.", "--beam", "1", "--show-score"])
    assert args.run(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(len(line.split("\t")) == 2 for line in lines)
    greedy = translator.translate(["God saw the light.", "The land."], beam_size=1, return_scores=True)
    assert [line.split("\t")[0] for line in lines] == [text for text, _ in greedy]
    assert [float(line.split("\t")[1]) for line in lines] == pytest.approx([score for _, score in greedy], abs=1e-4)


def test_prediction_errors(trained, capsys):
    data, out = trained
    for args in (["predict", str(out)], ["predict", str(out), "--text", "x", "--data", str(data)],
                 ["predict", str(out), "--text", "   "]):
        assert main(args) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["translate", str(out), "The king.", "--beam", "0"]) == 2
    assert "beam_size must be a positive integer; received 0" in capsys.readouterr().err


def _bad_inputs(tmp_path: Path) -> dict[str, list[str]]:
    good = write_pairs(tmp_path / "good.tsv")
    no_tab = tmp_path / "no_tab.tsv"
    lines = good.read_text(encoding="utf-8").splitlines()
    lines[4] = "The king said unto God."  # a row without its tab and translation
    no_tab.write_text("\n".join(lines) + "\n", encoding="utf-8")
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("The light.\tLa luz.\nUnto the king.\tÁ el rey.\n".encode("latin-1"))
    out = tmp_path / "run"
    return {
        "row without a tab": (train_args(no_tab, out), "line 5 has no tab"),
        "missing file": (train_args(tmp_path / "nope.tsv", out), "does not exist"),
        "empty file": (train_args(empty, out), "empty"),
        "not UTF-8": (train_args(latin, out), "latin.tsv: not UTF-8: byte b'\\xc1' at offset 34 (line 2)"),
        "bundled set of another kind": (train_args("hamlet", out), "not 'parallel'"),
        "bad fraction": (train_args(good, out, "--val-fraction", "0"), "val_fraction must be in (0, 1)"),
        "bad beam": (train_args(good, out, "--beam-size", "0"), "beam_size must be a positive integer"),
        "too short for max_length": (train_args(good, out, "--max-length", "1"), "no training pair"),
    }


@pytest.mark.parametrize("case", ["row without a tab", "missing file", "empty file", "not UTF-8",
                                  "bundled set of another kind", "bad fraction", "bad beam",
                                  "too short for max_length"])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, capsys, case):
    args, message = _bad_inputs(tmp_path)[case]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab train: error:"), error
    assert message in error
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
