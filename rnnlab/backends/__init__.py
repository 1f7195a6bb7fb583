"""Backends and the choice between them.

- "reference": the time loop in Python with a hand-written BPTT (`reference.py`). Runs every
  configuration; the oracle the others are tested against.
- "native": torch's fused kernels (`native.py`): ATen/oneDNN on the CPU, cuDNN on the GPU.
- "auto" (default): "native" where it can run the configuration, else "reference". While gates or
  gradients through time are recorded (`rnnlab.diagnostics`), "reference", the path that keeps them.

A forced backend that cannot run a configuration raises ValueError saying why; only "auto" falls
back, and it does so silently because the result is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from rnnlab.backends import native

if TYPE_CHECKING:
    from rnnlab.layers.base import RecurrentLayer

BACKENDS = ("auto", "reference", "native")


def check_backend(value: str) -> str:
    """Returns `value` if it names a backend; raises ValueError naming it otherwise."""
    if value not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; received {value!r}")
    return value


def select(layer: RecurrentLayer, xs: Tensor, lengths: Tensor | None, *, recording: bool = False) -> str:
    """The backend that runs `layer` on `xs`: "native" or "reference".

    `recording` (gate recording or gradient flow) needs the reference loop: torch's fused kernels
    keep their gates to themselves.
    """
    if recording:
        if layer.backend == "native":
            raise ValueError("backend='native' cannot record gates or gradients through time (torch's fused kernels "
                             "keep them internal); use backend='auto' or 'reference' while recording")
        return "reference"
    if layer.backend == "reference":
        return "reference"
    reason = native.unsupported_reason(layer, xs, lengths)
    if reason is None:
        return "native"
    if layer.backend == "native":
        raise ValueError(f"backend='native' cannot run this configuration: {reason}")
    return "reference"
