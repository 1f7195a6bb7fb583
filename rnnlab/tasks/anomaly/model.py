"""The anomaly detectors' two recurrent models: a next-step forecaster and a sequence autoencoder.

    NextStepForecaster     x̂_{t+1} = W h_t + b after reading x_1..x_t: causal, run over a stream
                           with its state carried (its residuals are r_t = x_t − x̂_t)
    SequenceAutoencoder    a window → a latent code → the window again (its residual is the
                           reconstruction error of each window's newest point)

`rnnlab.tasks.anomaly.detector` turns their residuals into scores and flags.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.tasks.parts import ENCODERS, check_cell


class NextStepForecaster(nn.Module):
    """A recurrent language model over values: after reading x_1..x_t it predicts x_{t+1}.

        h_t     = cell(x_t, h_{t-1})       an rnnlab RNN/LSTM/GRU stack, batch-first, one direction
        x̂_{t+1} = W h_t + b                a linear head to the C channels

    Being causal and many-to-many, it is trained on windows (predicting each next step) and then
    run over an unbounded stream with its state carried from point to point.

    Args:
        input_size: channels per time step (C).
        cell: "rnn", "lstm" or "gru".
        hidden_size: features in the hidden state (H).
        num_layers: stacked recurrent layers (L).
        dropout: between recurrent layers only, as in torch.

    Shape:
        xs: (B, T, C). Returns predictions (B, T, C), row t forecasting x_{t+1}, and the final
        state in torch's packing ((L, B, H), or an `LSTMState` of two such tensors).
    """

    def __init__(self, input_size: int, *, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 dropout: float = 0.0) -> None:
        super().__init__()
        check_cell(cell)
        self.input_size = check_positive_int("input_size", input_size)
        self.encoder = ENCODERS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout)
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, xs: Tensor, state=None) -> tuple[Tensor, object]:
        """Runs over `xs` from `state` (zeros when None); returns (predictions, final state)."""
        if xs.dim() != 3 or xs.shape[-1] != self.input_size:
            raise ValueError(f"xs must have shape (B, T, {self.input_size}); received {tuple(xs.shape)}")
        outputs, state = self.encoder(xs, state)   # (B, T, H)
        return self.head(outputs), state           # (B, T, C)

    def step(self, x: Tensor, state=None, *, reset: Tensor | None = None) -> tuple[Tensor, object]:
        """Reads one more point x_t of each stream and forecasts the next, x̂_{t+1}.

        Equal to row t of `forward` over the stream so far; the state is the one `forward`
        takes and returns, so the two can be mixed (read a history whole, then step).

        Args:
            x: (B, C) the newest point of each of B streams.
            state: what the previous call (or `forward`) returned, or None for zeros.
            reset: keyword-only (B,) bool: rows where a new stream starts (see `RecurrentLayer.step`).

        Returns:
            (x̂_{t+1} (B, C), state).
        """
        if x.dim() != 2 or x.shape[-1] != self.input_size:
            raise ValueError(f"x must have shape (B, {self.input_size}), one point per stream; received "
                             f"{tuple(x.shape)}")
        h, state = self.encoder.step(x, state, reset=reset)   # (B, H)
        return self.head(h), state                              # (B, C)


class SequenceAutoencoder(nn.Module):
    """A recurrent sequence autoencoder: window → latent vector → reconstructed window.

        e_t = enc(x_t, e_{t-1}),  t = 1..W       encoder reads the window, e_0 = 0
        z   = W_z e_W + b_z                      latent code, (B, latent_size)
        d_t = dec(z, d_{t-1}),  t = 1..W         decoder reads z at every step, d_0 = 0
        x̃_t = W_o d_t + b_o                      reconstruction, (B, W, C)

    The latent code is narrower than the window, so only the shapes seen in training (normal
    windows) are reconstructed well.

    Args:
        input_size: channels per time step (C).
        cell: "rnn", "lstm" or "gru" (both encoder and decoder).
        hidden_size: features in each hidden state (H).
        latent_size: features in the code z.
        num_layers: stacked layers in the encoder and in the decoder.
        dropout: between recurrent layers only, as in torch.

    Shape:
        windows: (B, W, C). Returns the reconstruction (B, W, C).
    """

    def __init__(self, input_size: int, *, cell: str = "lstm", hidden_size: int = 64, latent_size: int = 8,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        check_cell(cell)
        self.input_size = check_positive_int("input_size", input_size)
        check_positive_int("latent_size", latent_size)
        layer = ENCODERS[cell]
        self.encoder = layer(input_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.to_latent = nn.Linear(hidden_size, latent_size)
        self.decoder = layer(latent_size, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout)
        self.head = nn.Linear(hidden_size, input_size)

    def forward(self, windows: Tensor) -> Tensor:
        if windows.dim() != 3 or windows.shape[-1] != self.input_size:
            raise ValueError(f"windows must have shape (B, W, {self.input_size}); received {tuple(windows.shape)}")
        _, final = self.encoder(windows)
        h_n = final.h if isinstance(final, LSTMState) else final       # (L, B, H)
        z = self.to_latent(h_n[-1])                                     # (B, latent)
        repeated = z.unsqueeze(1).expand(-1, windows.shape[1], -1)      # (B, W, latent)
        outputs, _ = self.decoder(repeated.contiguous())                # (B, W, H)
        return self.head(outputs)                                       # (B, W, C)

    def step(self, x: Tensor, state=None, *, reset: Tensor | None = None):
        """Not available: raises TypeError, because a reconstruction cannot be built one point at a time.

        The decoder starts from the code of the whole window, so no output exists before the
        window's last point, and each new point changes every earlier reconstruction.
        `rnnlab.tasks.anomaly.streaming.ScoreStream` streams this model with a ring buffer of the last W
        points instead (O(W) work per point).
        """
        raise TypeError("a SequenceAutoencoder cannot step: its reconstruction of a window needs the whole window "
                        "(the decoder reads the code of the last point); received a call to step. Stream it with "
                        "rnnlab.tasks.anomaly.streaming.ScoreStream, which keeps the last W points")


__all__ = ["NextStepForecaster", "SequenceAutoencoder"]
