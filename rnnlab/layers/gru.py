"""The drop-in GRU layer."""

from __future__ import annotations

from rnnlab.cells.gru import GRUCell
from rnnlab.backends.spec import Mode
from rnnlab.layers.base import RecurrentLayer


class GRU(RecurrentLayer):
    """A stack of gated recurrent unit layers; drop-in for torch.nn.GRU.

    Each layer and direction steps a `GRUCell` (its docstring has the equations, in both forms):
    equivalent to stepping the cell over T and stacking h, per layer; the second direction reads
    each sequence backwards from its own end, and layer k > 0 reads layer k - 1's outputs (after
    dropout in training). Constructor, forward, parameter names, shapes and initialisation match
    torch.nn.GRU, with gate rows in torch's order [r|z|n].

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device,
        dtype: as torch.nn.GRU.
        reset_after: keyword-only; True (default) is torch's and cuDNN's form, r ⊙ (W_hn h + b_hn);
            False is the form of Cho et al. 2014, W_hn (r ⊙ h), which torch lacks and which runs
            on the reference backend.
        learn_initial_state: keyword-only; learn h_0 (parameter `initial_h`, (L*D, H), zeros at
            first) instead of starting from zeros when no hx is given.
        backend: keyword-only; "auto", "reference", "native" or "triton" (see `rnnlab.backends`).
        proj_size: keyword-only, accepted as torch.nn accepts it: 0, or a ValueError (an LSTM option).

    Shape:
        input: (T, B, F), (B, T, F) with batch_first, (T, F) unbatched, or a PackedSequence.
        hx and h_n: (L*D, B, H), or (L*D, H) unbatched. output: (T, B, D*H) in input's layout.
    """

    cell_type = GRUCell
    mode = Mode.GRU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
        *,
        reset_after: bool = True,
        learn_initial_state: bool = False,
        backend: str = "auto",
        proj_size: int = 0,
    ) -> None:
        if proj_size != 0:  # torch.nn takes the argument for every layer and refuses it so
            raise ValueError(f"proj_size is an LSTM option (a projection of h); {type(self).__name__} has none; "
                             f"received proj_size={proj_size!r}")
        if not isinstance(reset_after, bool):
            raise TypeError(f"reset_after must be a bool; received {reset_after!r}")
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype,
            learn_initial_state=learn_initial_state, backend=backend, cell_options={"reset_after": reset_after},
        )
        self.reset_after = reset_after
