"""The drop-in vanilla RNN layer."""

from __future__ import annotations

from rnnlab.cells.rnn import NONLINEARITIES, RNNCell
from rnnlab.backends.spec import Mode
from rnnlab.layers.base import RecurrentLayer


class RNN(RecurrentLayer):
    """A stack of vanilla recurrent layers; drop-in for torch.nn.RNN.

    Each layer and direction steps an `RNNCell`: h_t = φ(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),
    φ = tanh or relu. Equivalent to stepping the cell over T and stacking h, per layer; the second
    direction reads each sequence backwards from its own end, and layer k > 0 reads layer k - 1's
    outputs (after dropout in training). Constructor, forward, parameter names (`weight_ih_l{k}`,
    `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, with `_reverse` for the second direction),
    shapes and initialisation match torch.nn.RNN.

    Args:
        input_size, hidden_size, num_layers, nonlinearity, bias, batch_first, dropout,
        bidirectional, device, dtype: as torch.nn.RNN.
        learn_initial_state: keyword-only; learn h_0 (parameter `initial_h`, (L*D, H), zeros at
            first) instead of starting from zeros when no hx is given.
        backend: keyword-only; "auto", "reference", "native" or "triton" (see `rnnlab.backends`).
        proj_size: keyword-only, accepted as torch.nn accepts it: 0, or a ValueError (an LSTM option).

    Shape:
        input: (T, B, F), (B, T, F) with batch_first, (T, F) unbatched, or a PackedSequence.
        hx and h_n: (L*D, B, H), or (L*D, H) unbatched. output: (T, B, D*H) in input's layout.
        D is 2 if bidirectional else 1, L is num_layers.
    """

    cell_type = RNNCell

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        learn_initial_state: bool = False,
        backend: str = "auto",
        proj_size: int = 0,
    ) -> None:
        if proj_size != 0:  # torch.nn takes the argument for every layer and refuses it so
            raise ValueError(f"proj_size is an LSTM option (a projection of h); {type(self).__name__} has none; "
                             f"received proj_size={proj_size!r}")
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu'; received {nonlinearity!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype,
            learn_initial_state=learn_initial_state, backend=backend, cell_options={"nonlinearity": nonlinearity},
        )
        self.nonlinearity = nonlinearity
        self.mode = Mode.RNN_TANH if nonlinearity == "tanh" else Mode.RNN_RELU
