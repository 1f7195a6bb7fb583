"""Where a run lives: the staged run directory, and the device a run trains and loads on.

A run directory is built under `<out>.partial` and renamed to `<out>` only when complete, so bad
input or a crash never leaves a half-written run where a finished one is expected; `resume`
continues from the `.partial` directory's last checkpoint.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import torch

from rnnlab.train import distributed


def resolve_device(name: str) -> torch.device:
    """The device a run trains on: "auto" is this process's CUDA device when there is one, else the CPU."""
    if name != "auto":
        try:
            return torch.device(name)
        except RuntimeError:
            raise ValueError(f"device must be cpu, cuda, cuda:N or auto; received {name!r}") from None
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # under torchrun, one GPU per process


def loaded_device(name: str) -> torch.device:
    """Where a saved run's model runs: the device it names, or the CPU where that names CUDA and none is here."""
    return resolve_device(name if name in ("auto", "cpu") or torch.cuda.is_available() else "cpu")


class Stage:
    """The `<out>.partial` directory a run is built in, renamed to `<out>` by `finish()`.

    Construction checks the destination before anything is read or trained: `<out>` must not
    exist (unless `overwrite`, when `finish` replaces it), and `resume` needs an interrupted run to
    continue. `open()` creates the directory (removing what an earlier failed attempt left, unless
    resuming); only the main process of a distributed run touches the file system.
    """

    def __init__(self, out: str | Path, *, resume: bool = False, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.path = self.out.with_name(self.out.name + ".partial")
        self.resume, self.overwrite = resume, overwrite
        if self.out.exists() and not overwrite:
            raise ValueError(f"out {str(self.out)!r} already exists; choose another --out or remove it")
        if resume and not self.path.is_dir():
            raise ValueError(f"nothing to resume: {str(self.path)!r} does not exist "
                             "(resume continues an interrupted run)")

    def open(self) -> Path:
        self.open_directory(self.path, keep=self.resume)
        return self.path

    @staticmethod
    def open_directory(path: Path, *, keep: bool) -> None:
        """Creates `path` on the main process, first removing what it holds unless `keep`."""
        if distributed.is_main():
            if not keep and path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True, exist_ok=True)

    def finish(self) -> Path:
        """Drops the training checkpoints (the run keeps its final weights) and publishes the run."""
        shutil.rmtree(self.path / "checkpoint", ignore_errors=True)
        if self.overwrite and self.out.exists():
            # out moves aside first, so that a crash between the renames leaves one complete run
            aside = self.out.with_name(f".{self.out.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(self.out, aside)
            os.replace(self.path, self.out)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(self.path, self.out)
        return self.out
