"""The text classifier and its pieces: padding never matters, batching, the split, the saved encoder."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.text import Tokenizer, Vocabulary, pad_batch
from rnnlab.tasks.classify_text.model import TextBatch, TextClassifierNetwork, predict_probabilities, text_batches
from rnnlab.tasks.classify_text.texts import TextEncoder

SENTENCES = [[5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [9, 9, 9, 9, 9, 9, 9], [12]]


def _model(cell: str, bidirectional: bool, pooling: str, **kwargs) -> TextClassifierNetwork:
    torch.manual_seed(0)
    options = dict(cell=cell, embedding_dim=6, hidden_size=5, num_layers=2, bidirectional=bidirectional,
                   dropout=0.3, padding_idx=0, pooling=pooling)
    return TextClassifierNetwork(20, 3, **{**options, **kwargs}).eval()


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_sentence_alone_and_in_a_padded_batch_gets_the_same_probabilities(cell, bidirectional, pooling):
    model = _model(cell, bidirectional, pooling)
    tokens, lengths = pad_batch(SENTENCES, pad_id=0)  # (4, 11): rows 0, 2 and 3 are padded
    with torch.no_grad():
        batched = torch.softmax(model(tokens, lengths), dim=-1)
        for row, sentence in enumerate(SENTENCES):
            alone = torch.softmax(model(torch.tensor([sentence])), dim=-1)[0]
            torch.testing.assert_close(batched[row], alone, atol=1e-6, rtol=0)
        # the check has teeth: reading the pads as if they were words changes the answer
        unmasked = torch.softmax(model(tokens), dim=-1)
        assert (unmasked[0] - batched[0]).abs().max() > 1e-4


def test_padding_is_ignored_on_the_reference_backend_too():
    model = _model("lstm", True, "last")
    model.encoder.backend = "reference"
    tokens, lengths = pad_batch(SENTENCES, pad_id=0)
    with torch.no_grad():
        batched = model(TextBatch(tokens, lengths))
        alone = model(torch.tensor([SENTENCES[0]]))
    torch.testing.assert_close(batched[0], alone[0], atol=1e-6, rtol=0)


def test_the_pad_embedding_is_zero_and_never_learns():
    model = _model("gru", False, "mean")
    assert torch.count_nonzero(model.embedding.weight[0]) == 0
    tokens, lengths = pad_batch(SENTENCES, pad_id=0)
    model.train()
    model(tokens, lengths).sum().backward()
    assert torch.count_nonzero(model.embedding.weight.grad[0]) == 0


def test_a_small_model_learns_a_keyword_task():
    """'good' somewhere in the text means class 1, 'bad' class 0; the rest is noise words."""
    generator = np.random.default_rng(0)
    sequences, labels = [], []
    for _ in range(256):
        label = int(generator.integers(2))
        words = list(generator.integers(3, 20, size=int(generator.integers(2, 9))))
        words.insert(int(generator.integers(len(words) + 1)), 1 + label)  # id 1: bad, id 2: good
        sequences.append([int(w) for w in words])
        labels.append(label)
    torch.manual_seed(0)
    model = TextClassifierNetwork(20, 2, cell="gru", embedding_dim=8, hidden_size=8, bidirectional=True, pooling="max")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    for epoch in range(8):
        model.train()
        for batch, targets in text_batches(sequences, labels, 32, pad_id=0,
                                           generator=torch.Generator().manual_seed(epoch), pool_batches=2):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(batch), targets).backward()
            optimizer.step()
    predicted = predict_probabilities(model, sequences, pad_id=0).argmax(axis=1)
    assert np.mean(predicted == np.array(labels)) > 0.95


def test_predict_probabilities_keeps_the_order_given():
    model = _model("lstm", True, "last")
    probabilities = predict_probabilities(model, SENTENCES, pad_id=0, batch_size=2)  # batched by length inside
    assert probabilities.shape == (4, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    with torch.no_grad():
        for row, sentence in enumerate(SENTENCES):
            alone = torch.softmax(model(torch.tensor([sentence])).double(), dim=-1)[0].numpy()
            np.testing.assert_allclose(probabilities[row], alone, atol=1e-6)


def test_text_batches_cover_every_text_once_and_follow_the_generator():
    sequences = [[1] * (1 + i % 7) for i in range(50)]
    labels = list(range(50))

    def drawn(seed, pool_batches):
        return [(batch.tokens.clone(), batch.lengths.clone(), targets.clone()) for batch, targets in
                text_batches(sequences, labels, 8, pad_id=0, generator=torch.Generator().manual_seed(seed),
                             pool_batches=pool_batches)]

    first, again, other = drawn(3, 2), drawn(3, 2), drawn(4, 2)
    assert all(torch.equal(a, b) for x, y in zip(first, again) for a, b in zip(x, y))
    assert [t.tolist() for *_, t in first] != [t.tolist() for *_, t in other]
    assert sorted(i for *_, targets in first for i in targets.tolist()) == labels
    for tokens, lengths, targets in first:
        assert lengths.tolist() == [len(sequences[i]) for i in targets.tolist()]
        assert tokens.shape[1] == int(lengths.max())
    padding = lambda batches: sum(int(t.numel() - l.sum()) for t, l, _ in batches)  # noqa: E731
    assert padding(first) < padding(drawn(3, 0))  # pooling by length wastes fewer steps on pads
    in_order = [t.tolist() for _, t in text_batches(sequences, labels, 8, pad_id=0)]
    assert sum(in_order, []) == labels


def test_the_encoder_round_trips_through_json_and_encodes_the_same():
    tokenizer = Tokenizer("word", lowercase=True)
    vocabulary = Vocabulary.build([tokenizer("A fine film."), tokenizer("a dull film")], min_freq=1)
    encoder = TextEncoder(tokenizer, vocabulary, ["fresh", "rotten"], max_length=3)
    reloaded = TextEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    texts = ["A FINE, fine film!", "unknown words here"]
    assert reloaded.ids(texts) == encoder.ids(texts)
    assert encoder.ids(texts)[0] == vocabulary.encode(["a", "fine", ","])  # lowercased, cut to 3 tokens
    assert encoder.ids(texts)[1] == [vocabulary.unk_id] * 3
    assert encoder.targets(["rotten", "fresh"], "f.csv").tolist() == [1, 0]
    with pytest.raises(DataError, match=r"f\.csv: data row 2 has label 'meh', which training never saw"):
        encoder.targets(["fresh", "meh"], "f.csv")


@pytest.mark.parametrize("kwargs, message", [
    (dict(cell="transformer"), "cell must be one of"),
    (dict(pooling="sum"), "pooling must be one of"),
    (dict(padding_idx=20), "padding_idx must be in"),
    (dict(dropout=1.0), "dropout must be in"),
])
def test_bad_constructor_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TextClassifierNetwork(20, 2, **kwargs)
    with pytest.raises(ValueError, match="num_classes must be at least 2"):
        TextClassifierNetwork(20, 1)


def test_an_empty_sequence_is_refused():
    model = _model("gru", False, "last")
    with pytest.raises(ValueError, match="lengths must be in"):
        model(torch.tensor([[3, 0]]), torch.tensor([0]))
