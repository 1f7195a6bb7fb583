"""Forecasting as a task: a series → transformed, scaled windows → `ForecastNetwork` → levels again.

The series (a CSV file, a bundled name, a pandas Series or DataFrame, an array) is split in time
order into train, validation and test spans (`rnnlab.data.series.time_split`), its target turned
into differences of logs or of levels (`transforms`), standardised with training statistics only
and cut into windows. The fitted state (the transform, the scaler, the season, the columns) is
saved in config.json, so a loaded run reads new data exactly as it read its own. Held-out metrics
are MASE, RMSE, MAE, MAPE and sMAPE on the test span, beside the naive and seasonal-naive forecasts.

A run directory holds, beside the pipeline's files, predictions.csv and forecast.png.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.frames import name_of, quoted, read_series
from rnnlab.data.scaling import Scaler
from rnnlab.data.series import Series, time_split
from rnnlab.data.windows import batches, make_windows, window_starts
from rnnlab.metrics.regression import forecast_metrics
from rnnlab.report.atomic import write_text
from rnnlab.report.html import Section, Table
from rnnlab.report.plots import plot_forecast
from rnnlab.tasks.api import Graph, Headline, Outputs, Probe, RunConfig, SavedState, StateError, Task
from rnnlab.tasks.forecast import transforms
from rnnlab.tasks.forecast.baselines import infer_season, naive_forecast, seasonal_naive_forecast
from rnnlab.tasks.forecast.model import ForecastNetwork

SPANS = ("train", "val", "test")
METRICS = ("mase", "rmse", "mae", "mape", "smape")


@dataclass(frozen=True)
class ForecastConfig(RunConfig):
    """Everything a forecasting run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("window", "horizon", "stride")
    DATA = ("data", "target", "columns", "fill")

    bidirectional: bool = field(default=False, metadata={"help": "read each window in both directions"})
    batch_size: int = field(default=32, metadata={"help": "windows per batch"})
    data: str | None = field(default="airline", metadata={"type": str, "help": "a CSV file, or a bundled data "
                                                          "set's name"})
    target: str | None = field(default=None, metadata={"type": str, "help": "column to forecast (bundled: its default)"})
    columns: str | None = field(default=None, metadata={"type": str, "help": "comma-separated input columns (default: all numeric)"})
    fill: str | None = field(default=None, metadata={"type": str, "choices": ["ffill", "interpolate", "zero"],
                                                     "help": "how to fill missing values (default: an error for a "
                                                             "file; a bundled set's own choice)"})
    transform: str = field(default="auto", metadata={"choices": list(transforms.TRANSFORMS),
                                                     "help": "target transform; auto: logdiff if positive, else diff"})
    window: int = field(default=12, metadata={"help": "input steps per window"})
    horizon: int = field(default=1, metadata={"help": "steps forecast at once (direct multi-step)"})
    stride: int = field(default=1, metadata={"help": "steps between training windows"})
    val_fraction: float = field(default=0.15, metadata={"help": "share of the series for validation"})
    test_fraction: float = field(default=0.15, metadata={"help": "share of the series for testing (the end)"})
    season: int | None = field(default=None, metadata={"type": int, "help": "seasonal period for MASE (default: inferred)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.season is not None and self.season < 1:
            raise ValueError(f"season must be a positive integer; received {self.season!r}")


class Windows(NamedTuple):
    inputs: np.ndarray   # (M, T, C) scaled
    targets: np.ndarray  # (M, horizon) scaled
    starts: np.ndarray   # (M,) original index of each window's first target


class Prepared(NamedTuple):
    """A series made ready for the model: its levels, its scaled values and the windows of each span."""

    series: Series
    y: np.ndarray                 # (N,) the target, observed levels
    scaled: np.ndarray            # (N - lag, C) transformed and standardised
    bounds: tuple[int, int, int]  # train_end, val_end, N in original indices
    windows: dict[str, Windows]   # "train", "val", "test" (or "all" for validation data)


class ForecastTask(Task):
    name = "forecast"
    help = "forecast a column of a CSV file (or a bundled series)"
    config_class = ForecastConfig
    headline = Headline("mase", False, "seasonal_naive")

    def __init__(self, config: ForecastConfig) -> None:
        super().__init__(config)
        self.transform: str | None = None
        self.scaler: Scaler | None = None
        self.season: int | None = None
        self.columns: list[str] | None = None
        self.target: str | None = None

    def state_dict(self) -> dict:
        return {"transform": self.transform, "season": self.season, "scaler": self.scaler.to_dict(),
                "columns": list(self.columns), "target": self.target}

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        self.columns = state.strings("columns")
        self.target = state.string("target", among=self.columns)
        self.transform = state.string("transform", among=[name for name in transforms.TRANSFORMS if name != "auto"])
        self.season = state.integer("season", minimum=1)
        self.scaler = state.scaler("scaler", columns=len(self.columns))
        if self.scaler.target_index != self.columns.index(self.target):
            raise StateError(f"'scaler.target_index' must be {self.columns.index(self.target)}, the column of target "
                             f"{self.target!r}; received {self.scaler.target_index}")

    def read(self, data: Any, argument: str = "data") -> Series:
        """The series `data` holds, its columns checked against the run's once fitted."""
        config = self.config
        series = read_series(data, target=config.target if self.target is None else self.target,
                             columns=config.columns, fill=config.fill, argument=argument)
        if self.columns is not None and list(series.columns) != self.columns:
            raise DataError(f"{argument} {quoted(data)} has columns {list(series.columns)}; the run was trained on "
                            f"{self.columns}")
        return series

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        config = self.config
        series = self.read(data)
        val_fraction = 0.0 if validation_data is not None else config.val_fraction
        bounds = time_split(len(series), val_fraction=val_fraction, test_fraction=config.test_fraction)
        y = series.values[:, series.target_index]
        if self.scaler is None:  # fitting: everything is learnt from the training span alone
            self.transform = transforms.resolve_transform(config.transform, y)
            self.columns, self.target = list(series.columns), series.target
        values = self._transformed(series)
        scaler = self.scaler or Scaler.fit(values[: bounds.train_end - self.lag], series.target_index)
        scaled = scaler.transform(values)
        spans = {"train": (0, bounds.train_end), "val": (bounds.train_end, bounds.val_end),
                 "test": (bounds.val_end, bounds.n)}
        if validation_data is not None:
            del spans["val"]
        windows = {span: self._windows(scaled, series, span, *limits, data) for span, limits in spans.items()}
        if self.season is None:  # after the windows: a series too short says so in their terms
            self.season = config.season or infer_season(y[: bounds.train_end])
        self.scaler = scaler
        prepared = Prepared(series, y, scaled, tuple(bounds), windows)
        if validation_data is not None:
            other = self.read(validation_data, "validation_data")
            other_scaled = scaler.transform(self._transformed(other))
            windows["val"] = self._windows(other_scaled, other, "validation_data", 0, len(other), validation_data)
        return prepared

    @property
    def lag(self) -> int:
        return transforms.lag(self.transform)

    def _transformed(self, series: Series) -> np.ndarray:
        values = series.values[self.lag:].copy()  # (N - lag, C)
        values[:, series.target_index] = transforms.apply(self.transform, series.values[:, series.target_index])
        return values

    def _windows(self, scaled: np.ndarray, series: Series, span: str, start: int, end: int, data: Any) -> Windows:
        """The windows whose targets lie in original indices [start, end); starts in original indices."""
        config, lag = self.config, self.lag
        kwargs = dict(window=config.window, horizon=config.horizon, stride=config.stride if span == "train" else 1,
                      targets_from=max(start - lag, 0), targets_to=end - lag)
        try:
            xs, ys = make_windows(scaled, series.target_index, **kwargs)
        except DataError:
            raise DataError(f"data {quoted(data)} has {len(series)} points, too few for window={config.window} and "
                            f"horizon={config.horizon}: its {span} span (points {start} to {end - 1}) holds no whole "
                            "window; give a longer series, or a smaller window or horizon") from None
        return Windows(xs, ys, window_starts(**kwargs) + lag)

    def build_model(self) -> ForecastNetwork:
        config = self.config
        return ForecastNetwork(len(self.columns), config.horizon, cell=config.model, hidden_size=config.hidden_size,
                               num_layers=config.num_layers, bidirectional=config.bidirectional,
                               dropout=config.dropout)

    def loss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(outputs, targets)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        train = prepared.windows["train"]
        return batches(train.inputs, train.targets, self.config.batch_size, shuffle=True, generator=generator)

    def val_batches(self, prepared: Prepared):
        val = prepared.windows["val"]
        return batches(val.inputs, val.targets, self.config.batch_size, shuffle=False, generator=None)

    # --- forecasts in the series' units ----------------------------------------------------------

    def levels(self, model: torch.nn.Module, xs: np.ndarray, y: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The model's forecasts (M, H) in the series' own units, for scaled windows xs (M, T, C)."""
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            scaled = model(torch.as_tensor(xs, dtype=torch.float32, device=device)).double().cpu().numpy()  # (M, H)
        return transforms.invert(self.transform, self.scaler.inverse_transform_target(scaled), y, starts)

    def score(self, model: torch.nn.Module, prepared: Prepared) -> dict:
        """Test-span forecasts of the model and both baselines, with the metrics of each."""
        test, horizon = prepared.windows["test"], self.config.horizon
        actual = prepared.y[test.starts[:, None] + np.arange(horizon)]  # (M, H)
        forecasts = {"model": self.levels(model, test.inputs, prepared.y, test.starts),
                     "naive": naive_forecast(prepared.y, test.starts, horizon),
                     "seasonal_naive": seasonal_naive_forecast(prepared.y, test.starts, horizon, self.season)}
        train = prepared.y[: prepared.bounds[0]]
        metrics = {name: forecast_metrics(actual, f, train=train, season=self.season) for name, f in forecasts.items()}
        return {"starts": test.starts, "actual": actual, "forecasts": forecasts, "metrics": metrics}

    def forecast(self, model: torch.nn.Module, series: Series) -> np.ndarray:
        """The `horizon` values after the end of `series` (H,), in its units."""
        scaled = self.scaler.transform(self._transformed(series))
        if len(scaled) < self.config.window:
            raise DataError(f"data has {len(series)} points; the model reads windows of {self.config.window}")
        y = series.values[:, series.target_index]
        return self.levels(model, scaled[None, -self.config.window:], y, np.array([len(y)]))[0]

    # --- outputs ---------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model, prepared: Prepared, evaluation: dict) -> Outputs:
        times = prepared.series.times
        lines = ["time,step,actual,forecast,naive,seasonal_naive"]
        for row, start in enumerate(evaluation["starts"]):
            for step in range(evaluation["actual"].shape[1]):
                index = int(start) + step
                values = [evaluation["actual"][row, step]] + [evaluation["forecasts"][k][row, step]
                                                              for k in ("model", "naive", "seasonal_naive")]
                lines.append(f"{times[index] if times is not None else index},{step + 1},"
                             + ",".join(f"{v:.6g}" for v in values))
        write_text(run_dir / "predictions.csv", "\n".join(lines) + "\n")
        first_steps = evaluation["starts"]
        index = [times[i] for i in first_steps] if times is not None else first_steps
        forecasts = evaluation["forecasts"]
        plot_forecast(index, evaluation["actual"], forecasts["model"],
                      {k: forecasts[k] for k in ("naive", "seasonal_naive")}, run_dir / "forecast.png",
                      title=f"{prepared.series.target}: test span, first forecast step")
        table = Table(columns=["forecast", *METRICS],
                      rows=[[name, *(values[n] for n in METRICS)] for name, values in evaluation["metrics"].items()],
                      caption=f"Test span, {len(first_steps)} windows, horizon {self.config.horizon}, season "
                              f"{self.season}")
        sections = [Section(heading="Test metrics", paragraphs=[
            "MASE divides the mean absolute error by that of the seasonal-naive forecast in the training span; "
            "below 1 beats it. The naive forecast repeats the last observed value."], tables=[table]),
            Section(heading="Forecast", images=[run_dir / "forecast.png"])]
        return Outputs(title=f"rnnlab forecast: {prepared.series.target} ({name_of(self.config.data)})",
                       sections=sections, configuration=[f"Target transform: {self.transform}."])

    def describe(self) -> str:
        return f"{self.config.model.upper()} on {quoted(self.config.data)}"

    def metrics_text(self, metrics: dict) -> str:
        lines = [f"{'':16}" + "".join(f"{n:>10}" for n in METRICS)]
        lines += [f"{who:16}" + "".join(f"{values[n]:>10.4g}" for n in METRICS) for who, values in metrics.items()]
        return "\n".join(lines)

    def evaluate(self, model: torch.nn.Module, data: Any = None) -> dict:
        """Test-span metrics of the model and both baselines: the test span of `data` (the run's own by default)."""
        prepared = self.own_data() if data is None else self.prepare(data)
        evaluation = self.score(model, prepared)
        return {"data": name_of(self.config.data if data is None else data), "target": self.target,
                "horizon": self.config.horizon, "season": self.season,
                "test_windows": int(len(evaluation["starts"])), "metrics": evaluation["metrics"]}

    def evaluate_text(self, result: dict) -> str:
        return (f"{result['data']}: target {result['target']}, horizon {result['horizon']}, season {result['season']}, "
                f"{result['test_windows']} test windows\n" + self.metrics_text(result["metrics"]))

    def probe(self, model: torch.nn.Module, prepared: Prepared, rows: int) -> Probe:
        """The forecaster and its first `rows` test windows, with the training loss (MSE, scaled units)."""
        test = prepared.windows["test"]
        inputs, targets = next(batches(test.inputs[:rows], test.targets[:rows], rows, shuffle=False))
        device = next(model.parameters()).device
        inputs, targets = inputs.to(device), targets.to(device)  # (B, T, C), (B, horizon)
        return Probe(model=model, loss=lambda: self.loss(model(inputs), targets), batch_size=len(inputs),
                     steps=inputs.shape[1], description=f"{len(inputs)} test windows of {inputs.shape[1]} steps")

    def export_graphs(self, model: torch.nn.Module) -> list[Graph]:
        example = torch.zeros(2, 3, len(self.columns))  # at least 2 on every dynamic axis, or export fixes it
        return [Graph(model, (example,), ["inputs"], ["forecast"], {"inputs": {0: "batch", 1: "time"}})]

