"""One recurrent forecaster for many series: windows sampled across a panel, quantiles out.

A global model, as the field's deep forecasters are (DeepAR, MQ-RNN, N-BEATS, ES-RNN): one
network is trained on windows cut from every series of a panel, each window normalised by its own
level, so that a series of thousands and one of tens are the same problem to it.

    level  = mean of the window's last k known values        k = max(season, 1)
    z_t    = log(y_t / level)      (or y_t / level − 1 when a series has values ≤ 0)
    x_t    = [z_t, known_t]        known_t = 0 where the window reaches before the series' start
    e      = h_n of the encoder over x_1 … x_W                (B, H)
    q      = head(e)  →  (B, horizon, Q)   the quantiles τ_1 < … < τ_Q of z at each future step,
             made non-crossing: q_median, then q_median ± cumulative softplus steps
    loss   = pinball loss averaged over steps and quantiles: Σ_τ max(τ (z − q_τ), (τ − 1)(z − q_τ))

The forecast of a series is the median quantile mapped back (ŷ = level · exp(q) or level · (1 + q)),
and its quantiles give prediction intervals; the log map keeps every quantile positive for
positive series and turns the median in z into the median in y.

Training: each epoch draws `steps_per_epoch × batch_size` windows, a series uniformly, then a cut
uniformly among that series' cuts (as N-BEATS samples), so that long series do not outweigh short
ones. The last `horizon` values of each series are held out to choose the best epoch (early
stopping); the forecast then reads the whole series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnlab.cells.lstm import LSTMState
from rnnlab.tasks.parts import ENCODERS, check_cell
from rnnlab.train import Trainer, TrainerOptions

DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


@dataclass(frozen=True)
class PanelSettings:
    """How the global forecaster is built and trained.

    Attributes:
        cell: "rnn", "lstm" or "gru".
        hidden_size, num_layers, dropout: the encoder's.
        window: input steps per window; None: `window_factor × horizon`, at least 2 × season.
        window_factor: see `window`.
        quantiles: the levels τ the head predicts, strictly increasing in (0, 1), 0.5 among them.
        transform: "log", "linear" or "auto" (log when every value of every series is > 0).
        epochs, steps_per_epoch, batch_size, learning_rate, patience: training.
        min_known: the fewest known values an input window may have.
        seed: seeds the initial weights and the windows drawn.
    """

    cell: str = "lstm"
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    window: int | None = None
    window_factor: float = 3.0
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES
    transform: str = "auto"
    epochs: int = 30
    steps_per_epoch: int = 50
    batch_size: int = 256
    learning_rate: float = 3e-3
    patience: int = 5
    min_known: int = 3
    seed: int = 0

    def checked(self) -> PanelSettings:
        check_cell(self.cell)
        quantiles = tuple(float(q) for q in self.quantiles)
        if not quantiles or any(not 0 < q < 1 for q in quantiles) or list(quantiles) != sorted(set(quantiles)):
            raise ValueError(f"quantiles must be strictly increasing levels in (0, 1); received {self.quantiles!r}")
        if 0.5 not in quantiles:
            raise ValueError(f"quantiles must include 0.5 (the point forecast is the median); received {quantiles!r}")
        if self.transform not in ("auto", "log", "linear"):
            raise ValueError(f"transform must be 'auto', 'log' or 'linear'; received {self.transform!r}")
        for name in ("hidden_size", "num_layers", "epochs", "steps_per_epoch", "batch_size", "min_known"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; received {value!r}")
        if self.window is not None and (isinstance(self.window, bool) or not isinstance(self.window, int)
                                        or self.window < 1):
            raise ValueError(f"window must be a positive integer or None; received {self.window!r}")
        return self


class PanelNetwork(nn.Module):
    """An rnnlab encoder over (z_t, known_t) windows and a head to non-crossing quantiles.

    Shape: xs (B, W, 2) → (B, horizon, Q).
    """

    def __init__(self, horizon: int, quantiles: Sequence[float], *, cell: str = "lstm", hidden_size: int = 64,
                 num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.horizon, self.quantiles = horizon, tuple(quantiles)
        self.median = self.quantiles.index(0.5)
        self.encoder = ENCODERS[cell](2, hidden_size, num_layers=num_layers, batch_first=True,
                                      dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, horizon * len(self.quantiles))

    def forward(self, xs: Tensor) -> Tensor:
        _, final = self.encoder(xs)
        h_n = final.h if isinstance(final, LSTMState) else final  # (L, B, H)
        raw = self.head(h_n[-1]).reshape(xs.shape[0], self.horizon, len(self.quantiles))  # (B, h, Q)
        return monotone_quantiles(raw, self.median)


def monotone_quantiles(raw: Tensor, median: int) -> Tensor:
    """Quantiles that never cross: raw[..., median] is the median, and the others step away from it
    by softplus increments (each > 0), upwards above it and downwards below it. (…, Q) → (…, Q)."""
    centre = raw[..., median:median + 1]
    above = centre + torch.cumsum(F.softplus(raw[..., median + 1:]), dim=-1)
    below = centre - torch.cumsum(F.softplus(raw[..., :median]).flip(-1), dim=-1).flip(-1)
    return torch.cat([below, centre, above], dim=-1)


def pinball_loss(predicted: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball (quantile) loss: predicted (B, h, Q), target (B, h), quantiles (Q,)."""
    error = target.unsqueeze(-1) - predicted  # (B, h, Q)
    return torch.maximum(quantiles * error, (quantiles - 1) * error).mean()


class Windows:
    """Every series of a panel left-padded into one matrix, so that windows are cut by indexing.

    padded (N, pad + L_max): series i sits at the right end of row i; NaN before its start.
    """

    def __init__(self, series: Sequence[np.ndarray], window: int, horizon: int, season: int, log: bool) -> None:
        self.window, self.horizon, self.log = window, horizon, log
        self.level_steps = max(season, 1)
        self.lengths = np.array([len(s) for s in series])
        width = window + int(self.lengths.max())
        self.padded = np.full((len(series), width), np.nan)
        for row, values in enumerate(series):
            self.padded[row, width - len(values):] = values
        self.offsets = width - self.lengths  # column of each series' first value

    def cut(self, rows: np.ndarray, ends: np.ndarray, with_targets: bool = True):
        """Inputs (B, W, 2), targets (B, h) in z units or None, and levels (B,), for windows that
        end (exclusive) at position `ends` of series `rows` (in the series' own indices)."""
        starts = self.offsets[rows] + ends - self.window  # (B,)
        columns = starts[:, None] + np.arange(self.window)  # (B, W)
        values = self.padded[rows[:, None], columns]  # (B, W)
        known = ~np.isnan(values)
        level = np.nanmean(values[:, -self.level_steps:], axis=1)
        level = np.where(np.isfinite(level) & (level != 0), level, 1.0)
        z = self.to_z(values, level[:, None])
        inputs = np.stack([np.where(known, z, 0.0), known.astype(float)], axis=-1)
        targets = None
        if with_targets:
            target_columns = (self.offsets[rows] + ends)[:, None] + np.arange(self.horizon)
            targets = self.to_z(self.padded[rows[:, None], target_columns], level[:, None])
        return inputs, targets, level

    def to_z(self, values: np.ndarray, level: np.ndarray) -> np.ndarray:
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.log(values / level)
        return values / level - 1.0

    def from_z(self, z: np.ndarray, level: np.ndarray) -> np.ndarray:
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


@dataclass
class PanelForecaster:
    """A fitted global forecaster: `predict(series)` gives the quantiles after each series' end."""

    network: PanelNetwork
    settings: PanelSettings
    horizon: int
    season: int
    window: int
    log: bool
    history: list = field(default_factory=list)

    def predict_quantiles(self, series: Sequence[np.ndarray]) -> np.ndarray:
        """(N, horizon, Q) quantile forecasts of the `horizon` steps after each series' end."""
        windows = Windows([np.asarray(s, dtype=np.float64) for s in series], self.window, self.horizon,
                          self.season, self.log)
        rows = np.arange(len(series))
        inputs, _, level = windows.cut(rows, windows.lengths, with_targets=False)
        self.network.eval()
        with torch.no_grad():
            z = self.network(torch.as_tensor(inputs, dtype=torch.float32)).double().numpy()  # (N, h, Q)
        return windows.from_z(z, level[:, None, None])

    def predict(self, series: Sequence[np.ndarray]) -> np.ndarray:
        """(N, horizon) median forecasts."""
        return self.predict_quantiles(series)[..., self.network.median]


def fit_panel(series: Sequence[np.ndarray], horizon: int, season: int = 1,
              settings: PanelSettings | None = None) -> PanelForecaster:
    """Trains one forecaster on every series of a panel (each a 1-D array of its target's values).

    A series shorter than `min_known + horizon` (or than `min_known + 2·horizon` when there is
    validation) trains on no window, but is forecast like the others.

    Raises:
        ValueError: an empty series or one with a non-finite value (named by index), no series long
            enough to train on, or values ≤ 0 with transform="log".
    """
    settings = (settings or PanelSettings()).checked()
    series = [np.asarray(s, dtype=np.float64).reshape(-1) for s in series]
    if not series:
        raise ValueError("series must hold at least one series; received none")
    for index, values in enumerate(series):
        if not np.isfinite(values).all():
            raise ValueError(f"series[{index}] holds a NaN or infinite value")
        if len(values) == 0:
            raise ValueError(f"series[{index}] is empty; a forecast starts from at least one value")
    if max(len(values) for values in series) < settings.min_known + horizon:
        raise ValueError(f"every series is shorter than min_known + horizon = {settings.min_known + horizon} values, "
                         f"so no window can be trained on; the longest has {max(len(v) for v in series)}")
    positive = all((values > 0).all() for values in series)
    if settings.transform == "log" and not positive:
        raise ValueError("transform='log' needs every value > 0; received a series with values <= 0")
    log = positive if settings.transform == "auto" else settings.transform == "log"
    window = settings.window or max(int(round(settings.window_factor * horizon)), 2 * season, settings.min_known)

    torch.manual_seed(settings.seed)
    network = PanelNetwork(horizon, settings.quantiles, cell=settings.cell, hidden_size=settings.hidden_size,
                           num_layers=settings.num_layers, dropout=settings.dropout)
    windows = Windows(series, window, horizon, season, log)
    first_end, last_end, trainable, validate = training_cuts(windows.lengths, horizon, settings.min_known)
    quantiles = torch.tensor(settings.quantiles)

    def train_batches(epoch: int, generator: torch.Generator):
        draws = settings.steps_per_epoch * settings.batch_size
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
        rng = np.random.default_rng(seed)
        rows = trainable[rng.integers(0, trainable.size, draws)]
        ends = first_end + (rng.random(draws) * (last_end[rows] - first_end + 1)).astype(int)
        inputs, targets, _ = windows.cut(rows, ends)
        inputs, targets = torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(targets, dtype=torch.float32)
        return [(inputs[i:i + settings.batch_size], targets[i:i + settings.batch_size])
                for i in range(0, draws, settings.batch_size)]

    validation = None
    if validate:
        rows = np.flatnonzero(windows.lengths - horizon >= settings.min_known)  # each holds min_known before its last horizon
        inputs, targets, _ = windows.cut(rows, windows.lengths[rows] - horizon)
        validation = [(torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(targets, dtype=torch.float32))]

    options = TrainerOptions(optimizer="adam", learning_rate=settings.learning_rate, epochs=settings.epochs,
                             early_stopping_patience=settings.patience if validate else 0, grad_clip_norm=1.0,
                             seed=settings.seed)
    trainer = Trainer(network, lambda predicted, target: pinball_loss(predicted, target, quantiles), options,
                      quiet=True)
    result = trainer.fit(train_batches, (lambda: validation) if validate else None)
    return PanelForecaster(network.eval(), settings, horizon, season, window, log, list(result.history))


def forecast_panel(train: Sequence[np.ndarray], horizon: int, season: int = 1, seed: int = 0,
                   **settings) -> np.ndarray:
    """The median forecasts (N, horizon) of one global model fitted on `train` (see `fit_panel`)."""
    fitted = fit_panel(train, horizon, season, PanelSettings(seed=seed, **settings))
    return fitted.predict(train)
