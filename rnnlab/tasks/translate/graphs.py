"""The translator as ONNX graphs: an encoder and one decoder call, with flat tensors in and out.

A translation is an encoder and a decoder around a search, so a run exports two graphs (B batch,
S source steps, T target steps; the state is h (and c for the LSTM), (L, B, H) each):

    encoder   source (B, S), source_lengths (B,)                -> memory, keys, mask, h_0[, c_0]
    decoder   target_inputs (B, T), memory, keys, mask, h_0[, c_0] -> logits (B, T, V), h_n[, c_n], attention

Greedy or beam search calls the decoder one token at a time (T = 1), feeding h_n back as h_0;
the search itself stays in Python.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.cells.lstm import LSTMState
from rnnlab.tasks.api import Graph
from rnnlab.tasks.translate.model import Memory, TranslatorNetwork

# example sizes for the trace: at least 2 on every dynamic axis, else torch.export fixes the axis;
# lengths unequal and below the steps, so that a check on them while tracing ties no axis to them
_BATCH, _STEPS, _LENGTHS = 2, 3, (2, 1)


class TranslatorEncoder(nn.Module):
    """`TranslatorNetwork.encode` with flat outputs: memory, keys, mask, h_0[, c_0]."""

    def __init__(self, model: TranslatorNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: Tensor, source_lengths: Tensor):
        memory, state = self.model.encode(source, source_lengths)
        return (*memory, *(state if isinstance(state, LSTMState) else (state,)))


class TranslatorDecoder(nn.Module):
    """`TranslatorNetwork.decode` with flat inputs and outputs: logits, h_n[, c_n], attention."""

    def __init__(self, model: TranslatorNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, target_inputs: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, h_0: Tensor,
                c_0: Tensor | None = None):
        state = h_0 if c_0 is None else LSTMState(h_0, c_0)
        logits, final, weights = self.model.decode(Memory(memory, keys, mask), target_inputs, state)
        return (logits, *(final if isinstance(final, LSTMState) else (final,)), weights)


def _states(model: TranslatorNetwork) -> list[str]:
    return ["h_0", "c_0"][: 1 + (model.cell == "lstm")]


def encoder_graph(model: TranslatorNetwork) -> Graph:
    """The encoder's graph, its suffix ".encoder"."""
    source_steps = _STEPS + 1  # unlike the target's, so that no guard ties the two lengths together
    inputs = (torch.zeros(_BATCH, source_steps, dtype=torch.int64), torch.tensor(_LENGTHS))
    return Graph(TranslatorEncoder(model), inputs, ["source", "source_lengths"],
                 ["memory", "keys", "mask", *_states(model)],
                 {"source": {0: "batch", 1: "source_time"}, "source_lengths": {0: "batch"}}, suffix=".encoder")


def decoder_graph(model: TranslatorNetwork, encoder: Graph) -> Graph:
    """One decoder call's graph, its suffix ".decoder"; its example memory is the encoder graph's example encoded."""
    states = _states(model)
    with torch.no_grad():
        memory = model.encode(*encoder.example_inputs)[0]
    inputs = (torch.zeros(_BATCH, _STEPS, dtype=torch.int64), *memory,
              *[torch.zeros(model.num_layers, _BATCH, model.hidden_size) for _ in states])
    sequence = {0: "batch", 1: "source_time"}
    return Graph(TranslatorDecoder(model), inputs, ["target_inputs", "memory", "keys", "mask", *states],
                 ["logits", *["h_n", "c_n"][: len(states)], "attention"],
                 {"target_inputs": {0: "batch", 1: "target_time"}, "memory": sequence, "keys": sequence,
                  "mask": sequence, **{state: {1: "batch"} for state in states}}, suffix=".decoder")
