"""A task as hooks over one pipeline: what is particular to a sequence task, and nothing else.

The pipeline (`rnnlab.tasks.pipeline`) owns the run: seeding, the device, distributed start,
training through the `Trainer`, checkpoints and resume, saving and loading a run directory,
evaluation, the probe that `compare` and `diagnose` use, the report's shared sections, and export.
A task subclasses `Task` and fills in the hooks, as a LightningModule does over Lightning's loop:

    prepare(data)              read, check and split the data; fit vocabularies, scalers, labels
    build_model()              the nn.Module, from the config and what prepare fitted
    loss, train_batches, val_batches
    finish(model, prepared)    what needs the trained model (an anomaly threshold), into the state
    score(model, prepared)     the held-out metrics, beside the task's baselines
    write_outputs(...)         the task's own files and report sections (predictions, plots)
    evaluate, probe, export_graphs

A `Task` instance holds one run's config and its fitted state; `state_dict()` is that state as
JSON (saved in config.json beside the config) and `load_state_dict` restores it, so a loaded run
prepares new data exactly as its own was prepared. config.json is a file anyone can edit and a
disk can damage, so `load_state_dict` takes each value out through `SavedState`, which checks its
kind and range: a value the task never writes is one error naming its key path and the value,
not a crash (or a quietly different run) later in numpy or torch. `RunConfig` holds the settings every task
shares (`rnnlab.tasks.config`, re-exported here); a task's config subclasses it and names, in
`DATA`, the fields that say what to read (they are `fit` arguments of the estimator, not settings).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, NoReturn

import numpy as np
import torch
from torch import nn

from rnnlab.backends.spec import Mode
from rnnlab.cells.lstm import LSTMState
from rnnlab.data.scaling import Scaler
from rnnlab.data.text.vocab import Tokenizer, Vocabulary
from rnnlab.report.html import Section
from rnnlab.tasks.config import RunConfig  # re-exported: every task's config subclasses it
from rnnlab.train import TrainerOptions


@dataclass(frozen=True)
class Headline:
    """A task's headline metric: its key in the metrics, which way is better, and the baseline it must beat.

    Attributes:
        metric: the key in `metrics["model"]` (and in the baseline's metrics), e.g. "accuracy".
        higher_is_better: True for accuracy-like metrics, False for errors and losses.
        baseline: the key in `metrics` of the baseline it is compared with, e.g. "majority".
    """

    metric: str
    higher_is_better: bool
    baseline: str

    def better(self, ours: float, theirs: float) -> bool:
        """True if `ours` is strictly better than `theirs`."""
        return ours > theirs if self.higher_is_better else ours < theirs


@dataclass(frozen=True)
class Probe:
    """A trained model and one real batch of its task: what diagnostics and comparisons run on.

    Attributes:
        model: the task's model, in eval mode; its recurrent layers are rnnlab layers.
        loss: runs the model's forward pass on the batch and returns the task's training loss, a
            scalar (differentiable when grad is enabled). Calling it twice gives the same value.
        batch_size: sequences in the batch.
        steps: time steps of the batch's longest sequence (for a sequence-to-sequence model, the
            source's).
        description: one line saying what the batch is, e.g. "64 test windows of 24 steps".
    """

    model: nn.Module
    loss: Callable[[], torch.Tensor]
    batch_size: int
    steps: int
    description: str


class Graph(NamedTuple):
    """One network graph of a run to export (ONNX): the module, example inputs and the axes' names."""

    module: nn.Module
    example_inputs: tuple
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    suffix: str = ""  # "" for a run's only graph; ".encoder", ".decoder" where a run has several


class _Stateful(nn.Module):
    """`model(inputs, state) -> (outputs, state)` with the state as flat tensors h (and c), (L, B, H) each."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor, h_0: torch.Tensor, c_0: torch.Tensor | None = None):
        outputs, final = self.model(inputs, h_0 if c_0 is None else LSTMState(h_0, c_0))
        return (outputs, *final) if isinstance(final, LSTMState) else (outputs, final)


def stateful_graph(model: nn.Module, inputs: torch.Tensor, name: str, output: str) -> Graph:
    """The graph of a model that carries its state from call to call (a language model, a next-step
    forecaster): `model.encoder` is its rnnlab layer, and h_0 (c_0) go in and h_n (c_n) come out."""
    encoder = model.encoder
    count = 2 if encoder.mode == Mode.LSTM else 1
    states = [torch.zeros(encoder.num_layers, inputs.shape[0], encoder.hidden_size) for _ in range(count)]
    state_names = ["h_0", "c_0"][:count]
    axes = {name: {0: "batch", 1: "time"}, **{state: {1: "batch"} for state in state_names}}
    return Graph(_Stateful(model), (inputs, *states), [name, *state_names], [output, *["h_n", "c_n"][:count]], axes)


class StateError(ValueError):
    """A value of a run's saved fitted state that is not what its task writes; the message names the
    value's key path ('scaler.std[0]') and the value. `pipeline.load` reports it naming config.json."""


class SavedState:
    """A run's fitted state as read back from config.json, each value checked as the task takes it out.

    Each getter returns the value at `key` if it is of the kind (and in the range) asked for, and
    raises `StateError` naming its key path and the value otherwise; a missing key is one too.

        state = SavedState(saved)
        self.columns = state.strings("columns")
        self.target = state.string("target", among=self.columns)
        self.scaler = state.scaler("scaler", columns=len(self.columns))

    Args:
        saved: the state (config.json's object, or an object inside it).
        path: the key path of `saved` in config.json ("" at the top).
    """

    def __init__(self, saved: Any, path: str = "") -> None:
        if not isinstance(saved, dict):
            _fail(path or "the fitted state", "a JSON object", saved)
        self.saved, self.path = saved, path

    def has(self, key: str) -> bool:
        return key in self.saved

    def value(self, key: str) -> Any:
        """The value at `key`, unchecked (a StateError if it is missing)."""
        if key not in self.saved:
            raise StateError(f"the run's fitted state lacks {self.where(key)!r}")
        return self.saved[key]

    def where(self, key: str) -> str:
        """The key path of `key` in config.json."""
        return f"{self.path}.{key}" if self.path else key

    def object(self, key: str) -> SavedState:
        return SavedState(_kind(self.value(key), dict, self.where(key), "a JSON object"), self.where(key))

    def boolean(self, key: str) -> bool:
        return _kind(self.value(key), bool, self.where(key), "true or false")

    def integer(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.value(key)
        if not _is_integer(value) or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            _fail(self.where(key), "an integer" + _range(minimum, maximum), value)
        return value

    def number(self, key: str) -> float:
        return _number(self.value(key), self.where(key), positive=False)

    def string(self, key: str, *, among: Sequence[str] | None = None) -> str:
        value = self.value(key)
        if not isinstance(value, str) or (among is not None and value not in among):
            _fail(self.where(key), "a string" if among is None else f"one of {_listed(among)}", value)
        return value

    def strings(self, key: str, *, least: int = 1, ordered: bool = False) -> list[str]:
        """A list of at least `least` distinct strings (in sorted order if `ordered`)."""
        value, where = self.value(key), self.where(key)
        if not isinstance(value, list) or len(value) < least:
            _fail(where, f"a list of at least {least} distinct strings", value)
        for index, item in enumerate(value):
            if not isinstance(item, str):
                _fail(f"{where}[{index}]", "a string", item)
        if len(set(value)) != len(value):
            repeated = next(item for index, item in enumerate(value) if item in value[:index])
            _fail(where, "a list of distinct strings", f"{repeated!r} more than once", shown=False)
        if ordered and value != sorted(value):
            _fail(where, "sorted (as rnnlab writes it)", value)
        return list(value)

    def numbers(self, key: str, *, length: int, positive: bool = False) -> np.ndarray:
        """(length,) float64 of a list of finite numbers (each > 0 if `positive`)."""
        value, where = self.value(key), self.where(key)
        if not isinstance(value, list) or len(value) != length:
            _fail(where, f"a list of {length} numbers", value)
        return np.array([_number(item, f"{where}[{index}]", positive=positive) for index, item in enumerate(value)],
                        dtype=np.float64)

    def integers(self, key: str, *, length: int, minimum: int = 0) -> list[int]:
        value, where = self.value(key), self.where(key)
        if not isinstance(value, list) or len(value) != length:
            _fail(where, f"a list of {length} integers", value)
        for index, item in enumerate(value):
            if not _is_integer(item) or item < minimum:
                _fail(f"{where}[{index}]", "an integer" + _range(minimum, None), item)
        return list(value)

    def mapping(self, key: str, *, among: Sequence[str]) -> dict[str, str]:
        """An object whose values are each one of `among` (its keys are strings, as JSON's are)."""
        mapping = self.object(key)
        return {name: mapping.string(name, among=among) for name in mapping.saved}

    def parse(self, key: str, from_dict: Callable[[Any], Any]) -> Any:
        """`from_dict(value)` (a `to_dict`'s inverse that checks what it reads), its error naming `key`."""
        value = self.value(key)
        try:
            return from_dict(value)
        except (ValueError, TypeError, KeyError) as error:
            raise StateError(f"{self.where(key)!r}: {error}") from None

    def tokenizer(self, key: str) -> Tokenizer:
        return self.parse(key, Tokenizer.from_dict)

    def vocabulary(self, key: str, specials: Sequence[str]) -> Vocabulary:
        """The vocabulary at `key`, which must have exactly the `specials` the task builds it with."""
        vocabulary = self.parse(key, Vocabulary.from_dict)
        if vocabulary.specials != tuple(specials):
            _fail(f"{self.where(key)}.specials", f"{list(specials)}", list(vocabulary.specials))
        return vocabulary

    def scaler(self, key: str, *, columns: int) -> Scaler:
        """The scaler at `key`, which must scale `columns` columns."""
        scaler = self.parse(key, Scaler.from_dict)
        if len(scaler.mean) != columns:
            _fail(f"{self.where(key)}.mean", f"one number per column ({columns})", scaler.mean.tolist())
        return scaler


def _kind(value: Any, kind: type, where: str, must: str) -> Any:
    if not isinstance(value, kind):
        _fail(where, must, value)
    return value


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any, where: str, *, positive: bool) -> float:
    if (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)
            or (positive and value <= 0)):
        _fail(where, "a positive finite number" if positive else "a finite number", value)
    return float(value)


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    return f" >= {minimum}" if minimum is not None else (f" <= {maximum}" if maximum is not None else "")


def _listed(values: Sequence[str]) -> str:
    values = list(values)
    return repr(values) if len(values) <= 8 else repr(values[:8])[:-1] + ", ...]"


def _fail(where: str, must: str, value: Any, *, shown: bool = True) -> NoReturn:
    text = repr(value) if shown else str(value)
    raise StateError(f"{where!r} must be {must}; received {text if len(text) <= 60 else text[:57] + '...'}")


class Outputs(NamedTuple):
    """What a task adds to its run directory's report (`Task.write_outputs`).

    Attributes:
        title: the report's title.
        sections: the task's own sections, shown before the shared "Training" and "Configuration".
        training: paragraphs for the "Training" section (what the loss is, how epochs are drawn).
        configuration: paragraphs for the "Configuration" section (tokenizers, spans, sizes).
    """

    title: str
    sections: list[Section]
    training: tuple[str, ...] = ()
    configuration: tuple[str, ...] = ()


class Task:
    """What is particular to one sequence task; the pipeline calls these hooks (see the module docstring).

    Class attributes (set by each subclass):
        name: the task's name on the command line and in config.json, e.g. "classify-text".
        help: one line for `rnnlab train --help`.
        config_class: its settings, a frozen `RunConfig` subclass.
        headline: the metric that sums a run up, and the baseline it must beat.
        supervised: True where data comes as inputs and separate labels (`fit(X, y)`).

    Args:
        config: the run's settings.
    """

    name: ClassVar[str]
    help: ClassVar[str]
    config_class: ClassVar[type[RunConfig]]
    headline: ClassVar[Headline]
    supervised: ClassVar[bool] = False

    def __init__(self, config: RunConfig) -> None:
        if not isinstance(config, self.config_class):
            raise TypeError(f"config must be a {self.config_class.__name__}; received {type(config).__name__}")
        self.config = config
        self.prepared: Any = None  # the run's own data once prepared (kept in memory, never saved)

    # --- the fitted state, saved in config.json beside the config --------------------------------

    def state_dict(self) -> dict:
        """What `prepare` fitted on the training data (vocabularies, scalers, labels), JSON-ready."""
        return {}

    def load_state_dict(self, saved: dict) -> None:
        """Restores `state_dict()`'s state from a run's saved config.json."""

    # --- training --------------------------------------------------------------------------------

    def prepare(self, data: Any, validation_data: Any = None) -> Any:
        """Reads, checks and splits `data`; fits the task's state on the training split unless it is
        already fitted. Every input error is raised here, before anything is trained or written."""
        raise NotImplementedError

    def build_model(self) -> nn.Module:
        """A freshly initialised model for this config and fitted state (torch's global RNG decides it)."""
        raise NotImplementedError

    def training_module(self, model: nn.Module) -> nn.Module:
        """The module the trainer calls; the model itself unless the task wraps it (carried state)."""
        return model

    def loss(self, outputs: Any, targets: Any) -> torch.Tensor:
        """The training loss of a batch, a scalar mean."""
        raise NotImplementedError

    def trainer_options(self) -> TrainerOptions:
        return self.config.trainer_options()

    def train_batches(self, prepared: Any, epoch: int, generator: torch.Generator) -> Iterable:
        """One epoch of (inputs, targets) batches; all randomness comes from `generator`."""
        raise NotImplementedError

    def val_batches(self, prepared: Any) -> Iterable | None:
        """The validation batches (in a fixed order), or None where the task has no validation split."""
        return None

    def finish(self, model: nn.Module, prepared: Any) -> None:
        """Fits what needs the trained model (a threshold, a calibration) into the task's state;
        called once after training, on every process, before `score`."""

    # --- results ---------------------------------------------------------------------------------

    def score(self, model: nn.Module, prepared: Any) -> dict:
        """The held-out evaluation after training: {"metrics": {"model": ..., <baseline>: ...}, ...}."""
        raise NotImplementedError

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Any, evaluation: dict) -> Outputs:
        """Writes the task's own files into `run_dir` (predictions, plots) and returns its report parts."""
        raise NotImplementedError

    def describe(self) -> str:
        """A few words naming the run, for its summary: e.g. "GRU on 'airline'"."""
        return f"{self.config.model.upper()} {self.name}"

    def metrics_text(self, metrics: dict) -> str:
        """The metrics as a terminal table: one row per model or baseline."""
        names = list(next(iter(metrics.values())))
        lines = [f"{'':18}" + "".join(f"{name:>12}" for name in names)]
        lines += [f"{who:18}" + "".join(f"{_cell(values[name]):>12}" for name in names)
                  for who, values in metrics.items()]
        return "\n".join(lines)

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """Metrics of the model and the baselines, JSON-ready with a "metrics" key: on the run's own
        held-out split when `data` is None, else on `data` (each task says which part of it)."""
        raise NotImplementedError

    def evaluate_text(self, result: dict) -> str:
        """The printable form of `evaluate`'s result."""
        return self.metrics_text(result["metrics"])

    def probe(self, model: nn.Module, prepared: Any, rows: int) -> Probe:
        """The model and the first `rows` held-out sequences of `prepared`, with the training loss."""
        raise NotImplementedError

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """The run's network as graphs to export, with named inputs and dynamic batch and time axes."""
        raise NotImplementedError

    # --- the run's own data ----------------------------------------------------------------------

    def own_data(self) -> Any:
        """The run's own data, prepared: kept from training, or read again from the config's `data`.

        Raises:
            ValueError: for a run fitted on in-memory data that this process no longer holds.
        """
        if self.prepared is None:
            data = getattr(self.config, "data", None)
            if data is None and self.config.DATA:
                raise ValueError(f"this {self.name} run was fitted on in-memory data, which a saved run does not "
                                 "keep; pass the data to evaluate or predict; received data=None")
            self.prepared = self.prepare(data)
        return self.prepared


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)
