"""Text classification as a task: labelled texts → stratified split → vocabulary → `TextClassifierNetwork`.

The split is stratified and fixed by the seed; the tokenizer settings, the vocabulary (built on
the training split only), the class labels and the majority class are the task's fitted state,
saved in config.json, so a run reloaded in another process encodes and predicts exactly as the
one that trained. Held-out metrics are those of the test split, beside the majority-class baseline.

A run directory holds, beside the pipeline's files, predictions.csv (the test texts with their
label, the predicted one and its probability) and confusion.png.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from rnnlab.data.errors import DataError
from rnnlab.data.frames import name_of, quoted
from rnnlab.data.labels import sorted_classes
from rnnlab.data.splits import stratified_split
from rnnlab.data.text import PAD, UNK, Tokenizer, Vocabulary
from rnnlab.metrics.classification import majority_class, metrics_table
from rnnlab.report.atomic import write_text
from rnnlab.tasks import classifier
from rnnlab.tasks.api import Graph, Outputs, Probe, RunConfig, SavedState
from rnnlab.tasks.classifier import BASELINE, ClassifierTask
from rnnlab.tasks.classify_text.model import TextClassifierNetwork, predict_probabilities, text_batches
from rnnlab.tasks.classify_text.texts import Labelled, TextEncoder, read_labelled, texts_to_predict
from rnnlab.tasks.parts import POOLINGS


@dataclass(frozen=True)
class ClassifyTextConfig(RunConfig):
    """Everything a text classification run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("embedding_dim", "min_freq")
    DATA = ("data",)

    model: str = field(default="gru", metadata={"choices": ["rnn", "lstm", "gru"], "help": "recurrent cell"})
    bidirectional: bool = field(default=True, metadata={"help": "read each text in both directions"})
    dropout: float = field(default=0.5, metadata={"help": "dropout before the output layer (and between "
                                                          "recurrent layers)"})
    batch_size: int = field(default=64, metadata={"help": "texts per batch"})
    epochs: int = field(default=10, metadata={"help": "training epochs (early stopping may end sooner)"})
    learning_rate: float = field(default=3e-3, metadata={"help": "optimizer learning rate"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    data: str | None = field(default="rotten_tomatoes", metadata={"type": str, "help": "a CSV file with columns "
                                                                  "text,label, or a bundled labelled data set's name"})
    min_freq: int = field(default=2, metadata={"help": "keep words seen at least this often in training"})
    max_vocab: int = field(default=20000, metadata={"help": "keep at most this many words (0: no limit)"})
    max_length: int = field(default=0, metadata={"help": "read at most this many tokens of a text (0: all)"})
    embedding_dim: int = field(default=64, metadata={"help": "features per word embedding"})
    lowercase: bool = field(default=True, metadata={"help": "lowercase the text before tokenizing"})
    pooling: str = field(default="mean", metadata={"choices": list(POOLINGS),
                                                   "help": "encoding of a text: final states, or mean/max over steps"})
    val_fraction: float = field(default=0.1, metadata={"help": "share of each class for validation"})
    test_fraction: float = field(default=0.15, metadata={"help": "share of each class for testing"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("max_vocab", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer (0: no limit); received {value!r}")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1); received {self.test_fraction!r}")
        if not 0.0 <= self.val_fraction < 1.0 - self.test_fraction:
            raise ValueError(f"val_fraction must be in [0, 1 - test_fraction); received {self.val_fraction!r}")


class Prepared(NamedTuple):
    """A run's labelled texts, split by the seed, and the parts the trainer and the scores read."""

    data: Labelled
    split: tuple[np.ndarray, np.ndarray, np.ndarray]  # train, val, test rows of `data`
    encoded: dict[str, tuple[list[list[int]], np.ndarray]]  # "train", "val", "test" → token ids, class ids


class ClassifyTextTask(ClassifierTask):
    name = "classify-text"
    help = "classify texts (e.g. sentiment) from a CSV of text,label"
    config_class = ClassifyTextConfig

    def __init__(self, config: ClassifyTextConfig) -> None:
        super().__init__(config)
        self.encoder: TextEncoder | None = None
        self.majority: str | None = None
        self.split_sizes: dict[str, int] = {}

    @property
    def classes(self) -> list[str]:
        return self.encoder.classes

    def state_dict(self) -> dict:
        return self.with_label_kind({**self.encoder.to_dict(), "majority": self.majority,
                                     "split_sizes": self.split_sizes})

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        classes = self.load_classes(state)
        self.encoder = TextEncoder(state.tokenizer("tokenizer"), state.vocabulary("vocabulary", (PAD, UNK)), classes,
                                   state.integer("max_length", minimum=0))
        self.split_sizes = self.load_split_sizes(state)

    # --- training --------------------------------------------------------------------------------

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        """Reads and splits `data`; builds the tokenizer, vocabulary and classes on the training split
        (unless fitted or loaded). With `validation_data` (texts and labels in any form `data` takes),
        it validates and the validation split of `data` trains too; the test split stays the same."""
        config = self.config
        labelled = read_labelled(data)
        train, val, test = stratified_split(labelled.labels, val_fraction=config.val_fraction,
                                            test_fraction=config.test_fraction, seed=config.seed)
        if self.encoder is None:
            self._fit_encoder(labelled, train, val, test)
        needed = {"training": train, "test": test, **({"validation": val} if config.val_fraction else {})}
        for split, rows in needed.items():
            if len(rows) == 0:
                raise DataError(f"{labelled.where}: {len(labelled.texts)} rows leave the {split} split empty; give "
                                "more rows")
        ids, targets = self.encoder.ids(labelled.texts), self.encoder.targets(labelled.labels, labelled.where)
        encoded = {name: ([ids[i] for i in rows], targets[rows]) for name, rows in
                   (("train", train), ("val", val), ("test", test))}
        if validation_data is not None:
            given = read_labelled(validation_data, argument="validation_data")
            train = np.sort(np.concatenate([train, val]))
            val = np.array([], dtype=np.int64)
            encoded["train"] = ([ids[i] for i in train], targets[train])
            encoded["val"] = (self.encoder.ids(given.texts), self.encoder.targets(given.labels, given.where))
        return Prepared(labelled, (train, val, test), encoded)

    def _fit_encoder(self, labelled: Labelled, train, val, test) -> None:
        config = self.config
        classes = sorted_classes((labelled.labels[i] for i in train), labelled.kind)
        classifier.check_training_classes(classes, labelled.labels, labelled.where, "rows")
        tokenizer = Tokenizer("word", lowercase=config.lowercase)
        vocabulary = Vocabulary.build((tokenizer(labelled.texts[i]) for i in train), min_freq=config.min_freq,
                                      max_size=config.max_vocab or None)
        self.encoder = TextEncoder(tokenizer, vocabulary, classes, config.max_length)
        self.majority = majority_class([labelled.labels[i] for i in train])
        self.label_kind = labelled.kind
        self.split_sizes = {"train": len(train), "val": len(val), "test": len(test)}

    def build_model(self) -> TextClassifierNetwork:
        config, encoder = self.config, self.encoder
        return TextClassifierNetwork(len(encoder.vocabulary), len(encoder.classes), cell=config.model,
                                     embedding_dim=config.embedding_dim, hidden_size=config.hidden_size,
                                     num_layers=config.num_layers, bidirectional=config.bidirectional,
                                     dropout=config.dropout, padding_idx=encoder.vocabulary.pad_id,
                                     pooling=config.pooling)

    def _batches(self, part: tuple[list[list[int]], np.ndarray], generator: torch.Generator | None):
        ids, targets = part
        return text_batches(ids, targets, self.config.batch_size, pad_id=self.encoder.vocabulary.pad_id,
                            generator=generator, pool_batches=50)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        return self._batches(prepared.encoded["train"], generator)

    def val_batches(self, prepared: Prepared):
        return self._batches(prepared.encoded["val"], None) if len(prepared.encoded["val"][1]) else None

    # --- predictions and scores --------------------------------------------------------------------

    def probabilities(self, model: nn.Module, data: Any) -> np.ndarray:
        """(N, K) class probabilities of the texts in `data` (see `texts_to_predict`)."""
        return predict_probabilities(model, self.encoder.ids(texts_to_predict(data)),
                                     pad_id=self.encoder.vocabulary.pad_id)

    def report(self, model: nn.Module, ids: list[list[int]], targets: np.ndarray) -> dict:
        """Probabilities, predictions, and the metrics of the model and of the majority baseline."""
        probabilities = predict_probabilities(model, ids, pad_id=self.encoder.vocabulary.pad_id)  # (N, K)
        predicted = probabilities.argmax(axis=1)
        names = np.array(self.classes)
        guesses = {"model": names[predicted], BASELINE: np.full(len(targets), self.majority)}
        return {"probabilities": probabilities, "predicted": predicted,
                "metrics": classifier.scores(names[targets], guesses, self.classes)}

    def score(self, model: nn.Module, prepared: Prepared) -> dict:
        return self.report(model, *prepared.encoded["test"])

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """Metrics of the model and the majority baseline: on the run's test split when `data` is None
        (the split is fixed by the labels and the seed), else on every row of `data`."""
        if data is None:
            prepared = self.own_data()
            ids, targets = prepared.encoded["test"]
            name, split = name_of(self.config.data), "test"
        else:
            labelled = read_labelled(data)
            ids, targets = self.encoder.ids(labelled.texts), self.encoder.targets(labelled.labels, labelled.where)
            name, split = self.data_name(data), "all"
        report = self.report(model, ids, targets)
        return {"data": name, "split": split, "examples": int(len(targets)), "labels": self.classes,
                "metrics": report["metrics"]}

    def evaluate_text(self, result: dict) -> str:
        header = (f"{result['data']}: {result['examples']} texts ({result['split']}), labels "
                  f"{', '.join(result['labels'])}")
        return header + "\n" + self.metrics_text(result["metrics"])

    def metrics_text(self, metrics: dict) -> str:
        return metrics_table(metrics, self.classes)

    def describe(self) -> str:
        direction = "bidirectional " if self.config.bidirectional else ""
        return f"{direction}{self.config.model.upper()} on {quoted(self.config.data)}"

    # --- outputs ---------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Prepared, evaluation: dict) -> Outputs:
        _write_predictions(run_dir / "predictions.csv", prepared, self.classes, evaluation)
        sizes = ", ".join(f"{name} {len(rows)}" for name, rows in zip(("train", "validation", "test"), prepared.split))
        sections = classifier.report_sections(
            run_dir, evaluation["metrics"], self.classes, title=f"{self.config.model.upper()} on the test split",
            caption=f"Test split, {len(prepared.split[2])} texts",
            note=f"The majority baseline always answers the most frequent training label. Split: {sizes}; "
                 f"vocabulary: {len(self.encoder.vocabulary)} tokens from the training split.")
        return Outputs(title=f"rnnlab classify-text: {name_of(self.config.data)}", sections=sections)

    def probe(self, model: nn.Module, prepared: Prepared, rows: int) -> Probe:
        """The classifier and the first `rows` texts of its test split, padded with their lengths as
        the training batches are, with the training loss (cross-entropy)."""
        ids, targets = prepared.encoded["test"]
        batch, targets = next(text_batches(ids[:rows], targets[:rows], rows, pad_id=self.encoder.vocabulary.pad_id))
        return self.probe_batch(model, batch, targets, "texts", "tokens")

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """tokens (B, T) int64, lengths (B,) int64 -> logits (B, K)."""
        model.eval()
        # at least 2 on every dynamic axis, lengths unequal and below T (so tracing ties T to none of them)
        inputs = (torch.zeros(2, 3, dtype=torch.int64), torch.tensor([2, 1]))
        return [Graph(model, inputs, ["tokens", "lengths"], ["logits"],
                      {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}})]


def _write_predictions(path: Path, prepared: Prepared, classes: list[str], report: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label", "predicted", "probability"])
    texts, labels = prepared.data.texts, prepared.data.labels
    for row, probabilities, k in zip(prepared.split[2], report["probabilities"], report["predicted"]):
        writer.writerow([texts[row], labels[row], classes[k], f"{probabilities[k]:.4f}"])
    write_text(path, buffer.getvalue())
