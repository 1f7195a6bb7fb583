"""The tagging task's hooks: its settings, vocabularies and splits, the probe, the ONNX graph, old run directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.tasks import load
from rnnlab.tasks.tag import TagConfig, Tagger, TagTask, TaggerInputs, tagging_loss
from rnnlab.tasks.tag.vocabularies import batches, build_vocabularies, check_tags, encode
from rnnlab.train import Trainer, TrainerOptions

TINY = dict(epochs=1, hidden_size=8, batch_size=8, embedding_dim=8, char_embedding_dim=4, char_hidden_size=4,
            min_freq=1, device="cpu")
OLD_RUN = Path(__file__).parent / "old_run"  # written by `rnnlab train tag` before the task became a package


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, build) -> Tagger:
    data = build.conllu(tmp_path_factory.mktemp("tag") / "sentences.conllu", repeats=25)
    return Tagger(**TINY, test_fraction=0.2).fit(str(data))


def test_vocabularies_come_from_the_training_sentences_only():
    train = [(["O", "gato", "come"], ["DET", "NOUN", "VERB"]), (["o", "cão"], ["DET", "NOUN"])]
    vocabs = build_vocabularies(train, min_freq=1, lowercase=True)
    assert "o" in vocabs.words and "O" not in vocabs.words and "peixe" not in vocabs.words
    assert vocabs.tags == ["DET", "NOUN", "VERB"]
    assert "O" not in vocabs.chars and "o" in vocabs.chars  # characters keep their case; seen once → <unk>
    encoded = encode([(["O", "peixe"], ["DET", "NOUN"])], vocabs, max_chars=8)[0]
    assert encoded.words == [vocabs.words.index("o"), vocabs.words.unk_id] and encoded.tags == [0, 1]
    assert encoded.chars.shape == (2, 5)
    with pytest.raises(DataError, match="sentence 7 has tag 'ADJ'"):
        check_tags([(["belo"], ["ADJ"])], [7], vocabs.tags, "data 'x.conllu'")


@pytest.mark.parametrize("overrides, message", [
    ({"val_fraction": 0.6, "test_fraction": 0.4}, "val_fraction \\+ test_fraction"),
    ({"test_fraction": 0.0}, "test_fraction must be in"),
    ({"char_hidden_size": -1}, "char_hidden_size must be"),
    ({"max_word_chars": 1}, "max_word_chars must be"),
    ({"min_freq": 0}, "min_freq must be"),
])
def test_config_rejects_bad_settings(overrides, message):
    with pytest.raises(ValueError, match=message):
        TagConfig(**overrides)


def sentences(count: int) -> list[tuple[list[str], list[str]]]:
    nouns = ["gato", "casa", "livro", "rio"]
    return [(["o", nouns[i % 4], "dorme", "."], ["DET", "NOUN", "VERB", "PUNCT"]) for i in range(count)]


def test_validation_data_validates_and_the_validation_split_trains_with_the_test_split_unchanged():
    data, other = sentences(40), sentences(3)
    own = TagTask(TagConfig()).prepare(data)
    given = TagTask(TagConfig()).prepare(data, other)
    assert given.splits["test"] == own.splits["test"] and list(given.numbers["test"]) == list(own.numbers["test"])
    assert sorted(given.numbers["train"]) == sorted([*own.numbers["train"], *own.numbers["val"]])
    assert given.splits["val"] == other and list(given.numbers["val"]) == [1, 2, 3]
    assert len(given.encoded["train"]) == len(own.encoded["train"]) + len(own.encoded["val"])


def test_a_validation_tag_never_seen_in_training_is_named_with_its_sentence():
    other = [(["o", "gato"], ["DET", "NOUN"]), (["ai"], ["INTJ"])]
    task = TagTask(TagConfig())
    with pytest.raises(DataError, match="validation_data <list in memory>: sentence 2 has tag 'INTJ'"):
        task.prepare(sentences(40), other)
    assert task.vocabs is None  # nothing fitted by a failed prepare


def test_the_probe_is_the_trainer_loss_on_the_test_sentences(fitted):
    probe = fitted.probe(1000)
    test = fitted.task_.own_data().splits["test"]
    assert probe.batch_size == len(test) and probe.description.startswith(f"{len(test)} test sentences")
    vocabs, config = fitted.task_.vocabs, fitted.task_.config
    batch = batches(encode(test, vocabs, config.max_word_chars), vocabs, len(test), None)
    trainer = Trainer(fitted.network_, tagging_loss, TrainerOptions(), run_dir=None, quiet=True)
    assert probe.loss().item() == pytest.approx(trainer.evaluate(batch), rel=1e-6, abs=1e-7)


def test_the_onnx_graph_equals_the_model_on_other_batch_and_word_sizes(fitted, tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graph: pip install onnxruntime")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")
    model = fitted.network_
    assert model.chars is not None
    (path,) = fitted.export(tmp_path / "model.onnx")
    generator = torch.Generator().manual_seed(3)
    words = torch.randint(1, model.embedding.num_embeddings, (3, 7), generator=generator)
    lengths = torch.tensor([7, 2, 5])
    chars = torch.randint(1, model.chars.embedding.num_embeddings, (3, 7, 5), generator=generator)
    chars[..., 3:] = model.char_padding_idx  # words of 3 characters, padded to 5
    with torch.no_grad():
        want = model(TaggerInputs(words, lengths, chars))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"words": words.numpy(), "lengths": lengths.numpy(), "chars": chars.numpy()})
    torch.testing.assert_close(torch.from_numpy(got), want, atol=1e-5, rtol=0.0)


def test_a_run_written_by_the_old_code_loads_and_tags_as_it_did(tmp_path, monkeypatch):
    run = tmp_path / "old_tag"
    shutil.copytree(OLD_RUN, run)
    monkeypatch.chdir(run)  # its config names its data by a relative path
    tagger = load(run)
    assert type(tagger) is Tagger and "out" not in tagger.task_.config.__dataclass_fields__
    assert tagger.evaluate()["metrics"] == json.loads((run / "test_metrics.json").read_text())
    rows = [line.split("\t") for line in (run / "predictions.tsv").read_text().splitlines()[1:]]
    numbers = sorted({int(row[0]) for row in rows})
    words = [[row[2] for row in rows if int(row[0]) == n] for n in numbers]
    assert tagger.predict(words) == [[row[4] for row in rows if int(row[0]) == n] for n in numbers]
