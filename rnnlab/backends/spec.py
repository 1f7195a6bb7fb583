"""What a backend is told about a layer: a frozen description, made once per call.

A backend never receives the layer (an nn.Module whose attributes it could read or change): the
layer describes itself at each call (`RecurrentLayer.describe()`) as a `LayerSpec` of plain values
and the parameter tensors themselves, and the backend computes from that alone. This is the seam
between `rnnlab.layers` and `rnnlab.backends`: the backends import nothing from the layers, so
the two packages do not import each other, and a new backend needs no knowledge of the layer's
internals.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from torch import Tensor

from rnnlab.cells.base import Cell, bind


class Mode(str, enum.Enum):
    """torch's name for a layer's fused kernel (`torch.nn.RNNBase.mode`); equal to that string."""

    LSTM = "LSTM"
    GRU = "GRU"
    RNN_TANH = "RNN_TANH"
    RNN_RELU = "RNN_RELU"

    def __str__(self) -> str:  # "LSTM", not "Mode.LSTM", in messages and f-strings on every Python
        return self.value

    __format__ = str.__format__


def state_sizes(mode: Mode, hidden_size: int, proj_size: int) -> tuple[int, ...]:
    """Widths of a layer's state tensors: (P, H) for the LSTM (P = proj_size or H), (H,) otherwise."""
    return (proj_size or hidden_size, hidden_size) if mode is Mode.LSTM else (hidden_size,)


def suffix(layer: int, direction: int) -> str:
    """torch's parameter-name suffix for a position: "_l0", "_l1_reverse", ..."""
    return f"_l{layer}" + ("_reverse" if direction == 1 else "")


class LayerSpec(NamedTuple):
    """A recurrent layer as a backend sees it: sizes, options, weights and what to record.

    Immutable: a backend reads it and cannot change the layer through it (the weight tensors are
    the layer's parameters themselves, so autograd reaches them).
    """

    mode: Mode
    cell_type: type[Cell]  # the cell whose equations the reference backend steps
    input_size: int
    hidden_size: int
    num_layers: int
    num_directions: int
    bias: bool
    dropout: float  # between layers, as torch.nn's
    training: bool
    proj_size: int  # LSTM only; 0 otherwise
    reset_after: bool  # GRU only: the form of the candidate state; True otherwise
    cell_options: tuple[tuple[str, Any], ...]  # the cell's own hyper-parameters, as (name, value) pairs
    weight_names: tuple[str, ...]  # torch's names in torch's order: weight_ih_l0, weight_hh_l0, ...
    weights: tuple[Tensor, ...]  # the parameters under those names
    backend: str  # what the layer asks for: "auto", "reference", "native" or "triton"
    # while gates or gradients through time are recorded: (layer, direction) -> an Observer
    # (`rnnlab.backends.reference.Observer`); None otherwise
    observe: Callable[[tuple[int, int]], Any] | None = None

    @property
    def bidirectional(self) -> bool:
        return self.num_directions == 2

    def state_sizes(self) -> tuple[int, ...]:
        return state_sizes(self.mode, self.hidden_size, self.proj_size)

    def cell_config(self, layer: int) -> dict[str, Any]:
        """The hyper-parameters of layer `layer`'s cells (its input is the layer below's output)."""
        width = self.input_size if layer == 0 else self.num_directions * (self.proj_size or self.hidden_size)
        return dict(input_size=width, hidden_size=self.hidden_size, bias=self.bias, **dict(self.cell_options))

    def weights_at(self, layer: int, direction: int) -> dict[str, Tensor | None]:
        """The weights of one position by their cell names (weight_ih, ..., weight_hr with a
        projection); the biases are None without bias."""
        end = suffix(layer, direction)
        found: dict[str, Tensor | None] = {"bias_ih": None, "bias_hh": None}
        for name, tensor in zip(self.weight_names, self.weights):
            if name.endswith(end):  # "weight_ih" + "_l1"; "weight_ih_l1_reverse" ends otherwise
                found[name[: -len(end)]] = tensor
        return found

    def per_position(self) -> list[list[Tensor]]:
        """The weights grouped by (layer, direction) in torch's order, as torch.nn.RNNBase.all_weights."""
        per_cell = len(self.weights) // (self.num_layers * self.num_directions)
        return [list(self.weights[i : i + per_cell]) for i in range(0, len(self.weights), per_cell)]

    def cells(self) -> Iterator[tuple[tuple[int, int], Cell]]:
        """((layer, direction), cell) for every position, the cell bound to the layer's own tensors."""
        for layer in range(self.num_layers):
            config = self.cell_config(layer)
            for direction in range(self.num_directions):
                yield (layer, direction), bind(self.cell_type, self.weights_at(layer, direction), **config)


__all__ = ["LayerSpec", "Mode", "state_sizes", "suffix"]
