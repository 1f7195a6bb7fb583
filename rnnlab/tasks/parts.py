"""Model parts that several tasks share: the recurrent encoder by name, and pooling over time.

    ENCODERS[cell]        rnnlab.RNN, LSTM or GRU, built batch-first by every task model
    pool(...)             the encoding of a padded batch: final states, or mean/max over real steps

    last   e = [h_n^fwd ; h_n^bwd]        the top layer's final states (each direction's own end)
    mean   e = (1/n) Σ_{t<n} y_t          over each sequence's n real steps (padded outputs are 0)
    max    e = max_{t<n} y_t              elementwise, over the real steps only
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnlab.cells.base import check_positive_int
from rnnlab.cells.lstm import LSTMState
from rnnlab.layers import GRU, LSTM, RNN

ENCODERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
POOLINGS = ("last", "mean", "max")


def check_cell(cell: str) -> str:
    """`cell` if it names an encoder; ValueError naming it otherwise."""
    if cell not in ENCODERS:
        raise ValueError(f"cell must be one of {sorted(ENCODERS)}; received {cell!r}")
    return cell


def check_classifier(cell: str, num_classes: int, pooling: str, dropout: float) -> None:
    """The arguments every pooled classifier checks, each named in its error."""
    check_cell(cell)
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}; received {pooling!r}")
    if check_positive_int("num_classes", num_classes) < 2:
        raise ValueError(f"num_classes must be at least 2; received {num_classes}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1); received {dropout!r}")


def check_lengths(lengths: Tensor, steps: int) -> None:
    """ValueError unless every length is in [1, steps]."""
    if steps == 0 or int(lengths.min()) < 1 or int(lengths.max()) > steps:
        raise ValueError(f"lengths must be in [1, T={steps}]; received {lengths.tolist()}")


def pool(pooling: str, outputs: Tensor, final, lengths: Tensor, num_directions: int) -> Tensor:
    """The encoding of each sequence of a padded batch, directions concatenated [fwd | bwd].

    Args:
        pooling: "last", "mean" or "max" (see the module docstring).
        outputs: (B, T, D*H) the encoder's outputs, zeros past each sequence's end.
        final: the encoder's final state ((L*D, B, H), or an `LSTMState` of such).
        lengths: (B,) int64 real lengths, each in [1, T].
        num_directions: D.

    Returns:
        (B, D*H) tensor.
    """
    if pooling == "last":
        h_n = final.h if isinstance(final, LSTMState) else final       # (L*D, B, H)
        top = h_n[-num_directions:]                                    # (D, B, H), forward first
        return top.transpose(0, 1).reshape(outputs.shape[0], -1)       # (B, D*H)
    if pooling == "mean":
        return outputs.sum(dim=1) / lengths.to(outputs)[:, None]      # padded outputs are zeros
    steps = torch.arange(outputs.shape[1], device=outputs.device)
    valid = (steps[None, :] < lengths.to(outputs.device)[:, None]).unsqueeze(-1)  # (B, T, 1)
    return outputs.masked_fill(~valid, float("-inf")).amax(dim=1)      # (B, D*H)
