"""rnnlab: recurrent neural networks written from their equations, exact to torch.nn.

The public API is exactly what this module re-exports.
"""

from rnnlab.cells import GRUCell, GRUGates, LSTMCell, LSTMGates, LSTMState, RNNCell, RNNGates
from rnnlab.interop import from_keras, from_torch, to_keras, to_torch
from rnnlab.layers import GRU, LSTM, RNN, Bidirectional, Recurrent, Stacked

__version__ = "0.1.0"

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Bidirectional",
    "GRUCell",
    "GRUGates",
    "LSTMCell",
    "LSTMGates",
    "LSTMState",
    "RNNCell",
    "RNNGates",
    "Recurrent",
    "Stacked",
    "from_keras",
    "from_torch",
    "to_keras",
    "to_torch",
]
