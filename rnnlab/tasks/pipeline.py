"""THE run of every task: seed, prepare, build, train, score; then save, load, probe and export.

    fit(task, data)        distributed start → seed → task.prepare → task.build_model → device →
                           Trainer (callbacks, checkpoints, resume) → task.finish → task.score on the
                           held-out split
    save(task, fitted, d)  d/config.json, model.safetensors, metrics.jsonl, test_metrics.json, the
                           task's own files, loss.png and report.html, built in `d.partial` and renamed
    load(d)                the task with its fitted state, and its model on the run's device

Nothing in a run directory is pickled: weights are safetensors and everything else JSON, CSV or
text, so loading a run never runs code. A run directory's config.json names its task (`"task"`),
holds its settings (`"config"`) and the task's fitted state (vocabularies, scalers, labels).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors.torch import save as safetensors_bytes

from rnnlab.report.atomic import write_bytes_atomically, write_json, write_text
from rnnlab.report.html import Section, write_report
from rnnlab.report.plots import plot_losses
from rnnlab.tasks.api import StateError, Task
from rnnlab.tasks.rundir import RunLock, Stage, loaded_device, resolve_device
from rnnlab.train import Trainer, TrainResult, distributed
from rnnlab.train.checkpoint import RunDirectoryError, read_tensors  # re-exported: one error for every damaged file
from rnnlab.train.trainer import batch_rows

# Settings older runs saved in config.json that are no longer settings (the run directory is not
# part of a run's configuration); dropped when such a run is loaded.
_RETIRED_SETTINGS = ("out",)


class Fitted(NamedTuple):
    """What `fit` returns: the trained model and everything `save` writes beside it."""

    model: torch.nn.Module
    prepared: Any
    result: TrainResult
    seconds: float
    evaluation: dict | None  # the held-out evaluation; None on the other processes of a distributed run


def fit(task: Task, data: Any, *, validation_data: Any = None, callbacks: Sequence = (),
        checkpoint_dir: str | Path | None = None, resume: bool = False, verbose: bool = False) -> Fitted:
    """Trains `task`'s model on `data` and scores it on the held-out split.

    Every input error is raised by `task.prepare`, before anything is trained or written. Under
    torchrun every process trains on equal shares of each batch (the batch size must be a
    multiple of the number of processes) and only the main one scores.

    Args:
        task: the task, holding its config (and no fitted state, or the state to keep).
        data: what the task reads: a file, a bundled data set's name, or data in memory.
        validation_data: data for validation instead of the split the task carves from `data`.
        callbacks: `rnnlab.train.Callback`s, called after the built-in ones.
        checkpoint_dir: where the trainer writes metrics.jsonl and checkpoints (None: nowhere).
        resume: continue the interrupted training whose checkpoints are in `checkpoint_dir`.
        verbose: show the progress bar.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    config = task.config
    world = distributed.world_size()
    if config.batch_size % world:
        raise ValueError(f"batch_size must be a multiple of the {world} processes; received {config.batch_size}")
    if resume and (checkpoint_dir is None or not Path(checkpoint_dir).is_dir()):
        raise ValueError(f"nothing to resume: checkpoint_dir {str(checkpoint_dir)!r} is not a directory "
                         "(resume continues an interrupted run)")
    torch.manual_seed(config.seed)
    prepared = task.prepare(data, validation_data)
    task.prepared = prepared
    model = task.build_model().to(resolve_device(config.device))
    if checkpoint_dir is not None:
        Stage.open_directory(Path(checkpoint_dir), keep=resume)

    def train_batches(epoch: int, generator: torch.Generator):
        batches = task.train_batches(prepared, epoch, generator)
        return batches if world == 1 else _shares(batches, world)

    has_validation = task.val_batches(prepared) is not None
    trainer = Trainer(task.training_module(model), task.loss, task.trainer_options(), run_dir=checkpoint_dir,
                      callbacks=tuple(callbacks), quiet=not verbose)
    started = time.perf_counter()
    result = trainer.fit(train_batches, (lambda: task.val_batches(prepared)) if has_validation else None,
                         resume=resume)
    seconds = time.perf_counter() - started
    task.finish(model, prepared)
    evaluation = task.score(model, prepared) if distributed.is_main() else None
    return Fitted(model.eval(), prepared, result, seconds, evaluation)  # fitted: dropout off, as after load


def _shares(batches: Iterable, world: int):
    """Each batch trimmed to a multiple of the processes (dropping fewer rows than there are)."""
    for inputs, targets in batches:
        rows = batch_rows(targets)
        keep = rows - rows % world
        if keep:
            yield _take(inputs, keep), _take(targets, keep)


def _take(value: Any, keep: int) -> Any:
    """The first `keep` rows of every tensor in a (nested) batch."""
    if isinstance(value, torch.Tensor):
        return value[:keep]
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_take(item, keep) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(_take(item, keep) for item in value)
    return value


def save(task: Task, fitted: Fitted, path: str | Path, *, command: str, overwrite: bool = False) -> Path:
    """Writes the run directory of a fitted task at `path`, built in `<path>.partial` and renamed.

    The `.partial` directory may hold this fit's checkpoints (the command line trains there) or
    what a failed attempt left; it is emptied first. Only the main process writes.

    Raises:
        ValueError: if `path` exists and `overwrite` is False.
    """
    stage = Stage(path, overwrite=overwrite)
    if not distributed.is_main():
        return stage.out
    with RunLock(path):
        return _write_run(task, fitted, stage, command)


def _write_run(task: Task, fitted: Fitted, stage: Stage, command: str) -> Path:
    run_dir = stage.open()
    weights = {k: v.detach().contiguous() for k, v in fitted.model.state_dict().items()}
    write_bytes_atomically(run_dir / "model.safetensors", safetensors_bytes(weights))
    write_json(run_dir / "config.json", {"task": task.name, "config": dataclasses.asdict(task.config),
                                         **task.state_dict()})
    write_text(run_dir / "metrics.jsonl", "".join(json.dumps(_finite(record)) + "\n"
                                                  for record in fitted.result.history))
    write_json(run_dir / "test_metrics.json", fitted.evaluation["metrics"])
    outputs = task.write_outputs(run_dir, fitted.model, fitted.prepared, fitted.evaluation)
    plot_losses(fitted.result.history, run_dir / "loss.png")
    sections = [*outputs.sections,
                Section(heading="Training", paragraphs=[training_note(fitted.result.history), *outputs.training],
                        images=[run_dir / "loss.png"]),
                Section(heading="Configuration", paragraphs=list(outputs.configuration),
                        tables=[task.config.settings_table()])]
    write_report(run_dir / "report.html", title=outputs.title, sections=sections, command=command)
    return stage.finish()


def training_note(history: list[dict]) -> str:
    """One sentence on the epochs trained and the ones whose weights were kept."""
    scored = [record for record in history if record.get("val_loss") is not None]
    if not scored:
        return f"{len(history)} epochs without validation; the final weights are kept."
    best = min(scored, key=lambda record: record["val_loss"])
    return (f"{len(history)} epochs; the weights kept are those of epoch {best['epoch']}, whose validation loss "
            f"{best['val_loss']:.4f} was the lowest.")


def _finite(record: dict) -> dict:
    # JSON has no NaN/Infinity; a missing or non-finite number is written as null (as metrics.jsonl is)
    return {key: None if isinstance(value, float) and not math.isfinite(value) else value
            for key, value in record.items()}


def read_config(run_dir: str | Path, task: str | None = None) -> dict:
    """The saved config.json of a finished run, checked; runs written before tasks were named are forecasts.

    Raises:
        FileNotFoundError: if `run_dir` is not a finished run (it lacks config.json or model.safetensors).
        RunDirectoryError: if config.json is not JSON, has no "config" object, or names a task
            rnnlab does not know.
        ValueError: if `task` is given and the run holds another task.
    """
    from rnnlab.tasks.registry import task_names

    run_dir = Path(run_dir)
    path = run_dir / "config.json"
    missing = [name for name in ("config.json", "model.safetensors") if not (run_dir / name).is_file()]
    if missing:
        raise FileNotFoundError(f"run directory {str(run_dir)!r} has no {' and '.join(missing)}"
                                + ("" if len(missing) == 2 else "; a finished run has both"))
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RunDirectoryError(f"{path}: not UTF-8 text; it is not a config.json rnnlab wrote") from None
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: "
                                f"{error.msg}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        received = type(saved.get("config")).__name__ if isinstance(saved, dict) else type(saved).__name__
        raise RunDirectoryError(f"{path}: has no \"config\" object (a run's settings); received {received}")
    saved.setdefault("task", "forecast")
    if saved["task"] not in task_names():
        raise RunDirectoryError(f"{path}: task {saved['task']!r} is not one rnnlab knows; tasks: {list(task_names())}")
    if task is not None and saved["task"] != task:
        raise ValueError(f"run directory {str(run_dir)!r} holds a {saved['task']} run, not a {task} run")
    return saved


def load(task_class: type[Task], run_dir: str | Path) -> tuple[Task, torch.nn.Module]:
    """A finished run's task (config and fitted state) and its model, in eval mode on the run's device
    (the CPU when the run named a GPU this machine lacks).

    Raises:
        RunDirectoryError: naming config.json or model.safetensors and what is wrong in it.
    """
    saved = read_config(run_dir, task_class.name)
    path = Path(run_dir) / "config.json"
    settings = {**task_class.config_class.OLDER_RUNS,
                **{k: v for k, v in saved["config"].items() if k not in _RETIRED_SETTINGS}}
    known = {item.name for item in dataclasses.fields(task_class.config_class)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise RunDirectoryError(f"{path}: setting {unknown[0]!r} is not a {task_class.name} setting")
    try:
        task = task_class(task_class.config_class(**settings))
    except (TypeError, ValueError) as error:
        raise RunDirectoryError(f"{path}: \"config\": {error}") from None
    try:
        task.load_state_dict(saved)
    except StateError as error:  # a value checked as the task took it out: the message names its key path
        raise RunDirectoryError(f"{path}: {error}") from None
    except KeyError as error:
        raise RunDirectoryError(f"{path}: the run's fitted state lacks {error.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise RunDirectoryError(f"{path}: the run's fitted state is not what rnnlab wrote: {error}") from None
    try:
        model = task.build_model()
    except (TypeError, ValueError) as error:  # settings and state that each pass but do not make a model together
        raise RunDirectoryError(f"{path}: its settings and fitted state make no model: {error}") from None
    model.load_state_dict(read_weights(Path(run_dir) / "model.safetensors", model.state_dict()))
    return task, model.to(loaded_device(task.config.device)).eval()


def read_weights(path: Path, expected: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file, checked against the names and shapes the model expects (and finite)."""
    return read_tensors(path, expected, of="the model config.json describes")


def read_history(run_dir: str | Path) -> list[dict]:
    """The epochs of a run's metrics.jsonl, in order ([] when it has none)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            record = read_json_text(line, f"{path}: line {number}")
            if not isinstance(record, dict):
                raise RunDirectoryError(f"{path}: line {number} must be a JSON object (an epoch's record); received "
                                        f"{type(record).__name__}")
            records.append(record)
    return records


def read_json_text(text: str, where: str) -> Any:
    """`json.loads(text)`; a RunDirectoryError naming `where` (a file, a line) if it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{where}: not valid JSON at column {error.colno}: {error.msg}") from None


def num_parameters(model: torch.nn.Module) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
