"""A long-memory run, end to end: config → generated sequences → `MemoryModel` → trainer → run directory.

What the adding problem and the copy task share: both are generated, so a run needs no data file
and every split is a pure function of the seed. Each epoch trains on `train_sequences` sequences
drawn afresh (an endless supply, as in the papers: the model cannot memorise its training set);
the validation and test sequences are drawn once. Each split has its own random stream,
derived from (seed, split[, epoch]) by numpy's SeedSequence, so no split repeats another's draws and
`evaluate` regenerates exactly the test sequences training scored.

`rnnlab.tasks.adding_run` and `rnnlab.tasks.copy_run` each describe their problem as a `Problem`
and register the task. A run directory holds config.json, model.safetensors, metrics.jsonl (one
line per epoch), test_metrics.json, loss.png and report.html.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from rnnlab.cells.base import check_positive_int
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_losses
from rnnlab.tasks.memory import MemoryModel
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, num_parameters, read_run, resolve_device,
                              save_run, write_json)
from rnnlab.train import distributed

_STREAMS = {"train": 0, "val": 1, "test": 2}
_EVAL_ROWS = 512  # sequences per forward pass when scoring; bounds memory at long T


def float_or_none(text: str) -> float | None:
    """A command-line value that is a number or "none"."""
    return None if text.strip().lower() == "none" else float(text)


@dataclass(frozen=True)
class MemoryConfig(RunConfig):
    """The settings both memory tasks share; a task's config subclasses it (and sets `out`)."""

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
        if self.forget_bias is not None and not np.isfinite(self.forget_bias):
            raise ValueError(f"forget_bias must be a finite number or None; received {self.forget_bias!r}")

    def lstm_forget_bias(self) -> float | None:
        """The forget bias the model is built with: this config's for an LSTM, None for other cells."""
        return self.forget_bias if self.model == "lstm" else None


class Problem(NamedTuple):
    """What a memory task adds to the shared run: its sequences, loss, metrics and baseline.

    Attributes:
        task: the task's registered name.
        config: its config class, a `MemoryConfig`.
        title: its name in prose, e.g. "the adding problem".
        explain: (config) -> a paragraph saying what the sequences are and what the baseline does.
        baseline: the key of the baseline's metrics, e.g. "mean".
        generate: (config, num_sequences, generator) -> (inputs (N, T', F), targets).
        shape: config -> (input_size, output_size, every_step) of its `MemoryModel`.
        loss: (outputs, targets) -> the training loss, a scalar.
        metrics: (config, outputs, targets) -> the model's test metrics.
        baseline_metrics: (config, targets) -> the baseline's test metrics.
        describe: (config, inputs, targets, outputs) -> one line per sequence, for `predict`.
        columns: the metrics shown in tables, in order.
    """

    task: str
    config: type
    title: str
    explain: Callable
    baseline: str
    generate: Callable
    shape: Callable
    loss: Callable
    metrics: Callable
    baseline_metrics: Callable
    describe: Callable
    columns: tuple[str, ...]


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

    def __init__(self, problem: Problem, config: MemoryConfig, epoch: int) -> None:
        self.problem, self.config, self.epoch = problem, config, epoch
        self.count = -(-config.train_sequences // config.batch_size)  # the last batch may be smaller

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = data_generator(self.config.seed, "train", self.epoch)
        for index in range(self.count):
            size = min(self.config.batch_size, self.config.train_sequences - index * self.config.batch_size)
            yield self.problem.generate(self.config, size, generator)


def chunks(inputs: torch.Tensor, targets: torch.Tensor, rows: int = _EVAL_ROWS):
    """(inputs, targets) in batches of `rows`, in order."""
    return [(inputs[i : i + rows], targets[i : i + rows]) for i in range(0, len(inputs), rows)]


def build_model(problem: Problem, config: MemoryConfig) -> MemoryModel:
    """The only place a memory config becomes a model (torch's global RNG decides its weights)."""
    input_size, output_size, every_step = problem.shape(config)
    return MemoryModel(config.model, input_size, config.hidden_size, config.num_layers, output_size,
                       every_step=every_step, dropout=config.dropout, forget_bias=config.lstm_forget_bias())


def held_out(problem: Problem, config: MemoryConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's test sequences, regenerated from its config alone."""
    return problem.generate(config, config.test_sequences, data_generator(config.seed, "test"))


def outputs_of(model: MemoryModel, inputs: torch.Tensor) -> torch.Tensor:
    """The model's answers for `inputs`, on the CPU, computed `_EVAL_ROWS` sequences at a time."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        return torch.cat([model(part.to(device)).cpu() for part, _ in chunks(inputs, inputs)])


def score(problem: Problem, config: MemoryConfig, model: MemoryModel) -> dict:
    """Test metrics of the model and the baseline: {"model": {...}, problem.baseline: {...}}."""
    inputs, targets = held_out(problem, config)
    outputs = outputs_of(model, inputs)
    return {"model": problem.metrics(config, outputs, targets),
            problem.baseline: problem.baseline_metrics(config, targets)}


def train_memory(problem: Problem, config: MemoryConfig, *, resume: bool = False, quiet: bool = False,
                 command: str = "") -> dict:
    """Trains a `MemoryModel` on `problem` as `config` says and writes its run directory.

    Returns:
        {"metrics": {"model", problem.baseline: test metrics}, "text": a printable summary,
         "run_dir", "seconds": training time, "parameters": model size, "updates": optimizer steps}.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    model = build_model(problem, config).to(resolve_device(config.device))
    val = chunks(*problem.generate(config, config.val_sequences, data_generator(config.seed, "val")))
    stage.open()
    result, seconds = fit(model, problem.loss, config.trainer_options(), stage,
                          train_batches=lambda epoch, generator: FreshBatches(problem, config, epoch),
                          val_batches=lambda: val, batch_size=config.batch_size, quiet=quiet)
    metrics = score(problem, config, model)
    summary = {"metrics": metrics, "run_dir": str(stage.out), "seconds": seconds, "updates": result.steps,
               "parameters": num_parameters(model), "text": ""}
    if not distributed.is_main():
        return summary
    save_run(stage.path, model, problem.task, {"config": dataclasses.asdict(config)})
    write_json(stage.path / "test_metrics.json", metrics)
    _write_report(stage.path, problem, config, model, metrics, result.history, command)
    summary["run_dir"] = str(stage.finish())
    summary["text"] = (f"{config.model.upper()} on {problem.title}, T = {config.length}: {summary['parameters']} "
                       f"parameters, {result.steps} updates in {seconds:.1f} s; test sequences:\n"
                       + metrics_table(problem, metrics))
    return summary


def load_run(problem: Problem, run_dir: str | Path) -> tuple[MemoryConfig, MemoryModel]:
    """A finished run's config and its model (in eval mode, on the CPU)."""
    saved = read_run(run_dir, problem.task)
    config = problem.config(**saved["config"])
    return config, load_weights(build_model(problem, config), run_dir)


def _no_data(problem: Problem, data: str | None, text: str | None = None) -> None:
    if data is not None or text is not None:
        raise ValueError(f"{problem.title} generates its own sequences from the run's seed and reads no --data or "
                         f"--text; received data={data!r}, text={text!r}")


def evaluate_memory(problem: Problem, run_dir: str | Path, data: str | None = None) -> dict:
    """Test metrics of the model and the baseline on the run's test sequences, JSON-ready."""
    _no_data(problem, data)
    config, model = load_run(problem, run_dir)
    return {"task": problem.task, "model": config.model, "length": config.length,
            "test_sequences": config.test_sequences, "metrics": score(problem, config, model)}


def evaluate_text(problem: Problem, result: dict) -> str:
    """The printable form of `evaluate_memory`'s result."""
    return (f"{problem.title}, T = {result['length']}: {result['test_sequences']} test sequences\n"
            + metrics_table(problem, result["metrics"]))


def metrics_table(problem: Problem, metrics: dict) -> str:
    """One row per answerer (the model, the baseline), one column per metric."""
    lines = [f"{'':14}" + "".join(f"{name:>18}" for name in problem.columns)]
    lines += [f"{name:14}" + "".join(f"{values[key]:>18.4g}" for key in problem.columns)
              for name, values in metrics.items()]
    return "\n".join(lines)


def predict_memory(problem: Problem, run_dir: str | Path, *, data: str | None = None, text: str | None = None,
                   count: int = 5) -> list[str]:
    """`rnnlab predict`'s output: the model's answers to the first `count` test sequences, beside the targets."""
    _no_data(problem, data, text)
    config, model = load_run(problem, run_dir)
    inputs, targets = (part[:count] for part in held_out(problem, config))
    return problem.describe(config, inputs, targets, outputs_of(model, inputs))


def probe_memory(problem: Problem, run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained model and the first `rows` test sequences, with the training loss on them.

    The model and the batch sit on the run's device (the CPU when the run named a GPU this
    machine lacks). A run has `test_sequences` of them: asking for more gives them all.
    """
    check_positive_int("rows", rows)
    config, model = load_run(problem, run_dir)
    inputs, targets = (part[:rows] for part in held_out(problem, config))
    device = loaded_device(config.device)
    model, inputs, targets = model.to(device), inputs.to(device), targets.to(device)
    return Probe(model=model, loss=lambda: problem.loss(model(inputs), targets), batch_size=len(inputs),
                 steps=inputs.shape[1], description=f"{len(inputs)} test sequences of {inputs.shape[1]} steps")


def _write_report(run_dir: Path, problem: Problem, config: MemoryConfig, model: MemoryModel, metrics: dict,
                  history, command: str) -> None:
    plot_losses(history, run_dir / "loss.png")
    scores = Table(columns=["answerer", *problem.columns],
                   rows=[[name, *(values[key] for key in problem.columns)] for name, values in metrics.items()],
                   caption=f"{config.test_sequences} test sequences, T = {config.length}")
    inputs, targets = (part[:5] for part in held_out(problem, config))
    examples = problem.describe(config, inputs, targets, outputs_of(model, inputs))
    sections = [
        Section(heading="Test metrics", paragraphs=[problem.explain(config)], tables=[scores]),
        Section(heading="Examples", paragraphs=examples),
        Section(heading="Training", paragraphs=[
            f"Each epoch draws {config.train_sequences} fresh sequences; the weights kept are those of the epoch "
            "with the lowest validation loss."], images=[run_dir / "loss.png"]),
        Section(heading="Configuration", tables=[config.settings_table()]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab {problem.task}: {config.model.upper()}, T = {config.length}",
                 sections=sections, command=command or f"rnnlab train {problem.task} ...")
