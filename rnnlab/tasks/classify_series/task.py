"""Series classification as a task: labelled sequences → stratified split → standardise → `SeriesClassifierNetwork`.

The model trains on the training data (a bundled set's TRAIN file, a .ts / long-format .csv file,
or sequences in memory), minus a stratified, seeded validation split, and is tested on the test
data (a bundled set's TEST file, or `test_data`; without either, on a stratified test split
carved from the training data). The per-channel standardisation is fitted on the training split
only. The classes, channel names, scaler and baseline settings are the task's fitted state, saved
in config.json, so a run reloaded in another process predicts exactly as the one that trained.
Held-out metrics sit beside three baselines, under the names the field gives them: the majority
class ("majority"), and 1-nearest-neighbour with Euclidean distance ("1nn_ed",
`baselines.nearest_neighbour_ed`) and with unconstrained dynamic time warping ("1nn_dtw",
`baselines.nearest_neighbour_dtw`).

A run directory holds, beside the pipeline's files, predictions.csv (the test sequences with their
label, the predicted one, its probability and both 1-NN answers) and confusion.png.

The module is a little over the style's ~300 lines: `prepare` reads three sources (the training
data, the test file or test_data, validation_data) and their checks read best in one place.
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

from rnnlab.data import bundled
from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, is_pandas, name_of, quoted
from rnnlab.data.labels import sorted_classes
from rnnlab.data.scaling import Scaler
from rnnlab.data.splits import stratified_split
from rnnlab.data.ts import FILL_MODES, LabelledSeries
from rnnlab.metrics.classification import majority_class
from rnnlab.report.atomic import write_text
from rnnlab.tasks import classifier
from rnnlab.tasks.api import Graph, Outputs, Probe, RunConfig, SavedState
from rnnlab.tasks.classify_series.baselines import nearest_neighbour_dtw, nearest_neighbour_ed

DTW_CELLS = 2e10  # the most recurrence cells the 1-NN-DTW baseline may cost (≈ a minute at 3 ns a cell)
from rnnlab.tasks.classifier import BASELINE, ClassifierTask
from rnnlab.tasks.classify_series.model import SeriesClassifierNetwork, predict_probabilities, series_batches
from rnnlab.tasks.classify_series.series import check_channels, labelled, read_sequences
from rnnlab.tasks.parts import POOLINGS


@dataclass(frozen=True)
class ClassifySeriesConfig(RunConfig):
    """Everything a series classification run depends on; saved in the run's config.json."""

    DATA = ("data", "test_data", "fill")
    OLDER_RUNS = {"conv_branch": False}  # runs saved before the branch existed were trained without it

    model: str = field(default="gru", metadata={"choices": ["rnn", "lstm", "gru"], "help": "recurrent cell"})
    hidden_size: int = field(default=64, metadata={"help": "hidden units per layer"})
    bidirectional: bool = field(default=True, metadata={"help": "read each sequence in both directions"})
    dropout: float = field(default=0.0, metadata={"help": "dropout before the output layer (and between "
                                                          "recurrent layers)"})
    batch_size: int = field(default=8, metadata={"help": "sequences per batch"})
    epochs: int = field(default=100, metadata={"help": "training epochs (early stopping may end sooner)"})
    learning_rate: float = field(default=3e-3, metadata={"help": "optimizer learning rate"})
    patience: int = field(default=30, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    data: str | None = field(default="japanese_vowels", metadata={
        "type": str, "help": "a bundled set (japanese_vowels, basic_motions) or a .ts / long-format .csv file to train on"})
    test_data: str | None = field(default=None, metadata={
        "type": str, "help": "a .ts / .csv file to test on (default: a bundled set's TEST file; for a file, a "
                             "test split carved from --data)"})
    fill: str | None = field(default=None, metadata={"type": str, "choices": list(FILL_MODES),
                                                     "help": "fill missing values per channel (default: an error)"})
    pooling: str = field(default="max", metadata={
        "choices": list(POOLINGS), "help": "encoding of a sequence: final states, or mean/max over steps"})
    znormalise: bool = field(default=False, metadata={"help": "z-normalise each sequence by its own mean and "
                                                              "spread per channel first (the UCR archive's "
                                                              "convention)"})
    conv_branch: bool = field(default=True, metadata={"help": "add LSTM-FCN's convolutional branch (three "
                                                                 "conv-batch-norm-ReLU blocks, average pooled) "
                                                                 "beside the recurrent encoder"})
    val_fraction: float = field(default=0.2, metadata={"help": "share of each training class for validation"})
    test_fraction: float = field(default=0.2, metadata={"help": "share of each class for testing, when the test "
                                                                "split is carved from --data"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1); received {self.test_fraction!r}")
        if not 0.0 <= self.val_fraction < 1.0 - self.test_fraction:
            raise ValueError(f"val_fraction must be in [0, 1 - test_fraction); received {self.val_fraction!r}")


class SeriesInputs(NamedTuple):
    """What `fit` was given where it is not one file or name: the sequences, their labels, the test data."""

    data: Any
    labels: Any = None
    test_data: Any = None


class Prepared(NamedTuple):
    """The run's data, split: everything training and testing read."""

    train: LabelledSeries                            # the training data (validation rows included)
    test: LabelledSeries                             # the test data, or the training data when carved
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]  # fit and val rows of `train`, test rows of `test`
    encoded: dict[str, tuple[list[np.ndarray], np.ndarray]]  # "train", "val" → standardised sequences, class ids


class ClassifySeriesTask(ClassifierTask):
    name = "classify-series"
    help = "classify multivariate series (sensor recordings) from .ts or long-format CSV files"
    config_class = ClassifySeriesConfig

    def __init__(self, config: ClassifySeriesConfig) -> None:
        super().__init__(config)
        self.classes: list[str] | None = None
        self.channels: list[str] = []
        self.scaler: Scaler | None = None
        self.majority: str | None = None
        self.resample_length = 0
        self.split_sizes: dict[str, int] = {}

    def state_dict(self) -> dict:
        return self.with_label_kind({"classes": self.classes, "channels": self.channels,
                                     "scaler": self.scaler.to_dict(), "majority": self.majority,
                                     "resample_length": self.resample_length, "split_sizes": self.split_sizes})

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        self.classes, self.channels = self.load_classes(state), state.strings("channels")
        self.scaler = state.scaler("scaler", columns=len(self.channels))
        self.resample_length = state.integer("resample_length", minimum=1)
        self.split_sizes = self.load_split_sizes(state)

    # --- training --------------------------------------------------------------------------------

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        """Reads and checks the data, splits it, and fits the classes, scaler and baselines on the
        training split (a fitted task checks that the training data still gives its classes)."""
        config = self.config
        source, labels, test_source = data if isinstance(data, SeriesInputs) else (data, None, config.test_data)
        train, kind = labelled(source, labels, split="train", fill=config.fill, role="training")
        carves = test_source is None and not (is_file_or_name(source) and
                                              str(source) in bundled.list_series_classification_names())
        fit_rows, val_rows, test_rows = stratified_split(train.labels, val_fraction=config.val_fraction,
                                                         test_fraction=config.test_fraction if carves else 0.0,
                                                         seed=config.seed)
        test = train
        if not carves:
            test, _ = labelled(source if test_source is None else test_source, split="test", fill=config.fill,
                               role="testing", argument="data" if test_source is None else "test_data")
            check_channels(train.channels, test, against="the training data's channels")
            test_rows = np.arange(len(test))
        classes = sorted_classes((train.labels[i] for i in fit_rows), kind)
        if self.classes is not None and classes != self.classes:
            raise DataError(f"{train.source}: its training labels {classes} are not the run's {self.classes}; the "
                            "training data changed since the run")
        classifier.check_training_classes(classes, train.labels, train.source, "sequences")
        for split, rows in (("test", test_rows),) + ((("validation", val_rows),) if config.val_fraction else ()):
            if len(rows) == 0:
                raise DataError(f"{train.source}: {len(train)} sequences leave the {split} split empty; give more")
        self.targets(test, test_rows, classes)  # an unseen test label is an input error, found before training
        validation = None
        if validation_data is not None:
            validation, _ = labelled(validation_data, split="test", fill=config.fill, role="validation",
                                     argument="validation_data")
            check_channels(train.channels, validation, against="the training data's channels")
            self.targets(validation, np.arange(len(validation)), classes)
            fit_rows, val_rows = np.sort(np.concatenate([fit_rows, val_rows])), np.array([], dtype=np.int64)
        if self.scaler is None:
            self.classes, self.label_kind, self.channels = classes, kind, list(train.channels)
            fitting = np.concatenate([self._own(train.series[i]) for i in fit_rows])
            if np.ptp(fitting, axis=0).max() == 0:   # nothing varies: no feature can tell the classes apart
                each = " after each sequence's own z-normalisation (znormalise=True)" if config.znormalise else ""
                raise DataError(f"{train.source}: every training sequence holds one constant value in every "
                                f"channel{each} (received {fitting[0].tolist()}); there is nothing to classify by")
            self.scaler = Scaler.fit(fitting, target_index=0)
            self.majority = majority_class([train.labels[i] for i in fit_rows])
            self.resample_length = int(max(len(train.series[i]) for i in np.concatenate([fit_rows, val_rows])))
            self.split_sizes = {"train": len(fit_rows), "val": len(val_rows), "test": len(test_rows)}
        # standardised once: every epoch draws its batches from these
        validating = (validation, np.arange(len(validation))) if validation is not None else (train, val_rows)
        encoded = {name: (self.standardised(source, rows), self.targets(source, rows))
                   for name, (source, rows) in (("train", (train, fit_rows)), ("val", validating))}
        return Prepared(train, test, (fit_rows, val_rows, test_rows), encoded)

    def targets(self, data: LabelledSeries, rows: np.ndarray, classes: list[str] | None = None) -> np.ndarray:
        """Class ids of `data`'s labels at `rows`; a label training never saw is a DataError naming it."""
        return classifier.class_ids(classes or self.classes, [data.labels[i] for i in rows],
                                    [f"sequence {data.ids[i]!r}" for i in rows], data.source)

    def standardised(self, data: LabelledSeries, rows: np.ndarray | None = None) -> list[np.ndarray]:
        """The sequences at `rows` (default: all), each (T_i, C) standardised with the training
        statistics (after its own z-normalisation, with `znormalise`)."""
        rows = range(len(data)) if rows is None else rows
        return [self.scaler.transform(self._own(data.series[i])).astype(np.float32) for i in rows]

    def _own(self, values: np.ndarray) -> np.ndarray:
        return znormalised(values) if self.config.znormalise else values

    def build_model(self) -> SeriesClassifierNetwork:
        config = self.config
        return SeriesClassifierNetwork(len(self.channels), len(self.classes), cell=config.model,
                                       hidden_size=config.hidden_size, num_layers=config.num_layers,
                                       bidirectional=config.bidirectional, dropout=config.dropout,
                                       pooling=config.pooling, conv_branch=config.conv_branch)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        return series_batches(*prepared.encoded["train"], self.config.batch_size, generator=generator)

    def val_batches(self, prepared: Prepared):
        sequences, targets = prepared.encoded["val"]
        return series_batches(sequences, targets, self.config.batch_size) if len(targets) else None

    # --- predictions and scores --------------------------------------------------------------------

    def sequences(self, data: Any, *, labelled: bool = False) -> LabelledSeries:
        """`data`'s sequences (labels, if any, kept), checked against the run's channels; `labelled`
        reads a 2-tuple as (sequences, labels)."""
        series, _ = read_sequences(data, split="test", fill=self.config.fill, pairs=labelled)
        if is_file_or_name(data) or is_pandas(data, "DataFrame"):
            check_channels(self.channels, series)
        elif len(series.channels) != len(self.channels):
            raise ValueError(f"data has {len(series.channels)} channels; the run was trained on "
                             f"{len(self.channels)}: {self.channels}")
        return series

    def probabilities(self, model: nn.Module, data: Any) -> np.ndarray:
        """(N, K) class probabilities of the sequences in `data` (any form `read_sequences` takes, or
        the `LabelledSeries` that `sequences` read)."""
        series = data if isinstance(data, LabelledSeries) else self.sequences(data)
        return predict_probabilities(model, self.standardised(series))

    def report(self, model: nn.Module, prepared: Prepared, test: LabelledSeries, rows: np.ndarray) -> dict:
        """Probabilities and predictions of the model, and the metrics of it and the baselines on `test`.

        Both 1-NN baselines search the training and validation sequences (all but a carved test
        split), resampled to the run's `resample_length` L; 1-NN-DTW costs test × reference × L²
        cells of its recurrence, a few nanoseconds each (japanese_vowels: 370 × 270 × 26², under a
        second on one core; basic_motions: 40 × 40 × 100², a tenth of one), and is left out above
        `DTW_CELLS` (about a minute), so that a large file's baseline never outlasts its training.
        """
        # 1-NN has nothing to tune, so it may remember the validation sequences too (a stronger baseline)
        reference = np.sort(np.concatenate(prepared.rows[:2]))
        references = self.standardised(prepared.train, reference), [prepared.train.labels[i] for i in reference]
        queries = self.standardised(test, rows)
        probabilities = predict_probabilities(model, queries)                          # (N, K)
        classes = np.array(self.classes)
        guesses = {"model": classes[probabilities.argmax(axis=1)], BASELINE: np.full(len(rows), self.majority),
                   "1nn_ed": nearest_neighbour_ed(*references, queries, self.resample_length)}
        if len(rows) * len(reference) * self.resample_length ** 2 <= DTW_CELLS:
            guesses["1nn_dtw"] = nearest_neighbour_dtw(*references, queries, self.resample_length)
        return {"probabilities": probabilities, "guesses": guesses,
                "metrics": classifier.scores(classes[self.targets(test, rows)], guesses, self.classes)}

    def score(self, model: nn.Module, prepared: Prepared) -> dict:
        return self.report(model, prepared, prepared.test, prepared.rows[2])

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """Test metrics of the model and the baselines: on the run's own test sequences when `data` is
        None, else on every sequence of `data` (a labelled file, a bundled name: its TEST file, or
        sequences and labels in memory). The baselines answer as in training: the training split's
        majority label, and 1-NN-ED and 1-NN-DTW over the training and validation sequences
        (re-read from the run's data, or kept in memory since `fit`)."""
        prepared = self.own_data()
        test, rows = prepared.test, prepared.rows[2]
        if data is not None:
            test = self.sequences(data, labelled=True)
            if test.labels is None:
                raise DataError(f"{test.source}: has no labels; evaluation needs them")
            rows = np.arange(len(test))
        report = self.report(model, prepared, test, rows)
        name = name_of(self.config.test_data or self.config.data) if data is None else self.data_name(data)
        return {"data": name, "split": "test" if data is None else "all", "sequences": int(len(rows)),
                "labels": self.classes, "metrics": report["metrics"]}

    def evaluate_text(self, result: dict) -> str:
        return (f"{result['data']}: {result['sequences']} sequences ({result['split']}), labels "
                f"{', '.join(result['labels'])}\n" + self.metrics_text(result["metrics"]))

    def metrics_text(self, metrics: dict) -> str:
        return classifier.metrics_text(metrics)

    def describe(self) -> str:
        direction = "bidirectional " if self.config.bidirectional else ""
        return f"{direction}{self.config.model.upper()} on {quoted(self.config.data)} ({len(self.classes)} classes)"

    # --- outputs ---------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Prepared, evaluation: dict) -> Outputs:
        _write_predictions(run_dir / "predictions.csv", prepared, self.classes, evaluation)
        sizes = ", ".join(f"{name} {len(rows)}" for name, rows in zip(("train", "validation", "test"), prepared.rows))
        name = name_of(self.config.data)
        sections = classifier.report_sections(
            run_dir, evaluation["metrics"], self.classes, title=f"{self.config.model.upper()} on {name}: test confusion",
            caption=f"Test sequences ({prepared.test.source})",
            note="The majority baseline always answers the training split's most frequent label; 1nn_ed and "
                 "1nn_dtw are 1-nearest-neighbour over the training and validation sequences, standardised and "
                 "resampled to the longest of their lengths, with Euclidean distance and with dynamic time warping "
                 f"(no window). Sequences: {sizes}; channels: {', '.join(self.channels)}.")
        return Outputs(title=f"rnnlab classify-series: {name}", sections=sections)

    def probe(self, model: nn.Module, prepared: Prepared, rows: int) -> Probe:
        """The classifier and its first `rows` test sequences, standardised and zero-padded with their
        lengths as training batches are, with the training loss (cross-entropy)."""
        test = prepared.rows[2][:rows]
        batch, targets = next(series_batches(self.standardised(prepared.test, test),
                                             self.targets(prepared.test, test), rows))
        return self.probe_batch(model, batch, targets, "sequences", "steps")

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """values (B, T, C) standardised, lengths (B,) int64 -> logits (B, K)."""
        model.eval()
        # at least 2 on every dynamic axis, lengths unequal and below T (so tracing ties T to none of them)
        inputs = (torch.zeros(2, 3, len(self.channels)), torch.tensor([2, 1]))
        return [Graph(model, inputs, ["values", "lengths"], ["logits"],
                      {"values": {0: "batch", 1: "time"}, "lengths": {0: "batch"}})]


def znormalised(values: np.ndarray, floor: float = 1e-8) -> np.ndarray:
    """(T, C) each channel less its mean over time, over its standard deviation; a channel that
    does not vary (spread below `floor`) becomes zeros, not a division by zero."""
    values = np.asarray(values, dtype=np.float64)
    centred = values - values.mean(axis=0)
    spread = values.std(axis=0)
    return np.divide(centred, spread, out=np.zeros_like(centred), where=spread > floor)


def _write_predictions(path: Path, prepared: Prepared, classes: list[str], report: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # ids and labels come from user files: quote as needed
    writer.writerow(["id", "label", "predicted", "probability", "1nn_ed", "1nn_dtw"])
    test, guesses = prepared.test, report["guesses"]
    dtw = guesses.get("1nn_dtw", [""] * len(guesses["model"]))  # empty where the baseline was too costly to run
    for row, p, guess, by_ed, by_dtw in zip(prepared.rows[2], report["probabilities"], guesses["model"],
                                            guesses["1nn_ed"], dtw):
        writer.writerow([test.ids[row], test.labels[row], guess, f"{p[classes.index(guess)]:.4f}", by_ed, by_dtw])
    write_text(path, buffer.getvalue())
