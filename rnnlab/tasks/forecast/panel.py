"""One recurrent forecaster for many series: windows cut across a panel, each normalised by its level.

A global model, as the field's deep forecasters are (DeepAR, MQ-RNN, N-BEATS, ES-RNN): one
network is trained on windows cut from every series of a panel, each window normalised by its own
level, so that a series of thousands and one of tens are the same problem to it.

    level  = mean of the window's last k known values        k = max(season, 1)
    z_t    = log(y_t / level)      (or y_t / level − 1 when a series has values ≤ 0)
    z_t   ← z_t / spread            with `spread`: spread = mean |z_t − z_{t−1}| over the window
    x_t    = [z_t, known_t, past_t, future_t]               known_t = 0 before the series' start
    raw    = network(x_1 … x_W, future_{W+1} … future_{W+h}, static)   (B, h, K)

past_t are covariates known only up to now, future_t those known ahead (calendar features of the
timestamps, the user's known-ahead columns), both already scaled; static is the series' index for
an id embedding, followed, where the panel has static columns, by each column's category index
(`CategoryEmbedding`). An output (`rnnlab.tasks.forecast.outputs`) turns raw into the loss,
quantiles and samples of z; a forecast maps them back, ŷ = level · exp(z) or level · (1 + z),
which keeps every quantile positive for positive series and, the map being increasing, quantiles
quantiles. With `spread` each window's z is also divided by its own step size, so that a quiet
series (CO2's seasonal swing is 1% of its level) and a volatile one reach the network at one
scale; the forecast multiplies it back first.

Two networks read the same windows: `PanelNetwork`, the direct multi-output head (MQ-RNN: the
encoder's last state, the embedding and every future step's features → all h steps at once), and
`rnnlab.tasks.forecast.decoder.AutoregressiveNetwork` (sequence to sequence, DeepAR-style). A
`PanelModel` holds one or several (an ensemble), trained together from different initial weights.

Training windows are drawn as N-BEATS draws them: a series uniformly, then a cut uniformly among
that series' cuts, so that long series do not outweigh short ones (`draw_cuts`).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.cells.lstm import LSTMState
from rnnlab.tasks.parts import ENCODERS


class PanelInputs(NamedTuple):
    """A batch of windows as the network takes it.

    values (B, W, F_past); future (B, h, F_future) or None; static (B,) int64 series indices, or
    (B, 1 + S) the index then each of S static columns' category indices, or None;
    teacher (B, h) the true z of the horizon, for an autoregressive decoder's teacher forcing (or None);
    level (B,).
    """

    values: Tensor
    future: Tensor | None = None
    static: Tensor | None = None
    teacher: Tensor | None = None
    level: Tensor | None = None  # (B,) each window's level (an output over counts needs it)


class Cut(NamedTuple):
    """Windows cut from a panel, as numpy arrays: see `Windows.cut`."""

    values: np.ndarray            # (B, W, F_past)
    future: np.ndarray | None     # (B, h, F_future)
    targets: np.ndarray | None    # (B, h) z of the horizon
    level: np.ndarray             # (B,)
    rows: np.ndarray              # (B,) the series' positions
    spread: np.ndarray | None = None  # (B,) each window's z step size (None: 1, no spread scaling)

    def inputs(self, teacher: bool = False) -> PanelInputs:
        """The cut as float32 tensors (with the targets as the teacher if `teacher`)."""
        def tensor(array):
            return None if array is None else torch.as_tensor(array, dtype=torch.float32)
        return PanelInputs(tensor(self.values), tensor(self.future), torch.as_tensor(self.rows, dtype=torch.int64),
                           tensor(self.targets) if teacher else None, tensor(self.level))


class Windows:
    """Every series of a panel left-padded into one matrix, so that windows are cut by indexing.

    padded (N, W + L_max + h): series i sits so that its last value is in column W + L_max − 1; NaN
    before its start and after its end. Covariates are padded the same way: past (N, ·, P) up to
    each series' end, future (N, ·, F) up to h steps beyond it (the horizon's known values).

    Args:
        series: per series, (T_i,) float64 values.
        window, horizon, season: the window's length, the steps forecast, the season (the level
            is the mean of the last max(season, 1) known values).
        log: z = log(y / level) if True, else y / level − 1.
        spread: also divide each window's z (inputs and targets) by its mean absolute step.
        past: per series, (T_i, P) covariates known up to now, or None.
        future: per series, (≥ T_i, F) covariates known ahead: the T_i steps of the series and,
            to forecast past its end, the h steps after; or None.
    """

    SPREAD_FLOOR = 1e-4  # a window without steps (constant, or one known value) keeps z as it is, nearly

    def __init__(self, series, window: int, horizon: int, season: int, log: bool, past=None, future=None,
                 spread: bool = False) -> None:
        self.window, self.horizon, self.log, self.spread = window, horizon, log, spread
        self.level_steps = max(season, 1)
        self.lengths = np.array([len(s) for s in series])
        self.end = window + int(self.lengths.max())  # the column after every series' last value
        width = self.end + horizon
        self.offsets = self.end - self.lengths  # column of each series' first value
        self.padded = self._pad([np.asarray(s, dtype=np.float64)[:, None] for s in series], width, 1)[..., 0]
        self.past = None if past is None else self._pad(past, width, np.shape(past[0])[1])
        self.future = None if future is None else self._pad(future, width, np.shape(future[0])[1])

    def _pad(self, arrays, width: int, features: int) -> np.ndarray:
        padded = np.full((len(arrays), width, features), np.nan)
        for row, values in enumerate(arrays):
            values = np.asarray(values, dtype=np.float64)[: width - self.offsets[row]]
            padded[row, self.offsets[row]:self.offsets[row] + len(values)] = values
        return padded

    @property
    def past_features(self) -> int:
        """Features per input step: z, known, the past and the future covariates."""
        return 2 + sum(0 if m is None else m.shape[2] for m in (self.past, self.future))

    @property
    def future_features(self) -> int:
        return 0 if self.future is None else self.future.shape[2]

    def cut(self, rows: np.ndarray, ends: np.ndarray, with_targets: bool = True) -> Cut:
        """The windows that end (exclusive) at position `ends` (B,) of series `rows` (B,), in each
        series' own indices: values [end − W, end), targets [end, end + h)."""
        rows, ends = np.asarray(rows), np.asarray(ends)
        starts = self.offsets[rows] + ends - self.window  # (B,)
        columns = starts[:, None] + np.arange(self.window)  # (B, W)
        values = self.padded[rows[:, None], columns]  # (B, W)
        known = ~np.isnan(values)
        with warnings.catch_warnings():  # a window with no known value: "Mean of empty slice", level 1 below
            warnings.simplefilter("ignore", RuntimeWarning)
            level = np.nanmean(values[:, -self.level_steps:], axis=1)
        level = np.where(np.isfinite(level) & (level != 0), level, 1.0)
        z = self.to_z(values, level[:, None])
        spread = None
        if self.spread:
            with warnings.catch_warnings():  # fewer than two known values: no step, the floor below
                warnings.simplefilter("ignore", RuntimeWarning)
                spread = np.nanmean(np.abs(np.diff(z, axis=1)), axis=1)
            spread = np.where(np.isfinite(spread), np.maximum(spread, self.SPREAD_FLOOR), 1.0)
            z = z / spread[:, None]
        parts = [np.where(known, z, 0.0)[..., None], known[..., None].astype(float)]
        ahead = (self.offsets[rows] + ends)[:, None] + np.arange(self.horizon)  # (B, h)
        future = None
        if self.past is not None:
            parts.append(np.nan_to_num(self.past[rows[:, None], columns]))
        if self.future is not None:
            parts.append(np.nan_to_num(self.future[rows[:, None], columns]))
            future = np.nan_to_num(self.future[rows[:, None], ahead])
        targets = self.to_z(self.padded[rows[:, None], ahead], level[:, None]) if with_targets else None
        if targets is not None and spread is not None:
            targets = targets / spread[:, None]
        return Cut(np.concatenate(parts, axis=-1), future, targets, level, rows, spread)

    def to_z(self, values: np.ndarray, level: np.ndarray) -> np.ndarray:
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(values / level)
        return values / level - 1.0

    def from_z(self, z: np.ndarray, level: np.ndarray, spread: np.ndarray | float = 1.0) -> np.ndarray:
        """Values of (scaled) z: level · exp(z · spread), or level · (1 + z · spread)."""
        z = z * spread
        return level * np.exp(z) if self.log else level * (1.0 + z)


def training_cuts(lengths: np.ndarray, horizon: int, min_known: int) -> tuple[int, np.ndarray, np.ndarray, bool]:
    """Where training windows may end: (first_end, last_end (N,), trainable rows, validate).

    A window ending (exclusive) at `end` reads values [end − W, end) and forecasts [end, end + horizon).
    With validation, a training window's targets end at least `horizon` before the series' end
    (last_end = length − 2·horizon), so the last `horizon` values, the validation targets, are never
    trained on; series too short for that train on no window. When no series is long enough,
    there is no validation and windows may forecast up to the series' end.
    """
    first_end = min_known
    last_end = lengths - 2 * horizon  # inclusive
    trainable = np.flatnonzero(last_end >= first_end)
    if trainable.size:
        return first_end, last_end, trainable, True
    return first_end, lengths - horizon, np.flatnonzero(lengths - horizon >= first_end), False


def draw_cuts(rows: np.ndarray, first_end: int, last_end: np.ndarray, draws: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`draws` (row, end) pairs: a series uniformly among `rows`, then an end uniformly in
    [first_end, last_end[row]]."""
    chosen = rows[rng.integers(0, rows.size, draws)]
    ends = first_end + (rng.random(draws) * (last_end[chosen] - first_end + 1)).astype(int)
    return chosen, ends


class CategoryEmbedding(nn.Module):
    """Static categorical features: one learnt vector per category of each of S static columns.

    One table holds every column's categories, column s's rows starting at the sum of the earlier
    columns' sizes, so one lookup embeds them all: e_s = E[offset_s + c_s], concatenated.

    Args:
        sizes: the number of categories of each static column.
        dim: the features of each column's embedding.

    Shape: categories (B, S) int64, category c_s of column s in [0, sizes[s]) → (B, S · dim).
    """

    def __init__(self, sizes, dim: int) -> None:
        super().__init__()
        sizes = tuple(sizes)
        if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
            raise ValueError(f"sizes must be one or more positive ints; received {sizes!r}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive int; received {dim!r}")
        self.sizes, self.width = sizes, len(sizes) * dim
        self.table = nn.Embedding(sum(sizes), dim)
        self.register_buffer("offsets", torch.tensor(np.cumsum((0,) + sizes[:-1]), dtype=torch.int64),
                             persistent=False)

    def forward(self, categories: Tensor) -> Tensor:
        if categories.dim() != 2 or categories.shape[1] != len(self.sizes):
            raise ValueError(f"categories must have shape (B, {len(self.sizes)}); received {tuple(categories.shape)}")
        return self.table(categories + self.offsets).flatten(1)


def static_features(embedding: nn.Embedding | None, categories: CategoryEmbedding | None,
                    static: Tensor | None) -> list[Tensor]:
    """A network's static inputs of a batch: [id embedding (B, E)] and [categories (B, S · D)],
    each where the network has it; static is (B,) indices or (B, 1 + S) (see `PanelInputs`)."""
    parts = []
    if embedding is not None:
        parts.append(embedding(static if static.dim() == 1 else static[:, 0]))
    if categories is not None:
        if static is None or static.dim() != 2:
            shown = None if static is None else tuple(static.shape)
            raise ValueError(f"static must have shape (B, 1 + {len(categories.sizes)}): the series index, then "
                             f"each static column's category; received {shown}")
        parts.append(categories(static[:, 1:]))
    return parts


def category_embedding(sizes, dim: int) -> CategoryEmbedding | None:
    """The networks' embedding of static columns of `sizes` categories (None without columns or dim 0)."""
    return CategoryEmbedding(sizes, dim) if len(tuple(sizes)) and dim else None


class PanelNetwork(nn.Module):
    """The direct multi-step forecaster (MQ-RNN): an rnnlab encoder over the window, then one linear
    head from [h_W, embeddings, future_1 … future_h] to every step's K raw outputs.

    statics and embedding_dim size the id embedding (nn.Embedding(statics, embedding_dim), none
    unless both are given); categories and category_dim the static columns' (`CategoryEmbedding`).

    Shape: values (B, W, past_features), future (B, h, future_features), static (B,) or (B, 1 + S)
    → (B, h, K).
    """

    def __init__(self, horizon: int, outputs: int, *, cell: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, dropout: float = 0.0, past_features: int = 2, future_features: int = 0,
                 statics: int = 0, embedding_dim: int = 0, categories=(), category_dim: int = 0) -> None:
        super().__init__()
        self.horizon, self.outputs, self.future_features = horizon, outputs, future_features
        self.encoder = ENCODERS[cell](past_features, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0)
        self.embedding = nn.Embedding(statics, embedding_dim) if statics and embedding_dim else None
        self.categories = category_embedding(categories, category_dim)
        width = (hidden_size + (embedding_dim if self.embedding is not None else 0) + horizon * future_features
                 + (self.categories.width if self.categories is not None else 0))
        self.head = nn.Linear(width, horizon * outputs)

    def forward(self, values: Tensor, future: Tensor | None = None, static: Tensor | None = None) -> Tensor:
        _, final = self.encoder(values)
        h_n = final.h if isinstance(final, LSTMState) else final  # (L, B, H)
        parts = [h_n[-1], *static_features(self.embedding, self.categories, static)]
        if self.future_features:
            parts.append(future.flatten(1))  # (B, h · F)
        raw = self.head(torch.cat(parts, dim=-1))
        return raw.unflatten(-1, (self.horizon, self.outputs))  # (B, h, K)


class PanelModel(nn.Module):
    """The members of a forecaster (one, or an ensemble over seeds) and how they forecast.

    Each member is a `PanelNetwork` or an `AutoregressiveNetwork`, trained together from its own
    initial weights on the same windows. An autoregressive member is teacher-forced when the
    inputs carry the teacher, and otherwise feeds back its own point forecast, `output.point`.

    Shape: PanelInputs of B windows → raw (M, B, h, K) for M members.
    """

    def __init__(self, members: list[nn.Module], output, autoregressive: bool = False) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.output, self.autoregressive = output, autoregressive

    def forward(self, inputs: PanelInputs) -> Tensor:
        return torch.stack([self._member(member, inputs) for member in self.members])

    def _member(self, member: nn.Module, inputs: PanelInputs) -> Tensor:
        if not self.autoregressive:
            return member(inputs.values, inputs.future, inputs.static)
        if inputs.teacher is not None:
            return member(inputs.values, inputs.future, inputs.static, teacher=inputs.teacher)
        level = inputs.level
        return member(inputs.values, inputs.future, inputs.static,
                      feedback=lambda raw: self.output.point(raw, None if level is None else level[:, None]))
