"""A sequence-to-sequence forecaster: an encoder reads the window, a decoder recurses over the horizon.

DeepAR's recursion (Salinas et al. 2020) on rnnlab's RNN/LSTM/GRU layers, in z units
(`rnnlab.tasks.forecast.panel.Windows`):

    s_0      = Encoder(x_1 … x_W)                          the encoder's final state, every layer
    v_0      = z_W                                         the window's last value, x_W[0]
    d_k      = [v_{k-1}, future_k, e]                      k = 1 … h; e: the static embeddings
    s_k      = Decoder(d_k, s_{k-1})                       (B, H), the top layer's output
    raw_k    = W_o s_k + b_o                               (B, K), read by an output object
    v_k      = z_k                  teacher forcing (training: the true value)
             = feedback(raw_k)      recursion (forecasting: e.g. the median the network predicts)
             = draw(raw_k)          sample paths (a draw from the predicted distribution)

The decoder's state at step k depends on v_0 … v_{k-1} only, so teacher forcing runs the decoder
layer once over all h steps, and recursion runs the same layer one step at a time (T = 1) from the
state the previous step returned: the cell equations are the same code in both, and a recursion
whose fed-back values are given as the teacher reproduces its own outputs (tested to 1e-6 in
float32, 1e-12 in float64).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.tasks.forecast.panel import category_embedding, static_features
from rnnlab.tasks.parts import ENCODERS, check_cell


class AutoregressiveNetwork(nn.Module):
    """The encoder-decoder forecaster of the module docstring (DeepAR-style recursion).

    Two recurrent layers of the same cell, hidden size and depth: the encoder reads the window's
    steps x_t = [z_t, known_t, covariates_t] (past_features wide), the decoder reads
    d_k = [v_{k-1}, future_k, e] (1 + future_features + embedding_dim wide), starting from the
    encoder's final state. Two layers rather than one because the two read different things: the
    window carries the known mask and covariates known only up to now, which the horizon has not,
    so one shared layer would need placeholder inputs for them at every future step, and would
    have to learn both to summarise a history and to generate from it with the same weights.

    Args:
        horizon: h, the steps forecast.
        outputs: K, raw numbers per future step (an output object's `outputs`).
        cell: "rnn", "lstm" or "gru", for the encoder and the decoder.
        hidden_size: H, of both layers.
        num_layers: L, stacked layers in each.
        dropout: between stacked layers only (none when num_layers = 1), as torch's layers apply it.
        past_features: features per window step; channel 0 is z.
        future_features: features known for each future step (0: none).
        statics: series in the embedding table; with embedding_dim, an nn.Embedding(statics,
            embedding_dim) whose row for each window's series is fed to every decoder step.
        embedding_dim: features of that embedding (0: no embedding).
        categories, category_dim: the categories of each static column and the features of each
            one's embedding (`rnnlab.tasks.forecast.panel.CategoryEmbedding`), fed to every
            decoder step beside the id's; () or 0: none.

    Shape:
        inputs (B, W, past_features); future (B, h, future_features) or None; static (B,) int64,
        (B, 1 + S) with static columns, or None; teacher (B, h) → raw (B, h, K).
    """

    def __init__(self, horizon: int, outputs: int, *, cell: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, dropout: float = 0.0, past_features: int = 2, future_features: int = 0,
                 statics: int = 0, embedding_dim: int = 0, categories=(), category_dim: int = 0) -> None:
        super().__init__()
        check_cell(cell)
        for name, value in (("horizon", horizon), ("outputs", outputs), ("hidden_size", hidden_size),
                            ("num_layers", num_layers), ("past_features", past_features)):
            check_positive_int(name, value)
        for name, value in (("future_features", future_features), ("statics", statics),
                            ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int; received {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a number in [0, 1); received {dropout!r}")
        self.horizon, self.outputs = horizon, outputs
        self.past_features, self.future_features = past_features, future_features
        # as PanelNetwork: an embedding only when both sizes are given (else static is ignored)
        self.embedding = nn.Embedding(statics, embedding_dim) if statics and embedding_dim else None
        self.categories = category_embedding(categories, category_dim)
        embedded = ((embedding_dim if self.embedding is not None else 0)
                    + (self.categories.width if self.categories is not None else 0))
        between = float(dropout) if num_layers > 1 else 0.0  # the layers' dropout acts between layers only
        layer = ENCODERS[cell]
        self.encoder = layer(past_features, hidden_size, num_layers=num_layers, batch_first=True, dropout=between)
        self.decoder = layer(1 + future_features + embedded, hidden_size, num_layers=num_layers, batch_first=True,
                             dropout=between)
        self.head = nn.Linear(hidden_size, outputs)  # W_o, b_o

    def forward(self, inputs: Tensor, future: Tensor | None = None, static: Tensor | None = None, *,
                teacher: Tensor | None = None, feedback: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """The raw outputs of every future step, teacher-forced or recursive.

        Args:
            inputs: (B, W, past_features) the window, batch-first; inputs[..., 0] is z.
            future: (B, h, future_features), or None when future_features = 0.
            static: (B,) int64 series indices, (B, 1 + S) with static columns (the index, then
                each column's category), or None without embeddings (ignored then).
            teacher: (B, h) the true z of the horizon: the decoder reads v_0 = z_W, then
                teacher[:, :-1], in one call over all h steps (teacher[:, -1] is never read).
            feedback: maps a step's raw (B, 1, K) to the value fed to the next step (B, 1), for
                recursion; called at every step (the last step's value is not used). Gradients
                flow through it as it lets them; wrap the call in torch.no_grad() to forecast.

        Exactly one of teacher and feedback is given.

        Returns:
            raw (B, h, K).
        """
        if (teacher is None) == (feedback is None):
            given = "both" if teacher is not None else "neither"
            raise ValueError(f"exactly one of teacher (teacher forcing) and feedback (recursion) must be given; "
                             f"received {given}")
        state, first, context = self._encode(inputs, future, static)
        if feedback is not None:
            return self._recurse(state, first, context, feedback, "feedback")[0]
        batch_size = len(inputs)
        if not isinstance(teacher, Tensor) or tuple(teacher.shape) != (batch_size, self.horizon):
            shown = tuple(teacher.shape) if isinstance(teacher, Tensor) else type(teacher).__name__
            raise ValueError(f"teacher must have shape (B, h) = ({batch_size}, {self.horizon}); received {shown}")
        previous = torch.cat([first, teacher[:, :-1].to(first.dtype)], dim=1)  # (B, h): v_0 … v_{h-1}
        return self._decode(previous, context, state)[0]

    def sample_paths(self, inputs: Tensor, future: Tensor | None, static: Tensor | None,
                     draw: Callable[[Tensor], Tensor], n: int) -> Tensor:
        """n sample paths per window: at each step a value is drawn from the step's raw outputs and
        fed back as the next step's input.

        The window is encoded once and its state repeated n times; the B·n rows are ordered path
        first, row i·B + b being path i of window b (so a draw that needs the windows' level
        (B, 1) takes `level.repeat(n, 1)`).

        Args:
            inputs, future, static: as for `forward`.
            draw: maps a step's raw (B·n, 1, K) to the drawn values (B·n, 1).
            n: paths per window.

        Returns:
            (n, B, h) the drawn values.
        """
        check_positive_int("n", n)
        state, first, context = self._encode(inputs, future, static)
        state = _repeat_state(state, n)
        _, values = self._recurse(state, first.repeat(n, 1), context.repeat(n, 1, 1), draw, "draw")
        return values.reshape(n, len(inputs), self.horizon)  # (n, B, h)

    # -- the two halves ----------------------------------------------------------------------------

    def _encode(self, inputs: Tensor, future: Tensor | None, static: Tensor | None) -> tuple[Any, Tensor, Tensor]:
        """The decoder's initial state (the encoder's final one), v_0 (B, 1) and the per-step
        decoder inputs other than the value, context (B, h, future_features + embedding_dim)."""
        self._check(inputs, future, static)
        batch_size = len(inputs)
        _, state = self.encoder(inputs)  # (L, B, H), or an LSTMState of two
        first = inputs[:, -1:, 0]  # (B, 1) z_W
        parts = [inputs.new_zeros(batch_size, self.horizon, 0)]
        if self.future_features:
            parts.append(future)
        for embedded in static_features(self.embedding, self.categories, static):
            parts.append(embedded[:, None, :].expand(-1, self.horizon, -1).to(inputs.dtype))
        return state, first, torch.cat(parts, dim=-1)  # (B, h, F_future + E)

    def _decode(self, previous: Tensor, context: Tensor, state: Any) -> tuple[Tensor, Any]:
        """The decoder from `state` over T steps: previous (B, T) values and context (B, T, C)
        → raw (B, T, K) and the state after the last step. The one place the decoder runs."""
        xs = torch.cat([previous[..., None], context], dim=-1)  # (B, T, 1 + C)
        ys, state = self.decoder(xs, state)  # (B, T, H)
        return self.head(ys), state

    def _recurse(self, state: Any, first: Tensor, context: Tensor, choose: Callable[[Tensor], Tensor],
                 name: str) -> tuple[Tensor, Tensor]:
        """h steps of the decoder, each fed the value `choose` made of the previous step's raw.
        Returns raw (B, h, K) and the chosen values (B, h)."""
        value, raws, values = first, [], []
        for k in range(self.horizon):
            raw, state = self._decode(value, context[:, k:k + 1], state)  # (B, 1, K)
            value = choose(raw)
            if not isinstance(value, Tensor) or tuple(value.shape) != (len(first), 1):
                shown = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
                raise ValueError(f"{name} must map raw (B, 1, K) to (B, 1) = ({len(first)}, 1); received {shown}")
            raws.append(raw)
            values.append(value)
        return torch.cat(raws, dim=1), torch.cat(values, dim=1)  # (B, h, K), (B, h)

    def _check(self, inputs: Tensor, future: Tensor | None, static: Tensor | None) -> None:
        if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != self.past_features:
            shown = tuple(inputs.shape) if isinstance(inputs, Tensor) else type(inputs).__name__
            raise ValueError(f"inputs must have shape (B, W, past_features={self.past_features}); received {shown}")
        batch_size = len(inputs)
        expected = (batch_size, self.horizon, self.future_features)
        if future is None:
            if self.future_features:
                raise ValueError(f"future must have shape (B, h, future_features) = {expected}; received None")
        elif not isinstance(future, Tensor) or tuple(future.shape) != expected:
            shown = tuple(future.shape) if isinstance(future, Tensor) else type(future).__name__
            raise ValueError(f"future must have shape (B, h, future_features) = {expected}; received {shown}")
        if self.embedding is None and self.categories is None:
            return
        integer = isinstance(static, Tensor) and not (static.dtype.is_floating_point or static.dtype.is_complex
                                                      or static.dtype == torch.bool)
        if self.categories is not None:
            wanted = f"({batch_size}, {1 + len(self.categories.sizes)}) integer indices (the series, then each category)"
            right = integer and tuple(static.shape) == (batch_size, 1 + len(self.categories.sizes))
        else:
            wanted = f"({batch_size},) integer series indices"
            right = integer and static.dim() in (1, 2) and len(static) == batch_size
        if not right:
            shown = f"shape {tuple(static.shape)}, dtype {static.dtype}" if isinstance(static, Tensor) else repr(static)
            raise ValueError(f"static must be {wanted}; received {shown}")


def _repeat_state(state: Any, n: int) -> Any:
    """A layer's state (L, B, ·) (or an LSTMState of two) repeated n times along the batch, path first."""
    if isinstance(state, LSTMState):
        return LSTMState(state.h.repeat(1, n, 1), state.c.repeat(1, n, 1))
    return state.repeat(1, n, 1)  # (L, n·B, H)


__all__ = ["AutoregressiveNetwork"]
