"""A forecasting run, end to end: config → series → windows → model → trainer → run directory.

This is the one place where a `ForecastConfig` becomes objects, and where a run directory is
written. The directory is built under `<out>.partial` and renamed to `<out>` only when complete,
so bad input or a crash never leaves a half-written run where a finished one is expected;
`resume=True` continues from the `.partial` directory's last checkpoint.

A run directory holds config.json, model.safetensors, metrics.jsonl (one line per epoch),
test_metrics.json, predictions.csv, loss.png, forecast.png and report.html.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.scaling import Scaler
from rnnlab.data.series import Series, load_series, time_split
from rnnlab.data.windows import batches, make_windows, window_starts
from rnnlab.report.atomic import write_bytes_atomically
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_forecast, plot_losses
from rnnlab.tasks import transforms
from rnnlab.tasks.baselines import infer_season, naive_forecast, seasonal_naive_forecast
from rnnlab.tasks.forecast import ForecastModelConfig, Forecaster, build_forecaster
from rnnlab.metrics.regression import forecast_metrics
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, read_run, resolve_device, save_run,
                              write_json)
from rnnlab.train import distributed

TASK = "forecast"


@dataclass(frozen=True)
class ForecastConfig(RunConfig):
    """Everything a forecasting run depends on; saved as the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("window", "horizon", "stride")

    bidirectional: bool = field(default=False, metadata={"help": "read each window in both directions"})
    batch_size: int = field(default=32, metadata={"help": "windows per batch"})
    out: str = field(default="runs/forecast", metadata={"help": "run directory to write"})
    data: str = field(default="airline", metadata={"help": "a CSV file, or a bundled data set's name"})
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

    def model_config(self) -> ForecastModelConfig:
        return ForecastModelConfig(cell=self.model, hidden_size=self.hidden_size, num_layers=self.num_layers,
                                   bidirectional=self.bidirectional, dropout=self.dropout, horizon=self.horizon)


class Prepared(NamedTuple):
    """A series made ready for the model: transformed, scaled, windowed, with its split."""

    series: Series
    y: np.ndarray  # (N,) the target, observed levels
    transform: str  # resolved
    scaler: Scaler
    scaled: np.ndarray  # (N - lag, C) transformed and standardised
    bounds: tuple[int, int, int]  # train_end, val_end, N in original indices
    season: int


def load(config: ForecastConfig, scaler: Scaler | None = None, transform: str | None = None,
         season: int | None = None) -> Prepared:
    """Reads and prepares the data of `config`; a saved run passes its scaler, transform and season."""
    columns = None if config.columns is None else [c.strip() for c in config.columns.split(",") if c.strip()]
    series = load_series(config.data, config.target, columns=columns, fill=config.fill)
    y = series.values[:, series.target_index]
    bounds = time_split(len(series), val_fraction=config.val_fraction, test_fraction=config.test_fraction)
    transform = transform or transforms.resolve_transform(config.transform, y)
    lag = transforms.lag(transform)
    values = series.values[lag:].copy()  # (N - lag, C)
    values[:, series.target_index] = transforms.apply(transform, y)
    if scaler is None:
        scaler = Scaler.fit(values[: bounds.train_end - lag], series.target_index)
    if season is None:
        season = config.season or infer_season(y[: bounds.train_end])
    return Prepared(series, y, transform, scaler, scaler.transform(values), tuple(bounds), season)


def windows(config: ForecastConfig, prepared: Prepared, span: str):
    """(X, Y, starts) of one span ("train", "val" or "test"); starts are original indices."""
    train_end, val_end, n = prepared.bounds
    lag = transforms.lag(prepared.transform)
    targets_from, targets_to = {"train": (0, train_end), "val": (train_end, val_end), "test": (val_end, n)}[span]
    stride = config.stride if span == "train" else 1
    kwargs = dict(window=config.window, horizon=config.horizon, stride=stride,
                  targets_from=max(targets_from - lag, 0), targets_to=targets_to - lag)
    try:
        xs, ys = make_windows(prepared.scaled, prepared.series.target_index, **kwargs)
    except DataError as error:
        raise DataError(f"the {span} span of {config.data!r} is too short: {error}") from None
    return xs, ys, window_starts(**kwargs) + lag  # starts in original indices


def forecast_levels(model: torch.nn.Module, prepared: Prepared, xs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The model's forecasts (M, H) in the series' own units, for windows xs (M, T, C)."""
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        scaled = model(torch.as_tensor(xs, dtype=torch.float32, device=device)).double().cpu().numpy()  # (M, H)
    z = prepared.scaler.inverse_transform_target(scaled)
    return transforms.invert(prepared.transform, z, prepared.y, starts)


def test_report(config: ForecastConfig, model: torch.nn.Module, prepared: Prepared) -> dict:
    """Test-span forecasts of the model and both baselines, with the metrics of each."""
    xs, _, starts = windows(config, prepared, "test")
    horizon_steps = starts[:, None] + np.arange(config.horizon)  # (M, H) original indices
    actual = prepared.y[horizon_steps]
    forecasts = {
        "model": forecast_levels(model, prepared, xs, starts),
        "naive": naive_forecast(prepared.y, starts, config.horizon),
        "seasonal_naive": seasonal_naive_forecast(prepared.y, starts, config.horizon, prepared.season),
    }
    train = prepared.y[: prepared.bounds[0]]
    metrics = {name: forecast_metrics(actual, f, train=train, season=prepared.season) for name, f in forecasts.items()}
    return {"starts": starts, "actual": actual, "forecasts": forecasts, "metrics": metrics}


def _write_predictions(path: Path, prepared: Prepared, report: dict) -> None:
    times = prepared.series.times
    lines = ["time,step,actual,forecast,naive,seasonal_naive"]
    for row, start in enumerate(report["starts"]):
        for step in range(report["actual"].shape[1]):
            index = int(start) + step
            when = times[index] if times is not None else str(index)
            values = [report["actual"][row, step]] + [report["forecasts"][k][row, step]
                                                      for k in ("model", "naive", "seasonal_naive")]
            lines.append(f"{when},{step + 1}," + ",".join(f"{v:.6g}" for v in values))
    write_bytes_atomically(path, ("\n".join(lines) + "\n").encode("utf-8"))


def save_model(run_dir: Path, model: torch.nn.Module, config: ForecastConfig, prepared: Prepared) -> None:
    """model.safetensors and config.json: all that evaluate and predict need, and nothing pickled."""
    save_run(run_dir, model, TASK, {
        "config": dataclasses.asdict(config), "transform": prepared.transform, "season": prepared.season,
        "scaler": prepared.scaler.to_dict(), "columns": list(prepared.series.columns),
        "target": prepared.series.target})


def load_run(run_dir: str | Path, data: str | None = None) -> tuple[ForecastConfig, torch.nn.Module, Prepared]:
    """A finished run's config and model, and `data` (default: the run's own) prepared as in training."""
    saved = read_run(run_dir, TASK)
    config = ForecastConfig(**saved["config"])
    if data is not None:
        config = dataclasses.replace(config, data=data)
    prepared = load(config, Scaler.from_dict(saved["scaler"]), saved["transform"], saved["season"])
    if list(prepared.series.columns) != saved["columns"]:
        raise DataError(f"data {config.data!r} has columns {list(prepared.series.columns)}; the run was trained "
                        f"on {saved['columns']}")
    model = build_forecaster(config.model_config(), input_size=len(saved["columns"]))
    return config, load_weights(model, run_dir), prepared


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """Test-span metrics of the model and of both baselines, as a JSON-ready dict."""
    config, model, prepared = load_run(run_dir, data)
    report = test_report(config, model, prepared)
    return {"data": config.data, "target": prepared.series.target, "horizon": config.horizon,
            "season": prepared.season, "test_windows": int(len(report["starts"])), "metrics": report["metrics"]}


def predict_run(run_dir: str | Path, data: str) -> list[float]:
    """Forecasts of the `horizon` steps after the end of `data`, in the series' units."""
    config, model, prepared = load_run(run_dir, data)
    if len(prepared.scaled) < config.window:
        raise DataError(f"data {data!r} has {len(prepared.y)} points; the model reads windows of {config.window}")
    xs = prepared.scaled[None, -config.window :]  # (1, T, C)
    start = np.array([len(prepared.y)])
    return [float(v) for v in forecast_levels(model, prepared, xs, start)[0]]


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained forecaster and its first `rows` test windows, with the training loss (MSE, scaled units).

    The windows are those `evaluate` forecasts, in time order; the model and batch sit on the run's
    device (the CPU when the run named a GPU this machine lacks).
    """
    config, model, prepared = load_run(run_dir)
    xs, ys, _ = windows(config, prepared, "test")
    inputs, targets = next(batches(xs[:rows], ys[:rows], rows, shuffle=False))  # (B, T, C), (B, horizon)
    # the run's device; the CPU for a run that named a GPU this machine lacks (as translate's load_run)
    device = loaded_device(config.device)
    model, inputs, targets = model.to(device), inputs.to(device), targets.to(device)
    return Probe(model=model, loss=lambda: torch.nn.functional.mse_loss(model(inputs), targets),
                 batch_size=len(inputs), steps=inputs.shape[1],
                 description=f"{len(inputs)} test windows of {inputs.shape[1]} steps")


def train_forecast(config: ForecastConfig, *, resume: bool = False, quiet: bool = False, command: str = "") -> dict:
    """Trains a forecaster as `config` says and writes its run directory.

    Everything that can be wrong with the input is checked before anything is written. The run is
    built in `<out>.partial` and renamed to `<out>` when complete.

    Returns:
        {"metrics": test metrics of the model and the baselines, "text": a printable summary,
         "run_dir": the run directory, "seconds": training time, "parameters": model size}.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    prepared = load(config)
    train_xy, val_xy = windows(config, prepared, "train")[:2], windows(config, prepared, "val")[:2]
    windows(config, prepared, "test")  # a test span too short is an input error, found before training
    model = build_forecaster(config.model_config(), input_size=prepared.scaled.shape[1])
    model = model.to(resolve_device(config.device))
    stage.open()
    result, seconds = fit(
        model, torch.nn.functional.mse_loss, config.trainer_options(), stage, batch_size=config.batch_size,
        train_batches=lambda epoch, generator: batches(*train_xy, config.batch_size, shuffle=True,
                                                       generator=generator),
        val_batches=lambda: batches(*val_xy, config.batch_size, shuffle=False, generator=None), quiet=quiet)
    report = test_report(config, model, prepared)
    if not distributed.is_main():
        return {"metrics": report["metrics"], "text": "", "run_dir": str(stage.out), "seconds": seconds,
                "parameters": model.num_parameters}
    save_model(stage.path, model, config, prepared)
    write_json(stage.path / "test_metrics.json", report["metrics"])
    _write_predictions(stage.path / "predictions.csv", prepared, report)
    _write_report(stage.path, config, prepared, report, result.history, command)
    out = stage.finish()
    text = summary_text(config, report["metrics"], seconds, model)
    return {"metrics": report["metrics"], "text": text, "run_dir": str(out), "seconds": seconds,
            "parameters": model.num_parameters}


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_run`'s result: one row per forecast, one column per metric."""
    lines = [f"{result['data']}: target {result['target']}, horizon {result['horizon']}, "
             f"season {result['season']}, {result['test_windows']} test windows"]
    names = list(next(iter(result["metrics"].values())))
    lines.append(f"{'':16}" + "".join(f"{name:>10}" for name in names))
    lines += [f"{model:16}" + "".join(f"{values[name]:>10.4g}" for name in names)
              for model, values in result["metrics"].items()]
    return "\n".join(lines)


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`'s output for a forecast: one `t+k<TAB>value` line per step after `data`'s end."""
    if text is not None:
        raise ValueError("a forecast predicts from --data (a CSV file or bundled name), not from --text")
    if data is None:
        raise ValueError("a forecast needs --data: the CSV file (or bundled name) whose end to forecast from")
    return [f"t+{step}\t{value:.6g}" for step, value in enumerate(predict_run(run_dir, data), start=1)]


def summary_text(config: ForecastConfig, metrics: dict, seconds: float, model: Forecaster) -> str:
    names = ("mase", "rmse", "mae", "smape")
    lines = [f"{config.model.upper()} on {config.data!r}: {model.num_parameters} parameters, "
             f"trained in {seconds:.1f} s; test span:",
             f"{'':16}" + "".join(f"{n:>10}" for n in names)]
    lines += [f"{model_name:16}" + "".join(f"{values[n]:>10.4g}" for n in names) for model_name, values in metrics.items()]
    return "\n".join(lines)


def _write_report(run_dir: Path, config: ForecastConfig, prepared: Prepared, report: dict, history, command: str) -> None:
    plot_losses(history, run_dir / "loss.png")
    first_steps = report["starts"]
    index = [prepared.series.times[i] for i in first_steps] if prepared.series.times is not None else first_steps
    plot_forecast(index, report["actual"], report["forecasts"]["model"],
                  {k: report["forecasts"][k] for k in ("naive", "seasonal_naive")}, run_dir / "forecast.png",
                  title=f"{prepared.series.target}: test span, first forecast step")
    names = ["mase", "rmse", "mae", "mape", "smape"]
    table = Table(columns=["forecast", *names],
                  rows=[[name, *(values[n] for n in names)] for name, values in report["metrics"].items()],
                  caption=f"Test span, {len(first_steps)} windows, horizon {config.horizon}, season {prepared.season}")
    settings = config.settings_table()
    sections = [
        Section(heading="Test metrics", paragraphs=[
            "MASE divides the mean absolute error by that of the seasonal-naive forecast in the training span; "
            "below 1 beats it. The naive forecast repeats the last observed value."], tables=[table]),
        Section(heading="Forecast", images=[run_dir / "forecast.png"]),
        Section(heading="Training", images=[run_dir / "loss.png"]),
        Section(heading="Configuration", paragraphs=[f"Target transform: {prepared.transform}."], tables=[settings]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab forecast: {prepared.series.target} ({config.data})",
                 sections=sections, command=command or "rnnlab train forecast ...")


SPEC = Task(name=TASK, help="forecast a column of a CSV file (or a bundled series)", config=ForecastConfig,
            train=train_forecast, evaluate=evaluate_run, evaluate_text=evaluate_text, predict=predict_lines,
            headline=Headline('mase', False, 'seasonal_naive'), probe=probe)
