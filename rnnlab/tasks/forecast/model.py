"""The forecasting model: a recurrent encoder over a window, then a linear head to the horizon.

    e   = [h_n^fwd ; h_n^bwd]   final hidden state(s) of the encoder's top layer, (B, D*H)
    ŷ   = W e + b               the next `horizon` values at once, (B, horizon)

With horizon = 1 this is the usual many-to-one model; with horizon > 1 it is the direct
multi-step strategy (one output per future step, no feeding back of predictions).
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.layers.streaming import check_causal, check_step_input
from rnnlab.tasks.parts import ENCODERS, check_cell


class ForecastNetwork(nn.Module):
    """A batch-first rnnlab RNN/LSTM/GRU encoder and a linear head to `horizon` values.

    The encoding of a window is the top layer's final hidden state h_n. For one direction that is
    the output at the last step. With `bidirectional` it is the forward direction's output at
    the last step concatenated with the backward direction's output at step 0 (where the
    backward pass ends), i.e. both directions have read the whole window.

    Args:
        input_size: features per time step (C), the target included.
        horizon: number of future target values predicted per window.
        cell: "rnn", "lstm" or "gru".
        hidden_size: features in the encoder's hidden state (H).
        num_layers: stacked recurrent layers (L).
        bidirectional: also read the window backwards (D = 2).
        dropout: passed to the encoder; as in torch it acts between recurrent layers only, so
            it has no effect (and the layer warns) when num_layers is 1.

    Shape:
        xs: (B, T, C), batch-first. Output: (B, horizon).
    """

    def __init__(
        self,
        input_size: int,
        horizon: int,
        *,
        cell: str = "lstm",
        hidden_size: int = 64,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_cell(cell)
        self.input_size = check_positive_int("input_size", input_size)
        self.horizon = check_positive_int("horizon", horizon)
        self.cell = cell
        self.encoder = ENCODERS[cell](
            input_size, hidden_size, num_layers=num_layers, batch_first=True,
            dropout=dropout, bidirectional=bidirectional,
        )
        self.num_directions = 2 if bidirectional else 1
        self.head = nn.Linear(self.num_directions * hidden_size, horizon)

    def encode(self, xs: Tensor) -> Tensor:
        """The window's encoding: the top layer's h_n, directions concatenated [fwd | bwd].

        Args:
            xs: (B, T, C) batch-first windows.

        Returns:
            (B, D*H) tensor.
        """
        if xs.dim() != 3 or xs.shape[-1] != self.input_size:
            raise ValueError(f"xs must have shape (B, T, {self.input_size}); received {tuple(xs.shape)}")
        _, final = self.encoder(xs)
        h_n = final.h if isinstance(final, LSTMState) else final   # (L*D, B, H)
        top = h_n[-self.num_directions:]                            # (D, B, H), forward first
        return top.transpose(0, 1).reshape(xs.shape[0], -1)         # (B, D*H)

    def forward(self, xs: Tensor) -> Tensor:
        """Forecasts the next `horizon` target values of each window.

        Args:
            xs: (B, T, C) batch-first windows.

        Returns:
            (B, horizon) tensor, in the (scaled) units of the training target.
        """
        return self.head(self.encode(xs))  # (B, horizon)

    def step(self, x: Tensor, state=None, *, reset: Tensor | None = None) -> tuple[Tensor, object]:
        """Reads one more time step of each stream and forecasts from everything read so far.

        After steps x_1 … x_t the forecast equals `forward` on the window x_1 … x_t (the encoding
        of a one-direction encoder is its output at the window's last step), so a forecast is
        ready at every point of a stream at the cost of one recurrent step.

        Args:
            x: (B, C) the newest time step of each of B streams.
            state: what the previous call returned (the encoder's state, torch's packing), or
                None at the start of every stream.
            reset: keyword-only (B,) bool: rows where a new stream starts (see `RecurrentLayer.step`).

        Returns:
            (forecast (B, horizon), state to pass to the next call).

        Raises:
            ValueError: for a bidirectional forecaster, whose backward direction needs the
                window's end; or an x that is not (B, C).
        """
        check_causal("forecaster", self.num_directions, "window")
        check_step_input(x, self.input_size, "stream")
        h, state = self.encoder.step(x, state, reset=reset)   # (B, H)
        return self.head(h), state                              # (B, horizon)

    @property
    def num_parameters(self) -> int:
        """Number of trainable scalars (encoder and head)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
