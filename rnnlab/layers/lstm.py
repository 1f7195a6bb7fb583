"""The drop-in LSTM layer."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnlab.cells.lstm import LSTMCell, LSTMState, check_proj_size
from rnnlab.backends.spec import Mode
from rnnlab.layers.base import RecurrentLayer


class LSTM(RecurrentLayer):
    """A stack of long short-term memory layers; drop-in for torch.nn.LSTM.

    Each layer and direction steps an `LSTMCell` (its docstring has the equations): equivalent to
    stepping the cell over T and stacking h, per layer; the second direction reads each sequence
    backwards from its own end, and layer k > 0 reads layer k - 1's outputs (after dropout in
    training). Constructor, forward, parameter names (`weight_ih_l{k}`, `weight_hh_l{k}`,
    `bias_ih_l{k}`, `bias_hh_l{k}`, `weight_hr_l{k}` with proj_size, `_reverse` for the second
    direction), shapes and initialisation match torch.nn.LSTM, with gate rows in order [i|f|g|o].

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        proj_size, device, dtype: as torch.nn.LSTM.
        learn_initial_state: keyword-only; learn h_0 and c_0 (parameters `initial_h` (L*D, P) and
            `initial_c` (L*D, H), zeros at first) instead of zeros when no hx is given.
        backend: keyword-only; "auto", "reference", "native" or "triton" (see `rnnlab.backends`).

    Shape:
        input: (T, B, F), (B, T, F) with batch_first, (T, F) unbatched, or a PackedSequence.
        hx = (h_0, c_0) and the returned (h_n, c_n), an `LSTMState`: (L*D, B, P) and (L*D, B, H),
        or without B unbatched. output: (T, B, D*P) in input's layout. P = proj_size or H.
    """

    cell_type = LSTMCell
    mode = Mode.LSTM

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
        *,
        learn_initial_state: bool = False,
        backend: str = "auto",
    ) -> None:
        if not isinstance(hidden_size, bool) and isinstance(hidden_size, int) and hidden_size > 0:
            check_proj_size(proj_size, hidden_size)  # else the base class names hidden_size's fault first
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype,
            learn_initial_state=learn_initial_state, backend=backend, cell_options={"proj_size": proj_size},
        )

    def _hx_tensors(self, hx: Any) -> tuple:
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx must be a tuple (h_0, c_0) for an LSTM; received {type(hx).__name__}"
                            + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else ""))
        return tuple(hx)

    def _final_state(self, tensors: tuple[Tensor, ...]) -> LSTMState:
        return LSTMState(*tensors)
