"""A series classification run, end to end: labelled sequences → split → standardise → model → run directory.

This is the one place where a `ClassifySeriesConfig` becomes objects. The model trains on the TRAIN
file (a bundled set's, or `--data`), minus a stratified, seeded validation split, and is tested on
the TEST file (a bundled set's, or `--test-data`; without one, on a stratified test split carved
from `--data`). The per-channel standardisation is fitted on the training split only. The classes,
channel names, scaler and baseline settings are saved in config.json, so a run reloaded in another
process predicts exactly as the one that trained.

A run directory holds config.json, model.safetensors, metrics.jsonl (one line per epoch),
test_metrics.json, predictions.csv (the test sequences), loss.png, confusion.png and report.html.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from rnnlab.data import bundled
from rnnlab.data.errors import DataError
from rnnlab.data.scaling import Scaler
from rnnlab.data.ts import FILL_MODES, LabelledSeries, load_labelled_series
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_confusion, plot_losses
from rnnlab.metrics.classification import classification_metrics, majority_class
from rnnlab.data.splits import stratified_split
from rnnlab.tasks.classify_series import (POOLINGS, SeriesBatch, SeriesClassifier, nearest_neighbour,
                                          predict_probabilities, series_batches)
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, read_run, resolve_device, save_run,
                              write_json, write_text)
from rnnlab.train import distributed

TASK = "classify-series"


@dataclass(frozen=True)
class ClassifySeriesConfig(RunConfig):
    """Everything a series classification run depends on; saved in the run's config.json."""

    model: str = field(default="gru", metadata={"choices": ["rnn", "lstm", "gru"], "help": "recurrent cell"})
    hidden_size: int = field(default=64, metadata={"help": "hidden units per layer"})
    bidirectional: bool = field(default=True, metadata={"help": "read each sequence in both directions"})
    dropout: float = field(default=0.0, metadata={"help": "dropout before the output layer (and between "
                                                          "recurrent layers)"})
    batch_size: int = field(default=8, metadata={"help": "sequences per batch"})
    epochs: int = field(default=100, metadata={"help": "training epochs (early stopping may end sooner)"})
    learning_rate: float = field(default=3e-3, metadata={"help": "optimizer learning rate"})
    patience: int = field(default=30, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    out: str = field(default="runs/classify-series", metadata={"help": "run directory to write"})
    data: str = field(default="japanese_vowels", metadata={
        "help": "a bundled set (japanese_vowels, basic_motions) or a .ts / long-format .csv file to train on"})
    test_data: str | None = field(default=None, metadata={
        "type": str, "help": "a .ts / .csv file to test on (default: a bundled set's TEST file; for a file, a "
                             "test split carved from --data)"})
    fill: str | None = field(default=None, metadata={"type": str, "choices": list(FILL_MODES),
                                                     "help": "fill missing values per channel (default: an error)"})
    pooling: str = field(default="max", metadata={
        "choices": list(POOLINGS), "help": "encoding of a sequence: final states, or mean/max over steps"})
    val_fraction: float = field(default=0.2, metadata={"help": "share of each training class for validation"})
    test_fraction: float = field(default=0.2, metadata={"help": "share of each class for testing, when the test "
                                                                "split is carved from --data"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1); received {self.test_fraction!r}")
        if not 0.0 <= self.val_fraction < 1.0 - self.test_fraction:
            raise ValueError(f"val_fraction must be in [0, 1 - test_fraction); received {self.val_fraction!r}")

    def carves_test(self) -> bool:
        """True when the test split comes out of `data` (a user file and no `test_data`)."""
        return self.test_data is None and self.data not in bundled.list_series_classification_names()


class Prepared(NamedTuple):
    """The run's data, split and standardised: everything training and testing read."""

    train: LabelledSeries                          # the training file (validation rows included)
    test: LabelledSeries                           # the test file, or the training file when carved
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]  # train and val rows of `train`, test rows of `test`
    classes: list[str]                             # sorted training labels; class id k is classes[k]
    scaler: Scaler                                 # per-channel, fitted on the training split


def read_labelled(data: str, split: str, fill: str | None, role: str) -> LabelledSeries:
    """`load_labelled_series`, refusing a file without labels (`role` says what the labels are for)."""
    series = load_labelled_series(data, split, fill=fill)
    if series.labels is None:
        raise DataError(f"{series.source}: has no labels (a .ts @classLabel false, or a CSV without a label "
                        f"column); {role} needs them")
    return series


def check_channels(expected: list[str] | tuple[str, ...], data: LabelledSeries, *,
                   against: str = "the {count} channels the run was trained on:") -> None:
    """A DataError naming both lists unless `data` has exactly the `expected` channels, in order.

    `against` introduces the expected list in the message (``{count}`` is their number).
    """
    if list(data.channels) != list(expected):
        raise DataError(f"{data.source}: channels {list(data.channels)} differ from "
                        f"{against.format(count=len(expected))} {list(expected)}")


def targets_of(classes: list[str], data: LabelledSeries, rows: np.ndarray) -> np.ndarray:
    """Class ids of `data`'s labels at `rows`; a label training never saw is a DataError naming it."""
    position = {label: k for k, label in enumerate(classes)}
    for row in rows:
        if data.labels[row] not in position:
            raise DataError(f"{data.source}: sequence {data.ids[row]!r} has label {data.labels[row]!r}, which "
                            f"training never saw; the run's labels are {classes}")
    return np.array([position[data.labels[row]] for row in rows], dtype=np.int64)


def prepare(config: ClassifySeriesConfig) -> Prepared:
    """Reads and checks `config`'s data, splits it, and fits the scaler on the training split."""
    train = read_labelled(config.data, "train", config.fill, "training")
    test_fraction = config.test_fraction if config.carves_test() else 0.0
    fit_rows, val_rows, test_rows = stratified_split(train.labels, val_fraction=config.val_fraction,
                                                     test_fraction=test_fraction, seed=config.seed)
    test = train
    if not config.carves_test():
        test = read_labelled(config.test_data or config.data, "test", config.fill, "testing")
        check_channels(train.channels, test, against="the training file's channels")
        test_rows = np.arange(len(test))
    classes = sorted({train.labels[i] for i in fit_rows})
    if len(classes) < 2:
        raise DataError(f"{train.source}: training needs at least 2 labels; its training split has {classes}")
    for label in sorted(set(train.labels) - set(classes)):
        raise DataError(f"{train.source}: label {label!r} has only {train.labels.count(label)} sequences, too "
                        "few to leave one for the training split")
    for name, rows in (("test", test_rows),) + ((("validation", val_rows),) if config.val_fraction else ()):
        if len(rows) == 0:
            raise DataError(f"{train.source}: {len(train)} sequences leave the {name} split empty; give more")
    targets_of(classes, test, test_rows)  # an unseen test label is an input error, found before training
    scaler = Scaler.fit(np.concatenate([train.series[i] for i in fit_rows]), target_index=0)
    return Prepared(train, test, (fit_rows, val_rows, test_rows), classes, scaler)


def standardised(scaler: Scaler, data: LabelledSeries, rows: np.ndarray) -> list[np.ndarray]:
    """The sequences at `rows`, each (T_i, C) standardised with the training split's statistics."""
    return [scaler.transform(data.series[i]).astype(np.float32) for i in rows]


def build_model(config: ClassifySeriesConfig, input_size: int, num_classes: int) -> SeriesClassifier:
    """The only place a config becomes a `SeriesClassifier`."""
    return SeriesClassifier(input_size, num_classes, cell=config.model, hidden_size=config.hidden_size,
                            num_layers=config.num_layers, bidirectional=config.bidirectional,
                            dropout=config.dropout, pooling=config.pooling)


def score(model: SeriesClassifier, prepared: Prepared, test: LabelledSeries, test_rows: np.ndarray,
          majority: str, length: int) -> dict:
    """Probabilities and predictions of the model, and the test metrics of it and both baselines.

    Args:
        test, test_rows: the sequences to score (labelled with training's classes).
        majority: the label the majority baseline always guesses (the training split's most frequent).
        length: the common length the 1-nearest-neighbour baseline resamples every sequence to.

    The 1-NN baseline searches the training and validation sequences (all but a carved test split).
    """
    # 1-NN has nothing to tune, so it may remember the validation sequences too (a stronger baseline)
    reference, classes = np.sort(np.concatenate(prepared.rows[:2])), prepared.classes
    queries = standardised(prepared.scaler, test, test_rows)
    probabilities = predict_probabilities(model, queries)                          # (N, K)
    actual = np.array(classes)[targets_of(classes, test, test_rows)]
    guesses = {"model": np.array(classes)[probabilities.argmax(axis=1)],
               "majority": np.full(len(test_rows), majority),
               "nearest_neighbour": nearest_neighbour(standardised(prepared.scaler, prepared.train, reference),
                                                      [prepared.train.labels[i] for i in reference], queries, length)}
    metrics = {name: classification_metrics(actual, guess, classes) for name, guess in guesses.items()}
    return {"probabilities": probabilities, "guesses": guesses, "actual": actual, "metrics": metrics}


def train_classify_series(config: ClassifySeriesConfig, *, resume: bool = False, quiet: bool = False,
                          command: str = "") -> dict:
    """Trains a series classifier as `config` says and writes its run directory.

    All input is read and checked before anything is written; the run is built in `<out>.partial`
    and renamed to `<out>` when complete.

    Returns:
        {"metrics": {"model", "majority", "nearest_neighbour": test metrics}, "text": a printable
         summary, "run_dir", "seconds": training time, "parameters": model size}.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    prepared = prepare(config)
    (fit_rows, val_rows, test_rows), train = prepared.rows, prepared.train

    def batches(rows: np.ndarray, generator: torch.Generator | None):
        return series_batches(standardised(prepared.scaler, train, rows), targets_of(prepared.classes, train, rows),
                              config.batch_size, generator=generator)

    model = build_model(config, len(train.channels), len(prepared.classes)).to(resolve_device(config.device))
    stage.open()
    result, seconds = fit(model, torch.nn.functional.cross_entropy, config.trainer_options(), stage,
                          train_batches=lambda epoch, generator: batches(fit_rows, generator),
                          val_batches=(lambda: batches(val_rows, None)) if len(val_rows) else None,
                          batch_size=config.batch_size, quiet=quiet)
    majority = majority_class([train.labels[i] for i in fit_rows])
    length = int(max(len(train.series[i]) for i in np.concatenate([fit_rows, val_rows])))
    report = score(model, prepared, prepared.test, test_rows, majority, length)
    summary = {"metrics": report["metrics"], "run_dir": str(stage.out), "seconds": seconds,
               "parameters": model.num_parameters, "text": ""}
    if not distributed.is_main():
        return summary
    save_run(stage.path, model, TASK, {
        "config": dataclasses.asdict(config), "classes": prepared.classes, "channels": list(train.channels),
        "scaler": prepared.scaler.to_dict(), "majority": majority, "resample_length": length,
        "split_sizes": {"train": len(fit_rows), "val": len(val_rows), "test": len(test_rows)}})
    write_json(stage.path / "test_metrics.json", report["metrics"])
    _write_predictions(stage.path / "predictions.csv", prepared.test, test_rows, prepared.classes, report)
    _write_report(stage.path, config, prepared, report, result.history, command)
    summary["run_dir"] = str(stage.finish())
    summary["text"] = summary_text(config, prepared.classes, report["metrics"], seconds, model)
    return summary


def load_run(run_dir: str | Path) -> tuple[ClassifySeriesConfig, dict, SeriesClassifier]:
    """A finished run's config, its saved config.json, and its model (in eval mode, on the CPU)."""
    saved = read_run(run_dir, TASK)
    config = ClassifySeriesConfig(**saved["config"])
    model = build_model(config, len(saved["channels"]), len(saved["classes"]))
    return config, saved, load_weights(model, run_dir)


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained classifier and its first `rows` test sequences, with the training loss (cross-entropy).

    The test sequences are those `evaluate` scores (the TEST file, or the split carved with the
    run's seed), standardised with the run's scaler and zero-padded with their lengths as training
    batches are; the model and batch sit on the run's device (the CPU when the run named a GPU this
    machine lacks).

    Raises:
        DataError: if the run's data cannot be read any more, or a test label is not one of the run's.
    """
    config, saved, model = load_run(run_dir)
    prepared = prepare(config)
    test = prepared.rows[2][:rows]
    batch, targets = next(series_batches(standardised(Scaler.from_dict(saved["scaler"]), prepared.test, test),
                                         targets_of(saved["classes"], prepared.test, test), rows))
    # the run's device; the CPU for a run that named a GPU this machine lacks (as translate's load_run)
    device = loaded_device(config.device)
    model, batch, targets = model.to(device), SeriesBatch(*(t.to(device) for t in batch)), targets.to(device)
    steps = batch.values.shape[1]  # (B, T, C)
    return Probe(model=model, loss=lambda: torch.nn.functional.cross_entropy(model(batch), targets),
                 batch_size=len(targets), steps=steps,
                 description=f"{len(targets)} test sequences, up to {steps} steps")


def evaluate_classify_series(run_dir: str | Path, data: str | None = None) -> dict:
    """Test metrics of the model and both baselines, JSON-ready.

    Without `data`, on the run's own test sequences (the same as in training: files and seed fix
    them). With `data` (a labelled .ts/.csv file, or a bundled name: its TEST file), on every
    sequence of it; its channels must be the run's. The baselines answer as in training: the
    training split's majority label, and 1-NN over the training and validation sequences (re-read
    from the run's data).
    """
    config, saved, model = load_run(run_dir)
    prepared = prepare(config)._replace(scaler=Scaler.from_dict(saved["scaler"]))
    if prepared.classes != saved["classes"]:
        raise DataError(f"{prepared.train.source}: its training labels {prepared.classes} are not the run's "
                        f"{saved['classes']}; the training data changed since the run")
    test, rows = prepared.test, prepared.rows[2]
    if data is not None:
        test = read_labelled(data, "test", config.fill, "evaluation")
        check_channels(saved["channels"], test)
        rows = np.arange(len(test))
    report = score(model, prepared, test, rows, saved["majority"], saved["resample_length"])
    return {"data": data or config.test_data or config.data, "split": "test" if data is None else "all",
            "sequences": int(len(rows)), "labels": saved["classes"], "metrics": report["metrics"]}


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_classify_series`'s result."""
    return (f"{result['data']}: {result['sequences']} sequences ({result['split']}), labels "
            f"{', '.join(result['labels'])}\n" + metrics_table(result["metrics"]))


def metrics_table(metrics: dict) -> str:
    """One row per classifier: accuracy, balanced accuracy and macro F1."""
    lines = [f"{'':18}{'accuracy':>10}{'balanced':>10}{'macro F1':>10}"]
    lines += [f"{name:18}{values['accuracy']:>10.4f}{values['balanced_accuracy']:>10.4f}{values['macro_f1']:>10.4f}"
              for name, values in metrics.items()]
    return "\n".join(lines)


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`'s output: `id<TAB>label<TAB>probability` for each sequence of `data`.

    `data` is a .ts or long-format .csv file (labels, if any, are ignored) or a bundled name (its
    TEST file); its channels must be the run's, and missing values are filled as in training.
    """
    if text is not None or data is None:
        raise ValueError("a series classifier predicts from --data FILE (a .ts or long-format .csv file), not "
                         f"from --text; received data={data!r}, text={text!r}")
    config, saved, model = load_run(run_dir)
    series = load_labelled_series(data, "test", fill=config.fill)
    check_channels(saved["channels"], series)
    scaler = Scaler.from_dict(saved["scaler"])
    probabilities = predict_probabilities(model, standardised(scaler, series, np.arange(len(series))))
    return [f"{sequence_id}\t{saved['classes'][k]}\t{p[k]:.4f}"
            for sequence_id, p, k in zip(series.ids, probabilities, probabilities.argmax(axis=1))]


def summary_text(config: ClassifySeriesConfig, classes: list[str], metrics: dict, seconds: float,
                 model: SeriesClassifier) -> str:
    direction = "bidirectional " if config.bidirectional else ""
    return (f"{direction}{config.model.upper()} on {config.data!r} ({len(classes)} classes): {model.num_parameters} "
            f"parameters, trained in {seconds:.1f} s; test sequences:\n" + metrics_table(metrics))


def _write_predictions(path: Path, test: LabelledSeries, rows: np.ndarray, classes: list[str], report: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # ids and labels come from user files: quote as needed
    writer.writerow(["id", "label", "predicted", "probability", "nearest_neighbour"])
    for row, p, guess, neighbour in zip(rows, report["probabilities"], report["guesses"]["model"],
                                        report["guesses"]["nearest_neighbour"]):
        writer.writerow([test.ids[row], test.labels[row], guess, f"{p[classes.index(guess)]:.4f}", neighbour])
    write_text(path, buffer.getvalue())


def _write_report(run_dir: Path, config: ClassifySeriesConfig, prepared: Prepared, report: dict, history,
                  command: str) -> None:
    classes, metrics = prepared.classes, report["metrics"]
    plot_losses(history, run_dir / "loss.png")
    plot_confusion(np.array(metrics["model"]["confusion_matrix"]), classes, run_dir / "confusion.png",
                   title=f"{config.model.upper()} on {config.data}: test confusion")
    sizes = ", ".join(f"{name} {len(rows)}" for name, rows in zip(("train", "validation", "test"), prepared.rows))
    scores = Table(columns=["classifier", "accuracy", "balanced accuracy", "macro F1"],
                   rows=[[name, v["accuracy"], v["balanced_accuracy"], v["macro_f1"]] for name, v in metrics.items()],
                   caption=f"Test sequences ({prepared.test.source})")
    per_class = Table(columns=["label", "support", "precision", "recall", "F1"],
                      rows=[[label, s["support"], s["precision"], s["recall"], s["f1"]]
                            for label, s in metrics["model"]["per_class"].items()], caption="The model, per class")
    settings = config.settings_table()
    sections = [
        Section(heading="Test metrics", paragraphs=[
            "The majority baseline always answers the training split's most frequent label; nearest_neighbour is "
            "1-NN with Euclidean distance over the training and validation sequences, standardised and resampled "
            "to the longest of their lengths. "
            f"Sequences: {sizes}; channels: {', '.join(prepared.train.channels)}."], tables=[scores, per_class]),
        Section(heading="Confusion matrix", paragraphs=["Rows are the true labels, columns the predicted ones."],
                images=[run_dir / "confusion.png"]),
        Section(heading="Training", images=[run_dir / "loss.png"]),
        Section(heading="Configuration", tables=[settings]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab {TASK}: {config.data}", sections=sections,
                 command=command or f"rnnlab train {TASK} ...")


SPEC = Task(name=TASK, help="classify multivariate series (sensor recordings) from .ts or long-format CSV files",
            config=ClassifySeriesConfig, train=train_classify_series, evaluate=evaluate_classify_series,
            evaluate_text=evaluate_text, predict=predict_lines,
            headline=Headline('accuracy', True, 'majority'), probe=probe)
