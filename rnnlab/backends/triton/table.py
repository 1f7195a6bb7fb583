"""When "auto" runs the triton backend: measured speed-ups over torch's kernels (cuDNN), by configuration.

`MEASURED` holds rows copied from `benchmarks/layers_gpu.py`'s table (see benchmarks/RESULTS.md): for
a cell kind, dtype and pass (inference or training), the batch and hidden sizes measured and the
speed-up of triton over cuDNN per time step. "auto" picks triton for a configuration only when a
measured row of the same kind, dtype and pass, with batch and hidden size each within a factor of
two of it, shows a speed-up of at least `MARGIN`; anywhere else it keeps torch's kernels.

The table is empty: no GPU has been at hand to measure the kernels on yet (issue 8), so "auto"
never picks triton. backend="triton" runs them when asked.
"""

from __future__ import annotations

from typing import NamedTuple

import torch


class Measured(NamedTuple):
    kind: str  # rnnlab.backends.triton.layer_kind: "LSTM", "LSTM_PROJ", "GRU", ...
    dtype: torch.dtype
    training: bool  # forward + backward, or forward alone
    batch_size: int
    hidden_size: int
    speedup: float  # cuDNN's time per step over triton's
    device: str  # the GPU it was measured on


MEASURED: tuple[Measured, ...] = ()
MARGIN = 1.1  # a speed-up below this is within the noise of one run: keep cuDNN


def faster_than_native(kind: str, dtype: torch.dtype, batch_size: int, hidden_size: int, training: bool,
                       rows: tuple[Measured, ...] | None = None) -> bool:
    """Whether a measured row near this configuration shows triton at least MARGIN faster."""
    for row in MEASURED if rows is None else rows:
        near = (row.batch_size / 2 <= batch_size <= row.batch_size * 2
                and row.hidden_size / 2 <= hidden_size <= row.hidden_size * 2)
        if (row.kind, row.dtype, row.training) == (kind, dtype, training) and near:
            return row.speedup >= MARGIN
    return False
