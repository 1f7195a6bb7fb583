"""Layers as compositions of cells: one direction, two directions, a stack.

These work with any `Cell`, including one written by a user: a new cell needs no change here.
States are nested, not packed: a `Recurrent` carries its cell's state, a `Bidirectional` a tuple
(forward, backward), a `Stacked` a list with one entry per layer. All take time-major inputs
(T, B, F); the drop-in `rnnlab.LSTM` & co. handle torch's layouts and packed states.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnlab.backends.reference import Observer, scan
from rnnlab.cells.base import Cell


class Recurrent(nn.Module):
    """Runs `cell` over the time axis: equivalent to stepping the cell over T and stacking h.

    Args:
        cell: the cell to step.
        reverse: run each sequence from its last real step back to its first.
        observer: sees every step's gates and states (and their gradients); set by
            `rnnlab.diagnostics.record` while it records. It changes no output.

    Shape:
        xs: (T, B, F); lengths: (B,) or None; returns outputs (T, B, P) and the final state.
    """

    def __init__(self, cell: Cell, *, reverse: bool = False, observer: Observer | None = None) -> None:
        super().__init__()
        self.cell, self.reverse, self.observer = cell, reverse, observer

    def forward(self, xs: Tensor, state: Any = None, lengths: Tensor | None = None):
        if state is None:
            state = self.cell.init_state(xs.shape[1], device=xs.device, dtype=xs.dtype)
        return scan(self.cell, xs, state, lengths, reverse=self.reverse, observer=self.observer)


class Bidirectional(nn.Module):
    """Two `Recurrent`s over the same input, one reversed; outputs concatenated on features.

    Shape:
        xs: (T, B, F); returns outputs (T, B, 2P) and the state tuple (forward, backward).
    """

    def __init__(self, forward_layer: Recurrent, backward_layer: Recurrent) -> None:
        super().__init__()
        if not backward_layer.reverse:
            raise ValueError("backward_layer must be built with reverse=True; received reverse=False")
        self.forward_layer, self.backward_layer = forward_layer, backward_layer

    def forward(self, xs: Tensor, state: tuple | None = None, lengths: Tensor | None = None):
        forward_state, backward_state = state if state is not None else (None, None)
        ys_forward, forward_state = self.forward_layer(xs, forward_state, lengths)
        ys_backward, backward_state = self.backward_layer(xs, backward_state, lengths)
        return torch.cat([ys_forward, ys_backward], dim=-1), (forward_state, backward_state)  # (T, B, 2P)


class Stacked(nn.Module):
    """Layers applied in sequence, with dropout between them (torch's semantics: not after the last).

    Shape:
        xs: (T, B, F); returns the last layer's outputs and a list of each layer's final state.
    """

    def __init__(self, layers: list[nn.Module], dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.dropout = dropout

    def forward(self, xs: Tensor, states: list | None = None, lengths: Tensor | None = None):
        states = states if states is not None else [None] * len(self.layers)
        final_states = []
        for depth, (layer, state) in enumerate(zip(self.layers, states, strict=True)):
            if depth > 0 and self.dropout > 0:
                xs = F.dropout(xs, self.dropout, self.training)
            xs, state = layer(xs, state, lengths)
            final_states.append(state)
        return xs, final_states
