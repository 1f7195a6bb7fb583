"""torch.nn ⇄ rnnlab: the same parameter names and shapes, so conversion is a strict state_dict copy."""

from __future__ import annotations

import warnings

from torch import nn

from rnnlab.cells.gru import GRUCell
from rnnlab.cells.lstm import LSTMCell
from rnnlab.cells.rnn import RNNCell
from rnnlab.layers.base import RecurrentLayer
from rnnlab.layers.gru import GRU
from rnnlab.layers.lstm import LSTM
from rnnlab.layers.rnn import RNN

_LAYERS = ((nn.LSTM, LSTM), (nn.GRU, GRU), (nn.RNN, RNN))
_CELLS = ((nn.LSTMCell, LSTMCell), (nn.GRUCell, GRUCell), (nn.RNNCell, RNNCell))


def _constructor_arguments(module: nn.Module, is_layer: bool) -> dict:
    """The constructor arguments torch and rnnlab share, read off `module` (either library's)."""
    weight = next(module.parameters())
    arguments = dict(bias=module.bias, device=weight.device, dtype=weight.dtype)
    if is_layer:
        arguments.update(num_layers=module.num_layers, batch_first=module.batch_first, dropout=module.dropout,
                         bidirectional=module.bidirectional)
        if module.proj_size:
            arguments["proj_size"] = module.proj_size
    if hasattr(module, "nonlinearity"):
        arguments["nonlinearity"] = module.nonlinearity
    return arguments


def from_torch(module: nn.Module, **options) -> nn.Module:
    """An rnnlab module whose parameters are copies of `module`'s (no re-initialisation).

    Args:
        module: a torch.nn RNN, LSTM, GRU, RNNCell, LSTMCell or GRUCell.
        options: rnnlab's keyword-only extras for the new layer (`backend=`, ...).
    """
    if options.get("reset_after", True) is not True:
        raise ValueError("reset_after=False would compute a different function from the torch module's weights "
                         f"(torch's GRU is reset_after=True); received reset_after={options['reset_after']!r}")
    pairs = [(torch_type, ours_type, True) for torch_type, ours_type in _LAYERS]
    pairs += [(torch_type, ours_type, False) for torch_type, ours_type in _CELLS]
    match = [(ours_type, is_layer) for torch_type, ours_type, is_layer in pairs if type(module) is torch_type]
    if not match:
        raise TypeError(f"module must be a torch.nn RNN, LSTM, GRU or one of their cells; received {type(module).__name__}")
    ours_type, is_layer = match[0]
    with warnings.catch_warnings():  # torch warned about a single layer's dropout when `module` was built
        warnings.filterwarnings("ignore", message=r"dropout=.* has no effect with num_layers=1")
        ours = ours_type(module.input_size, module.hidden_size, **_constructor_arguments(module, is_layer), **options)
    missing, unexpected = ours.load_state_dict(module.state_dict(), strict=False)
    # every torch parameter must land; only rnnlab's own extras (a learned initial state) may stay as built
    extras = {"initial_h", "initial_c"}
    if unexpected or set(missing) - extras:
        raise RuntimeError(f"state_dict of {type(module).__name__} did not map onto {type(ours).__name__}: "
                           f"missing {sorted(set(missing) - extras)}, unexpected {sorted(unexpected)}")
    ours.train(module.training)
    return ours


def to_torch(module: nn.Module) -> nn.Module:
    """The torch.nn module equal to `module` (an rnnlab layer or cell), with copies of its parameters.

    Raises ValueError for what torch cannot represent: a GRU with reset_after=False, or a learned
    initial state.
    """
    if getattr(module, "reset_after", True) is False:
        raise ValueError("module is a GRU with reset_after=False, which torch.nn cannot represent; received reset_after=False")
    if getattr(module, "learn_initial_state", False):
        raise ValueError("module has a learned initial state, which torch.nn cannot hold; received learn_initial_state=True")
    is_layer = isinstance(module, RecurrentLayer)
    matches = [t for t, ours in (_LAYERS if is_layer else _CELLS) if isinstance(module, ours)]
    if not matches:
        raise TypeError(f"module must be an rnnlab RNN, LSTM, GRU or one of their cells; received {type(module).__name__}")
    if not is_layer and getattr(module, "proj_size", 0):
        raise ValueError(f"module is an LSTMCell with proj_size, which torch.nn.LSTMCell lacks; received proj_size={module.proj_size}")
    theirs = matches[0](module.input_size, module.hidden_size, **_constructor_arguments(module, is_layer))
    theirs.load_state_dict(module.state_dict(), strict=True)
    theirs.train(module.training)
    return theirs
