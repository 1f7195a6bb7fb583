"""The triton backend: rnnlab's own fused recurrent kernels, written in Triton.

Each time step of a layer is one kernel launch that does the whole step: the recurrent matrix
product and the cell's elementwise equations, with the gates kept on chip (cuDNN launches a matrix
product and an elementwise kernel per step). Small hidden sizes run a whole sequence in one launch.
The backward pass is the same derivation as the reference backend's BPTT, one fused launch per step.

It runs LSTM (with or without proj_size), GRU (both reset_after forms) and RNN (tanh and relu), any
number of layers and directions, with lengths, in float16, bfloat16, float32 and float64 on CUDA
tensors, and on CPU tensors through Triton's interpreter when TRITON_INTERPRET=1 is set before
rnnlab imports its kernels (slow: for tests). While gates are recorded it writes them to memory, so
recording needs no slower path.

"auto" picks it only where `table.MEASURED` holds a measurement showing it faster than torch's
kernels for that configuration on a GPU; see `table.py`.

Modules: `kernels.py` (the Triton code), `launch.py` (launch plans and autograd Functions),
`layers.py` (layers and directions around them), `table.py` (when "auto" picks it).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import torch
from torch import Tensor

from rnnlab.backends.reference import func_transforms
from rnnlab.backends.spec import LayerSpec, Mode
from rnnlab.backends.triton import table

DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def interpreting() -> bool:
    """True when Triton's interpreter runs kernels (TRITON_INTERPRET set to a true value)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def unsupported_reason(spec: LayerSpec, xs: Tensor, lengths: Tensor | None) -> str | None:
    """Why this backend cannot run the layer `spec` describes on `xs`, or None when it can."""
    if importlib.util.find_spec("triton") is None:
        return "Triton is not installed (pip install triton; it comes with torch's CUDA builds on Linux)"
    if xs.dtype not in DTYPES:
        return f"its kernels take float16, bfloat16, float32 and float64; received {xs.dtype}"
    if interpreting():
        if xs.device.type != "cpu":
            return f"Triton's interpreter (TRITON_INTERPRET=1) runs on CPU tensors; received a tensor on {xs.device}"
        if _triton_imported_compiled():
            return ("TRITON_INTERPRET=1 was set after triton was imported (torch.compile imports it), so triton's own "
                    "functions were built for a GPU; set it before anything imports triton")
    elif xs.device.type != "cuda":
        return (f"its kernels run on CUDA tensors; received a tensor on {xs.device} (TRITON_INTERPRET=1 runs them on "
                "the CPU through Triton's interpreter, slowly)")
    if func_transforms():
        return (f"its kernels' autograd Functions have no rules for torch.func transforms (running under "
                f"{', '.join(func_transforms()).lower()}); use backend='auto' or 'reference' there")
    if torch.compiler.is_compiling() or torch.jit.is_tracing():
        return ("its launches loop over time steps in Python, which torch.compile, torch.export and tracing "
                "cannot follow")
    return None


def _triton_imported_compiled() -> bool:
    """True if triton was imported while its interpreter was off: its library is then built for a GPU."""
    standard = sys.modules.get("triton.language.standard")
    return standard is not None and type(standard.zeros).__name__ == "JITFunction"


def preferred(spec: LayerSpec, xs: Tensor, lengths: Tensor | None) -> bool:
    """Whether "auto" runs this backend: CUDA, supported, and measured faster than torch's kernels.

    Cheap tests first, so that the CPU, an empty table and torch.compile's tracing (even with
    fullgraph=True) never reach the import machinery of `unsupported_reason`.
    """
    if xs.device.type != "cuda" or not table.MEASURED or torch.compiler.is_compiling() or torch.jit.is_tracing():
        return False
    if unsupported_reason(spec, xs, lengths) is not None:
        return False
    training = torch.is_grad_enabled() and (xs.requires_grad or any(w.requires_grad for w in spec.weights))
    return table.faster_than_native(layer_kind(spec), xs.dtype, xs.shape[1], spec.hidden_size, training)


def layer_kind(spec: LayerSpec) -> str:
    """The configuration's name in `table.MEASURED`: "LSTM", "LSTM_PROJ", "GRU", "GRU_RESET_BEFORE",
    "RNN_TANH" or "RNN_RELU"."""
    if spec.mode is Mode.LSTM and spec.proj_size:
        return "LSTM_PROJ"
    if spec.mode is Mode.GRU and not spec.reset_after:
        return "GRU_RESET_BEFORE"
    return spec.mode.value


def run(spec: LayerSpec, xs: Tensor, initial: tuple[Tensor, ...], lengths: Tensor | None):
    """Runs the whole layer; the signature and results of `rnnlab.backends.native.run`."""
    from rnnlab.backends.triton import layers  # imports Triton: only when the backend runs

    return layers.run(spec, xs, initial, lengths)


def step(spec: LayerSpec, x: Tensor, tensors: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One time step, as a one-step sequence through the layer's kernels; as `reference.step`."""
    ys, final = run(spec, x.unsqueeze(0), tensors, None)  # (1, B, P)
    return ys[0], final
