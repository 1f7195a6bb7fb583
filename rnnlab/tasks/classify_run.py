"""A text classification run, end to end: labelled CSV → split → vocabulary → model → trainer → run directory.

This is the one place where a `ClassifyTextConfig` becomes objects. The split is stratified and
fixed by the seed; the tokenizer settings, the vocabulary (built on the training split only) and
the class labels are saved in config.json, so a run reloaded in another process encodes and
predicts exactly as the one that trained.

A run directory holds config.json, model.safetensors, metrics.jsonl (one line per epoch),
test_metrics.json, predictions.csv (the test split), loss.png, confusion.png and report.html.
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

from rnnlab.data.errors import DataError
from rnnlab.data.text import Tokenizer, Vocabulary, read_labelled_csv, read_text, resolve_text_data
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_confusion, plot_losses
from rnnlab.metrics.classification import classification_metrics, majority_class, metrics_table
from rnnlab.data.splits import stratified_split
from rnnlab.tasks.classify import (POOLINGS, TextBatch, TextClassifier, TextEncoder, predict_probabilities,
                                   text_batches)
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, read_run, resolve_device, save_run,
                              write_json, write_text)
from rnnlab.train import distributed

TASK = "classify-text"
BASELINE = "majority"


@dataclass(frozen=True)
class ClassifyTextConfig(RunConfig):
    """Everything a text classification run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("embedding_dim", "min_freq")

    model: str = field(default="gru", metadata={"choices": ["rnn", "lstm", "gru"], "help": "recurrent cell"})
    bidirectional: bool = field(default=True, metadata={"help": "read each text in both directions"})
    dropout: float = field(default=0.5, metadata={"help": "dropout before the output layer (and between "
                                                          "recurrent layers)"})
    batch_size: int = field(default=64, metadata={"help": "texts per batch"})
    epochs: int = field(default=10, metadata={"help": "training epochs (early stopping may end sooner)"})
    learning_rate: float = field(default=3e-3, metadata={"help": "optimizer learning rate"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    out: str = field(default="runs/classify-text", metadata={"help": "run directory to write"})
    data: str = field(default="rotten_tomatoes", metadata={"help": "a CSV file with columns text,label, or a "
                                                                   "bundled labelled data set's name"})
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
    """A labelled file made ready for the model: its split and everything encoded."""

    encoder: TextEncoder
    texts: list[str]
    labels: list[str]
    ids: list[list[int]]
    targets: np.ndarray                                  # (N,) class ids
    split: tuple[np.ndarray, np.ndarray, np.ndarray]     # train, val, test row indices


def read_labelled(data: str) -> tuple[str, list[str], list[str]]:
    """(the file's name, texts, labels) of a labelled CSV or a bundled labelled data set."""
    path = resolve_text_data(data, "labelled")
    texts, labels = read_labelled_csv(path)
    return str(path), texts, labels


def prepare(config: ClassifyTextConfig) -> Prepared:
    """Reads `config.data`, splits it, and builds the tokenizer and vocabulary on the training split."""
    where, texts, labels = read_labelled(config.data)
    split = stratified_split(labels, val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                             seed=config.seed)
    classes = sorted({labels[i] for i in split[0]})
    missing = sorted(set(labels) - set(classes))
    if missing:
        raise DataError(f"{where}: label {missing[0]!r} has only {labels.count(missing[0])} rows, too few to "
                        "leave one for the training split")
    if len(classes) < 2:
        raise DataError(f"{where}: training needs at least 2 labels; its training split has {classes}")
    needed = {"training": split[0], "test": split[2], **({"validation": split[1]} if config.val_fraction else {})}
    for name, rows in needed.items():
        if len(rows) == 0:
            raise DataError(f"{where}: {len(texts)} rows leave the {name} split empty; give more rows")
    tokenizer = Tokenizer("word", lowercase=config.lowercase)
    vocabulary = Vocabulary.build((tokenizer(texts[i]) for i in split[0]), min_freq=config.min_freq,
                                  max_size=config.max_vocab or None)
    encoder = TextEncoder(tokenizer, vocabulary, classes, config.max_length)
    return Prepared(encoder, texts, labels, encoder.ids(texts), encoder.targets(labels, where), split)


def build_model(config: ClassifyTextConfig, encoder: TextEncoder) -> TextClassifier:
    """The only place a config becomes a `TextClassifier`."""
    return TextClassifier(len(encoder.vocabulary), len(encoder.classes), cell=config.model,
                          embedding_dim=config.embedding_dim, hidden_size=config.hidden_size,
                          num_layers=config.num_layers, bidirectional=config.bidirectional, dropout=config.dropout,
                          padding_idx=encoder.vocabulary.pad_id, pooling=config.pooling)


def score(model: TextClassifier, encoder: TextEncoder, ids: list[list[int]], targets: np.ndarray,
          majority: int) -> dict:
    """Probabilities, predictions, and the metrics of the model and of the majority-class baseline.

    Args:
        ids, targets: the encoded texts and their (N,) class ids.
        majority: the class id the baseline always guesses (the training split's most frequent).
    """
    probabilities = predict_probabilities(model, ids, pad_id=encoder.vocabulary.pad_id)  # (N, K)
    predicted = probabilities.argmax(axis=1)
    names = np.array(encoder.classes)
    guesses = {"model": predicted, BASELINE: np.full(len(targets), majority)}
    metrics = {name: classification_metrics(names[targets], names[guess], encoder.classes)
               for name, guess in guesses.items()}
    return {"probabilities": probabilities, "predicted": predicted, "metrics": metrics}


def train_classify_text(config: ClassifyTextConfig, *, resume: bool = False, quiet: bool = False,
                        command: str = "") -> dict:
    """Trains a text classifier as `config` says and writes its run directory.

    All input is read and checked before anything is written; the run is built in `<out>.partial`
    and renamed to `<out>` when complete.

    Returns:
        {"metrics": {"model": ..., "majority": ...} test metrics, "text": a printable summary,
         "run_dir", "seconds": training time, "parameters": model size}.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    prepared = prepare(config)
    pad_id = prepared.encoder.vocabulary.pad_id
    (train, val, test), ids, targets = prepared.split, prepared.ids, prepared.targets

    def batches(rows: np.ndarray, generator: torch.Generator | None):
        return text_batches([ids[i] for i in rows], targets[rows], config.batch_size, pad_id=pad_id,
                            generator=generator, pool_batches=50)

    model = build_model(config, prepared.encoder).to(resolve_device(config.device))
    stage.open()
    result, seconds = fit(model, torch.nn.functional.cross_entropy, config.trainer_options(), stage,
                          train_batches=lambda epoch, generator: batches(train, generator),
                          val_batches=(lambda: batches(val, None)) if len(val) else None,
                          batch_size=config.batch_size, quiet=quiet)
    majority = prepared.encoder.classes.index(majority_class([prepared.labels[i] for i in train]))
    report = score(model, prepared.encoder, [ids[i] for i in test], targets[test], majority)
    summary = {"metrics": report["metrics"], "run_dir": str(stage.out), "seconds": seconds,
               "parameters": model.num_parameters, "text": ""}
    if not distributed.is_main():
        return summary
    save_run(stage.path, model, TASK, {"config": dataclasses.asdict(config), **prepared.encoder.to_dict(),
                                       "majority": prepared.encoder.classes[majority],
                                       "split_sizes": {"train": len(train), "val": len(val), "test": len(test)}})
    write_json(stage.path / "test_metrics.json", report["metrics"])
    _write_predictions(stage.path / "predictions.csv", prepared, test, report)
    _write_report(stage.path, config, prepared, report, result.history, command)
    summary["run_dir"] = str(stage.finish())
    summary["text"] = summary_text(config, prepared.encoder.classes, report["metrics"], seconds, model)
    return summary


class LoadedRun(NamedTuple):
    config: ClassifyTextConfig
    encoder: TextEncoder
    model: TextClassifier  # in eval mode, on the CPU
    majority: int          # the class id the baseline guesses


def load_run(run_dir: str | Path) -> LoadedRun:
    """A finished run's config, text encoder, model and baseline class, from its directory alone."""
    saved = read_run(run_dir, TASK)
    config, encoder = ClassifyTextConfig(**saved["config"]), TextEncoder.from_dict(saved)
    model = load_weights(build_model(config, encoder), run_dir)
    return LoadedRun(config, encoder, model, encoder.classes.index(saved["majority"]))


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained classifier and the first `rows` texts of its test split, with the training loss (cross-entropy).

    The test split is the one `evaluate` scores (fixed by the labels and the seed); the texts are
    padded with their lengths as the training batches are, and sit with the model on the run's
    device (the CPU when the run named a GPU this machine lacks).
    """
    config, encoder, model, _ = load_run(run_dir)
    where, texts, labels = read_labelled(config.data)
    test = stratified_split(labels, val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                            seed=config.seed)[2][:rows]
    targets = encoder.targets([labels[i] for i in test], where)
    batch, targets = next(text_batches(encoder.ids([texts[i] for i in test]), targets, rows,
                                       pad_id=encoder.vocabulary.pad_id))  # (B, T), (B,)
    # the run's device; the CPU for a run that named a GPU this machine lacks (as translate's load_run)
    device = loaded_device(config.device)
    model, batch, targets = model.to(device), TextBatch(*(t.to(device) for t in batch)), targets.to(device)
    steps = batch.tokens.shape[1]
    return Probe(model=model, loss=lambda: torch.nn.functional.cross_entropy(model(batch), targets),
                 batch_size=len(targets), steps=steps, description=f"{len(targets)} test texts, up to {steps} tokens")


def evaluate_classify_text(run_dir: str | Path, data: str | None = None) -> dict:
    """Metrics of the model and the majority-class baseline, JSON-ready.

    Without `data`, on the run's own test split (the same rows as in training: the split is fixed
    by the labels and the seed). With `data` (a labelled CSV or bundled name), on every row of it;
    a label that training never saw is a DataError naming it. The baseline always guesses the
    majority class of the run's training split.
    """
    config, encoder, model, majority = load_run(run_dir)
    where, texts, labels = read_labelled(data or config.data)
    targets = encoder.targets(labels, where)
    rows = np.arange(len(texts))
    if data is None:
        rows = stratified_split(labels, val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                                seed=config.seed)[2]
    report = score(model, encoder, encoder.ids([texts[i] for i in rows]), targets[rows], majority)
    return {"data": data or config.data, "split": "test" if data is None else "all", "examples": int(len(rows)),
            "labels": encoder.classes, "metrics": report["metrics"]}


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_classify_text`'s result."""
    header = (f"{result['data']}: {result['examples']} texts ({result['split']}), labels "
              f"{', '.join(result['labels'])}")
    return header + "\n" + metrics_table(result["metrics"], result["labels"])


def read_texts(data: str) -> list[str]:
    """The `text` column of a CSV (a `label` column and any others are ignored), or of a bundled set.

    Raises:
        DataError: naming the file and line, if it is missing, not UTF-8, has no `text` column, or
            a row has another number of fields than the header or an empty text.
    """
    path = resolve_text_data(data, "labelled")
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    rows = [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    header = [name.strip() for name in rows[0][1]]
    if "text" not in header:
        raise DataError(f"{path}: no 'text' column; columns found: {header}")
    if len(rows) == 1:
        raise DataError(f"{path}: no data rows after the header {header}")
    texts, column = [], header.index("text")
    for line, row in rows[1:]:
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields; the header has {len(header)}")
        if not row[column].strip():
            raise DataError(f"{path}: line {line} has an empty text cell (line 1 is the header): {row!r}")
        texts.append(row[column].strip())
    return texts


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`'s output: `label<TAB>probability` for --text; for --data, one line per row,
    `label<TAB>probability<TAB>text` (the text with its whitespace runs made single spaces)."""
    if (data is None) == (text is None):
        raise ValueError("a text classifier predicts from exactly one of --text \"...\" or --data FILE "
                         f"(a CSV with a text column); received data={data!r}, text={text!r}")
    if text is not None and not text.strip():
        raise ValueError(f"text must not be empty; received {text!r}")
    _, encoder, model, _ = load_run(run_dir)
    texts = [text] if text is not None else read_texts(data)
    probabilities = predict_probabilities(model, encoder.ids(texts), pad_id=encoder.vocabulary.pad_id)
    lines = [f"{encoder.classes[k]}\t{p[k]:.4f}" for p, k in zip(probabilities, probabilities.argmax(axis=1))]
    if text is not None:
        return lines
    return [f"{line}\t{' '.join(source.split())}" for line, source in zip(lines, texts)]


def summary_text(config: ClassifyTextConfig, labels: list[str], metrics: dict, seconds: float,
                 model: TextClassifier) -> str:
    direction = "bidirectional " if config.bidirectional else ""
    return (f"{direction}{config.model.upper()} on {config.data!r}: {model.num_parameters} parameters, trained in "
            f"{seconds:.1f} s; test split:\n" + metrics_table(metrics, labels))


def _write_predictions(path: Path, prepared: Prepared, rows: np.ndarray, report: dict) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label", "predicted", "probability"])
    for row, probabilities, k in zip(rows, report["probabilities"], report["predicted"]):
        writer.writerow([prepared.texts[row], prepared.labels[row], prepared.encoder.classes[k],
                         f"{probabilities[k]:.4f}"])
    write_text(path, buffer.getvalue())


def _write_report(run_dir: Path, config: ClassifyTextConfig, prepared: Prepared, report: dict, history,
                  command: str) -> None:
    classes, metrics = prepared.encoder.classes, report["metrics"]
    plot_losses(history, run_dir / "loss.png")
    plot_confusion(np.array(metrics["model"]["confusion_matrix"]), classes, run_dir / "confusion.png",
                   title=f"{config.model.upper()} on the test split")
    names = ["accuracy", "balanced_accuracy", "macro_f1"]
    scores = Table(columns=["classifier", *names, *(f"F1 {label}" for label in classes)],
                   rows=[[name, *(v[n] for n in names), *(v["per_class"][c]["f1"] for c in classes)]
                         for name, v in metrics.items()],
                   caption=f"Test split, {len(prepared.split[2])} texts")
    per_class = Table(columns=["class", "precision", "recall", "F1", "support"],
                      rows=[[c, *(metrics["model"]["per_class"][c][k] for k in ("precision", "recall", "f1",
                                                                                 "support"))] for c in classes],
                      caption="The model, per class")
    sizes = ", ".join(f"{name} {len(rows)}" for name, rows in zip(("train", "validation", "test"), prepared.split))
    settings = config.settings_table()
    sections = [
        Section(heading="Test metrics", paragraphs=[
            f"The majority baseline always answers the most frequent training label. Split: {sizes}; "
            f"vocabulary: {len(prepared.encoder.vocabulary)} tokens from the training split."],
            tables=[scores, per_class]),
        Section(heading="Confusion matrix", paragraphs=["Rows are the true labels, columns the predicted ones."],
                images=[run_dir / "confusion.png"]),
        Section(heading="Training", paragraphs=[_training_note(history)], images=[run_dir / "loss.png"]),
        Section(heading="Configuration", tables=[settings]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab classify-text: {config.data}", sections=sections,
                 command=command or f"rnnlab train {TASK} ...")


def _training_note(history: list[dict]) -> str:
    scored = [record for record in history if record.get("val_loss") is not None]
    if not scored:
        return f"{len(history)} epochs without validation; the final weights are kept."
    best = min(scored, key=lambda record: record["val_loss"])
    return (f"{len(history)} epochs; the weights kept are those of epoch {best['epoch']}, whose validation loss "
            f"{best['val_loss']:.4f} was the lowest.")


SPEC = Task(name=TASK, help="classify texts (e.g. sentiment) from a CSV of text,label", config=ClassifyTextConfig,
            train=train_classify_text, evaluate=evaluate_classify_text, evaluate_text=evaluate_text,
            predict=predict_lines,
            headline=Headline('accuracy', True, 'majority'), probe=probe)
