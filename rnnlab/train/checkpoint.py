"""Checkpoints as safetensors plus JSON: loading one never runs code (no pickle, no torch.load).

Layout of a checkpoint directory:

    checkpoint.json              {"format": 1, "current": "ckpt-<step>-<random>"}: the pointer
    ckpt-<step>-<random>/
        model.safetensors        model.state_dict()
        optimizer.safetensors    optimizer state tensors under "state.<param index>.<name>"
        optimizer.json           param_groups and the non-tensor state values
        rng.safetensors          torch's CPU (and CUDA) generator states
        trainer_state.json       the caller's `state`, the scheduler's state_dict, numpy and python RNG
        best_model.safetensors   optional: the best weights so far

Why a pointer: a checkpoint is several files that must agree. Each save writes a fresh
subdirectory (every file through a temporary name, flush, fsync and os.replace), syncs it, and
only then replaces `checkpoint.json` atomically; older subdirectories are deleted after that. A
SIGKILL at any instant therefore leaves the pointer naming either the old complete checkpoint or
the new complete one.

Loading checks what it reads before anything is loaded into the model, the optimizer, the
scheduler or the RNGs: a checkpoint damaged on disk or edited by hand (a file missing,
truncated, not safetensors or not JSON, a tensor missing or of another shape than the object it
goes into, a value of the wrong kind) is one `RunDirectoryError` naming the file and what is
wrong, and never a KeyError, a RuntimeError from `load_state_dict` or a resume that trains on
from nonsense.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import tempfile
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn

from rnnlab.data.errors import DataError
from rnnlab.train.options import _RunState

POINTER = "checkpoint.json"
FORMAT = 1


def save_checkpoint(directory: str | os.PathLike, *, model: nn.Module, optimizer=None, scheduler=None,
                    state: dict[str, Any], best_model_state: dict[str, Tensor] | None = None) -> Path:
    """Writes a checkpoint under `directory` and makes it the current one, atomically.

    Also records the torch (CPU and CUDA), numpy and python RNG states of this process.

    Args:
        directory: the checkpoint directory (created if missing).
        model: its state_dict is saved (tensors only).
        optimizer: a torch optimizer, or None.
        scheduler: an LR scheduler whose state_dict is JSON-serialisable, or None.
        state: JSON-serialisable trainer state (epoch, step, history, ...).
        best_model_state: a second state_dict to keep (the best weights so far), or None.

    Returns:
        The path of the new checkpoint's subdirectory.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    step = int(state.get("global_step", 0))
    target = Path(tempfile.mkdtemp(prefix=f"ckpt-{step:09d}-", dir=directory))
    _write(target / "model.safetensors", safetensors_bytes(_tensors_for_file(model.state_dict(), "model")))
    if best_model_state is not None:
        _write(target / "best_model.safetensors", safetensors_bytes(_tensors_for_file(best_model_state, "best")))
    if optimizer is not None:
        tensors, structure = _split_optimizer_state(optimizer.state_dict())
        _write(target / "optimizer.safetensors", safetensors_bytes(tensors))
        _write(target / "optimizer.json", _json_bytes(structure))
    rng_tensors, rng_json = _capture_rng()
    _write(target / "rng.safetensors", safetensors_bytes(rng_tensors))
    trainer_state = {"format": FORMAT, "state": state, "rng": rng_json,
                     "scheduler": scheduler.state_dict() if scheduler is not None else None}
    _write(target / "trainer_state.json", _json_bytes(trainer_state))
    _fsync_directory(target)
    _write(directory / POINTER, _json_bytes({"format": FORMAT, "current": target.name}))
    for old in directory.glob("ckpt-*"):  # only after the pointer moved: the old one is no longer needed
        if old.is_dir() and old.name != target.name:
            shutil.rmtree(old, ignore_errors=True)
    return target


class RunDirectoryError(DataError):
    """A file of a run directory is damaged or not what rnnlab wrote: one line naming the file and what is wrong.

    The checkpoints a resume reads raise it here, and a saved run's config.json and weights in
    `rnnlab.tasks.pipeline` (which re-exports it). It is a `DataError`, and so a ValueError: by
    then the file is the user's data, and the fix is theirs (restore the file, or train afresh).
    """


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The current checkpoint's subdirectory, or None when `directory` holds no checkpoint.

    Raises:
        RunDirectoryError: if the pointer file exists but is unreadable or names no checkpoint directory.
    """
    pointer = Path(directory) / POINTER
    if not pointer.exists():
        return None
    saved = _read_json(pointer)
    _check_format(pointer, saved)
    current = saved.get("current")
    # a bare ckpt-* name beside the pointer: never a path that leads elsewhere
    if (not isinstance(current, str) or Path(current).name != current or not current.startswith("ckpt-")
            or not (pointer.parent / current).is_dir()):
        raise RunDirectoryError(f"{pointer}: \"current\" names no checkpoint directory; received {_shown(current)}")
    return pointer.parent / current


def load_checkpoint(directory: str | os.PathLike, *, model: nn.Module | None = None, optimizer=None,
                    scheduler=None, check: Callable[[Path, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Loads the current checkpoint of `directory` into the given objects; never unpickles anything.

    Every file is read and checked before anything is loaded, so a damaged checkpoint leaves the
    model, optimizer and scheduler as they were.

    Args:
        directory: a directory written by `save_checkpoint`.
        model: receives the saved weights (strict), or None.
        optimizer: receives the saved optimizer state, or None.
        scheduler: receives the saved scheduler state, or None.
        check: called as ``check(trainer_state_path, state)`` with the saved `state` once every
            file is read and checked and before anything is loaded, for what only the caller can
            check (its callbacks' states); an error it raises leaves the objects as they were.

    Returns:
        The saved `state`, plus "rng" (pass it to `restore_rng`) and, when saved,
        "best_model_state" (a state_dict).

    Raises:
        FileNotFoundError: no checkpoint at `directory`.
        RunDirectoryError: naming the checkpoint file that is missing, damaged, or does not fit
            `model`, `optimizer` or `scheduler`, and what is wrong with it.
    """
    path = latest_checkpoint(directory)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {directory}: {Path(directory) / POINTER} does not exist")
    state_file = path / "trainer_state.json"
    saved = _read_json(state_file)
    _check_format(state_file, saved)
    for key, kinds in (("state", dict), ("rng", dict), ("scheduler", (dict, type(None)))):
        if key not in saved:
            raise RunDirectoryError(f"{state_file}: lacks {key!r}")
        if not isinstance(saved[key], kinds):
            raise RunDirectoryError(f"{state_file}: {key!r} must be a JSON object; received {_shown(saved[key])}")
    _check_run_state(state_file, saved["state"])
    rng = {"tensors": _rng_tensors(path / "rng.safetensors"), **_rng_json(state_file, saved["rng"])}
    expected = model.state_dict() if model is not None else None
    of = "the model it is loaded into"
    weights = read_tensors(_existing(path / "model.safetensors"), expected, of=of)
    best = path / "best_model.safetensors"
    best_weights = read_tensors(best, expected, of=of) if best.exists() else None
    if optimizer is not None:
        structure = _read_json(_existing(path / "optimizer.json"))
        tensors = read_tensors(_existing(path / "optimizer.safetensors"))
        optimizer_state = _optimizer_state(path, tensors, structure, optimizer)
    if scheduler is not None and saved["scheduler"] is not None:
        _check_like(state_file, '"scheduler"', saved["scheduler"], scheduler.state_dict())
    if check is not None:
        check(state_file, dict(saved["state"]))
    # all read and checked: only now is anything changed
    if model is not None:
        _load_into(path / "model.safetensors", model.load_state_dict, weights)
    if optimizer is not None:
        _load_into(path / "optimizer.json", optimizer.load_state_dict, optimizer_state)
    if scheduler is not None and saved["scheduler"] is not None:
        _load_into(state_file, scheduler.load_state_dict, saved["scheduler"])
    state = dict(saved["state"])
    state["rng"] = rng
    if best_weights is not None:
        state["best_model_state"] = best_weights
    return state


def read_tensors(path: Path, expected: dict[str, Tensor] | None = None, *, of: str = "the model") -> dict[str, Tensor]:
    """The tensors of a safetensors file; with `expected` (a state_dict), checked to be exactly its
    names, each of its shape, and finite where it is floating point (trained weights always are).

    Args:
        of: what `expected` is, for the message: "the model config.json describes".

    Raises:
        RunDirectoryError: naming `path`: not safetensors (truncated, another format), or not `expected`'s tensors.
    """
    try:
        tensors = load_file(path)
    except Exception as error:  # safetensors raises its own SafetensorError (not an OSError) for a bad file
        raise RunDirectoryError(f"{path}: not a readable safetensors file (truncated, or another format): "
                                f"{_first_line(error)}") from None
    if expected is None:
        return tensors
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise RunDirectoryError(f"{path}: its tensors are not those of {of}: missing {missing[:3]}, "
                                f"unexpected {extra[:3]}")
    for name, tensor in expected.items():
        if tuple(tensors[name].shape) != tuple(tensor.shape):
            raise RunDirectoryError(f"{path}: tensor {name!r} has shape {tuple(tensors[name].shape)}; {of} needs "
                                    f"{tuple(tensor.shape)}")
        if tensors[name].is_floating_point() and not bool(torch.isfinite(tensors[name]).all()):
            raise RunDirectoryError(f"{path}: tensor {name!r} holds NaN or infinite values, which trained weights "
                                    "never do")
    return tensors


def restore_rng(rng: dict[str, Any]) -> None:
    """Restores the torch, CUDA, numpy and python RNG states returned by `load_checkpoint`."""
    tensors = rng["tensors"]
    torch.set_rng_state(tensors["torch"])
    cuda_states = [tensors[f"cuda.{i}"] for i in range(len(tensors) - 1) if f"cuda.{i}" in tensors]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    numpy_state = rng["numpy"]
    np.random.set_state((numpy_state["algorithm"], np.array(numpy_state["keys"], dtype=np.uint32),
                         numpy_state["pos"], numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    version, internal, gauss_next = rng["python"]
    random.setstate((version, tuple(internal), gauss_next))


def _capture_rng() -> tuple[dict[str, Tensor], dict[str, Any]]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors.update({f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    algorithm, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return tensors, {
        "numpy": {"algorithm": algorithm, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached_gaussian)},
        "python": [version, list(internal), gauss_next],
    }


def _tensors_for_file(state_dict: dict[str, Any], what: str) -> dict[str, Tensor]:
    """Detached contiguous copies: safetensors refuses views and tensors that share storage (tied
    weights), so each key gets its own copy; loading both keys of a tied pair restores the tie's value."""
    tensors = {}
    for key, value in state_dict.items():
        if not isinstance(value, Tensor):
            raise TypeError(f"{what} state_dict entry {key!r} must be a tensor to go into safetensors; "
                            f"received {type(value).__name__}")
        tensors[key] = value.detach().cpu().contiguous().clone()
    return tensors


def _split_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors to flat keys `state.<index>.<name>`; everything else to a JSON structure."""
    tensors, plain = {}, {}
    for index, values in state_dict["state"].items():
        plain[str(index)] = {}
        for name, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"state.{index}.{name}"] = value.detach().cpu().contiguous().clone()
            else:
                plain[str(index)][name] = value
    return tensors, {"state": plain, "param_groups": state_dict["param_groups"]}


def _join_optimizer_state(tensors: dict[str, Tensor], structure: dict[str, Any]) -> dict[str, Any]:
    state = {int(index): dict(values) for index, values in structure["state"].items()}
    for key, tensor in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = tensor
    return {"state": state, "param_groups": structure["param_groups"]}


def _load_into(path: Path, load, value) -> None:
    # what the checks before cannot see (a torch version's own rule) is still one line naming the file
    try:
        load(value)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise RunDirectoryError(f"{path}: does not fit the object it is loaded into: {_first_line(error)}") from None


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise RunDirectoryError(f"{path}: missing; the checkpoint is incomplete (resume needs every file of it)")
    return path


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(_existing(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise RunDirectoryError(f"{path}: not UTF-8 text; it is not a checkpoint file rnnlab wrote") from None
    except json.JSONDecodeError as error:
        raise RunDirectoryError(f"{path}: not valid JSON at line {error.lineno}, column {error.colno}: "
                                f"{error.msg}") from None
    if not isinstance(value, dict):
        raise RunDirectoryError(f"{path}: must hold a JSON object; received {type(value).__name__}")
    return value


def _check_format(path: Path, saved: dict[str, Any]) -> None:
    if saved.get("format") != FORMAT:
        raise RunDirectoryError(f"{path}: has format {_shown(saved.get('format'))}; this rnnlab reads format {FORMAT}")


def _check_run_state(path: Path, state: dict[str, Any]) -> None:
    """The entries the Trainer rebuilds its run from (`_RunState`'s fields) must be of their annotated
    kinds, counts not negative and the epoch from 1; the callbacks' states must be objects."""
    for name, hint in typing.get_type_hints(_RunState).items():
        if name in state and not _fits(state[name], hint):
            raise RunDirectoryError(f"{path}: \"state\".{name} must be {_described(hint)}; received "
                                    f"{_shown(state[name])}")
        if name in _RUN_STATE_MINIMUM and name in state and state[name] < _RUN_STATE_MINIMUM[name]:
            raise RunDirectoryError(f"{path}: \"state\".{name} must be at least {_RUN_STATE_MINIMUM[name]}; received "
                                    f"{state[name]!r}")
    callbacks = state.get("callbacks", {})
    if not isinstance(callbacks, dict) or not all(isinstance(value, dict) for value in callbacks.values()):
        raise RunDirectoryError(f"{path}: \"state\".callbacks must be an object of the callbacks' states (objects); "
                                f"received {_shown(callbacks)}")


_RUN_STATE_MINIMUM = {"epoch": 1, "batches_done": 0, "global_step": 0, "sample_count": 0}

# an epoch's record as the Trainer writes it: each key's kinds (a callback may add others)
_RECORD = {"epoch": (int,), "train_loss": (float, None), "val_loss": (float, None), "lr": (float, None),
           "seconds": (float,), "steps": (int,)}


def check_history(path: Path, state: dict[str, Any]) -> None:
    """The Trainer's check of a saved run state's history (`load_checkpoint`'s `check` calls it):
    one record per finished epoch (1, 2, ... up to the epoch in progress), each with the Trainer's
    keys and finite numbers, as the resumed run's history, report and metrics.jsonl need them.

    Raises:
        RunDirectoryError: naming `path`, the record and the key.
    """
    history, epoch = state.get("history", []), state.get("epoch", 1)
    if not isinstance(history, list):
        return  # _fits has said so
    if len(history) != epoch - 1:
        raise RunDirectoryError(f"{path}: \"state\".history must hold one record per finished epoch ({epoch - 1}); "
                                f"received {len(history)}")
    for number, record in enumerate(history, start=1):
        where = f"\"state\".history[{number - 1}]"
        for key, kinds in _RECORD.items():
            value = record.get(key, "missing")
            finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            fits = (value is None and None in kinds) or (finite and (float in kinds or isinstance(value, int)))
            if not fits:
                raise RunDirectoryError(f"{path}: {where}.{key} must be {_kinds(kinds)}; received {_shown(value)}")
        if record["epoch"] != number:
            raise RunDirectoryError(f"{path}: {where}.epoch must be {number}; received {record['epoch']!r}")
    best = state.get("best_epoch")
    if best is not None and not 1 <= best <= len(history):
        raise RunDirectoryError(f"{path}: \"state\".best_epoch must be null or a finished epoch (1 to "
                                f"{len(history)}); received {best!r}")


def _kinds(kinds: tuple) -> str:
    kind = "an integer" if kinds[0] is int else "a finite number"
    return f"{kind} or null" if None in kinds else kind


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value is of the annotated type (int, float, bool, None, unions, list[...], dict[str, ...])."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, argument) for argument in arguments)
    if origin is list:
        return isinstance(value, list) and all(_fits(item, arguments[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _described(hint: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "true or false", type(None): "null", str: "a string"}
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_described(argument) for argument in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return "a list of objects" if typing.get_origin(typing.get_args(hint)[0]) is dict else "a list"
    return names.get(hint, "an object" if typing.get_origin(hint) is dict else str(hint))


def _rng_tensors(path: Path) -> dict[str, Tensor]:
    """rng.safetensors: torch's CPU generator state ("torch") and any CUDA ones ("cuda.<i>"), as torch takes them."""
    tensors = read_tensors(_existing(path))
    unexpected = sorted(key for key in tensors if key != "torch" and not re.fullmatch(r"cuda\.\d+", key))
    if "torch" not in tensors or unexpected:
        raise RunDirectoryError(f"{path}: must hold the tensor 'torch' (and 'cuda.<i>' ones); received "
                                f"{sorted(tensors)[:4]}")
    for key, tensor in tensors.items():
        if tensor.dtype != torch.uint8 or tensor.dim() != 1:
            raise RunDirectoryError(f"{path}: tensor {key!r} must be a 1-D uint8 generator state; received "
                                    f"{tensor.dtype} of shape {tuple(tensor.shape)}")
    try:
        torch.Generator().set_state(tensors["torch"])  # a scratch generator: torch checks the size
    except (RuntimeError, ValueError, TypeError) as error:
        raise RunDirectoryError(f"{path}: tensor 'torch' is not a CPU generator state: {_first_line(error)}") from None
    return tensors


def _rng_json(path: Path, rng: dict[str, Any]) -> dict[str, Any]:
    """The numpy and python RNG states of trainer_state.json, checked by setting them on scratch generators."""
    numpy_state, python_state = rng.get("numpy"), rng.get("python")
    keys = ("algorithm", "keys", "pos", "has_gauss", "cached_gaussian")
    if not isinstance(numpy_state, dict) or sorted(numpy_state) != sorted(keys):
        raise RunDirectoryError(f"{path}: \"rng\".numpy must be an object with keys {list(keys)}; received "
                                f"{_shown(numpy_state)}")
    try:
        if not _integers(numpy_state["keys"]) or not _integers([numpy_state["pos"], numpy_state["has_gauss"]]):
            raise TypeError(f"keys, pos and has_gauss must be integers; received {_shown(numpy_state)}")
        np.random.RandomState().set_state((numpy_state["algorithm"], np.array(numpy_state["keys"], dtype=np.uint32),
                                           numpy_state["pos"], numpy_state["has_gauss"],
                                           float(numpy_state["cached_gaussian"])))
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        raise RunDirectoryError(f"{path}: \"rng\".numpy is not a numpy RNG state: {_first_line(error)}") from None
    try:
        if not isinstance(python_state, list) or len(python_state) != 3 or not _integers(python_state[1]):
            raise TypeError(f"must be [version, [integers], gauss_next]; received {_shown(python_state)}")
        random.Random().setstate((python_state[0], tuple(python_state[1]), python_state[2]))
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        raise RunDirectoryError(f"{path}: \"rng\".python is not a python RNG state: {_first_line(error)}") from None
    return {"numpy": numpy_state, "python": python_state}


def _integers(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _optimizer_state(path: Path, tensors: dict[str, Tensor], structure: dict[str, Any], optimizer) -> dict[str, Any]:
    """The optimizer's state_dict from its two files, checked against the optimizer it goes into: its
    groups' settings of the same kinds, as many parameters, each parameter's state of its shape."""
    json_path, tensor_path = path / "optimizer.json", path / "optimizer.safetensors"
    for key, kind in (("state", dict), ("param_groups", list)):
        if not isinstance(structure.get(key), kind):
            raise RunDirectoryError(f"{json_path}: {key!r} must be a JSON {'object' if kind is dict else 'list'}; "
                                    f"received {_shown(structure.get(key))}")
    live, groups = optimizer.state_dict()["param_groups"], structure["param_groups"]
    if len(groups) != len(live):
        raise RunDirectoryError(f"{json_path}: holds {len(groups)} parameter groups; the optimizer it is loaded into "
                                f"has {len(live)}")
    shapes = {}  # saved parameter id → the shape of the live parameter it goes to
    for number, (group, ours, parameters) in enumerate(zip(groups, live, optimizer.param_groups)):
        _check_like(json_path, f"\"param_groups\"[{number}]", group, {k: v for k, v in ours.items() if k != "params"})
        ids = group["params"] if "params" in group else None
        if not _integers(ids) or len(ids) != len(ours["params"]):
            raise RunDirectoryError(f"{json_path}: \"param_groups\"[{number}].params must be {len(ours['params'])} "
                                    f"parameter ids; received {_shown(ids)}")
        shapes.update({i: tuple(p.shape) for i, p in zip(ids, parameters["params"])})
    names: dict[int, set[str]] = {}
    for index, values in structure["state"].items():
        if not index.isdigit() or int(index) not in shapes or not isinstance(values, dict):
            raise RunDirectoryError(f"{json_path}: \"state\" entry {index!r} is not a parameter id's object of "
                                    f"values; ids are {sorted(shapes)[:4]}...")
        names[int(index)] = set(values)
    held: dict[int, set[str]] = {}
    for key, tensor in tensors.items():
        match = re.fullmatch(r"state\.(\d+)\.(.+)", key)
        if match is None or int(match[1]) not in shapes:
            raise RunDirectoryError(f"{tensor_path}: tensor {key!r} is not state.<parameter id>.<name> of a parameter "
                                    f"of the optimizer it is loaded into")
        index = int(match[1])
        if tensor.dim() and tuple(tensor.shape) != shapes[index]:
            raise RunDirectoryError(f"{tensor_path}: tensor {key!r} has shape {tuple(tensor.shape)}; its parameter "
                                    f"has shape {shapes[index]}")
        held.setdefault(index, set()).add(match[2])
    for where, per_parameter in ((tensor_path, held), (json_path, names)):
        kinds = {frozenset(found) for found in per_parameter.values()}
        if len(kinds) > 1:  # every parameter an optimizer has stepped holds the same state
            first, other = sorted(sorted(kind) for kind in kinds)[:2]
            raise RunDirectoryError(f"{where}: its parameters' states differ: some hold {first}, others {other}")
    return _join_optimizer_state(tensors, structure)


def _check_like(path: Path, where: str, value: Any, live: Any) -> None:
    """`value` (read from `path`) has the JSON kinds of `live`, the state_dict of the object it goes into:
    every key of `live` (others, which torch may add, are let be), lists as long, numbers finite; where
    `live` is None, anything."""
    if live is None:
        return
    if isinstance(live, dict):
        if not isinstance(value, dict):
            raise RunDirectoryError(f"{path}: {where} must be an object; received {_shown(value)}")
        missing = sorted(set(live) - set(value))
        if missing:
            raise RunDirectoryError(f"{path}: {where} lacks {missing[:3]}, which the object it is loaded into has")
        for key in live:
            _check_like(path, f"{where}.{key}", value[key], live[key])
    elif isinstance(live, (list, tuple)):
        if not isinstance(value, list) or len(value) != len(live):
            raise RunDirectoryError(f"{path}: {where} must be a list of {len(live)}; received {_shown(value)}")
        for number, (item, ours) in enumerate(zip(value, live)):
            _check_like(path, f"{where}[{number}]", item, ours)
    elif isinstance(live, bool) or isinstance(value, bool):
        if not (isinstance(live, bool) and isinstance(value, bool)):
            raise RunDirectoryError(f"{path}: {where} must be {'true or false' if isinstance(live, bool) else 'a number'}"
                                    f"; received {_shown(value)}")
    elif isinstance(live, (int, float)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise RunDirectoryError(f"{path}: {where} must be a finite number; received {_shown(value)}")
    elif not isinstance(value, type(live)):
        raise RunDirectoryError(f"{path}: {where} must be a {type(live).__name__}; received {_shown(value)}")


def _shown(value: Any, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, indent=1).encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    """Temporary file in the same directory, flush, fsync, os.replace: never a partial `path`."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)  # makes the rename itself durable


def _fsync_directory(path: Path) -> None:
    if os.name != "posix":  # directories cannot be opened for fsync elsewhere
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
