"""Forecasting many series with one model, as a task: a long table → windows across series → quantiles.

The data is a long table (`rnnlab.data.panel.read_panel`: a series id, a timestamp, the target and
covariates per row) from a CSV file or a DataFrame, a `Panel`, or a list of 1-D arrays. With
`holdout` (the default) each series' last `horizon` values are the test span, scored after
training as the forecasting competitions score (MASE and sMAPE beside the naive and seasonal-naive
forecasts; weighted quantile loss, MSIS and the 90% interval's coverage for the model), and the
`horizon` before them choose the best epoch; without it, every value is trained on but the last
`horizon`, which choose the epoch and are scored.

Features per input step are [z, known, past covariates, future covariates] and per future step
the future covariates (`rnnlab.tasks.forecast.panel`): calendar features of the timestamps (when
`calendar`), and the user's columns, each standardised by its series' own mean and spread over
the observed steps. Future covariates must be known for the horizon: in the data for its own
steps, and in `future` to forecast past a series' end. Static columns (`static_covariates`: one
category per series, a store's type) are embedded, each with `static_embedding` features, and fed
to the head (or to every decoder step) beside the optional id embedding; their categories are
fitted with the run, and one never seen is refused at predict time.

A run directory holds, beside the pipeline's files, predictions.csv (each series' test span with
the forecast, its quantiles and both baselines) and forecast.png (a few series with their intervals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.frames import name_of, quoted
from rnnlab.data.frequency import calendar_feature_names, calendar_features, format_time, future_times, parse_freq
from rnnlab.data.panel import Panel, check_lengths, read_panel
from rnnlab.data.series import FILL_MODES
from rnnlab.metrics import probabilistic
from rnnlab.metrics.regression import smape
from rnnlab.report.atomic import write_text
from rnnlab.report.html import Section, Table
from rnnlab.report.plots import plot_panel_forecast
from rnnlab.tasks.api import Graph, Headline, Outputs, Probe, RunConfig, SavedState, Task
from rnnlab.tasks.forecast.likelihood import OUTPUTS, make_output
from rnnlab.tasks.forecast.outputs import DEFAULT_QUANTILES, check_levels
from rnnlab.tasks.forecast.panel import Cut, PanelInputs, PanelModel, PanelNetwork, Windows, draw_cuts, training_cuts

# A frequency's season and, as the M4 competition set them, its horizon (pandas' base aliases).
SEASONS = {"YS": 1, "YE": 1, "QS": 4, "QE": 4, "MS": 12, "ME": 12, "W": 52, "D": 7, "B": 5, "h": 24}
HORIZONS = {"YS": 6, "YE": 6, "QS": 8, "QE": 8, "MS": 18, "ME": 18, "W": 13, "D": 14, "B": 14, "h": 48}
OTHER_HORIZON = 8  # M3's and M4's "other" series, and integer steps
METRICS = ("mase", "smape", "wql", "coverage_90", "msis")
BASELINES = ("naive", "seasonal_naive")


def default_season(freq) -> int:
    """The season of a frequency alias (1 where there is none: yearly, integer steps, multiples, minutes)."""
    if not isinstance(freq, str):
        return 1
    count, base = parse_freq(freq)
    return SEASONS.get(base, 1) if count == 1 else 1


def default_horizon(freq) -> int:
    return HORIZONS.get(parse_freq(freq)[1], OTHER_HORIZON) if isinstance(freq, str) else OTHER_HORIZON


@dataclass(frozen=True)
class PanelConfig(RunConfig):
    """Everything a panel forecast depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("steps_per_epoch", "min_known", "ensemble")
    DATA = ("data", "id_column", "time_column", "target", "future_covariates", "past_covariates", "static_covariates",
            "fill")

    # GRU: on the tuning suite (benchmarks/panel_tuning.py: M1 and Tourism, M3 kept out) it beat the
    # LSTM on 5 of 6 panels, geometric-mean MASE 0.972 of the LSTM's; M3 confirmed it afterwards
    model: str = field(default="gru", metadata={"choices": ["rnn", "lstm", "gru"], "help": "recurrent cell"})
    batch_size: int = field(default=256, metadata={"help": "windows per batch"})
    epochs: int = field(default=30, metadata={"help": "epochs of steps_per_epoch batches (early stopping may end sooner)"})
    patience: int = field(default=5, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    data: str | None = field(default=None, metadata={"type": str, "help": "a CSV file in long format: one row per "
                                                     "series and time step"})
    id_column: str = field(default="unique_id", metadata={"help": "the series id column"})
    time_column: str = field(default="ds", metadata={"help": "the timestamp column (dates or integer steps)"})
    target: str = field(default="y", metadata={"help": "the column to forecast"})
    future_covariates: str | None = field(default=None, metadata={"type": str, "help": "comma-separated columns "
                                                                  "known in advance (needed for the horizon too)"})
    past_covariates: str | None = field(default=None, metadata={"type": str, "help": "comma-separated columns "
                                                                "known only up to now"})
    static_covariates: str | None = field(default=None, metadata={"type": str, "help": "comma-separated columns "
                                                                  "holding one category per series (a store's "
                                                                  "type), each learnt as an embedding"})
    fill: str | None = field(default=None, metadata={"type": str, "choices": list(FILL_MODES),
                                                     "help": "how to fill missing values (default: an error)"})
    horizon: int | None = field(default=None, metadata={"type": int, "help": "steps forecast (default: by frequency, "
                                                        "as M4: yearly 6, quarterly 8, monthly 18, weekly 13, daily 14, "
                                                        "hourly 48, else 8)"})
    season: int | None = field(default=None, metadata={"type": int, "help": "seasonal period (default: by frequency: "
                                                       "monthly 12, quarterly 4, weekly 52, daily 7, hourly 24, else 1)"})
    window: int | None = field(default=None, metadata={"type": int, "help": "input steps per window (default: "
                                                       "window_factor × horizon, at least 2 × season)"})
    window_factor: float = field(default=3.0, metadata={"help": "the default window in horizons"})
    likelihood: str = field(default="quantile", metadata={"choices": list(OUTPUTS), "help": "what the network "
                                                          "predicts: quantiles (pinball loss) or a distribution's "
                                                          "parameters (negative log-likelihood)"})
    quantiles: str = field(default=",".join(str(q) for q in DEFAULT_QUANTILES),
                           metadata={"help": "comma-separated quantile levels forecast (0.5 among them)"})
    decoder: str = field(default="direct", metadata={"choices": ["direct", "autoregressive"],
                                                     "help": "all steps at once (MQ-RNN) or step by step (DeepAR)"})
    transform: str = field(default="auto", metadata={"choices": ["auto", "log", "linear"],
                                                     "help": "z = log(y/level) or y/level − 1; auto: log if every "
                                                             "value is positive"})
    spread: bool = field(default=False, metadata={"help": "also divide each window's z by its mean absolute step, "
                                                          "so quiet and volatile series train at one scale"})
    calendar: bool = field(default=True, metadata={"help": "calendar features of the timestamps as future covariates"})
    id_embedding: int = field(default=0, metadata={"help": "size of a learnt embedding of each series' id (0: none)"})
    static_embedding: int = field(default=4, metadata={"help": "size of the learnt embedding of each static "
                                                               "column's categories"})
    ensemble: int = field(default=1, metadata={"help": "networks trained from different initial weights; the "
                                                       "forecast is their median"})
    steps_per_epoch: int = field(default=50, metadata={"help": "batches per epoch, drawn across series"})
    min_known: int = field(default=3, metadata={"help": "the fewest known values an input window may have"})
    holdout: bool = field(default=True, metadata={"help": "hold each series' last horizon out as the test span"})

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("horizon", "season", "window"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None; received {value!r}")
        if not self.window_factor > 0:
            raise ValueError(f"window_factor must be > 0; received {self.window_factor!r}")
        if self.id_embedding < 0:
            raise ValueError(f"id_embedding must be >= 0; received {self.id_embedding!r}")
        if self.static_embedding < 1:
            raise ValueError(f"static_embedding must be >= 1; received {self.static_embedding!r}")
        if self.bidirectional:
            raise ValueError("bidirectional must be False: a forecast reads its window forwards, up to now; "
                             "received True")
        if self.likelihood == "negative_binomial" and self.spread:
            raise ValueError("likelihood 'negative_binomial' models counts around each window's level, which spread "
                             "scaling would change; received spread=True")
        if self.likelihood == "negative_binomial" and self.transform == "log":
            raise ValueError("likelihood 'negative_binomial' models counts in linear units; use transform 'auto' or "
                             "'linear'; received transform 'log'")
        if 0.5 not in self.levels:
            raise ValueError(f"quantiles must include 0.5 (the point forecast is the median); received "
                             f"{self.quantiles!r}")

    @property
    def levels(self) -> tuple[float, ...]:
        return check_levels(self.quantiles.split(","), "quantiles")

    def covariates(self, name: str) -> list[str]:
        value = getattr(self, name)
        return [] if value is None else [c.strip() for c in value.split(",") if c.strip()]


class Prepared(NamedTuple):
    """A panel made ready: the training windows, and the test span when there is one."""

    panel: Panel
    windows: Windows              # the training part of every series (all but the test span)
    static: np.ndarray            # (N,) each series' index for the id embedding, or (N, 1 + S) (`PanelTask.static`)
    test: np.ndarray | None       # (N, h) each series' test span, or None without holdout
    cuts: tuple                   # training_cuts(...) of the training part


class PanelTask(Task):
    name = "forecast-panel"
    help = "forecast many series of a long table with one model (quantiles, intervals)"
    config_class = PanelConfig
    headline = Headline("mase", False, "seasonal_naive")

    def __init__(self, config: PanelConfig) -> None:
        super().__init__(config)
        self.output = make_output(config.likelihood, config.levels)
        self.freq: str | None = None
        self.step: int | None = None
        self.horizon = self.season = self.window = None
        self.log: bool | None = None
        self.ids: list[str] | None = None
        self.categories: dict[str, list[str]] = {}  # each static column's categories, as fitted

    # --- the fitted state --------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"freq": self.freq, "step": self.step, "horizon": self.horizon, "season": self.season,
                "window": self.window, "log": self.log, "ids": list(self.ids),
                "categories": {name: list(values) for name, values in self.categories.items()}}

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        self.freq = None if state.value("freq") is None else state.string("freq")
        if self.freq is not None:
            state.parse("freq", parse_freq)
        self.step = None if state.value("step") is None else state.integer("step", minimum=1)
        self.horizon = state.integer("horizon", minimum=1)
        self.season = state.integer("season", minimum=1)
        self.window = state.integer("window", minimum=1)
        self.log = state.boolean("log")
        self.ids = state.strings("ids")
        # runs saved before static columns existed have no "categories"
        categories = state.object("categories") if state.has("categories") else None
        self.categories = {} if categories is None else {
            name: categories.strings(name) for name in self.config.covariates("static_covariates")}

    # --- reading -------------------------------------------------------------------------------------

    def read(self, data: Any, argument: str = "data") -> Panel:
        config = self.config
        if isinstance(data, Panel):
            panel = data
        elif isinstance(data, (list, tuple)) or (isinstance(data, np.ndarray) and data.ndim == 2):
            panel = Panel.from_arrays(data)
        else:
            panel = read_panel(data, id_column=config.id_column, time_column=config.time_column, target=config.target,
                               covariates=config.covariates("future_covariates") + config.covariates("past_covariates"),
                               static=config.covariates("static_covariates"), fill=config.fill)
        missing = [c for c in config.covariates("future_covariates") + config.covariates("past_covariates")
                   if c not in panel.covariates]
        missing += [c for c in config.covariates("static_covariates") if c not in panel.statics]
        if missing:
            raise DataError(f"{argument} {quoted(data)} has no covariate column {missing[0]!r}")
        if self.ids is not None:
            kind = "integer steps" if self.freq is None else f"frequency {self.freq!r}"
            if (panel.freq or None) != self.freq:
                raise DataError(f"{argument} {quoted(data)} has frequency {panel.freq!r}; the run was trained on {kind}")
            if self.config.id_embedding:
                unknown = [i for i in panel.ids if i not in self.ids]
                if unknown:
                    raise DataError(f"{argument} {quoted(data)}: series {unknown[0]!r} was not among the series the "
                                    "run was trained on, and its id embedding knows only those")
            for name, known in self.categories.items():
                unseen = next(((i, c) for i, c in zip(panel.ids, panel.statics[name]) if c not in known), None)
                if unseen is not None:
                    raise DataError(f"{argument} {quoted(data)}: series {unseen[0]!r} has {name} {unseen[1]!r}, a "
                                    f"category the run never saw; it knows {known[:10]}")
        return panel

    def _resolve(self, panel: Panel) -> None:
        """Fits the run's shape to the panel: its frequency, horizon, season, window and transform."""
        config = self.config
        self.freq, self.step = panel.freq, panel.step
        self.horizon = config.horizon or default_horizon(panel.freq)
        self.season = config.season or default_season(panel.freq)
        self.window = config.window or max(int(round(config.window_factor * self.horizon)), 2 * self.season,
                                           config.min_known)
        positive = all((values > 0).all() for values in panel.values)
        if config.transform == "log" and not positive:
            bad = next(i for i, values in zip(panel.ids, panel.values) if not (values > 0).all())
            raise DataError(f"transform='log' needs every value > 0; series {bad!r} has values <= 0")
        self.log = positive if config.transform == "auto" else config.transform == "log"
        if config.likelihood == "negative_binomial":
            self.log = False
            bad = next((i for i, v in zip(panel.ids, panel.values) if (v < 0).any() or (v != np.round(v)).any()), None)
            if bad is not None:
                raise DataError(f"likelihood 'negative_binomial' models counts; series {bad!r} has a value that is "
                                "not a whole number >= 0")
        self.ids = list(panel.ids)
        self.categories = {name: sorted(set(panel.statics[name])) for name in config.covariates("static_covariates")}

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        if validation_data is not None:
            raise ValueError("a panel forecast validates on each series' last horizon before the test span; "
                             f"received validation_data of type {type(validation_data).__name__}")
        panel = self.read(data)
        if self.ids is None:
            self._resolve(panel)
        config = self.config
        if config.holdout:  # every series is scored on its last horizon, so each needs one, and values before it
            check_lengths(panel, config.min_known + 2 * self.horizon, f"min_known + horizon + the held-out horizon "
                                                                     f"({config.min_known} + {self.horizon} + "
                                                                     f"{self.horizon})")
        else:  # every series is forecast from its values; a series too short for a training window trains on none
            check_lengths(panel, config.min_known, f"min_known ({config.min_known})")
        held = self.horizon if config.holdout else 0
        ends = panel.lengths() - held
        cuts = training_cuts(ends, self.horizon, config.min_known)
        if not cuts[2].size:
            longest = int(np.argmax(ends))
            raise DataError(f"no series is long enough to train on: a training window needs min_known + horizon "
                            f"({config.min_known} + {self.horizon}) values; the longest, {panel.ids[longest]!r}, has "
                            f"{ends[longest]}")
        windows = self.windows(panel, ends, argument="data")
        test = np.stack([v[-held:] for v in panel.values]) if held else None
        return Prepared(panel, windows, self.static(panel), test, cuts)

    def static(self, panel: Panel) -> np.ndarray:
        """Each series' index in the id embedding (0 without one): (N,); with static columns,
        (N, 1 + S): the index, then each column's category index."""
        def codes(known: list[str], values) -> list[int]:  # one dict per call: list.index would be O(N) a lookup
            position = {value: k for k, value in enumerate(known)}
            return [position[v] for v in values]
        index = (np.array(codes(self.ids, panel.ids), dtype=np.int64) if self.config.id_embedding
                 else np.zeros(len(panel), dtype=np.int64))
        if not self.categories:
            return index
        columns = [codes(known, panel.statics[name]) for name, known in self.categories.items()]
        return np.column_stack([index, *columns]).astype(np.int64)

    def windows(self, panel: Panel, ends: np.ndarray, future: Panel | None = None, argument: str = "data",
                forecast: bool = False) -> Windows:
        """Windows over each series' first `ends[i]` values, with the covariates' features (the
        future ones for the horizon after each end, from the panel or from `future`). To `forecast`
        past an end, the horizon's future covariates must be known; training never reads them."""
        config, horizon = self.config, self.horizon
        if forecast:
            check_lengths(panel, config.min_known, f"min_known ({config.min_known})")
        past_names, future_names = config.covariates("past_covariates"), config.covariates("future_covariates")
        values = [v[:end] for v, end in zip(panel.values, ends)]
        past, ahead = [], []
        for i, end in enumerate(ends):
            observed = slice(0, end)
            past.append(_standardised([panel.covariates[n][i] for n in past_names], observed, end))
            columns = [_calendar(panel.times[i], end, horizon, self.freq, self.step)] if config.calendar else []
            if future_names:
                known = [np.asarray(panel.covariates[n][i], dtype=np.float64) for n in future_names]
                if future is not None:
                    known = self._future_values(panel, i, future, future_names, known, end, argument)
                elif forecast and len(known[0]) < end + horizon:
                    raise DataError(f"{argument}: series {panel.ids[i]!r} needs its future covariates "
                                    f"{future_names} for the {horizon} steps after its end; pass them as future=")
                columns.append(_standardised(known, observed, end + horizon))
            ahead.append(np.concatenate(columns, axis=1) if columns else np.zeros((end + horizon, 0)))
        return Windows(values, self.window, horizon, self.season, self.log, past=past if past_names else None,
                       future=ahead if self.features()[1] else None, spread=config.spread)

    def _calendar_count(self) -> int:
        return len(calendar_feature_names(self.freq if self.freq is not None else self.step))

    def features(self) -> tuple[int, int]:
        """(features per input step, features per future step) of the network's inputs."""
        config = self.config
        future = self._calendar_count() * config.calendar + len(config.covariates("future_covariates"))
        return 2 + len(config.covariates("past_covariates")) + future, future

    def _future_values(self, panel: Panel, i: int, future: Panel, names: list[str], known: list[np.ndarray],
                       end: int, argument: str) -> list[np.ndarray]:
        """The series' known values followed by the horizon's from `future`, checked by timestamp."""
        id, expected = panel.ids[i], self.future_times(panel.times[i][end - 1])
        if id not in future.ids:
            raise DataError(f"future: series {id!r} has no rows; it needs {names} for the {self.horizon} steps after "
                            f"its end ({format_time(expected[0])} to {format_time(expected[-1])})")
        k = future.position(id)
        at = {int(t): row for row, t in enumerate(future.times[k].astype(np.int64))}
        rows = []
        for t in expected:
            if int(t.astype(np.int64)) not in at:
                raise DataError(f"future: series {id!r} lacks its future covariates {names} for {format_time(t)}")
            rows.append(at[int(t.astype(np.int64))])
        given = {names[0]: future.values[k], **{n: future.covariates[n][k] for n in names[1:]}}
        return [np.concatenate([column[:end], given[n][rows]]) for n, column in zip(names, known)]

    def future_times(self, last) -> np.ndarray:
        return future_times(last, self.freq if self.freq is not None else self.step, self.horizon)

    # --- training ------------------------------------------------------------------------------------

    def build_model(self) -> PanelModel:
        from rnnlab.tasks.forecast.decoder import AutoregressiveNetwork

        config = self.config
        network = AutoregressiveNetwork if config.decoder == "autoregressive" else PanelNetwork
        past, future = self.features()
        members = [network(self.horizon, self.output.outputs, cell=config.model, hidden_size=config.hidden_size,
                           num_layers=config.num_layers, dropout=config.dropout, past_features=past,
                           future_features=future, statics=len(self.ids) if config.id_embedding else 0,
                           embedding_dim=config.id_embedding,
                           categories=tuple(len(known) for known in self.categories.values()),
                           category_dim=config.static_embedding) for _ in range(config.ensemble)]
        return PanelModel(members, self.output, autoregressive=config.decoder == "autoregressive")

    def loss(self, raw: torch.Tensor, targets: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        z, level = targets  # (B, h), (B,)
        return torch.stack([self.output.loss(member, z, level[:, None]) for member in raw]).mean()

    def _batch(self, cut: Cut, static: np.ndarray, teacher: bool):
        inputs = cut.inputs(teacher=teacher and self.config.decoder == "autoregressive")
        inputs = inputs._replace(static=torch.as_tensor(static[cut.rows], dtype=torch.int64))
        return inputs, (torch.as_tensor(cut.targets, dtype=torch.float32), inputs.level)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        config = self.config
        first_end, last_end, rows, _ = prepared.cuts
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,), generator=generator)))
        for _ in range(config.steps_per_epoch):
            chosen, ends = draw_cuts(rows, first_end, last_end, config.batch_size, rng)
            yield self._batch(prepared.windows.cut(chosen, ends), prepared.static, teacher=True)

    def val_batches(self, prepared: Prepared):
        first_end, _, _, validate = prepared.cuts
        if not validate:
            return None
        windows = prepared.windows
        rows = np.flatnonzero(windows.lengths - self.horizon >= first_end)
        return [self._batch(windows.cut(rows, windows.lengths[rows] - self.horizon), prepared.static, teacher=False)]

    # --- forecasts in the series' units ------------------------------------------------------------

    def _cuts(self, model: PanelModel, windows: Windows, static: np.ndarray, chunk: int = 2048):
        """The windows that end at each series' end, chunk by chunk: yields (cut, inputs on the model's device)."""
        device = next(model.parameters()).device
        ends = windows.lengths
        for start in range(0, len(ends), chunk):
            rows = np.arange(start, min(start + chunk, len(ends)))
            cut = windows.cut(rows, ends[rows], with_targets=False)
            inputs, _ = self._batch(cut._replace(targets=np.zeros((len(rows), self.horizon))), static, teacher=False)
            yield cut, PanelInputs(*(None if t is None else t.to(device) for t in inputs))

    def quantiles(self, model: PanelModel, windows: Windows, static: np.ndarray, levels=None) -> np.ndarray:
        """(N, h, Q) quantiles after each series' end in its units: the median over members of each
        member's quantiles."""
        levels = self.config.levels if levels is None else check_levels(levels, "levels")
        model.eval()
        parts = []
        for cut, inputs in self._cuts(model, windows, static):
            with torch.no_grad():
                raw = model(inputs).double().cpu()  # (M, B, h, K)
            level = torch.as_tensor(cut.level, dtype=torch.float64)[:, None]
            z = torch.stack([self.output.quantiles(member, levels, level) for member in raw]).median(dim=0).values
            parts.append(windows.from_z(z.numpy(), cut.level[:, None, None], _spread(cut)[:, None, None]))
        return np.concatenate(parts)

    def samples(self, model: PanelModel, windows: Windows, static: np.ndarray, n: int, seed: int) -> np.ndarray:
        """(n, N, h) sample paths after each series' end, drawn evenly from the members. An
        autoregressive decoder feeds each draw back as the next step's input; the direct head's
        steps are drawn independently of each other."""
        generator = torch.Generator().manual_seed(seed)
        shares = [n // len(model.members) + (m < n % len(model.members)) for m in range(len(model.members))]
        model.eval()
        parts = []
        for cut, inputs in self._cuts(model, windows, static):
            level = inputs.level.double().cpu()[:, None]  # (B, 1)
            draws = []
            for member, share in zip(model.members, shares):
                if not share:
                    continue
                with torch.no_grad():
                    if model.autoregressive:
                        repeated = level.repeat(share, 1)  # sample_paths stacks the n copies of the batch
                        draws.append(member.sample_paths(
                            inputs.values, inputs.future, inputs.static,
                            lambda raw: self.output.sample(raw.double().cpu(), 1, generator, repeated)[0].to(raw),
                            share).double().cpu())
                    else:
                        raw = model._member(member, inputs).double().cpu()
                        draws.append(self.output.sample(raw, share, generator, level))
            parts.append(windows.from_z(torch.cat(draws).numpy(), cut.level[None, :, None], _spread(cut)[None, :, None]))
        return np.concatenate(parts, axis=1)

    # --- scoring -----------------------------------------------------------------------------------

    def score(self, model: PanelModel, prepared: Prepared) -> dict:
        """The model's and both baselines' forecasts of the test span (or, without holdout, of the
        validation span), with their metrics."""
        panel, horizon = prepared.panel, self.horizon
        if prepared.test is not None:  # the training windows end before the test span
            windows, static = prepared.windows, prepared.static
        else:  # the last horizon (what chose the epoch, not held out) forecast from the values before it,
            # for the series long enough to have both
            long = np.flatnonzero(panel.lengths() >= self.config.min_known + horizon)
            panel = panel if len(long) == len(panel) else panel.subset(long)
            windows, static = self.windows(panel, panel.lengths() - horizon), self.static(panel)
        history = [v[:-horizon] for v in panel.values]
        actual = np.stack([v[-horizon:] for v in panel.values])
        quantiles = self.quantiles(model, windows, static)
        span = "test" if prepared.test is not None else "validation"
        levels = self.config.levels
        median = quantiles[..., levels.index(0.5)]
        forecasts = {"model": median, "naive": np.stack([np.repeat(h[-1], horizon) for h in history]),
                     "seasonal_naive": np.stack([_seasonal_naive(h, self.season, horizon) for h in history])}
        metrics = {name: self._metrics(actual, f, history, quantiles if name == "model" else None)
                   for name, f in forecasts.items()}
        return {"span": span, "panel": panel, "actual": actual, "forecasts": forecasts, "quantiles": quantiles,
                "metrics": metrics}

    def _metrics(self, actual: np.ndarray, forecast: np.ndarray, history, quantiles) -> dict:
        scales = np.array([_scale(h, self.season) for h in history])
        defined = np.isfinite(scales)
        errors = np.abs(actual - forecast).mean(axis=1)
        result = {"mase": float(np.mean(errors[defined] / scales[defined])) if defined.any() else None,
                  "smape": smape(actual, forecast), "wql": None, "coverage_90": None, "msis": None}
        levels = self.config.levels
        if quantiles is not None:
            result["wql"] = probabilistic.weighted_quantile_loss(actual, quantiles, levels) if np.abs(
                actual).sum() > 0 else None
            if 0.05 in levels and 0.95 in levels:
                low, high = quantiles[..., levels.index(0.05)], quantiles[..., levels.index(0.95)]
                result["coverage_90"] = probabilistic.coverage(actual, low, high)
                if defined.any():  # each series scaled as its MASE is, by its own season (1 if too short)
                    result["msis"] = float(np.mean([
                        probabilistic.msis(actual[i:i + 1], low[i:i + 1], high[i:i + 1], train=[history[i]],
                                           season=_season_of(history[i], self.season), alpha=0.1)
                        for i in np.flatnonzero(defined)]))
        return result

    # --- outputs -----------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model, prepared: Prepared, evaluation: dict) -> Outputs:
        panel, levels = evaluation["panel"], self.config.levels  # the series scored
        quantile_names = [f"q{q:g}" for q in levels]
        lines = ["unique_id,ds,y,forecast," + ",".join(quantile_names) + ",naive,seasonal_naive"]
        horizon = self.horizon
        for i, id in enumerate(panel.ids):
            for step in range(horizon):
                when = panel.times[i][len(panel.values[i]) - horizon + step]
                cells = [evaluation["actual"][i, step], evaluation["forecasts"]["model"][i, step],
                         *evaluation["quantiles"][i, step], *(evaluation["forecasts"][b][i, step] for b in BASELINES)]
                lines.append(f"{csv_field(id)},{format_time(when)}," + ",".join(f"{v:.6g}" for v in cells))
        write_text(run_dir / "predictions.csv", "\n".join(lines) + "\n")
        shown = list(range(min(4, len(panel))))
        plot_panel_forecast([panel.ids[i] for i in shown], [panel.values[i] for i in shown],
                            evaluation["quantiles"][shown], levels, run_dir / "forecast.png",
                            title=f"{self.config.target}: the {evaluation['span']} span of {len(shown)} series")
        metrics = evaluation["metrics"]
        table = Table(columns=["forecast", *METRICS], rows=[[who, *(m[n] for n in METRICS)] for who, m in metrics.items()],
                      caption=f"{evaluation['span'].capitalize()} span: the last {horizon} steps of each of "
                              f"{len(panel)} series; season {self.season}")
        sections = [Section(heading="Metrics", paragraphs=[
            "MASE: each series' mean absolute error over its in-sample seasonal-naive error, averaged over series "
            "(below 1 beats the seasonal-naive forecast made in-sample); sMAPE as the M3 competition defined it; wQL: "
            "the weighted quantile loss over the forecast's levels; coverage_90: the share of actual values inside "
            "the 5%–95% interval; MSIS: the M4 competition's scaled interval score of that interval."],
            tables=[table]), Section(heading="Forecast", images=[run_dir / "forecast.png"])]
        return Outputs(title=f"rnnlab panel forecast: {len(panel)} series ({name_of(self.config.data)})",
                       sections=sections, configuration=[
                           f"Frequency {self.freq or f'integer steps of {self.step}'}, horizon {horizon}, window "
                           f"{self.window}, season {self.season}, z = {'log(y/level)' if self.log else 'y/level − 1'}; "
                           f"{self.config.likelihood} output, {self.config.decoder} decoder, "
                           f"{self.config.ensemble} member(s)."])

    def describe(self) -> str:
        return f"{self.config.model.upper()} panel forecaster on {quoted(self.config.data)}"

    def evaluate(self, model: PanelModel, data: Any = None) -> dict:
        """Metrics of the model and both baselines on the test span of `data` (the run's own by default)."""
        prepared = self.own_data() if data is None else self.prepare(data)
        evaluation = self.score(model, prepared)
        return {"data": name_of(self.config.data if data is None else data), "series": len(evaluation["panel"]),
                "horizon": self.horizon, "season": self.season, "span": evaluation["span"],
                "metrics": evaluation["metrics"]}

    def evaluate_text(self, result: dict) -> str:
        return (f"{result['data']}: {result['series']} series, horizon {result['horizon']}, season {result['season']}, "
                f"{result['span']} span\n" + self.metrics_text(result["metrics"]))

    def probe(self, model: PanelModel, prepared: Prepared, rows: int) -> Probe:
        """The forecaster and the validation windows of its first `rows` series, with the training loss."""
        windows = prepared.windows
        first_end = prepared.cuts[0]
        chosen = np.flatnonzero(windows.lengths - self.horizon >= first_end)[:rows]
        inputs, targets = self._batch(windows.cut(chosen, windows.lengths[chosen] - self.horizon), prepared.static,
                                      teacher=False)
        device = next(model.parameters()).device
        inputs = PanelInputs(*(None if t is None else t.to(device) for t in inputs))
        targets = tuple(t.to(device) for t in targets)
        return Probe(model=model, loss=lambda: self.loss(model(inputs), targets), batch_size=len(chosen),
                     steps=self.window, description=f"{len(chosen)} validation windows of {self.window} steps")

    def export_graphs(self, model: PanelModel) -> list[Graph]:
        config = self.config
        past, future = self.features()
        example, names, axes = (torch.zeros(2, 3, past),), ["inputs"], {"inputs": {0: "batch", 1: "time"}}
        if future:
            example, names, axes = (*example, torch.zeros(2, self.horizon, future)), [*names, "future"], {
                **axes, "future": {0: "batch"}}
        if self.categories:
            statics = torch.zeros(2, 1 + len(self.categories), dtype=torch.int64)
            example, names, axes = (*example, statics), [*names, "static"], {**axes, "static": {0: "batch"}}
        return [Graph(_Exported(model, bool(future), bool(self.categories)), example, names, ["raw"], axes)]


class _Exported(torch.nn.Module):
    """The forecaster as (inputs[, future][, static]) → raw (M, B, h, K): static (B, 1 + S) the
    series' id index and static columns' category indices where the run has static columns;
    without them every series is at id-embedding index 0."""

    def __init__(self, model: PanelModel, future: bool, static: bool) -> None:
        super().__init__()
        self.model, self.future, self.static = model, future, static

    def forward(self, inputs: torch.Tensor, second: torch.Tensor | None = None,
                third: torch.Tensor | None = None) -> torch.Tensor:
        # positional, not *args: torch.export matches each named input to its dynamic axes
        future = second if self.future else None
        first = inputs[:, 0, 0]  # (B,): the batch size stays symbolic in the exported graph
        given = (third if self.future else second) if self.static else None
        static = given if given is not None else torch.zeros_like(first, dtype=torch.int64)
        return self.model(PanelInputs(inputs, future, static, None, torch.ones_like(first)))


def _spread(cut: Cut) -> np.ndarray:
    """(B,) each window's z scale: its spread, or 1 without spread scaling."""
    return np.ones(len(cut.level)) if cut.spread is None else cut.spread


def _calendar(times: np.ndarray, end: int, horizon: int, freq, step) -> np.ndarray:
    """(end + horizon, F) calendar features of a series' first `end` timestamps and the horizon after."""
    stamps = np.concatenate([times[:end], future_times(times[end - 1], freq if freq is not None else step, horizon)])
    return calendar_features(stamps, freq if freq is not None else step)


def _standardised(columns: list[np.ndarray], observed: slice, length: int) -> np.ndarray:
    """(length, C): each column's first `length` values less its mean over `observed`, over its
    spread; NaN where a column is shorter (steps no window reads)."""
    result = np.full((length, len(columns)), np.nan)
    for k, column in enumerate(columns):
        column = np.asarray(column, dtype=np.float64)[:length]
        mean, std = column[observed].mean(), column[observed].std()
        result[:len(column), k] = (column - mean) / (std if std > 0 else 1.0)
    return result


def _seasonal_naive(history: np.ndarray, season: int, horizon: int) -> np.ndarray:
    season = season if len(history) >= season else 1
    last = history[-season:]
    return last[np.arange(horizon) % season]


def _season_of(history: np.ndarray, season: int) -> int:
    """The season a series' scale uses: its own, or 1 when the series is no longer than a season."""
    return season if len(history) > season else 1


def _scale(history: np.ndarray, season: int) -> float:
    """The in-sample seasonal-naive MAE (naive when the series is no longer than a season); NaN if 0."""
    season = _season_of(history, season)
    if len(history) <= season:
        return float("nan")
    scale = float(np.mean(np.abs(history[season:] - history[:-season])))
    return scale if scale > 0 else float("nan")


def csv_field(text: str) -> str:
    """`text` as one CSV field: quoted (quotes doubled) where it holds a comma, a quote or a newline."""
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text
