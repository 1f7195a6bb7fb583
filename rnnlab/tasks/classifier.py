"""What the two classification tasks share (texts in `classify_text`, series in `classify_series`).

    class_ids(...)             labels → class ids; a label training never saw is an error naming its row
    check_training_classes()   the training split holds every label, and at least two
    scores(...)                the metrics of the model and of each baseline on the same rows
    report_sections(...)       the report's metric tables and confusion matrix
    ClassifierTask             the hooks both share: cross-entropy, the headline, the labels' kind, the probe
    ClassifierEstimator        predict, predict_proba and classes_, in the caller's terms

A classifier task keeps its classes as strings, sorted (`rnnlab.data.labels`), with their kind
("str", or "int" for integer labels given in memory), and gives `probabilities(model, data)`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_pandas, name_of
from rnnlab.data.labels import LABEL_KINDS, restore, sorted_classes
from rnnlab.metrics.classification import classification_metrics
from rnnlab.report.html import Section, Table
from rnnlab.report.plots import plot_confusion
from rnnlab.tasks.api import Headline, Probe, SavedState, StateError, Task
from rnnlab.tasks.estimator import Estimator

BASELINE = "majority"


def class_ids(classes: Sequence[str], labels: Sequence[str], names: Sequence[str], where: str) -> np.ndarray:
    """(N,) int64 class ids of `labels`; a label not in `classes` is a DataError naming `where` and its row.

    Args:
        names: how each row is called in the message, e.g. "data row 3" or "sequence '7'".
    """
    position = {label: k for k, label in enumerate(classes)}
    for name, label in zip(names, labels):
        if label not in position:
            raise DataError(f"{where}: {name} has label {label!r}, which training never saw; the run's labels "
                            f"are {list(classes)}")
    return np.array([position[label] for label in labels], dtype=np.int64)


def check_training_classes(classes: Sequence[str], labels: Sequence[str], where: str, noun: str) -> None:
    """DataError unless the training split's `classes` are at least two and hold every label of `labels`.

    Args:
        noun: what a row is ("rows", "sequences"), for the message.
    """
    counts = Counter(labels)
    for label in sorted(set(counts) - set(classes)):
        raise DataError(f"{where}: label {label!r} has only {counts[label]} {noun}, too few to leave one for the "
                        "training split")
    if len(classes) < 2:
        raise DataError(f"{where}: training needs at least 2 labels; its training split has {list(classes)}")


def scores(actual: np.ndarray, guesses: dict[str, np.ndarray], classes: Sequence[str]) -> dict:
    """{classifier: `classification_metrics`} of each guess (all labels, as strings) against `actual`."""
    return {name: classification_metrics(actual, guess, classes) for name, guess in guesses.items()}


def report_sections(run_dir: Path, metrics: dict, classes: Sequence[str], *, title: str, caption: str,
                    note: str) -> list[Section]:
    """The test metrics (every classifier, then the model per class) and the model's confusion matrix.

    Writes confusion.png into `run_dir`; `note` says what the baselines are and how the data was split.
    """
    plot_confusion(np.array(metrics["model"]["confusion_matrix"]), classes, run_dir / "confusion.png", title=title)
    names = ("accuracy", "balanced_accuracy", "macro_f1")
    overall = Table(columns=["classifier", "accuracy", "balanced accuracy", "macro F1"],
                    rows=[[name, *(values[n] for n in names)] for name, values in metrics.items()], caption=caption)
    per_class = Table(columns=["class", "precision", "recall", "F1", "support"],
                      rows=[[c, *(metrics["model"]["per_class"][c][k] for k in ("precision", "recall", "f1", "support"))]
                            for c in classes], caption="The model, per class")
    return [Section(heading="Test metrics", paragraphs=[note], tables=[overall, per_class]),
            Section(heading="Confusion matrix", paragraphs=["Rows are the true labels, columns the predicted ones."],
                    images=[run_dir / "confusion.png"])]


def metrics_text(metrics: dict) -> str:
    """One row per classifier: accuracy, balanced accuracy and macro F1."""
    lines = [f"{'':18}{'accuracy':>10}{'balanced':>10}{'macro F1':>10}"]
    lines += [f"{name:18}{values['accuracy']:>10.4f}{values['balanced_accuracy']:>10.4f}{values['macro_f1']:>10.4f}"
              for name, values in metrics.items()]
    return "\n".join(lines)


class ClassifierTask(Task):
    """A task answering one class per input, trained with cross-entropy and headlined by accuracy
    against the majority class. A subclass sets `label_kind` when it fits its classes."""

    headline = Headline("accuracy", True, BASELINE)
    supervised = True
    label_kind = "str"  # "int" for integer labels given in memory (`rnnlab.data.labels`)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return torch.nn.functional.cross_entropy(outputs, targets)

    def with_label_kind(self, state: dict) -> dict:
        """`state`, with the labels' kind where it is not "str" (runs of string labels hold none)."""
        return state if self.label_kind == "str" else {**state, "label_kind": self.label_kind}

    def load_classes(self, state: SavedState) -> list[str]:
        """The saved classes, checked: at least 2 distinct strings in class order (`sorted_classes`,
        which for integer labels is numeric); sets the labels' kind and the majority class, one of them."""
        self.label_kind = state.string("label_kind", among=LABEL_KINDS) if state.has("label_kind") else "str"
        classes = state.strings("classes", least=2)
        try:
            in_order = classes == sorted_classes(classes, self.label_kind)
        except ValueError:  # an "int" run's class that is not an integer
            in_order = False
        if not in_order:
            raise StateError(f"'classes' must be in class order ({'as numbers' if self.label_kind == 'int' else 'sorted'}"
                             f", as rnnlab writes them); received {classes!r:.60}")
        self.majority = state.string("majority", among=classes)
        return classes

    @staticmethod
    def load_split_sizes(state: SavedState) -> dict[str, int]:
        """The saved sizes of the splits ({} for runs written before they were saved)."""
        if not state.has("split_sizes"):
            return {}
        sizes = state.object("split_sizes")
        return {split: sizes.integer(split, minimum=0) for split in ("train", "val", "test")}

    def probe_batch(self, model: nn.Module, batch: tuple, targets: Tensor, units: str, steps_name: str) -> Probe:
        """The probe of one padded test batch (a `TextBatch` or `SeriesBatch`), on the model's device.

        Args:
            units, steps_name: what a row and a step are, for the description ("texts", "tokens").
        """
        model.eval()  # a probe measures the model as it predicts (no dropout)
        device = next(model.parameters()).device
        batch, targets = type(batch)(*(t.to(device) for t in batch)), targets.to(device)
        steps = batch[0].shape[1]  # (B, T, ...)
        return Probe(model=model, loss=lambda: self.loss(model(batch), targets), batch_size=len(targets),
                     steps=steps, description=f"{len(targets)} test {units}, up to {steps} {steps_name}")

    @staticmethod
    def data_name(data) -> str:
        """How `evaluate` names the data it was given: a (inputs, labels) tuple by its inputs."""
        return name_of(data[0] if isinstance(data, tuple) else data)


class ClassifierEstimator(Estimator):
    """An estimator whose task answers one class per input: `predict`, `predict_proba`, `classes_`.

    Its task has `classes` (strings, sorted), `label_kind` and `probabilities(model, data)`.
    """

    @property
    def classes_(self) -> np.ndarray:
        """The classes, in the order of `predict_proba`'s columns, in the terms of the training labels."""
        self._check_fitted()
        return restore(self.task_.classes, self.task_.label_kind)

    def predict_proba(self, data: Any) -> np.ndarray:
        """(N, K) class probabilities of each input, columns in the order of `classes_`; rows sum to 1."""
        self._check_fitted()
        return self.task_.probabilities(self.network_, data)

    def predict(self, data: Any) -> Any:
        """The most probable class of each input: an array of labels (a pandas Series, indexed like
        `data`, for a Series or DataFrame; one label for one text)."""
        labels = self.classes_[self.predict_proba(data).argmax(axis=1)]
        if self._one_input(data):
            return labels[0]
        if is_pandas(data, "Series") or is_pandas(data, "DataFrame"):
            import pandas as pd

            index = data.index if len(data.index) == len(labels) else None  # a long-format frame: one per sequence
            return pd.Series(labels, index=index, name="label")
        return labels

    def _one_input(self, data: Any) -> bool:
        """True where `data` is one input (a text classifier's one string), answered with one label."""
        return False
