"""The generation task's hooks: the corpus and its splits, the probe, the ONNX graph, old run directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnlab.cells.lstm import LSTMState
from rnnlab.data.errors import DataError
from rnnlab.data.text import Tokenizer
from rnnlab.tasks import load
from rnnlab.tasks.generate import GenerateConfig, GenerateTask, TextGenerator, stream_nll
from rnnlab.tasks.generate.corpus import Corpus, characters_covered, read_corpus

TINY = dict(epochs=1, hidden_size=8, batch_size=4, bptt=20, embedding_dim=8, device="cpu")
OLD_RUN = Path(__file__).parent / "old_run"  # written by `rnnlab train generate` before the task became a package


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, build) -> TextGenerator:
    return TextGenerator(**TINY, model="gru").fit(str(build.text_file(tmp_path_factory.mktemp("lm") / "corpus.txt")))


def test_bits_per_character_of_words_count_the_text_after_the_first_word():
    tokenizer = Tokenizer(kind="word")
    text = "  To be, or not\n"
    corpus = Corpus(tokenizer, None, {"test": text}, {"test": torch.zeros(5, dtype=torch.int64)})
    assert characters_covered(corpus, "test") == len(" be, or not")  # 5 tokens, 4 predicted
    chars = Corpus(Tokenizer(kind="char"), None, {"test": text}, {"test": torch.zeros(len(text), dtype=torch.int64)})
    assert characters_covered(chars, "test") == len(text) - 1


def test_strings_in_memory_are_one_text_joined_by_newlines(build, tmp_path):
    path = build.text_file(tmp_path / "corpus.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert read_corpus(lines) + "\n" == read_corpus(str(path)) == read_corpus(path)
    with pytest.raises(TypeError, match=r"data\[1\] must be a string.*received int"):
        read_corpus(["to be", 2])
    with pytest.raises(DataError, match="data holds no text"):
        read_corpus(["", "  "])
    with pytest.raises(DataError, match="validation_data: file 'elsewhere.txt' does not exist.*list of strings"):
        read_corpus("elsewhere.txt", "validation_data")


def test_validation_data_validates_and_the_validation_share_trains_with_the_test_split_unchanged(build, tmp_path):
    text = build.text_file(tmp_path / "corpus.txt").read_text(encoding="utf-8")
    own = GenerateTask(GenerateConfig(batch_size=4)).prepare([text])
    given = GenerateTask(GenerateConfig(batch_size=4)).prepare([text], ["whether tis nobler"])
    assert given.texts["test"] == own.texts["test"] and torch.equal(given.ids["test"], own.ids["test"])
    assert given.texts["train"] == own.texts["train"] + own.texts["val"]
    assert given.texts["val"] == "whether tis nobler"
    with pytest.raises(DataError, match="validation_data has 1 char tokens; it needs at least 2"):
        GenerateTask(GenerateConfig(batch_size=4)).prepare([text], ["w"])


def test_the_probe_is_the_stream_likelihood_of_its_chunk(fitted):
    """One stream: the first bptt test tokens, scored token by token as evaluation reads a stream."""
    probe = fitted.probe(1)
    ids = fitted.task_.own_data().ids["test"]
    assert probe.steps == fitted.bptt < len(ids)
    nats, tokens = stream_nll(fitted.network_, ids[: fitted.bptt + 1], bptt=7)  # other chunk cuts, the state carried
    assert probe.loss().item() == pytest.approx(nats / tokens, rel=1e-6, abs=1e-7)
    assert fitted.probe(3).batch_size == 3 and fitted.probe(3).description == "3 test streams of 20 characters"


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_the_onnx_graph_carries_the_state_as_the_model_does(cell, build, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graph: pip install onnxruntime")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")
    lm = TextGenerator(**TINY, model=cell).fit(str(build.text_file(tmp_path / "corpus.txt", repeats=10)))
    (path,) = lm.export(tmp_path / "model.onnx")
    model, layer = lm.network_.eval(), lm.network_.encoder
    tokens = torch.randint(0, model.vocab_size, (3, 9), generator=torch.Generator().manual_seed(4))
    states = [torch.randn(layer.num_layers, 3, layer.hidden_size) for _ in range(1 + (cell == "lstm"))]
    with torch.no_grad():
        logits, final = model(tokens, LSTMState(*states) if cell == "lstm" else states[0])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"tokens": tokens.numpy(), **{n: s.numpy() for n, s in zip(["h_0", "c_0"], states)}})
    for ours, theirs in zip(got, [logits, *(final if cell == "lstm" else (final,))], strict=True):
        torch.testing.assert_close(torch.from_numpy(ours), theirs, atol=1e-5, rtol=0.0)


def test_a_run_written_by_the_old_code_loads_scores_and_samples_as_it_did(tmp_path, monkeypatch):
    run = tmp_path / "old_gen"
    shutil.copytree(OLD_RUN, run)
    monkeypatch.chdir(run)  # its config names its text by a relative path
    lm = load(run)
    assert type(lm) is TextGenerator
    assert lm.evaluate()["metrics"] == json.loads((run / "test_metrics.json").read_text())
    samples = (run / "samples.txt").read_text(encoding="utf-8").split("=== ")[1:]
    heading, text = samples[0].split("\n", 1)  # "temperature 0 (greedy), seed 0, 300 tokens"
    prompt = lm.task_.own_data().texts["test"].split("\n")[0][:60]  # the samples continue the test split's first line
    assert heading.startswith("temperature 0 (greedy)") and text.startswith(prompt)
    assert lm.generate(prompt, temperature=0.0) == text[:-2]  # each sample ends with a blank line
    heading, text = samples[2].split("\n", 1)
    assert heading == "temperature 0.8, seed 0, 300 tokens" and lm.generate(prompt) == text[:-2]
