"""PNG figures of a forecasting run: the loss curves and the test-span forecast.

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


def _save_png(figure: Figure, path: str | os.PathLike) -> Path:
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
    return _save_png(figure, path)


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
    return _save_png(figure, path)


def _first_step(name: str, values: np.ndarray, length: int) -> np.ndarray:
    """(M,) the series itself, or column 0 of an (M, H) series; checked against the index length."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim not in (1, 2) or values.shape[0] != length:
        raise ValueError(f"{name} must have shape (M,) or (M, H) with M = len(index) = {length}; "
                         f"received {values.shape}")
    return values if values.ndim == 1 else values[:, 0]
