"""Anomaly detection as a task: series → normal prefix → model → calibrated threshold → scores and flags.

The first `normal_until` points of a series are known to be normal. Their first part (the
training span) trains the model and fits the standardisation and the residual scales s_c; the
rest of them (the calibration span, `calibration_fraction` of the prefix) is held out: it is the
validation set of training and it calibrates the threshold,

    τ = threshold_margin × quantile_q(scores on the calibration span)     (q = threshold_quantile)

which by default is twice the largest normal score (a calibration span of a few hundred points
sees less of the normal tail than a test span of thousands will); with `threshold_rule="pot"` τ is
instead the score a fitted Pareto tail of the calibration scores exceeds with probability
`threshold_risk` (`detector.pot_threshold`). Every point after the prefix is
a test point: the metrics (`rnnlab.metrics.detection`) compare its flag and score with its
label. The naive baseline (r_t = x_t − x_{t−1}) is scaled, smoothed and calibrated the same way.
The calibration is fitted after training (`finish`) and saved in config.json with the channels
and the spans.

A run directory holds, beside the pipeline's files, scores.csv (time, value(s), score, flag,
label) and scores.png (`outputs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from rnnlab.data.errors import DataError
from rnnlab.data.frames import is_file_or_name, name_of, quoted
from rnnlab.data.series import FILL_MODES
from rnnlab.data.stream import AnomalySeries, load_series
from rnnlab.data.windows import batches
from rnnlab.metrics.detection import detection_metrics, format_metrics
from rnnlab.tasks.anomaly import outputs, windows
from rnnlab.tasks.anomaly.detector import METHODS, Detector, calibrate_detector, scoring_copy
from rnnlab.tasks.anomaly.model import NextStepForecaster, SequenceAutoencoder
from rnnlab.tasks.anomaly.windows import Spans, masked_mse
from rnnlab.tasks.api import Graph, Headline, Outputs, Probe, RunConfig, SavedState, Task, stateful_graph

DETECTORS = ("model", "naive")


@dataclass(frozen=True)
class AnomalyConfig(RunConfig):
    """Everything an anomaly-detection run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("window", "recon_window", "latent_size", "smooth")
    DATA = ("data", "columns", "label_column", "normal_until", "fill")

    bidirectional: bool = field(default=False, metadata={"help": "not available: a detector reads the stream "
                                                                "causally"})
    batch_size: int = field(default=32, metadata={"help": "windows per batch"})
    patience: int = field(default=15, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    data: str | None = field(default="ucr_135", metadata={"type": str, "help": "a CSV file, or a bundled anomaly "
                                                          "series' name"})
    method: str = field(default="forecast", metadata={"choices": list(METHODS),
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
    threshold_rule: str = field(default="quantile", metadata={"choices": ["quantile", "pot"], "help": "quantile: "
                                "margin x a quantile of the calibration scores; pot: the score exceeded with "
                                "probability threshold_risk under a Pareto tail fitted to them (SPOT)"})
    threshold_quantile: float = field(default=1.0, metadata={"help": "rule quantile: quantile of the calibration "
                                                                     "scores (1: max)"})
    threshold_margin: float = field(default=2.0, metadata={"help": "rule quantile: threshold = margin x that quantile"})
    threshold_risk: float = field(default=1e-3, metadata={"help": "rule pot: the share of normal points expected "
                                                                  "above the threshold"})
    fill: str | None = field(default=None, metadata={"type": str, "choices": list(FILL_MODES),
                                                     "help": "how to fill missing values (default: an error)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bidirectional:  # a backward pass would read points that have not arrived yet
            raise ValueError("bidirectional must be False: a detector reads the stream causally; received True")
        if self.normal_until is not None and self.normal_until < 2:
            raise ValueError(f"normal_until must be an integer >= 2; received {self.normal_until!r}")
        if not 0.0 < self.calibration_fraction < 1.0:
            raise ValueError(f"calibration_fraction must be in (0, 1); received {self.calibration_fraction!r}")
        if not 0.0 <= self.threshold_quantile <= 1.0:
            raise ValueError(f"threshold_quantile must be in [0, 1]; received {self.threshold_quantile!r}")
        if not self.threshold_margin > 0:
            raise ValueError(f"threshold_margin must be positive; received {self.threshold_margin!r}")
        if not 0.0 < self.threshold_risk < 1.0:
            raise ValueError(f"threshold_risk must be in (0, 1); received {self.threshold_risk!r}")

    def column_list(self) -> list[str] | None:
        return None if self.columns is None else [c.strip() for c in self.columns.split(",") if c.strip()]


class Prepared(NamedTuple):
    """A run's series, its spans, and the windows the trainer and the probe read (standardised)."""

    series: AnomalySeries
    spans: Spans
    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    held_out: tuple[np.ndarray, np.ndarray]   # the probe's windows: held-out normal points, as trained
    calibration: np.ndarray | None    # (M, C) raw validation series that calibrates τ, if one was given


class AnomalyTask(Task):
    name = "anomaly"
    help = "detect anomalies in a series (forecast residuals or reconstruction error)"
    config_class = AnomalyConfig
    headline = Headline("f1", True, "naive")

    def __init__(self, config: AnomalyConfig) -> None:
        super().__init__(config)
        self.channels: list[str] | None = None
        self.spans: Spans | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.calibration: dict[str, dict] | None = None  # per detector: mean, std, scale, threshold

    def state_dict(self) -> dict:
        return {"channels": list(self.channels), "normal_until": self.spans.normal_until,
                "train_end": self.spans.train_end, "detectors": self.calibration}

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        self.channels = state.strings("channels")
        normal_until = state.integer("normal_until", minimum=2)
        self.spans = Spans(state.integer("train_end", minimum=1, maximum=normal_until), normal_until)
        detectors, count = state.object("detectors"), len(self.channels)
        self.calibration = {}
        for name in ("model", "naive"):  # each detector's standardisation, residual scales and threshold τ
            detector = detectors.object(name)
            self.calibration[name] = {"mean": detector.numbers("mean", length=count).tolist(),
                                      **{key: detector.numbers(key, length=count, positive=True).tolist()
                                         for key in ("std", "scale")},
                                      "threshold": detector.number("threshold")}
        model = self.calibration["model"]
        self.mean, self.std = (np.asarray(model[key], dtype=np.float64) for key in ("mean", "std"))

    # --- training --------------------------------------------------------------------------------

    def read(self, data: Any, argument: str = "data", normal_until: int | None = None) -> AnomalySeries:
        """The series `data` holds, read as the run reads, its channels checked against the run's once fitted."""
        config = self.config
        columns = self.channels if self.channels is not None and config.columns is not None else config.column_list()
        series = load_series(data, columns=columns, label_column=config.label_column, fill=config.fill,
                             normal_until=normal_until, argument=argument)
        if self.channels is not None:
            series = _as_channels(series, data, self.channels)
        if self.channels is not None and list(series.channels) != self.channels:
            raise DataError(f"{argument} {quoted(data)} has channels {list(series.channels)}; the run was trained on "
                            f"{self.channels}")
        return series

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        """Reads and checks the series and splits its normal prefix; fits the standardisation unless fitted.

        With `validation_data` (a normal series with the same channels), the whole normal prefix
        trains, and the validation series validates and calibrates the threshold.
        """
        config, fitted = self.config, self.channels is not None
        series = self.read(data, normal_until=config.normal_until)
        calibration = None if validation_data is None else self._validation(validation_data, series)
        spans = self.spans if fitted else windows.split(config, series, data, calibration is not None)
        if not fitted:
            train = series.values[: spans.train_end]
            if np.ptp(train, axis=0).max() == 0:   # a flat normal prefix: any change at all would be anomalous
                raise DataError(f"{quoted(data)}: the training span (the first {spans.train_end} points) is constant "
                                f"in every channel (received {train[0].tolist()}); a detector needs normal data that "
                                "varies")
            self.mean, self.std = train.mean(axis=0), train.std(axis=0)
            self.std = np.where(self.std > 0, self.std, 1.0)
        xs = (series.values - self.mean) / self.std
        train_xy, val_xy = windows.training_sets(config, xs, spans)
        if calibration is None:
            held_out = windows.held_out_windows(config, xs, spans)
        else:
            val_xy, held_out = windows.validation_sets(config, (calibration - self.mean) / self.std,
                                                       f"validation_data {quoted(validation_data)}")
        self.channels, self.spans = list(series.channels), spans
        return Prepared(series, spans, train_xy, val_xy, held_out, calibration)

    def _validation(self, validation_data: Any, series: AnomalySeries) -> np.ndarray:
        """The raw values (M, C) of the validation series, its channels checked against those of `series`."""
        other = _as_channels(self.read(validation_data, "validation_data"), validation_data, series.channels)
        if other.channels != series.channels:
            raise DataError(f"validation_data {quoted(validation_data)} has channels {list(other.channels)}; the run "
                            f"is trained on {list(series.channels)}")
        return other.values

    def build_model(self) -> nn.Module:
        config, channels = self.config, len(self.channels)
        if config.method == "forecast":
            return NextStepForecaster(channels, cell=config.model, hidden_size=config.hidden_size,
                                      num_layers=config.num_layers, dropout=config.dropout)
        return SequenceAutoencoder(channels, cell=config.model, hidden_size=config.hidden_size,
                                   latent_size=config.latent_size, num_layers=config.num_layers,
                                   dropout=config.dropout)

    def loss(self, outputs: Any, targets: torch.Tensor) -> torch.Tensor:
        return masked_mse(outputs, targets)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        return batches(*prepared.train, self.config.batch_size, shuffle=True, generator=generator)

    def val_batches(self, prepared: Prepared):
        return batches(*prepared.val, self.config.batch_size, shuffle=False)

    # --- detectors -------------------------------------------------------------------------------

    def detectors(self, model: nn.Module) -> dict[str, Detector]:
        """The calibrated detectors, "model" (around a float64 copy of `model`) and "naive"."""
        config, copied = self.config, scoring_copy(model)
        return {name: Detector.from_dict(self.calibration[name], method, net, smooth=config.smooth,
                                         window=config.recon_window)
                for name, method, net in (("model", config.method, copied), ("naive", "naive", None))}

    def finish(self, model: nn.Module, prepared: Prepared) -> None:
        """Calibrates the detectors once the model is trained (see `calibrate`)."""
        self.calibrate(model, prepared)

    def calibrate(self, model: nn.Module, prepared: Prepared) -> None:
        """Fits the residual scales on the training span and τ on the held-out normal points."""
        config, spans = self.config, prepared.spans
        options = dict(train_end=spans.train_end, normal_until=spans.normal_until, smooth=config.smooth,
                       window=config.recon_window, quantile=config.threshold_quantile,
                       margin=config.threshold_margin, calibration=prepared.calibration, rule=config.threshold_rule,
                       risk=config.threshold_risk)
        values = prepared.series.values
        self.calibration = {
            "model": calibrate_detector(config.method, scoring_copy(model), values, self.mean, self.std,
                                        **options).to_dict(),
            "naive": calibrate_detector("naive", None, values, self.mean, self.std, **options).to_dict()}

    def results(self, model: nn.Module, series: AnomalySeries, start: int) -> dict:
        """Scores of every detector over the series, and metrics over the points from `start` on."""
        detectors = self.detectors(model)
        scores = {name: detector.scores(series.values) for name, detector in detectors.items()}
        labels = None if series.labels is None else series.labels[start:]
        metrics = {name: detection_metrics(scores[name][start:], detectors[name].flags(scores[name][start:]), labels,
                                           offset=start) for name in detectors}
        return {"scores": scores, "metrics": metrics, "threshold": detectors["model"].threshold}

    def score(self, model: nn.Module, prepared: Prepared) -> dict:
        return self.results(model, prepared.series, prepared.spans.normal_until)

    # --- outputs ---------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Prepared, evaluation: dict) -> Outputs:
        thresholds = {name: self.calibration[name]["threshold"] for name in DETECTORS}
        return outputs.write(run_dir, prepared.series, prepared.spans, evaluation, thresholds,
                             name_of(self.config.data), self.config.method, validated=prepared.calibration is not None)

    def describe(self) -> str:
        return f"{self.config.model.upper()} {self.config.method} detector on {quoted(self.config.data)}"

    def metrics_text(self, metrics: dict) -> str:
        return "\n".join(format_metrics(metrics))

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """Test metrics of the model and the naive baseline, JSON-ready.

        On the run's own data (`data` None, or the file or name it was fitted on) the test points
        are those after the normal prefix; on other data, all points (a bundled series: those
        after its own normal prefix).
        """
        config = self.config
        own = data is None or (is_file_or_name(data) and str(data) == config.data)
        series = self.own_data().series if data is None else self.read(data)
        start = self.spans.normal_until if own else (series.normal_until or 0)
        result = self.results(model, series, min(start, len(series.values) - 1))
        return {"data": name_of(config.data if data is None else data), "method": config.method,
                "points": len(series.values), "test_from": start, "threshold": result["threshold"],
                "metrics": result["metrics"]}

    def evaluate_text(self, result: dict) -> str:
        head = (f"{result['data']}: {result['method']} detector, {result['points']} points, test from point "
                f"{result['test_from']}, threshold {result['threshold']:.4g}")
        return "\n".join([head, *format_metrics(result["metrics"])])

    def probe(self, model: nn.Module, prepared: Prepared, rows: int) -> Probe:
        """The model and its first `rows` held-out normal windows, with the training loss (`masked_mse`).

        The windows are `windows.held_out_windows` of the run's own series, standardised as in
        training (or the validation data's windows, for a fit given one); the model is the float32
        one that trained, on its own device.
        """
        inputs, targets = prepared.held_out
        if len(inputs) == 0:
            raise ValueError("this anomaly run calibrated on validation_data, which a saved run does not keep, and "
                             "its own normal prefix holds no held-out window; received no validation_data")
        inputs, targets = next(batches(inputs[:rows], targets[:rows], rows, shuffle=False))  # (B, T, C) each
        model.eval()
        device = next(model.parameters()).device
        inputs, targets = inputs.to(device), targets.to(device)
        return Probe(model=model, loss=lambda: masked_mse(model(inputs), targets), batch_size=len(inputs),
                     steps=inputs.shape[1], description=f"{len(inputs)} held-out normal windows of {inputs.shape[1]} "
                                                        "steps")

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """forecast: inputs (B, T, C), h_0[, c_0] -> predictions (B, T, C), h_n[, c_n];
        reconstruction: windows (B, W, C) -> reconstruction (B, W, C). Both standardised."""
        model.eval()
        inputs = torch.zeros(2, 3, len(self.channels))  # at least 2 on every dynamic axis, or export fixes it
        if self.config.method == "forecast":
            return [stateful_graph(model, inputs, "inputs", "predictions")]
        return [Graph(model, (inputs,), ["windows"], ["reconstruction"], {"windows": {0: "batch", 1: "time"}})]


def _as_channels(series: AnomalySeries, data: Any, channels) -> AnomalySeries:
    """An array's series with the run's channel names: an array names no columns, so its columns are the
    channels in order (when there are as many)."""
    if isinstance(data, (np.ndarray, list, tuple)) and len(series.channels) == len(channels):
        return series._replace(channels=tuple(channels))
    return series
