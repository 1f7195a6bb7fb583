"""Backends and the choice between them.

- "reference": the time loop in Python with a hand-written BPTT (`reference.py`). Runs every
  configuration; the oracle the others are tested against.
- "native": torch's fused kernels (`native.py`): ATen/oneDNN on the CPU, cuDNN on the GPU.
- "triton": rnnlab's fused GPU kernels (`triton/`); on the CPU only through Triton's interpreter.
- "auto" (default): "triton" on CUDA where `triton.table` holds a measurement showing it faster,
  else "native" where it can run the configuration, else "reference". While gates or gradients
  through time are recorded (`rnnlab.diagnostics`), a path that keeps them: "triton" where auto
  would pick it, else "reference".

Under torch.func transforms (vmap, grad, jvp) "auto" and "reference" run the cells' equations
through plain autograd (the hand-written BPTT has no rules for them); "native" runs under grad but
not vmap, "triton" under none, and each says so when forced there.

A forced backend that cannot run a configuration raises ValueError saying why; only "auto" falls
back, and it does so silently because the result is the same.

A backend is handed a `LayerSpec` (`spec.py`), the layer's frozen description, never the layer
itself; `choose` is the one place the choice is made, for `forward` and for `step` alike.
"""

from __future__ import annotations

from types import ModuleType

from torch import Tensor

from rnnlab.backends import native, reference
from rnnlab.backends import triton as triton_backend
from rnnlab.backends.spec import LayerSpec, Mode

BACKENDS = ("auto", "reference", "native", "triton")
# each has run(spec, xs, initial, lengths) for a whole sequence and step(spec, x, tensors) for one step
_MODULES: dict[str, ModuleType] = {"reference": reference, "native": native, "triton": triton_backend}


def check_backend(value: str) -> str:
    """Returns `value` if it names a backend; raises ValueError naming it otherwise."""
    if value not in BACKENDS:
        raise ValueError(f"backend must be one of {list(BACKENDS)}; received {value!r}")
    return value


def choose(spec: LayerSpec, xs: Tensor, lengths: Tensor | None) -> ModuleType:
    """The backend module that runs the layer `spec` describes on `xs` (T, B, F): the one place a
    layer's forward and its step choose how they run. See `select` for the rule."""
    return _MODULES[select(spec, xs, lengths)]


def select(spec: LayerSpec, xs: Tensor, lengths: Tensor | None) -> str:
    """The name of the backend that runs the layer `spec` describes on `xs`: "native", "triton" or
    "reference".

    Recording (`spec.observe` set: gate recording or gradient flow) needs the reference loop or
    the triton kernels, which write the gates when asked: torch's fused kernels keep their gates
    to themselves.
    """
    if spec.backend == "triton":
        reason = triton_backend.unsupported_reason(spec, xs, lengths)
        if reason is not None:
            raise ValueError(f"backend='triton' cannot run this configuration: {reason}")
        return "triton"
    if spec.backend == "auto" and triton_backend.preferred(spec, xs, lengths):
        return "triton"
    if spec.observe is not None:
        if spec.backend == "native":
            raise ValueError("backend='native' cannot record gates or gradients through time (torch's fused kernels "
                             "keep them internal); use backend='auto', 'reference' or 'triton' while recording")
        return "reference"
    if spec.backend == "reference":
        return "reference"
    reason = native.unsupported_reason(spec, xs, lengths)
    if reason is None:
        return "native"
    if spec.backend == "native":
        raise ValueError(f"backend='native' cannot run this configuration: {reason}")
    return "reference"


__all__ = ["BACKENDS", "LayerSpec", "Mode", "check_backend", "choose", "select"]
