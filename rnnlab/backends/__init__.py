"""Backends and the choice between them.

- "reference": the time loop in Python with a hand-written BPTT (`reference.py`). Runs every
  configuration; the oracle the others are tested against.
- "native": torch's fused kernels (`native.py`): ATen/oneDNN on the CPU, cuDNN on the GPU.
- "triton": rnnlab's fused GPU kernels (`triton/`); on the CPU only through Triton's interpreter.
- "auto" (default): "triton" on CUDA where `triton.table` holds a measurement showing it faster,
  else "native" where it can run the configuration, else "reference". While gates or gradients
  through time are recorded (`rnnlab.diagnostics`), a path that keeps them: "triton" where auto
  would pick it, else "reference".

A forced backend that cannot run a configuration raises ValueError saying why; only "auto" falls
back, and it does so silently because the result is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor

from rnnlab.backends import native
from rnnlab.backends import triton as triton_backend

if TYPE_CHECKING:
    from rnnlab.layers.base import RecurrentLayer

BACKENDS = ("auto", "reference", "native", "triton")


def check_backend(value: str) -> str:
    """Returns `value` if it names a backend; raises ValueError naming it otherwise."""
    if value not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; received {value!r}")
    return value


def select(layer: RecurrentLayer, xs: Tensor, lengths: Tensor | None, *, recording: bool = False) -> str:
    """The backend that runs `layer` on `xs`: "native", "triton" or "reference".

    `recording` (gate recording or gradient flow) needs the reference loop or the triton kernels,
    which write the gates when asked: torch's fused kernels keep their gates to themselves.
    """
    if layer.backend == "triton":
        reason = triton_backend.unsupported_reason(layer, xs, lengths)
        if reason is not None:
            raise ValueError(f"backend='triton' cannot run this configuration: {reason}")
        return "triton"
    if layer.backend == "auto" and triton_backend.preferred(layer, xs, lengths):
        return "triton"
    if recording:
        if layer.backend == "native":
            raise ValueError("backend='native' cannot record gates or gradients through time (torch's fused kernels "
                             "keep them internal); use backend='auto', 'reference' or 'triton' while recording")
        return "reference"
    if layer.backend == "reference":
        return "reference"
    reason = native.unsupported_reason(layer, xs, lengths)
    if reason is None:
        return "native"
    if layer.backend == "native":
        raise ValueError(f"backend='native' cannot run this configuration: {reason}")
    return "reference"
