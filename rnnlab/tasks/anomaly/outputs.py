"""What an anomaly run adds to its run directory: scores.csv, scores.png and its report sections."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlab.data.stream import AnomalySeries, format_header, format_line
from rnnlab.metrics.detection import METRIC_NAMES
from rnnlab.report.atomic import write_text
from rnnlab.report.html import Section, Table
from rnnlab.report.plots import plot_anomaly_scores
from rnnlab.tasks.api import Outputs

_EXPLAINED = ("Point-wise precision, recall and F1 of the flags at the calibrated threshold; pa_f1 is the "
              "point-adjusted F1 (a labelled segment counts as found whole if any point of it is flagged); "
              "average precision ranks points by score without a threshold; ucr_hit says whether the top-scoring "
              "point (top_index) lies within the labelled anomaly widened by max(100, its length) points, the UCR "
              "archive's check. The naive baseline scores |x_t - x_(t-1)|, scaled and calibrated alike.")


def write(run_dir: Path, series: AnomalySeries, spans, evaluation: dict, thresholds: dict[str, float], data: str,
          method: str, *, validated: bool) -> Outputs:
    """Writes scores.csv and scores.png of the run's own series; returns the report's parts.

    Args:
        spans: the run's `windows.Spans`.
        evaluation: what `AnomalyTask.score` returned: the scores and metrics of each detector.
        thresholds: {detector: τ}.
        data: how the data is named; method: the model's method.
        validated: the threshold was calibrated on validation data (not on the calibration span).
    """
    scores = evaluation["scores"]["model"]
    write_scores(run_dir / "scores.csv", series, scores, thresholds["model"])
    plot_anomaly_scores(series.values, scores, thresholds["model"], run_dir / "scores.png", labels=series.labels,
                        normal_until=spans.normal_until, title=f"{data}: {method} scores")
    metrics = evaluation["metrics"]
    names = [name for name in METRIC_NAMES if name in metrics["model"]]
    table = Table(columns=["detector", *names], rows=[[k, *(v[n] for n in names)] for k, v in metrics.items()],
                  caption=f"Test span: points {spans.normal_until} to {len(scores) - 1}")
    threshold_table = Table(columns=["detector", "threshold"], rows=[[k, v] for k, v in thresholds.items()])
    sections = [Section(heading="Test metrics", paragraphs=[_EXPLAINED], tables=[table, threshold_table]),
                Section(heading="Scores", images=[run_dir / "scores.png"])]
    held_out = "the validation data" if validated else f"points {spans.train_end} to {spans.normal_until - 1}"
    return Outputs(title=f"rnnlab anomaly detection: {data}", sections=sections,
                   training=["Loss: mean squared error of the model's forecasts (or reconstructions) of "
                             "standardised normal points."],
                   configuration=[f"Training span: points 0 to {spans.train_end - 1}; calibration: {held_out}."])


def write_scores(path: Path, series: AnomalySeries, scores: np.ndarray, threshold: float) -> None:
    """scores.csv: `time,<channels>,score,flag` per point, and its label where the series has labels."""
    times = series.times or tuple(str(i) for i in range(len(scores)))
    labelled = series.labels is not None
    lines = [format_header(list(series.channels)) + (",label" if labelled else "")]
    for i, (when, values, score) in enumerate(zip(times, series.values, scores)):
        label = f",{series.labels[i]}" if labelled else ""
        lines.append(format_line(when, values, score, score > threshold) + label)
    write_text(path, "\n".join(lines) + "\n")
