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
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import Tensor, nn

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


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The current checkpoint's subdirectory, or None when `directory` holds no checkpoint.

    Raises:
        ValueError: if the pointer file exists but is unreadable or names no directory.
    """
    pointer = Path(directory) / POINTER
    if not pointer.exists():
        return None
    current = _read_json(pointer).get("current")
    if not isinstance(current, str) or not (pointer.parent / current).is_dir():
        raise ValueError(f"checkpoint pointer {pointer} names no checkpoint directory; received {current!r}")
    return pointer.parent / current


def load_checkpoint(directory: str | os.PathLike, *, model: nn.Module | None = None, optimizer=None,
                    scheduler=None) -> dict[str, Any]:
    """Loads the current checkpoint of `directory` into the given objects; never unpickles anything.

    Args:
        directory: a directory written by `save_checkpoint`.
        model: receives the saved weights (strict), or None.
        optimizer: receives the saved optimizer state, or None.
        scheduler: receives the saved scheduler state, or None.

    Returns:
        The saved `state`, plus "rng" (pass it to `restore_rng`) and, when saved,
        "best_model_state" (a state_dict).

    Raises:
        FileNotFoundError: no checkpoint (or one of its files) at `directory`.
        ValueError: a corrupt checkpoint, or one that does not fit `model`/`optimizer`.
    """
    path = latest_checkpoint(directory)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {directory}: {Path(directory) / POINTER} does not exist")
    saved = _read_json(path / "trainer_state.json")
    if saved.get("format") != FORMAT:
        raise ValueError(f"checkpoint {path} has format {saved.get('format')!r}; expected {FORMAT}")
    if model is not None:
        _load_into(path / "model.safetensors", model.load_state_dict)
    if optimizer is not None:
        structure = _read_json(path / "optimizer.json")
        tensors = _read_tensors(path / "optimizer.safetensors")
        _load_into(path / "optimizer.json", optimizer.load_state_dict, _join_optimizer_state(tensors, structure))
    if scheduler is not None and saved["scheduler"] is not None:
        scheduler.load_state_dict(saved["scheduler"])
    state = dict(saved["state"])
    state["rng"] = {"tensors": _read_tensors(path / "rng.safetensors"), **saved["rng"]}
    if (path / "best_model.safetensors").exists():
        state["best_model_state"] = _read_tensors(path / "best_model.safetensors")
    return state


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


def _load_into(path: Path, load, value=None) -> None:
    try:
        load(_read_tensors(path) if value is None else value)
    except (RuntimeError, KeyError, ValueError) as error:
        raise ValueError(f"checkpoint file {path} does not fit the object it is loaded into: {error}") from error


def _read_tensors(path: Path) -> dict[str, Tensor]:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file {path} is missing")
    try:
        return load_file(path)
    except (SafetensorError, OSError, ValueError) as error:
        raise ValueError(f"checkpoint file {path} is not a readable safetensors file: {error}") from error


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"checkpoint file {path} is missing")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"checkpoint file {path} is not valid JSON: {error}") from error
    if not isinstance(value, dict):
        raise ValueError(f"checkpoint file {path} must hold a JSON object; received {type(value).__name__}")
    return value


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
