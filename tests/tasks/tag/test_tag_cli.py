"""The tagging command line: its files, its evaluation, its prediction format, and its input errors.

(That a run trained from the command line evaluates, predicts and reloads as the Python fit does is
tested for every task at once, in tests/tasks/test_contract.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnlab.cli.main import main

NOUNS = ["gato", "casa", "livro", "cidade", "mesa", "rio"]
VERBS = ["come", "vê", "abre", "canta"]
ADJECTIVES = ["bonita", "velho", "grande"]


def toy_sentences(count: int) -> list[list[tuple[str, str]]]:
    """Deterministic toy Portuguese: DET NOUN VERB DET NOUN [ADJ] PUNCT, words drawn in turn."""
    sentences = []
    for i in range(count):
        words = [("O" if i % 2 else "a", "DET"), (NOUNS[i % 6], "NOUN"), (VERBS[i % 4], "VERB"),
                 ("o", "DET"), (NOUNS[(i * 5 + 1) % 6], "NOUN")]
        if i % 3 == 0:
            words.append((ADJECTIVES[(i // 3) % 3], "ADJ"))
        sentences.append(words + [(".", "PUNCT")])
    return sentences


def write_conllu(path: Path, sentences: list[list[tuple[str, str]]], *, upos: bool = True) -> Path:
    blocks = []
    for number, words in enumerate(sentences, start=1):
        lines = [f"# sent_id = s{number}", "# text = " + " ".join(form for form, _ in words)]
        lines += [f"{t}\t{form}\t_\t{tag if upos else '_'}\t_\t_\t_\t_\t_\t_" for t, (form, tag) in enumerate(words, 1)]
        blocks.append("\n".join(lines))
    path.write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    return path


def train_args(data: Path | str, out: Path, *extra: str) -> list[str]:
    return ["train", "tag", "--data", str(data), "--out", str(out), "--epochs", "2", "--hidden-size", "8",
            "--embedding-dim", "8", "--char-embedding-dim", "4", "--char-hidden-size", "4", "--batch-size", "8",
            "--min-freq", "1", "--quiet", *extra]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny run trained once for the tests that only read it: (data file, run directory)."""
    folder = tmp_path_factory.mktemp("tag")
    data = write_conllu(folder / "toy.conllu", toy_sentences(40))
    assert main(train_args(data, folder / "run")) == 0
    return data, folder / "run"


def test_config_holds_the_vocabularies_and_evaluate_gives_per_tag_accuracies(trained, capsys):
    _, out = trained
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2  # one line per epoch
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"] == "tag" and saved["tags"] == ["ADJ", "DET", "NOUN", "PUNCT", "VERB"]
    assert saved["tokenizer"] == {"split": "whitespace", "lowercase": True} and "<unk>" in saved["words"]["tokens"]
    assert set(saved["baseline"]) == {"table", "default"} and "<unk>" in saved["chars"]["tokens"]

    assert main(["evaluate", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["metrics"]) == {"model", "most_frequent_tag"} and result["split"] == "test"
    assert result["sentences"] == 4 and result["metrics"]["model"]["tokens"] == sum(
        v["tokens"] for v in result["per_tag"]["model"].values())
    assert main(["evaluate", str(out)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{trained[0]} (test sentences: 4):") and "most_frequent_tag" in text


def test_predictions_file_and_report_describe_the_test_sentences(trained):
    _, out = trained
    rows = [line.split("\t") for line in (out / "predictions.tsv").read_text().splitlines()]
    assert rows[0] == ["sentence", "position", "word", "gold", "model", "most_frequent_tag", "oov"]
    metrics = json.loads((out / "test_metrics.json").read_text())
    assert len(rows) - 1 == metrics["model"]["tokens"]
    right = sum(row[3] == row[4] for row in rows[1:]) / (len(rows) - 1)
    assert right == pytest.approx(metrics["model"]["accuracy"])
    toy = toy_sentences(40)
    for row in rows[1:]:  # each row names its sentence and word in the data file
        assert tuple(row[2:4]) == toy[int(row[0]) - 1][int(row[1]) - 1]
    report = (out / "report.html").read_text()
    assert "Accuracy per gold tag" in report and "most_frequent_tag" in report and "data:image/png" in report


def test_predict_tags_text_and_files_one_line_of_word_slash_tag_per_sentence(trained, tmp_path, capsys):
    data, out = trained
    assert main(["predict", str(out), "--text", "O gato  vê a zebra ."]) == 0
    line = capsys.readouterr().out.splitlines()
    assert len(line) == 1 and [pair.rsplit("/", 1)[0] for pair in line[0].split()] == "O gato vê a zebra .".split()
    assert all(pair.rsplit("/", 1)[1] in {"ADJ", "DET", "NOUN", "PUNCT", "VERB"} for pair in line[0].split())

    moved = tmp_path / "elsewhere.conllu"
    moved.write_bytes(data.read_bytes())  # the run needs its saved vocabularies, not its training file
    assert main(["predict", str(out), "--data", str(moved)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 40 and lines[0].startswith("a/")
    toy = toy_sentences(40)
    assert [[pair.rsplit("/", 1)[0] for pair in line.split()] for line in lines] == [[w for w, _ in s] for s in toy]


@pytest.mark.parametrize("extra, message", [
    ([], "either --text"),
    (["--text", "a", "--data", "x.conllu"], "received both"),
    (["--text", "   "], "at least one word"),
])
def test_predict_needs_one_sentence_or_one_file(trained, capsys, extra, message):
    assert main(["predict", str(trained[1]), *extra]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and message in error, error


def test_evaluating_on_a_tag_never_seen_in_training_names_it(trained, tmp_path, capsys):
    other = write_conllu(tmp_path / "other.conllu", [[("o", "DET"), ("gato", "NOUN")], [("ai", "INTJ")]])
    assert main(["evaluate", str(trained[1]), "--data", str(other)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "sentence 2 has tag 'INTJ'" in error, error


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    out = tmp_path / "run"
    untagged = write_conllu(tmp_path / "untagged.conllu", toy_sentences(20), upos=False)
    few = write_conllu(tmp_path / "few.conllu", toy_sentences(4))
    empty = tmp_path / "empty.conllu"
    empty.write_text("\n")
    good = write_conllu(tmp_path / "good.conllu", toy_sentences(20))
    return {
        "CoNLL-U without UPOS": (train_args(untagged, out), "without UPOS"),
        "missing file": (train_args(tmp_path / "nope.conllu", out), "does not exist"),
        "empty file": (train_args(empty, out), "empty"),
        "too few sentences": (train_args(few, out), "4 sentences"),
        "fractions leave no training": (train_args(good, out, "--val-fraction", "0.5", "--test-fraction", "0.5"),
                                        "val_fraction + test_fraction"),
        "bundled data of another kind": (train_args("hamlet", out), "not 'conllu'"),
    }


@pytest.mark.parametrize("case", ["CoNLL-U without UPOS", "missing file", "empty file", "too few sentences",
                                  "fractions leave no training", "bundled data of another kind"])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, capsys, case):
    args, message = _bad_inputs(tmp_path)[case]
    assert main(args) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("rnnlab train: error:") and message in error, error
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
