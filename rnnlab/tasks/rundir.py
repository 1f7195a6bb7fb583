"""Where a run lives: the staged run directory, and the device a run trains and loads on.

A run directory is built under `<out>.partial` and renamed to `<out>` only when complete, so bad
input or a crash never leaves a half-written run where a finished one is expected; `resume`
continues from the `.partial` directory's last checkpoint. While a run is written, `<out>.lock`
holds the writing process's pid (`RunLock`), so two runs never share one `<out>.partial`.
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


class RunLock:
    """`<out>.lock`, holding the pid of the process writing `<out>` (and `<out>.partial`), for as long as it does.

    A second run on the same `out` stops at once with a clear error and touches nothing; a lock
    whose process is gone (killed, crashed) is stale and taken over, so `--resume` after a crash
    works. Re-entrant within one process (the command line holds it across fit and save, and save
    takes it too). Only the main process of a distributed run takes it.

        with RunLock("runs/x"):
            ...  # train into runs/x.partial, publish runs/x
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.path = self.out.with_name(self.out.name + ".lock")
        self.owner = False

    def __enter__(self) -> RunLock:
        if int(os.environ.get("RANK", "0")) != 0:  # torchrun's other ranks write nothing
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)  # as the run directory's would be
        pid = os.getpid()
        while True:
            # the lock appears with its pid already in it (a hard link of a written file), so no other
            # process can read it empty and take a live lock for a stale one
            mine = self.path.with_name(f".{self.path.name}.{pid}")
            mine.write_text(f"{pid}\n", encoding="utf-8")
            try:
                os.link(mine, self.path)
                self.owner = True
                return self
            except FileExistsError:
                holder = _lock_holder(self.path)
                if holder == pid:
                    return self  # held by this process already (re-entered)
                if holder is not None and _alive(holder):
                    raise ValueError(f"out {str(self.out)!r} is being written by process {holder} (lock "
                                     f"{str(self.path)!r}); wait for it to finish or choose another --out") from None
                os.replace(mine, self.path)  # stale: its process is gone; replacing is atomic
                if _lock_holder(self.path) == pid:  # another process may have taken it over at the same time
                    self.owner = True
                    return self
            finally:
                mine.unlink(missing_ok=True)

    def __exit__(self, *exc_info) -> None:
        if self.owner:
            self.path.unlink(missing_ok=True)
            self.owner = False


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return None  # unreadable or half-written: treated as stale


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True
