"""rnnlab: recurrent neural networks written from their equations, exact to torch.nn.

The public API is exactly what this module re-exports: the layers and cells (drop-in for
torch.nn's), the weight converters, and one estimator per task (`Forecaster`, `TextClassifier`,
...), which are imported when first named, so `import rnnlab` stays as light as the layers.
"""

from rnnlab.cells import GRUCell, GRUGates, LSTMCell, LSTMGates, LSTMState, RNNCell, RNNGates
from rnnlab.interop import from_keras, from_torch, to_keras, to_torch
from rnnlab.layers import GRU, LSTM, RNN, Bidirectional, Recurrent, Stacked

__version__ = "0.1.0"

_ESTIMATORS = ("AddingProblem", "AnomalyDetector", "CopyProblem", "Forecaster", "PanelForecaster", "SeriesClassifier",
               "Tagger",
               "TextClassifier", "TextGenerator", "Translator")

__all__ = [
    *_ESTIMATORS,
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


def __getattr__(name: str):
    if name in _ESTIMATORS:  # the task estimators: importing one imports its task's package only
        import rnnlab.tasks

        return getattr(rnnlab.tasks, name)
    raise AttributeError(f"module 'rnnlab' has no attribute {name!r}")
