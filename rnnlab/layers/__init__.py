"""Layers: the drop-in RNN, LSTM and GRU, and the compositions of cells they are made of."""

from rnnlab.layers.base import RecurrentLayer
from rnnlab.layers.compose import Bidirectional, Recurrent, Stacked
from rnnlab.layers.gru import GRU
from rnnlab.layers.lstm import LSTM
from rnnlab.layers.rnn import RNN

__all__ = ["GRU", "LSTM", "RNN", "Bidirectional", "Recurrent", "RecurrentLayer", "Stacked"]
