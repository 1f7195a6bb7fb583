"""What the adding problem and the copy task share: generated sequences, one `MemoryModel`, one run.

Both are generated, so a run reads no data and every split is a pure function of the seed. Each
epoch trains on `train_sequences` sequences drawn afresh (an endless supply, as in the papers: the
model cannot memorise its training set); the validation and test sequences are drawn once. Each
split has its own random stream, derived from (seed, split[, epoch]) by numpy's SeedSequence, so
no split repeats another's draws and `evaluate` regenerates exactly the test sequences training
scored. `rnnlab.tasks.memory.adding` and `.copy` each subclass `MemoryTask` with their sequences,
loss, metrics and baseline.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from rnnlab.report.html import Section, Table
from rnnlab.tasks.api import Graph, Outputs, Probe, RunConfig, Task
from rnnlab.tasks.estimator import Estimator
from rnnlab.tasks.memory.model import MemoryModel

_STREAMS = {"train": 0, "val": 1, "test": 2}
_EVAL_ROWS = 512  # sequences per forward pass when scoring; bounds memory at long T


def float_or_none(text: str) -> float | None:
    """A command-line value that is a number or "none"."""
    return None if text.strip().lower() == "none" else float(text)


@dataclass(frozen=True)
class MemoryConfig(RunConfig):
    """The settings both memory tasks share; each task's config subclasses it."""

    POSITIVE = RunConfig.POSITIVE + ("length", "train_sequences", "val_sequences", "test_sequences")

    # defaults measured in benchmarks/results/memory.md: at learning rate 0.01 the LSTM leaves the
    # plateau at T = 100 after about 1000 updates (0.003: 1350 or more), so 20 epochs of 100 suffice
    hidden_size: int = field(default=32, metadata={"help": "hidden units per layer"})
    batch_size: int = field(default=32, metadata={"help": "sequences per batch"})
    epochs: int = field(default=20, metadata={"help": "training epochs, each on train-sequences fresh sequences"})
    learning_rate: float = field(default=1e-2, metadata={"help": "optimizer learning rate"})
    patience: int = field(default=0, metadata={
        "help": "early-stopping patience in epochs (0 disables: long plateaus come before the loss falls)"})
    length: int = field(default=100, metadata={"help": "T, the sequence length (the memory span to bridge)"})
    train_sequences: int = field(default=3200, metadata={"help": "sequences drawn afresh for each epoch"})
    val_sequences: int = field(default=256, metadata={"help": "validation sequences (the best epoch's weights "
                                                                "are kept)"})
    test_sequences: int = field(default=1000, metadata={"help": "test sequences"})
    forget_bias: float | None = field(default=1.0, metadata={
        "type": float_or_none, "metavar": "BIAS",
        "help": "LSTM only: initial forget-gate bias (b_if; b_hf = 0), or none for torch's initialisation; "
                "other cells ignore it"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bidirectional:
            raise ValueError("the memory tasks read each sequence forwards, answering as it ends; received "
                             "bidirectional=True")
        if self.forget_bias is not None and (isinstance(self.forget_bias, bool) or not np.isfinite(self.forget_bias)):
            raise ValueError(f"forget_bias must be a finite number or None; received {self.forget_bias!r}")

    def lstm_forget_bias(self) -> float | None:
        """The forget bias the model is built with: this config's for an LSTM, None for other cells."""
        return self.forget_bias if self.model == "lstm" else None


def data_generator(seed: int, split: str, epoch: int = 0) -> torch.Generator:
    """The random stream of one split ("train" with its epoch, "val" or "test") of the run seeded `seed`."""
    # SeedSequence hashes the whole tuple, so nearby seeds and epochs give unrelated streams
    state = np.random.SeedSequence([seed % 2**64, _STREAMS[split], epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


class FreshBatches:
    """One epoch of `count` training batches, drawn lazily from the epoch's own stream.

    `len()` needs no drawing (the trainer counts batches before training); iterating twice gives
    the same batches.
    """

    def __init__(self, task: MemoryTask, epoch: int) -> None:
        self.task, self.epoch = task, epoch
        config = task.config
        self.count = -(-config.train_sequences // config.batch_size)  # the last batch may be smaller

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        config = self.task.config
        generator = data_generator(config.seed, "train", self.epoch)
        for index in range(self.count):
            size = min(config.batch_size, config.train_sequences - index * config.batch_size)
            yield self.task.generate(size, generator)


def chunks(inputs: torch.Tensor, targets: torch.Tensor, rows: int = _EVAL_ROWS):
    """(inputs, targets) in batches of `rows`, in order."""
    return [(inputs[i : i + rows], targets[i : i + rows]) for i in range(0, len(inputs), rows)]


class MemoryTask(Task):
    """The shared hooks of a generated long-memory task; a subclass describes its problem.

    A subclass sets `title` (the problem in prose), `baseline` (its metrics' key), `columns` (the
    metrics shown, in order) and implements `generate`, `shape`, `loss`, `metrics`,
    `baseline_metrics`, `explain` and `describe_sequences`.
    """

    title: ClassVar[str]
    baseline: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]

    def generate(self, count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`count` (inputs (N, T', F), targets) sequences drawn from `generator`."""
        raise NotImplementedError

    def shape(self) -> tuple[int, int, bool]:
        """(input_size, output_size, every_step) of the task's `MemoryModel`."""
        raise NotImplementedError

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict:
        raise NotImplementedError

    def baseline_metrics(self, targets: torch.Tensor) -> dict:
        raise NotImplementedError

    def explain(self) -> str:
        """A paragraph saying what the sequences are and what the baseline does."""
        raise NotImplementedError

    def describe_sequences(self, inputs: torch.Tensor, targets: torch.Tensor, outputs: torch.Tensor) -> list[str]:
        """One line per sequence: what was asked and what the model answered."""
        raise NotImplementedError

    # --- the pipeline's hooks --------------------------------------------------------------------

    def prepare(self, data: Any = None, validation_data: Any = None) -> list:
        """The validation sequences, in chunks; a generated task reads no data."""
        _no_data(self.title, data=data, validation_data=validation_data)
        return chunks(*self.generate(self.config.val_sequences, data_generator(self.config.seed, "val")))

    def build_model(self) -> MemoryModel:
        config = self.config
        input_size, output_size, every_step = self.shape()
        return MemoryModel(config.model, input_size, config.hidden_size, config.num_layers, output_size,
                           every_step=every_step, dropout=config.dropout, forget_bias=config.lstm_forget_bias())

    def train_batches(self, prepared: list, epoch: int, generator: torch.Generator) -> FreshBatches:
        return FreshBatches(self, epoch)

    def val_batches(self, prepared: list) -> list:
        return prepared

    def held_out(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The run's test sequences, regenerated from its config alone."""
        return self.generate(self.config.test_sequences, data_generator(self.config.seed, "test"))

    def answers(self, model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """The model's answers for `inputs`, on the CPU, computed `_EVAL_ROWS` sequences at a time."""
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            return torch.cat([model(part.to(device)).cpu() for part, _ in chunks(inputs, inputs)])

    def score(self, model: torch.nn.Module, prepared: Any = None) -> dict:
        inputs, targets = self.held_out()
        return {"metrics": {"model": self.metrics(self.answers(model, inputs), targets),
                            self.baseline: self.baseline_metrics(targets)}}

    def examples(self, model: torch.nn.Module, count: int = 5) -> list[str]:
        """The model's answers to the first `count` test sequences, beside what was asked."""
        inputs, targets = (part[:count] for part in self.held_out())
        return self.describe_sequences(inputs, targets, self.answers(model, inputs))

    def write_outputs(self, run_dir: Path, model, prepared, evaluation: dict) -> Outputs:
        config, metrics = self.config, evaluation["metrics"]
        scores = Table(columns=["answerer", *self.columns],
                       rows=[[name, *(values[key] for key in self.columns)] for name, values in metrics.items()],
                       caption=f"{config.test_sequences} test sequences, T = {config.length}")
        return Outputs(
            title=f"rnnlab {self.name}: {config.model.upper()}, T = {config.length}",
            sections=[Section(heading="Test metrics", paragraphs=[self.explain()], tables=[scores]),
                      Section(heading="Examples", paragraphs=self.examples(model))],
            training=[f"Each epoch draws {config.train_sequences} fresh sequences; the weights kept are those of "
                      "the epoch with the lowest validation loss."])

    def describe(self) -> str:
        return f"{self.config.model.upper()} on {self.title}, T = {self.config.length}"

    def metrics_text(self, metrics: dict) -> str:
        lines = [f"{'':14}" + "".join(f"{name:>18}" for name in self.columns)]
        lines += [f"{name:14}" + "".join(f"{values[key]:>18.4g}" for key in self.columns)
                  for name, values in metrics.items()]
        return "\n".join(lines)

    def evaluate(self, model: torch.nn.Module, data: Any = None) -> dict:
        """Test metrics of the model and the baseline on the run's test sequences."""
        _no_data(self.title, data=data)
        return {"task": self.name, "model": self.config.model, "length": self.config.length,
                "test_sequences": self.config.test_sequences, "metrics": self.score(model)["metrics"]}

    def evaluate_text(self, result: dict) -> str:
        return (f"{self.title}, T = {result['length']}: {result['test_sequences']} test sequences\n"
                + self.metrics_text(result["metrics"]))

    def own_data(self) -> list:
        return self.prepared if self.prepared is not None else self.prepare()

    def probe(self, model: torch.nn.Module, prepared: Any, rows: int) -> Probe:
        """The model and the first `rows` test sequences, with the training loss on them."""
        inputs, targets = (part[:rows] for part in self.held_out())
        device = next(model.parameters()).device
        inputs, targets = inputs.to(device), targets.to(device)
        return Probe(model=model, loss=lambda: self.loss(model(inputs), targets), batch_size=len(inputs),
                     steps=inputs.shape[1], description=f"{len(inputs)} test sequences of {inputs.shape[1]} steps")

    def export_graphs(self, model: torch.nn.Module) -> list[Graph]:
        inputs, _ = self.generate(2, data_generator(self.config.seed, "test"))
        # contiguous: a slice keeps the full sequence's strides, which would tie the time axis to them
        return [Graph(model, (inputs[:, :3].contiguous(),), ["inputs"], ["outputs"],
                      {"inputs": {0: "batch", 1: "time"}})]


class MemoryEstimator(Estimator):
    """What both memory estimators share: `fit` reads no data, and `rnnlab predict` shows examples."""

    def fit(self, *, callbacks=None, checkpoint_dir=None, resume: bool = False):
        """Trains on freshly drawn sequences every epoch; returns self."""
        return self._fit(None, callbacks=callbacks, checkpoint_dir=checkpoint_dir, resume=resume)

    def predict_lines(self, data=None, text=None) -> list[str]:
        """`rnnlab predict`: the model's answers to the first test sequences, beside what was asked."""
        _no_data(self.task.title, data=data, text=text)
        self._check_fitted()
        return self.task_.examples(self.network_)

    def _answers(self, inputs, features: int) -> torch.Tensor:
        """The model's outputs for sequences `inputs` (N, T, features), checked."""
        self._check_fitted()
        xs = torch.as_tensor(np.asarray(inputs, dtype=np.float32))
        if xs.dim() != 3 or xs.shape[-1] != features:
            raise ValueError(f"inputs must have shape (N, T, {features}); received {tuple(xs.shape)}")
        return self.task_.answers(self.network_, xs)


def _no_data(title: str, **given: Any) -> None:
    for name, value in given.items():
        if value is not None:
            shown = repr(value) if isinstance(value, (str, Path)) else f"of type {type(value).__name__}"
            raise ValueError(f"{title} generates its own sequences from the seed and reads no data or text; "
                             f"received {name} {shown}")
