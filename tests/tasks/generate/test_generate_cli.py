"""The generation command line: its files, `rnnlab generate`, word-level runs, and its input errors.

(That a run trained from the command line evaluates, predicts and reloads as the Python fit does is
tested for every task at once, in tests/tasks/test_contract.py.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnlab.cli.main import main

VERSE = ("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
         "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n")


def write_text(path: Path, repeats: int = 30) -> Path:
    path.write_text(VERSE * repeats, encoding="utf-8")
    return path


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "generate", "--data", str(data), "--out", str(out), "--epochs", "2", "--hidden-size", "16",
            "--embedding-dim", "8", "--batch-size", "4", "--bptt", "25", "--quiet", *extra]


def run_generate(argv: list[str]) -> int:
    return main(["generate", *argv])


def fresh(*argv: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, *argv], capture_output=True, text=True, env=env, check=True)
    return done.stdout


@pytest.fixture(scope="module")
def char_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("char")
    out = root / "run"
    assert main(train_args(write_text(root / "verse.txt"), out)) == 0
    return out


def test_a_run_saves_its_vocabulary_and_beats_the_unigram(char_run, capsys):
    assert len((char_run / "metrics.jsonl").read_text().splitlines()) == 2
    saved = json.loads((char_run / "config.json").read_text())
    assert saved["task"] == "generate" and saved["tokenizer"] == {"kind": "char", "lowercase": False}
    assert "<unk>" in saved["vocabulary"]["tokens"] and "T" in saved["vocabulary"]["tokens"]
    assert len(saved["unigram_counts"]) == len(saved["vocabulary"]["tokens"])
    assert main(["evaluate", str(char_run), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"] == json.loads((char_run / "test_metrics.json").read_text())
    model, unigram = result["metrics"]["model"], result["metrics"]["unigram"]
    assert model["tokens"] == unigram["tokens"] == model["characters"] == result["test_tokens"]
    assert model["bits_per_character"] < unigram["bits_per_character"]  # a repeated verse is easy to learn
    assert main(["evaluate", str(char_run), "--data", "hamlet", "--json"]) == 0  # another text, the same split
    on_hamlet = json.loads(capsys.readouterr().out)
    assert on_hamlet["data"] == "hamlet" and on_hamlet["test_tokens"] > 10_000
    assert "temperature 0 (greedy)" in (char_run / "samples.txt").read_text()
    assert "Samples" in (char_run / "report.html").read_text(encoding="utf-8")


def test_generation_is_deterministic_and_low_temperature_is_greedy(char_run, capsys):
    def generated(*options: str) -> str:
        assert run_generate([str(char_run), "--prompt", "To be", "--length", "60", *options]) == 0
        return capsys.readouterr().out

    sampled = generated("--temperature", "1.0", "--seed", "1")
    assert sampled.startswith("To be") and len(sampled) == len("To be") + 60 + 1  # one char per token, then "\n"
    assert generated("--temperature", "1.0", "--seed", "1") == sampled
    assert generated("--temperature", "1.0", "--seed", "2") != sampled
    greedy = generated("--temperature", "0")
    assert generated("--temperature", "1e-6", "--seed", "7") == greedy
    assert generated("--top-k", "1", "--seed", "3") == greedy  # only the most probable token is left
    assert generated("--prompt", "Zebra ~", "--seed", "1").startswith("Zebra ~")  # unseen characters: <unk>


def test_a_fresh_process_generates_the_same(char_run, capsys):
    assert main(["predict", str(char_run), "--text", "To be"]) == 0
    predicted = capsys.readouterr().out
    assert predicted.startswith("To be") and len(predicted) == len("To be") + 300 + 1  # the default length
    argv = [str(char_run), "--prompt", "Or to", "--length", "80", "--temperature", "0.8", "--top-p", "0.9",
            "--seed", "1"]
    assert run_generate(argv) == 0
    assert fresh("-m", "rnnlab", "generate", *argv) == capsys.readouterr().out


def test_word_level_round_trip(tmp_path, capsys):
    out = tmp_path / "words"
    data = write_text(tmp_path / "verse.txt")
    assert main(train_args(data, out, "--level", "word", "--batch-size", "2", "--bptt", "10")) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["tokenizer"] == {"kind": "word", "lowercase": True}
    capsys.readouterr()
    assert main(["evaluate", str(out), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]["model"]
    assert metrics["characters"] > 3 * metrics["tokens"]  # characters of text covered, not tokens
    assert run_generate([str(out), "--prompt", "To be Horatio", "--length", "12", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("To be Horatio") and "<unk>" not in text  # "horatio" is unseen: read as <unk>
    assert main(["predict", str(out), "--data", str(data)]) == 0
    printed = capsys.readouterr().out  # the file's text is the prompt, continued by 60 words
    assert printed.startswith(VERSE * 30) and len(printed) > len(VERSE * 30) + 60


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b" \n\n  \n", "empty"),
    (b"To be, or not\xff\xfe to be", "not UTF-8"),
    (b"To be", "the train split has"),
])
def test_bad_text_is_one_clear_error_and_leaves_nothing(tmp_path, capsys, content, message):
    data = tmp_path / "bad.txt"
    data.write_bytes(content)
    out = tmp_path / "run"
    assert main(train_args(data, out)) == 2
    error = capsys.readouterr().err
    assert message in error and str(data) in error and len(error.strip().splitlines()) == 1
    assert not out.exists() and not out.with_name("run.partial").exists()


def test_bad_options_and_prompts_are_clear_errors(char_run, tmp_path, capsys):
    data = write_text(tmp_path / "verse.txt")
    assert main(train_args(data, tmp_path / "bi", "--bidirectional")) == 2
    assert "bidirectional must be False" in capsys.readouterr().err
    assert main(["predict", str(char_run)]) == 2
    assert "exactly one of --text" in capsys.readouterr().err
    assert run_generate([str(char_run), "--prompt", ""]) == 2
    assert "prompt must hold at least one char token" in capsys.readouterr().err
    assert run_generate([str(char_run), "--prompt", "To", "--top-p", "1.5"]) == 2
    assert "top_p must be in (0, 1] (1 disables); received 1.5" in capsys.readouterr().err
    assert run_generate([str(char_run), "--prompt", "To", "--temperature", "-1"]) == 2
    assert "temperature must be >= 0" in capsys.readouterr().err
    assert main(["evaluate", str(char_run), "--data", str(tmp_path / "missing.txt")]) == 2
    assert "does not exist" in capsys.readouterr().err
