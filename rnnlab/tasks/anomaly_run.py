"""An anomaly-detection run, end to end: series → normal prefix → model → calibrated threshold → run directory.

The first `normal_until` points of a series are known to be normal. Their first part (the
training span) trains the model and fits the residual scales s_c; the rest of them (the
calibration span, `calibration_fraction` of the prefix) is held out: it is the validation set of
training and it calibrates the threshold,

    τ = threshold_margin × quantile_q(scores on the calibration span)     (q = threshold_quantile)

which by default is twice the largest normal score (a calibration span of a few hundred points
sees less of the normal tail than a test span of thousands will). Every point after the prefix is
a test point: the metrics (`rnnlab.metrics.detection`) compare its flag and score with its
label. The naive baseline (r_t = x_t − x_{t−1}) is scaled, smoothed and calibrated the same way.

A run directory holds config.json, model.safetensors, metrics.jsonl, test_metrics.json,
scores.csv (time, value(s), score, flag, label), scores.png, loss.png and report.html.
`detect_lines` (behind `rnnlab detect`) scores a CSV stream one point at a time.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.series import FILL_MODES
from rnnlab.data.windows import batches
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_anomaly_scores, plot_losses
from rnnlab.tasks import anomaly
from rnnlab.tasks.anomaly import Detector, calibrate_detector
from rnnlab.metrics.detection import METRIC_NAMES, detection_metrics, format_metrics
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, num_parameters, read_run, resolve_device,
                              save_run, write_json, write_text)
from rnnlab.tasks.streaming import (AnomalySeries, format_header, format_line, load_series, resolve_file,
                                     stream_lines)
from rnnlab.train import distributed

TASK = "anomaly"


@dataclass(frozen=True)
class AnomalyConfig(RunConfig):
    """Everything an anomaly-detection run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("window", "recon_window", "latent_size", "smooth")

    bidirectional: bool = field(default=False, metadata={"help": "not available: a detector reads the stream "
                                                                "causally"})
    batch_size: int = field(default=32, metadata={"help": "windows per batch"})
    patience: int = field(default=15, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    out: str = field(default="runs/anomaly", metadata={"help": "run directory to write"})
    data: str = field(default="ucr_135", metadata={"help": "a CSV file, or a bundled anomaly series' name"})
    method: str = field(default="forecast", metadata={"choices": list(anomaly.METHODS),
                                                      "help": "forecast: one-step forecast residuals; "
                                                              "reconstruction: sequence-autoencoder error"})
    columns: str | None = field(default=None, metadata={"type": str, "help": "comma-separated value columns "
                                                        "(default: all but the time and label columns)"})
    label_column: str = field(default="is_anomaly", metadata={"help": "the 0/1 label column, if the file has one"})
    normal_until: int | None = field(default=None, metadata={"type": int, "help": "how many leading points are "
                                                             "normal (required for a file; bundled: its own)"})
    calibration_fraction: float = field(default=0.25, metadata={"help": "share of the normal prefix held out to "
                                                                "validate and calibrate the threshold"})
    window: int = field(default=64, metadata={"help": "forecast: length of the training windows"})
    recon_window: int = field(default=16, metadata={"help": "reconstruction: width W of the autoencoder's windows"})
    latent_size: int = field(default=8, metadata={"help": "reconstruction: size of the latent code"})
    smooth: int = field(default=1, metadata={"help": "average the scores over this many latest points"})
    threshold_quantile: float = field(default=1.0, metadata={"help": "quantile of the calibration scores (1: max)"})
    threshold_margin: float = field(default=2.0, metadata={"help": "threshold = margin x that quantile"})
    fill: str | None = field(default=None, metadata={"type": str, "choices": list(FILL_MODES),
                                                     "help": "how to fill missing values (default: an error)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bidirectional:  # a backward pass would read points that have not arrived yet
            raise ValueError("bidirectional must be False: a detector reads the stream causally; received True")
        if self.normal_until is not None and (isinstance(self.normal_until, bool) or self.normal_until < 2):
            raise ValueError(f"normal_until must be an integer >= 2; received {self.normal_until!r}")
        if not 0.0 < self.calibration_fraction < 1.0:
            raise ValueError(f"calibration_fraction must be in (0, 1); received {self.calibration_fraction!r}")
        if not 0.0 <= self.threshold_quantile <= 1.0:
            raise ValueError(f"threshold_quantile must be in [0, 1]; received {self.threshold_quantile!r}")
        if not self.threshold_margin > 0:
            raise ValueError(f"threshold_margin must be positive; received {self.threshold_margin!r}")


class Spans(NamedTuple):
    train_end: int      # [0, train_end): trains the model, fits the scales
    normal_until: int   # [train_end, normal_until): validates and calibrates τ; the rest is tested


def split(config: AnomalyConfig, series: AnomalySeries) -> Spans:
    """The spans of `series`, checked: each must be long enough for what it is used for."""
    n, until = len(series.values), series.normal_until
    if until is None:
        raise ValueError(f"normal_until is required for a file (how many leading points are normal); "
                         f"received None for {config.data!r}")
    if not 2 <= until < n:
        raise DataError(f"normal_until must be in [2, {n}) for {config.data!r} ({n} points), leaving points to "
                        f"detect on; received {until}")
    train_end = until - max(1, int(until * config.calibration_fraction))
    needed = config.window + 1 if config.method == "forecast" else config.recon_window
    if train_end < needed:
        raise DataError(f"the training span of {config.data!r} ({train_end} of the first {until} normal points) "
                        f"is shorter than one training window of {needed} points")
    if series.labels is not None and series.labels[:until].any():
        first = int(np.argmax(series.labels[:until]))
        raise DataError(f"{config.data!r}: point {first} is labelled anomalous but normal_until={until} says the "
                        "first points are normal")
    return Spans(train_end, until)


def build_model(config: AnomalyConfig, channels: int) -> torch.nn.Module:
    """The only place an `AnomalyConfig` becomes a model."""
    if config.method == "forecast":
        return anomaly.NextStepForecaster(channels, cell=config.model, hidden_size=config.hidden_size,
                                          num_layers=config.num_layers, dropout=config.dropout)
    return anomaly.SequenceAutoencoder(channels, cell=config.model, hidden_size=config.hidden_size,
                                       latent_size=config.latent_size, num_layers=config.num_layers,
                                       dropout=config.dropout)


def masked_mse(outputs, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite targets (NaN marks steps that do not count)."""
    predictions = outputs[0] if isinstance(outputs, tuple) else outputs   # the forecaster returns (ŷ, state)
    keep = torch.isfinite(targets)
    return torch.mean((predictions[keep] - targets[keep]) ** 2)


def training_sets(config: AnomalyConfig, xs: np.ndarray, spans: Spans) -> tuple[tuple, tuple]:
    """((X, Y) training windows, (X, Y) validation) from the standardised series xs (N, C).

    forecast: windows of `window` + 1 training points, X = the first `window`, Y = the next step
    of each; validation is the whole normal prefix read in one pass from a zero state (as
    detection reads it), the loss counting only forecasts of calibration points.
    reconstruction: every window of W training points, Y = X; validation: the windows whose
    newest point is a calibration point.
    """
    train, until = xs[: spans.train_end], spans.normal_until
    if config.method == "forecast":
        segments = np.lib.stride_tricks.sliding_window_view(train, config.window + 1, axis=0).transpose(0, 2, 1)
        targets = xs[1:until].copy()
        targets[: spans.train_end - 1] = np.nan              # forecasts of training points do not count
        segments = np.ascontiguousarray(segments)           # a writable copy: torch refuses read-only views
        return (segments[:, :-1], segments[:, 1:]), (xs[None, : until - 1], targets[None])
    width = config.recon_window
    windows = np.lib.stride_tricks.sliding_window_view(xs[:until], width, axis=0).transpose(0, 2, 1)
    windows = np.ascontiguousarray(windows)
    first_val = spans.train_end - width + 1                   # the window whose newest point is train_end
    return (windows[:first_val], windows[:first_val]), (windows[first_val:], windows[first_val:])


def scoring_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A float64 copy on the CPU, in eval mode: scores of batch and streaming agree to rounding."""
    return copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()


def test_results(detectors: dict[str, Detector], series: AnomalySeries, start: int) -> dict:
    """Scores of every detector over the series, and metrics over the points from `start` on."""
    scores = {name: detector.scores(series.values) for name, detector in detectors.items()}
    labels = None if series.labels is None else series.labels[start:]
    metrics = {name: detection_metrics(scores[name][start:], detectors[name].flags(scores[name][start:]), labels,
                                       offset=start) for name in detectors}
    return {"scores": scores, "metrics": metrics}


def train_anomaly(config: AnomalyConfig, *, resume: bool = False, quiet: bool = False, command: str = "") -> dict:
    """Trains a detector as `config` says and writes its run directory (see the module docstring).

    Returns:
        {"metrics": {"model": ..., "naive": ...} on the test span, "text", "run_dir", "seconds",
         "parameters"}.
    """
    distributed.init_from_env()
    stage = Stage(config.out, resume=resume)
    columns = None if config.columns is None else [c.strip() for c in config.columns.split(",") if c.strip()]
    series = load_series(config.data, columns=columns, label_column=config.label_column, fill=config.fill,
                         normal_until=config.normal_until)
    spans = split(config, series)
    mean, std = series.values[: spans.train_end].mean(axis=0), series.values[: spans.train_end].std(axis=0)
    std = np.where(std > 0, std, 1.0)
    train_xy, val_xy = training_sets(config, (series.values - mean) / std, spans)
    torch.manual_seed(config.seed)
    model = build_model(config, len(series.channels)).to(resolve_device(config.device))
    stage.open()
    result, seconds = fit(
        model, masked_mse, config.trainer_options(), stage, batch_size=config.batch_size, quiet=quiet,
        train_batches=lambda epoch, generator: batches(*train_xy, config.batch_size, shuffle=True, generator=generator),
        val_batches=lambda: batches(*val_xy, config.batch_size, shuffle=False))
    options = dict(train_end=spans.train_end, normal_until=spans.normal_until, smooth=config.smooth,
                   window=config.recon_window, quantile=config.threshold_quantile, margin=config.threshold_margin)
    detectors = {"model": calibrate_detector(config.method, scoring_copy(model), series.values, mean, std, **options),
                 "naive": calibrate_detector("naive", None, series.values, mean, std, **options)}
    report = test_results(detectors, series, spans.normal_until)
    out = {"metrics": report["metrics"], "run_dir": str(stage.out), "seconds": seconds,
           "parameters": num_parameters(model)}
    if not distributed.is_main():
        return {**out, "text": ""}
    save_run(stage.path, model, TASK, {"config": dataclasses.asdict(config), "channels": list(series.channels),
                                       "normal_until": spans.normal_until, "train_end": spans.train_end,
                                       "detectors": {name: d.to_dict() for name, d in detectors.items()}})
    write_json(stage.path / "test_metrics.json", report["metrics"])
    _write_scores(stage.path / "scores.csv", series, report["scores"]["model"], detectors["model"])
    _write_report(stage.path, config, series, spans, detectors, report, result.history, command)
    return {**out, "run_dir": str(stage.finish()), "text": summary_text(config, out)}


def load_run(run_dir: str | Path) -> tuple[AnomalyConfig, dict, dict[str, Detector]]:
    """A finished run's config, its saved dict, and its detectors ("model" and "naive"), ready to score."""
    saved = read_run(run_dir, TASK)
    config = AnomalyConfig(**saved["config"])
    model = scoring_copy(load_weights(build_model(config, len(saved["channels"])), run_dir))
    detectors = {}
    for name, method, net in (("model", config.method, model), ("naive", "naive", None)):
        values = {key: np.asarray(saved["detectors"][name][key], dtype=np.float64) for key in ("mean", "std", "scale")}
        detectors[name] = Detector(method, net, values["mean"], values["std"], values["scale"], config.smooth,
                                   float(saved["detectors"][name]["threshold"]), config.recon_window)
    return config, saved, detectors


def _load_for_run(config: AnomalyConfig, saved: dict, data: str | None) -> AnomalySeries:
    """`data` (default: the run's own) read as the run reads, its channels checked against the run's."""
    columns = None if config.columns is None else saved["channels"]
    series = load_series(data or config.data, columns=columns, label_column=config.label_column, fill=config.fill)
    if list(series.channels) != saved["channels"]:
        raise DataError(f"data {data or config.data!r} has channels {list(series.channels)}; the run was trained on "
                        f"{saved['channels']}")
    return series


def held_out_windows(config: AnomalyConfig, xs: np.ndarray, spans: Spans) -> tuple[np.ndarray, np.ndarray]:
    """(X, Y) windows of the held-out normal points (the calibration span), shaped as the training windows.

    reconstruction: the validation windows of `training_sets`, those whose newest point is a
    calibration point. forecast: segments of `window` + 1 normal points, X its first `window` and
    Y the next step of each, whose forecasts are all of calibration points; when that span is
    shorter than a window, the segments whose newest point is one, with the forecasts of training
    points set to NaN (`masked_mse` skips them, as validation does).
    """
    if config.method == "reconstruction":
        return training_sets(config, xs, spans)[1]
    window, train_end, until = config.window, spans.train_end, spans.normal_until
    first = train_end - 1 if until - train_end >= window else train_end - window  # first segment's first point
    segments = np.lib.stride_tricks.sliding_window_view(xs[first:until], window + 1, axis=0).transpose(0, 2, 1)
    targets = segments[:, 1:].copy()  # (M, window, C)
    predicted = first + 1 + np.arange(len(segments))[:, None] + np.arange(window)  # (M, window): index of each target
    targets[predicted < train_end] = np.nan
    return np.ascontiguousarray(segments[:, :-1]), targets


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained detector's model and its first `rows` held-out normal windows, with the training loss.

    The windows are `held_out_windows` of the run's own series, standardised as in training; the
    loss is `masked_mse`, the model's training objective. The model is the float32 one that
    trained (scoring uses a float64 copy), on the run's device with the batch (the CPU when the
    run named a GPU this machine lacks).
    """
    config, saved, detectors = load_run(run_dir)
    detector = detectors["model"]
    xs = detector.standardise(_load_for_run(config, saved, None).values)  # (N, C), as training standardised it
    windows = held_out_windows(config, xs, Spans(saved["train_end"], saved["normal_until"]))
    inputs, targets = next(batches(*(w[:rows] for w in windows), rows, shuffle=False))  # (B, T, C) each
    # the run's device; the CPU for a run that named a GPU this machine lacks (as translate's load_run)
    device = loaded_device(config.device)
    model = detector.model.to(device=device, dtype=torch.float32)  # float32 to float64 and back is exact
    inputs, targets = inputs.to(device), targets.to(device)
    return Probe(model=model, loss=lambda: masked_mse(model(inputs), targets), batch_size=len(inputs),
                 steps=inputs.shape[1], description=f"{len(inputs)} held-out normal windows of {inputs.shape[1]} steps")


def evaluate_anomaly(run_dir: str | Path, data: str | None = None) -> dict:
    """Test metrics of the model and the naive baseline, JSON-ready.

    On the run's own data (`data` None or the run's `--data` string) the test points are those
    after the normal prefix; on other data, all points (a bundled series: those after its own
    normal prefix).
    """
    config, saved, detectors = load_run(run_dir)
    series = _load_for_run(config, saved, data)
    start = saved["normal_until"] if data in (None, config.data) else (series.normal_until or 0)
    report = test_results(detectors, series, min(start, len(series.values) - 1))
    return {"data": data or config.data, "method": config.method, "points": len(series.values), "test_from": start,
            "threshold": detectors["model"].threshold, "metrics": report["metrics"]}


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`: a `time,<channels>,score,flag` header, then one line per point of `data` (batch mode)."""
    if text is not None:
        raise ValueError("an anomaly run scores a series from --data (a CSV file or bundled name), not --text")
    config, saved, detectors = load_run(run_dir)
    series = _load_for_run(config, saved, data)
    scores = detectors["model"].scores(series.values)
    flags = detectors["model"].flags(scores)
    times = series.times or tuple(str(i) for i in range(len(scores)))
    lines = zip(times, series.values, scores, flags)
    return [format_header(saved["channels"])] + [format_line(t, v, s, f) for t, v, s, f in lines]


def detect_lines(run_dir: str | Path, data: str, *, follow: bool = False, interval: float = 0.5,
                 max_points: int | None = None, fill: str | None = None) -> Iterator[str]:
    """Streaming mode (`rnnlab detect`): a header, then `time,<channels>,score,flag` per point as it is read.

    Each point costs one step of the detector (see `rnnlab.tasks.streaming`); with `follow` the
    file is polled every `interval` seconds for appended lines, as `tail -f` does, until
    `max_points` points (None: forever). Bad input raises DataError naming the line.
    """
    config, saved, detectors = load_run(run_dir)
    path, _ = resolve_file(data)
    columns = None if config.columns is None else saved["channels"]
    return stream_lines(detectors["model"], path, saved["channels"], columns=columns,
                        label_column=config.label_column, follow=follow, interval=interval, max_points=max_points,
                        fill=fill)


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_anomaly`'s result."""
    lines = [f"{result['data']}: {result['method']} detector, {result['points']} points, test from point "
             f"{result['test_from']}, threshold {result['threshold']:.4g}"]
    return "\n".join(lines + format_metrics(result["metrics"]))


def summary_text(config: AnomalyConfig, out: dict) -> str:
    head = (f"{config.model.upper()} {config.method} detector on {config.data!r}: {out['parameters']} parameters, "
            f"trained in {out['seconds']:.1f} s; test span:")
    return "\n".join([head] + format_metrics(out["metrics"]))


def _write_scores(path: Path, series: AnomalySeries, scores: np.ndarray, detector: Detector) -> None:
    times = series.times or tuple(str(i) for i in range(len(scores)))
    labelled = series.labels is not None
    lines = [format_header(list(series.channels)) + (",label" if labelled else "")]
    for i, (when, values, score) in enumerate(zip(times, series.values, scores)):
        label = f",{series.labels[i]}" if labelled else ""
        lines.append(format_line(when, values, score, score > detector.threshold) + label)
    write_text(path, "\n".join(lines) + "\n")


def _write_report(run_dir: Path, config: AnomalyConfig, series: AnomalySeries, spans: Spans,
                  detectors: dict[str, Detector], report: dict, history, command: str) -> None:
    plot_losses(history, run_dir / "loss.png")
    scores = report["scores"]["model"]
    plot_anomaly_scores(series.values, scores, detectors["model"].threshold, run_dir / "scores.png",
                        labels=series.labels, normal_until=spans.normal_until,
                        title=f"{config.data}: {config.method} scores")
    metrics = report["metrics"]
    names = [name for name in METRIC_NAMES if name in metrics["model"]]
    table = Table(columns=["detector", *names], rows=[[k, *(v[n] for n in names)] for k, v in metrics.items()],
                  caption=f"Test span: points {spans.normal_until} to {len(scores) - 1}")
    thresholds = Table(columns=["detector", "threshold"], rows=[[k, d.threshold] for k, d in detectors.items()])
    settings = config.settings_table()
    sections = [
        Section(heading="Test metrics", paragraphs=[
            "Point-wise precision, recall and F1 of the flags at the calibrated threshold; pa_f1 is the "
            "point-adjusted F1 (a labelled segment counts as found whole if any point of it is flagged); average "
            "precision ranks points by score without a threshold; ucr_hit says whether the top-scoring point "
            "(top_index) lies within the labelled anomaly widened by max(100, its length) points, the UCR "
            "archive's check. The naive baseline scores |x_t - x_(t-1)|, scaled and calibrated alike."],
            tables=[table, thresholds]),
        Section(heading="Scores", images=[run_dir / "scores.png"]),
        Section(heading="Training", images=[run_dir / "loss.png"]),
        Section(heading="Configuration", paragraphs=[
            f"Training span: points 0 to {spans.train_end - 1}; calibration span: {spans.train_end} to "
            f"{spans.normal_until - 1}."], tables=[settings]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab anomaly detection: {config.data}", sections=sections,
                 command=command or "rnnlab train anomaly ...")


SPEC = Task(name=TASK, help="detect anomalies in a series (forecast residuals or reconstruction error)",
            config=AnomalyConfig, train=train_anomaly, evaluate=evaluate_anomaly, evaluate_text=evaluate_text,
            predict=predict_lines,
            headline=Headline('f1', True, 'naive'), probe=probe)
