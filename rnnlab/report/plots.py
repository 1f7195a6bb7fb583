"""PNG figures of a task's run: losses, forecasts, confusion and attention maps, anomaly scores.

The figures of the studies (gates, gradient flow, memory curves, comparisons of architectures)
are in `rnnlab.report.diagnostic_plots`.

Figures are made with matplotlib's object API (`Figure` drawn by the Agg canvas), never through
pyplot: no GUI backend is ever started, and the backend of a user's session (a notebook's inline
plots, say) is left as it was, which `matplotlib.use("Agg")` at import would change for them.
Each function writes its PNG atomically and returns the path.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rnnlab.report.atomic import write_bytes_atomically


def save_png(figure: Figure, path: str | os.PathLike) -> Path:
    """Renders `figure` with Agg and writes it to `path` atomically."""
    FigureCanvasAgg(figure)  # attaches the Agg canvas: rendering needs no display
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return write_bytes_atomically(path, buffer.getvalue())


def plot_losses(history: Sequence[Mapping[str, float]], path: str | os.PathLike) -> Path:
    """Training and validation loss per epoch, log-scaled y.

    Args:
        history: one dict per epoch with "train_loss" and optionally "val_loss" (and optionally
            "epoch", else epochs are numbered from 1).
        path: the PNG to write.

    Returns:
        `path` as a Path. The y axis is linear instead if some loss is not positive, since a log
        axis cannot show it.
    """
    if len(history) == 0 or any("train_loss" not in record for record in history):
        raise ValueError(f"history must be a non-empty list of dicts with 'train_loss'; received {list(history)[:3]!r}")
    epochs = [record.get("epoch", index + 1) for index, record in enumerate(history)]
    figure = Figure(figsize=(6, 4))
    axes = figure.add_subplot()
    plotted = []
    for key, label in (("train_loss", "train"), ("val_loss", "validation")):
        points = [(epoch, record[key]) for epoch, record in zip(epochs, history) if record.get(key) is not None]
        if points:
            xs, losses = zip(*points)
            axes.plot(xs, losses, marker="o" if len(points) < 30 else None, markersize=3, label=label)
            plotted.extend(losses)
    if all(np.isfinite(loss) and loss > 0 for loss in plotted):
        axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    return save_png(figure, path)


def plot_forecast(
    index: Sequence | np.ndarray,
    actual: np.ndarray,
    forecast: np.ndarray,
    baselines: Mapping[str, np.ndarray],
    path: str | os.PathLike,
    title: str,
) -> Path:
    """The test span: actual values, the model's forecast and each baseline's.

    With a horizon above 1 each series is (M, H) and only the first step of each window is
    drawn (column 0): consecutive windows then form one continuous one-step-ahead line, where
    drawing every step would overlap M fans of H points.

    Args:
        index: (M,) times or positions of each window's first forecast value (x axis).
        actual, forecast: (M,) or (M, H), original units.
        baselines: name -> (M,) or (M, H) forecast, e.g. {"seasonal naive": ...}.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        `path` as a Path.
    """
    series = {"actual": actual, "model": forecast, **baselines}
    first_steps = {name: _first_step(name, values, len(index)) for name, values in series.items()}
    figure = Figure(figsize=(9, 4))
    axes = figure.add_subplot()
    axes.plot(index, first_steps.pop("actual"), color="black", linewidth=1.8, label="actual")
    axes.plot(index, first_steps.pop("model"), linewidth=1.4, label="model")
    for name, values in first_steps.items():
        axes.plot(index, values, linewidth=1.0, linestyle="--", label=name)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    figure.autofmt_xdate()  # slanted labels when the index holds dates; harmless for integers
    return save_png(figure, path)


def plot_panel_forecast(ids: Sequence[str], series: Sequence[np.ndarray], quantiles: np.ndarray,
                        levels: Sequence[float], path: str | os.PathLike, title: str) -> Path:
    """A few series of a panel, each in its own panel of the figure: its values, the median forecast
    of its last h steps and the intervals between symmetric quantile levels, shaded.

    Args:
        ids: the series' ids, one subplot each.
        series: per series, (T_i,) values; the last h are the span forecast.
        quantiles: (S, h, Q) quantile forecasts of each series' last h steps, original units.
        levels: (Q,) the quantile levels, 0.5 among them.
        path: the PNG to write.
        title: the figure's title.
    """
    levels = [float(q) for q in levels]
    horizon = quantiles.shape[1]
    figure = Figure(figsize=(9, 2.4 * max(len(ids), 1)))
    pairs = sorted(((low, high) for low in levels for high in levels
                    if low < 0.5 and abs(low + high - 1) < 1e-9), reverse=True)  # innermost first
    for row, (id, values) in enumerate(zip(ids, series)):
        axes = figure.add_subplot(max(len(ids), 1), 1, row + 1)
        steps = np.arange(len(values))
        ahead = steps[-horizon:]
        axes.plot(steps, values, color="black", linewidth=1.2, label="actual")
        for k, (low, high) in enumerate(pairs):
            axes.fill_between(ahead, quantiles[row, :, levels.index(low)], quantiles[row, :, levels.index(high)],
                              color="tab:blue", alpha=0.15 + 0.1 * (len(pairs) - 1 - k) / max(len(pairs), 1),
                              linewidth=0, label=f"{round(100 * (high - low))}% interval")
        axes.plot(ahead, quantiles[row, :, levels.index(0.5)], color="tab:blue", linewidth=1.4, label="median")
        axes.set_ylabel(str(id))
        axes.grid(True, alpha=0.3)
        if row == 0:
            axes.set_title(title)
            axes.legend(fontsize="small", loc="upper left")
    return save_png(figure, path)


def _first_step(name: str, values: np.ndarray, length: int) -> np.ndarray:
    """(M,) the series itself, or column 0 of an (M, H) series; checked against the index length."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[0] != length:
        raise ValueError(f"{name} must have shape (M,) or (M, H) with M = len(index) = {length}; "
                         f"received {values.shape}")
    return values if values.ndim == 1 else values[:, 0]


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], path: str | os.PathLike, *,
                   title: str = "Confusion matrix") -> Path:
    """A confusion matrix as a heat map with the count in each cell.

    Rows are the true classes and columns the predicted ones, both in the order of `labels`;
    the shade of a cell is its share of its row (the recall of the row's class on the
    diagonal), so classes of different sizes read alike.

    Args:
        matrix: (K, K) non-negative counts, rows true, columns predicted.
        labels: the K class names.
        path: the PNG to write.
        title: the figure's title.

    Returns:
        `path` as a Path.
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape != (len(labels), len(labels)) or (matrix < 0).any():
        raise ValueError(f"matrix must be ({len(labels)}, {len(labels)}) non-negative counts, one row and column "
                         f"per label; received shape {matrix.shape}")
    totals = matrix.sum(axis=1, keepdims=True)
    shares = matrix / np.where(totals == 0, 1, totals)  # an empty row stays 0, not nan
    size = 2.5 + 0.6 * len(labels)
    figure = Figure(figsize=(size + 1, size))
    axes = figure.add_subplot()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="share of the true class")
    for (row, column), count in np.ndenumerate(matrix):
        axes.text(column, row, f"{count:g}", ha="center", va="center",
                  color="white" if shares[row, column] > 0.5 else "black")
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, [str(label) for label in labels], rotation=45 if len(labels) > 4 else 0)
    axes.set_yticks(ticks, [str(label) for label in labels])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    return save_png(figure, path)


def plot_attention(weights: np.ndarray, source_tokens: Sequence[str], target_tokens: Sequence[str],
                   path: str | os.PathLike, *, title: str = "Attention") -> Path:
    """The attention weights of one translation as a heat map: which source token each output read.

    Args:
        weights: (T, S) attention weights α, row t over the S source tokens for output token t
            (each row sums to 1).
        source_tokens: the S source tokens (x axis).
        target_tokens: the T output tokens (y axis, top to bottom).
        path: the PNG to write.
        title: the figure's title.

    Returns:
        `path` as a Path.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 2 or weights.shape != (len(target_tokens), len(source_tokens)):
        raise ValueError(f"weights must have shape (len(target_tokens), len(source_tokens)) = "
                         f"({len(target_tokens)}, {len(source_tokens)}); received {weights.shape}")
    figure = Figure(figsize=(2.0 + 0.38 * len(source_tokens), 1.5 + 0.32 * len(target_tokens)))
    axes = figure.add_subplot()
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    figure.colorbar(image, ax=axes, label="attention weight")
    axes.set_xticks(np.arange(len(source_tokens)), [str(token) for token in source_tokens], rotation=60,
                    ha="right")
    axes.set_yticks(np.arange(len(target_tokens)), [str(token) for token in target_tokens])
    axes.set_xlabel("source")
    axes.set_ylabel("output")
    axes.set_title(title)
    return save_png(figure, path)



def plot_anomaly_scores(values: np.ndarray, scores: np.ndarray, threshold: float, path: str | os.PathLike, *,
                        labels: np.ndarray | None = None, normal_until: int | None = None,
                        title: str = "Anomaly scores", zoom: int = 150) -> Path:
    """A series with its anomaly scores: threshold, flagged points and labelled regions marked.

    Three panels: (1) each channel of the whole series, flagged points (score above the
    threshold) as red dots; (2) the scores on a log axis (they span orders of magnitude) with the
    threshold dashed; (3) a close-up of (1) and (2) over ±`zoom` points around the highest score,
    where a short anomaly is visible at all. Labelled anomalies are shaded red and a grey line marks
    the end of the known-normal prefix.

    Args:
        values: (N,) or (N, C) series; the x axis is the point index.
        scores: (N,) non-negative anomaly scores.
        threshold: the flagging threshold τ.
        path: the PNG to write.
        labels: (N,) 0/1 labels, or None.
        normal_until: the number of leading normal points, or None.
        title: the figure's title.
        zoom: half-width of the close-up, in points.

    Returns:
        `path` as a Path.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[:, None] if values.ndim == 1 else values
    scores = np.asarray(scores, dtype=np.float64)
    if values.ndim != 2 or scores.shape != (len(values),) or len(scores) == 0:
        raise ValueError(f"scores must have shape (N,) with N = len(values) = {len(values)} >= 1; "
                         f"received {scores.shape}")
    figure = Figure(figsize=(11, 8))
    series_axes, score_axes, close_axes = figure.subplots(3, 1, height_ratios=(3, 2, 3))
    top = int(np.argmax(scores))
    near = slice(max(0, top - zoom), min(len(scores), top + zoom + 1))
    for axes, span in ((series_axes, slice(0, len(scores))), (close_axes, near)):
        _plot_flagged_series(axes, values, scores > threshold, span)
    score_axes.plot(np.arange(len(scores)), np.maximum(scores, 1e-3), linewidth=0.7, label="score")
    close_scores = close_axes.twinx()
    close_scores.plot(np.arange(len(scores))[near], scores[near], color="tab:green", linewidth=0.9, label="score")
    for axes in (score_axes, close_scores):
        axes.axhline(threshold, color="tab:red", linestyle="--", linewidth=1.0, label=f"threshold {threshold:.3g}")
        axes.legend(loc="upper right", fontsize=8)
    score_axes.set_yscale("log")
    for axes in (series_axes, score_axes, close_axes):
        _mark_regions(axes, labels, normal_until)
        axes.grid(True, alpha=0.3)
    series_axes.set_title(title + (" (red: labelled anomaly; grey: end of normal prefix)" if labels is not None else ""))
    score_axes.set_ylabel("score")
    close_axes.set_title(f"close-up around the highest score (point {top})", fontsize=10)
    close_axes.set_xlim(near.start - 0.5, near.stop - 0.5)
    close_axes.set_xlabel("point")
    figure.tight_layout()
    return save_png(figure, path)


def _plot_flagged_series(axes, values: np.ndarray, flagged: np.ndarray, span: slice) -> None:
    index = np.arange(len(values))[span]
    for channel in range(values.shape[1]):
        axes.plot(index, values[span, channel], linewidth=0.7)
        marked = flagged[span]
        axes.plot(index[marked], values[span, channel][marked], "o", color="tab:red", markersize=3,
                  label="flagged" if channel == 0 else None)
    axes.legend(loc="upper left", fontsize=8)


def _mark_regions(axes, labels: np.ndarray | None, normal_until: int | None) -> None:
    """Shades each labelled run of 1s red and draws the end of the normal prefix, inside the axes' view."""
    left, right = axes.get_xlim()
    if labels is not None:
        edges = np.diff(np.concatenate([[0], (np.asarray(labels) > 0).astype(int), [0]]))
        for begin, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            axes.axvspan(begin - 0.5, end - 0.5, color="tab:red", alpha=0.2, linewidth=0)
    if normal_until is not None and left <= normal_until <= right:
        axes.axvline(normal_until, color="grey", linewidth=1.0)
    axes.set_xlim(left, right)


# Diagnostics and comparisons of architectures (issue 6). One colour per architecture in every
# figure, so that a reader who has seen "LSTM is blue" once reads every other figure the same way.
