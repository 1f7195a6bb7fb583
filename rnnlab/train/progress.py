"""What a run reports while it trains: a terminal progress bar and the metrics.jsonl log.

Both are callbacks (`ProgressBar` itself, and `MetricsLogger` around `MetricsLog`) that report
from the main process only under torchrun. The bar has no dependency (no tqdm). On a terminal it
redraws one line in place with '\\r' (at most ten times a second) showing epoch, step/total and
the running loss, and ends it with a newline at each epoch's end. When stderr is not a terminal (a
log file, a pipe, pytest) it prints nothing per step and exactly one summary line per epoch, so
logs stay short and greppable. `quiet=True` silences both.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from rnnlab.train import distributed
from rnnlab.train.callbacks import BatchRecord, Callback

if TYPE_CHECKING:  # the trainer imports this module; the name is only needed for annotations
    from rnnlab.train.trainer import Trainer

REDRAW_SECONDS = 0.1


class ProgressBar(Callback):
    """A one-line progress display on stderr; as a callback, it shows each batch and epoch.

    The Trainer adds one unless `quiet=True`. As a callback it writes on the main process only.

    Args:
        epochs: the number of epochs of the run; None: the trainer's `options.epochs`, read at
            train begin.
        quiet: if True, nothing is ever written.
        stream: where to write; stderr (looked up at each write) by default.
    """

    def __init__(self, epochs: int | None = None, *, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.epochs, self.quiet, self._stream = epochs, quiet, stream
        self._total = epochs  # what "epoch e/total" shows
        self._last_draw = 0.0
        self._drawn = False

    def on_train_begin(self, trainer: Trainer) -> None:
        self._total = self.epochs if self.epochs is not None else trainer.options.epochs

    def on_batch_end(self, trainer: Trainer, batch: BatchRecord) -> None:
        if distributed.is_main():
            self.step(batch.epoch, batch.index, batch.num_batches, batch.running_loss)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if distributed.is_main():
            self.epoch_end(record)

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def _interactive(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def step(self, epoch: int, step: int, total: int | None, loss: float) -> None:
        """Redraws the line for `step` (1-based) of `epoch`; a no-op off a terminal."""
        if self.quiet or not self._interactive():
            return
        now = time.monotonic()
        if now - self._last_draw < REDRAW_SECONDS and step != total:
            return
        self._last_draw, self._drawn = now, True
        steps = f"{step}/{total}" if total else f"{step}"
        self.stream.write(f"\r{self._epoch(epoch)}  step {steps}  loss {loss:.4g}\x1b[K")
        self.stream.flush()

    def epoch_end(self, record: dict[str, Any]) -> None:
        """Writes the epoch's summary line (ending the in-place line on a terminal)."""
        if self.quiet:
            return
        val = record.get("val_loss")
        train = math.nan if record["train_loss"] is None else record["train_loss"]  # None: every batch skipped
        text = (f"{self._epoch(record['epoch'])}  train_loss {train:.4g}"
                + (f"  val_loss {val:.4g}" if val is not None else "")
                + f"  lr {record['lr']:.3g}  {record['seconds']:.1f}s")
        prefix = "\r" if self._drawn and self._interactive() else ""
        self.stream.write(f"{prefix}{text}\x1b[K\n" if prefix else f"{text}\n")
        self.stream.flush()
        self._drawn = False

    def _epoch(self, epoch: int) -> str:
        return f"epoch {epoch}/{self._total}" if self._total else f"epoch {epoch}"


class MetricsLog:
    """metrics.jsonl: one JSON object per finished epoch, never a half line.

    Each line is written whole, then flushed and fsynced. A crash can still cut the very last write
    short, so `truncate` (called on resume) rewrites the file atomically with only the complete
    lines of epochs up to the checkpoint's.

    Args:
        path: the metrics.jsonl file.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        """Appends one epoch's record."""
        line = json.dumps({key: _finite_or_none(value) for key, value in record.items()}) + "\n"
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(line)
            file.flush()
            os.fsync(file.fileno())

    def truncate(self, last_epoch: int) -> None:
        """Keeps only complete lines whose epoch is at most `last_epoch` (an atomic rewrite)."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines(keepends=True):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # the torn last line of a killed run
            if line.endswith("\n") and record.get("epoch", math.inf) <= last_epoch:
                kept.append(line)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with open(temporary, "w", encoding="utf-8") as file:
            file.writelines(kept)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


class MetricsLogger(Callback):
    """Appends each epoch's history record to a metrics.jsonl file (`MetricsLog`), on the main process.

    At train begin the file keeps only the epochs before the one the run starts with: all of a
    resumed run's finished epochs, none on a fresh start (an old run's lines are dropped).

    Args:
        path: the metrics.jsonl file; its directory is created if missing.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.log = MetricsLog(path)

    def on_train_begin(self, trainer: Trainer) -> None:
        if distributed.is_main():
            self.log.path.parent.mkdir(parents=True, exist_ok=True)
            self.log.truncate(trainer.epoch - 1)

    def on_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        if distributed.is_main():
            self.log.append(record)


def _finite_or_none(value: Any) -> Any:
    # JSON has no NaN/Infinity; a missing or non-finite number is written as null
    return None if isinstance(value, float) and not math.isfinite(value) else value
