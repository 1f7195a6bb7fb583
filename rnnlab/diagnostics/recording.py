"""Gate recording: every gate activation and cell state of every step, from any model built on rnnlab layers.

    with record(model) as recording:
        model(inputs)
    recording.values("lstm")["f"]      # (T, B, H): the forget gate of layer 0, forward direction

While recording, each rnnlab recurrent layer in the model runs the reference loop (torch's fused
kernels keep their gates internal), which computes the same outputs; afterwards the layers go back
to their own backend. What is recorded per step is the cell's choice (`Cell.recorded`): i, f, g, o
and c for the LSTM, r, z and n for the GRU, h for the vanilla RNN. With `gradients=True` a backward
pass through the recorded forward also gives ∂L/∂h_t for every step: the gradient
that reaches h_t along every path, through its own output and through the steps after it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from rnnlab.layers.base import RecurrentLayer
from rnnlab.layers.compose import Recurrent

Key = tuple[str, int, int]  # (module name, layer, direction)

_TORCH_RECURRENT = (nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell)


@dataclass
class Call:
    """One forward pass of one (layer, direction): its recorded values and, after a backward pass
    while recording with gradients, the gradient of each state.

    Attributes:
        values: name -> (T, B, ·) tensor, time-major, in the input's time order; steps past a
            sequence's end hold the values computed on padding (see `lengths`).
        lengths: (B,) real lengths, or None when every sequence has T steps.
        grads: {"h": ∂L/∂h_t}, (T, B, P), zero past the end; after a backward pass while
            recording with gradients.
    """

    values: dict[str, Tensor]
    lengths: Tensor | None
    grads: dict[str, Tensor] = field(default_factory=dict)


class _Observer:
    """The `rnnlab.backends.reference.Observer` of one (module, layer, direction): one `Call` per forward."""

    def __init__(self, calls: list[Call], gradients: bool) -> None:
        self.calls, self.gradients = calls, gradients

    def forward(self, values: dict[str, Tensor], lengths: Tensor | None):
        call = Call(values, None if lengths is None else lengths.detach().clone())
        self.calls.append(call)
        if not self.gradients:
            return None

        def receive(grads: dict[str, Tensor]) -> None:
            call.grads = {name: g.detach() for name, g in grads.items()}

        return receive


class Recording:
    """What `record` captured, by recurrent module and (layer, direction).

    Modules are named as in `model.named_modules()` (a model that is itself a layer is named by its
    class). Each forward call of a module adds one `Call` per (layer, direction); `values` and
    `grads` join a module's calls along the time axis, so a decoder stepped one token at a time
    reads as one sequence.
    """

    def __init__(self) -> None:
        self.calls: dict[Key, list[Call]] = {}
        self.kinds: dict[str, dict[str, str]] = {}  # module -> recorded name -> "sigmoid", "tanh", ...

    def keys(self) -> list[Key]:
        """(module, layer, direction) of everything that ran while recording, in model order."""
        return [key for key, calls in self.calls.items() if calls]

    def modules(self) -> list[str]:
        """The recorded modules' names, in model order."""
        return list(dict.fromkeys(name for name, _, _ in self.keys()))

    def values(self, module: str | None = None, layer: int = 0, direction: int = 0) -> dict[str, Tensor]:
        """The recorded values of one (layer, direction), name -> (T, B, ·).

        Args:
            module: the module's name; may be omitted when one module was recorded.
            layer, direction: which layer of a stack, and 0 forward or 1 reverse.
        """
        return self._joined(self._calls(module, layer, direction), "values")

    def grads(self, module: str | None = None, layer: int = 0, direction: int = 0) -> dict[str, Tensor]:
        """{"h": ∂L/∂h_t} of one (layer, direction), (T, B, P); empty before a backward pass."""
        calls = self._calls(module, layer, direction)
        if not all(call.grads for call in calls):
            return {}
        return self._joined(calls, "grads")

    def lengths(self, module: str | None = None, layer: int = 0, direction: int = 0) -> Tensor | None:
        """The real lengths of the recorded batch (one call), or None when all were full length."""
        calls = self._calls(module, layer, direction)
        return calls[0].lengths if len(calls) == 1 else None

    def _calls(self, module: str | None, layer: int, direction: int) -> list[Call]:
        if module is None:
            names = self.modules()
            if len(names) != 1:
                raise ValueError(f"module must name one of the recorded modules {names}; received None")
            module = names[0]
        calls = self.calls.get((module, layer, direction))
        if not calls:
            raise ValueError(f"nothing was recorded for module {module!r}, layer {layer}, direction {direction}; "
                             f"recorded: {self.keys()}")
        return calls

    @staticmethod
    def _joined(calls: list[Call], attribute: str) -> dict[str, Tensor]:
        parts = [getattr(call, attribute) for call in calls]
        if len(parts) == 1:
            return dict(parts[0])
        batch_sizes = {t.shape[1] for part in parts for t in part.values()}
        if len(batch_sizes) != 1:
            raise ValueError(f"the {len(parts)} recorded calls have different batch sizes {sorted(batch_sizes)}; "
                             "read them one by one from .calls")
        return {name: torch.cat([part[name] for part in parts]) for name in parts[0]}


@contextlib.contextmanager
def record(model: nn.Module, *, gradients: bool = False) -> Iterator[Recording]:
    """Records every step of every rnnlab recurrent layer in `model` while the block runs.

    Args:
        model: an rnnlab layer (`rnnlab.LSTM`, ...), a `Recurrent`, or any module containing them.
        gradients: also keep ∂L/∂h_t when a backward pass runs inside the block.

    Yields:
        The `Recording`, filled as forward (and backward) passes run.

    Raises:
        ValueError: if `model` holds no rnnlab recurrent layer, holds a torch.nn recurrent module
            (its fused kernel keeps the gates internal: convert it with `rnnlab.from_torch`), holds
            a layer forced to backend="native" (raised at its forward), or is already recording.
    """
    recording = Recording()
    targets = []
    for name, module in model.named_modules():
        name = name or type(module).__name__
        if isinstance(module, _TORCH_RECURRENT):
            raise ValueError(f"model holds torch.nn.{type(module).__name__} at {name!r}, whose fused kernel keeps its "
                             "gates internal; convert it with rnnlab.from_torch to record it")
        if isinstance(module, (RecurrentLayer, Recurrent)):
            if (module.observed if isinstance(module, RecurrentLayer) else module.observer is not None):
                raise ValueError(f"module {name!r} is already being recorded; recordings cannot be nested")
            targets.append((name, module))
    if not targets:
        raise ValueError(f"model ({type(model).__name__}) holds no rnnlab recurrent layer to record")

    with contextlib.ExitStack() as undo:
        for name, module in targets:
            if isinstance(module, RecurrentLayer):
                recording.kinds[name] = next(module.cells_by_position())[1].recorded_kinds()
                observers = {}  # one per (layer, direction), made when that position first runs
                undo.enter_context(module.observed_by(
                    lambda position, name=name, observers=observers: observers.setdefault(
                        position, _Observer(recording.calls.setdefault((name, *position), []), gradients))))
            else:
                recording.kinds[name] = module.cell.recorded_kinds()
                position = (0, int(module.reverse))
                module.observer = _Observer(recording.calls.setdefault((name, *position), []), gradients)
                undo.callback(setattr, module, "observer", None)
        yield recording
