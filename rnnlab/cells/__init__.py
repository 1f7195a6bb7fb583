"""Cells: one time step each, with their equations in the docstring."""

from rnnlab.cells.base import Cell, StepGrads, Trace, bind
from rnnlab.cells.gru import GRUCell, GRUGates
from rnnlab.cells.lstm import LSTMCell, LSTMGates, LSTMState
from rnnlab.cells.rnn import RNNCell, RNNGates

__all__ = ["Cell", "GRUCell", "GRUGates", "LSTMCell", "LSTMGates", "LSTMState", "RNNCell", "RNNGates",
           "StepGrads", "Trace", "bind"]
