"""PNG figures of runs and studies: losses, forecasts, confusion and attention maps, anomaly scores,
gate activations, gradient flow through time and comparisons of architectures.

Figures are made with matplotlib's object API (`Figure` drawn by the Agg canvas), never through
pyplot: no GUI backend is ever started, and the backend of a user's session (a notebook's inline
plots, say) is left as it was, which `matplotlib.use("Agg")` at import would change for them.
Each function writes its PNG atomically and returns the path.
"""

from __future__ import annotations

import io
import math
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

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
    return _save_png(figure, path)


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
    return _save_png(figure, path)



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
    return _save_png(figure, path)


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
# The colours are from Okabe and Ito's palette, chosen to stay distinct for colour-blind readers.
ARCHITECTURE_COLOURS: dict[str, str] = {"RNN": "#D55E00", "LSTM": "#0072B2", "GRU": "#009E73"}
_OTHER_COLOURS = ("#E69F00", "#CC79A7", "#56B4E9", "#000000", "#999999")
_LINE_STYLES = ("-", "--", ":", "-.")

# What a recorded value can range over (Cell.recorded_kinds): its colour map, fixed colour range and
# the name of its axis. Fixed ranges make two heat maps comparable at a glance: a forget gate at 0.5
# has the same shade in the RNN's figure as in the LSTM's.
GATE_KINDS = ("sigmoid", "tanh", "relu", "free")
_KIND_COLOUR_MAPS = {"sigmoid": "viridis", "tanh": "RdBu_r", "relu": "magma", "free": "RdBu_r"}
_KIND_AXIS_LABELS = {"sigmoid": "σ activation, 0 to 1", "tanh": "tanh activation, −1 to 1",
                     "relu": "relu activation, ≥ 0", "free": "value (unbounded)"}


def architecture_colour(label: str) -> str:
    """The colour of the architecture that `label`'s first word names, in any case.

    "LSTM layer 0", "lstm" and "LSTM (clipped)" all get ARCHITECTURE_COLOURS["LSTM"]. A label that
    names no architecture gets one of five other colours, picked by a hash of the label rather than
    by its position, so that it too has the same colour in every figure.
    """
    first_word = re.split(r"[^0-9A-Za-z]+", str(label).strip(), maxsplit=1)[0].upper()
    if first_word in ARCHITECTURE_COLOURS:
        return ARCHITECTURE_COLOURS[first_word]
    return _OTHER_COLOURS[zlib.crc32(str(label).encode("utf-8")) % len(_OTHER_COLOURS)]


def _line_styles(labels: Sequence[str]) -> dict[str, tuple[str, str]]:
    """label -> (colour, line style): labels of one architecture share its colour and differ in dash."""
    styles, used = {}, {}
    for label in labels:
        colour = architecture_colour(label)
        styles[label] = (colour, _LINE_STYLES[used.get(colour, 0) % len(_LINE_STYLES)])
        used[colour] = used.get(colour, 0) + 1
    return styles


def saturation(values: np.ndarray, kind: str) -> dict[str, float]:
    """The shares of `values` in the flat ends of their activation, where its derivative is near 0.

    A saturated gate passes almost no gradient, so these shares say how much of a network is
    learning little. Keys are "low", "high" and "saturated" (their sum), each a share in [0, 1]:
    - "sigmoid": low is the share below 0.1, high the share above 0.9;
    - "tanh": low is the share below −0.9, high the share above 0.9 (together |x| > 0.9);
    - "relu": low is the share at 0 (the flat side), high is 0 (relu has no upper flat end);
    - "free": every share is nan, since an unbounded value (the LSTM's c) has no flat end.
    Non-finite values are left out of the count; with none finite every share is nan.

    Args:
        values: an array of any shape; all its values are counted together.
        kind: one of GATE_KINDS.

    Returns:
        {"low": ..., "high": ..., "saturated": ...}.
    """
    if kind not in GATE_KINDS:
        raise ValueError(f"kind must be one of {GATE_KINDS}; received {kind!r}")
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if kind == "free" or finite.size == 0:
        return {"low": math.nan, "high": math.nan, "saturated": math.nan}
    low, high = {"sigmoid": (finite < 0.1, finite > 0.9), "tanh": (finite < -0.9, finite > 0.9),
                 "relu": (finite <= 0.0, np.zeros(finite.shape, dtype=bool))}[kind]
    return {"low": float(low.mean()), "high": float(high.mean()), "saturated": float((low | high).mean())}


def _check_gate_values(values: Mapping[str, np.ndarray], kinds: Mapping[str, str], *,
                       two_dimensional: bool) -> dict[str, tuple[np.ndarray, str]]:
    """name -> (float64 array, kind), after checking every array's shape and every name's kind."""
    if not isinstance(values, Mapping) or len(values) == 0:
        raise ValueError(f"values must be a non-empty dict of name -> array; received {values!r:.80}")
    checked = {}
    for name, array in values.items():
        array = np.asarray(array, dtype=np.float64)
        if two_dimensional and (array.ndim != 2 or 0 in array.shape):
            raise ValueError(f"values[{name!r}] must be a (T, H) array with T, H >= 1; received shape {array.shape}")
        if array.size == 0:
            raise ValueError(f"values[{name!r}] must hold at least one value; received shape {array.shape}")
        kind = kinds.get(name) if isinstance(kinds, Mapping) else None
        if kind not in GATE_KINDS:
            raise ValueError(f"kinds[{name!r}] must be one of {GATE_KINDS}; received {kind!r}")
        checked[name] = (array, kind)
    return checked


def _value_range(values: np.ndarray, kind: str) -> tuple[float, float]:
    """The fixed range of a kind: [0, 1], [−1, 1], [0, max] or ±max|x| for "free"."""
    if kind == "sigmoid":
        return 0.0, 1.0
    if kind == "tanh":
        return -1.0, 1.0
    finite = np.abs(values[np.isfinite(values)])
    peak = float(finite.max()) if finite.size else 0.0
    peak = peak if peak > 0 else 1.0  # an all-zero array still needs a range of positive width
    return (0.0, peak) if kind == "relu" else (-peak, peak)


def plot_gate_heatmaps(values: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str,
                       kinds: Mapping[str, str]) -> Path:
    """One heat map per recorded gate or state: time on x, units on y, colour the value.

    The colour range is fixed by the kind, not by the data: "sigmoid" [0, 1], "tanh" [−1, 1],
    "relu" [0, max] and "free" symmetric about 0, so a half-open gate has the same shade in every
    figure. Non-finite values are drawn grey.

    Args:
        values: name -> (T, H) array, one row per time step, e.g. {"i": ..., "f": ..., "c": ...}
            for one sequence of an LSTM layer (a recording's (T, B, H) at one batch index).
        path: the PNG to write.
        title: the figure's title.
        kinds: name -> one of GATE_KINDS, for every name in `values` (Cell.recorded_kinds()).

    Returns:
        `path` as a Path.
    """
    checked = _check_gate_values(values, kinds, two_dimensional=True)
    heights = [1.2 + 0.02 * min(array.shape[1], 100) for array, _ in checked.values()]
    figure = Figure(figsize=(9, 0.8 + sum(heights)), layout="constrained")
    panels = figure.subplots(len(checked), 1, sharex=True, squeeze=False, height_ratios=heights)[:, 0]
    for axes, (name, (array, kind)) in zip(panels, checked.items()):
        num_steps, num_units = array.shape  # (T, H)
        low, high = _value_range(array, kind)
        colour_map = colormaps[_KIND_COLOUR_MAPS[kind]].with_extremes(bad="lightgrey")
        image = axes.imshow(array.T, cmap=colour_map, vmin=low, vmax=high, aspect="auto", origin="lower",
                            interpolation="nearest", extent=(-0.5, num_steps - 0.5, -0.5, num_units - 0.5))
        figure.colorbar(image, ax=axes, label="value" if kind == "free" else "activation", fraction=0.04, pad=0.01)
        axes.set_title(f"{name} ({_KIND_AXIS_LABELS[kind]})", fontsize=10, loc="left")
        axes.set_ylabel("unit")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    panels[-1].set_xlabel("time step t")
    panels[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    has_gaps = any(not np.isfinite(array).all() for array, _ in checked.values())
    figure.suptitle(title + (" (grey: not a finite number)" if has_gaps else ""))
    return _save_png(figure, path)


def _saturation_caption(shares: dict[str, float], kind: str) -> str:
    """The saturated shares of one gate in words, for its panel's title."""
    if kind == "free" or math.isnan(shares["saturated"]):
        return "no saturation range" if kind == "free" else "no finite value"
    if kind == "sigmoid":
        return f"{shares['low']:.1%} < 0.1, {shares['high']:.1%} > 0.9"
    if kind == "tanh":
        return f"{shares['saturated']:.1%} with |x| > 0.9"
    return f"{shares['low']:.1%} at 0"


def plot_gate_histograms(values: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str,
                         kinds: Mapping[str, str]) -> Path:
    """A histogram of each gate's values, its flat ends shaded and their shares in the panel title.

    The shares are `saturation(values[name], kinds[name])`: for σ gates the values below 0.1 and
    above 0.9, for tanh those with |x| > 0.9, for relu those at 0. The x range is fixed by the
    kind as in `plot_gate_heatmaps`. Non-finite values are left out and counted in the title.

    Args:
        values: name -> array of any shape (all of a gate's values over time, batch and units).
        path: the PNG to write.
        title: the figure's title.
        kinds: name -> one of GATE_KINDS, for every name in `values`.

    Returns:
        `path` as a Path.
    """
    checked = _check_gate_values(values, kinds, two_dimensional=False)
    columns = min(len(checked), 5)
    rows = math.ceil(len(checked) / columns)
    figure = Figure(figsize=(0.6 + 2.8 * columns, 0.6 + 2.6 * rows), layout="constrained")
    panels = figure.subplots(rows, columns, squeeze=False).ravel()
    for axes, (name, (array, kind)) in zip(panels, checked.items()):
        finite = array[np.isfinite(array)]
        low, high = _value_range(array, kind)
        if finite.size:
            axes.hist(finite, bins=40, range=(low, high), weights=np.full(finite.size, 100.0 / finite.size),
                      color="#555555")
        for begin, end in {"sigmoid": [(0.0, 0.1), (0.9, 1.0)], "tanh": [(-1.0, -0.9), (0.9, 1.0)]}.get(kind, []):
            axes.axvspan(begin, end, color="tab:red", alpha=0.15, linewidth=0)
        axes.set_xlim(low, high)
        axes.set_title(f"{name} ({kind})\n{_saturation_caption(saturation(array, kind), kind)}", fontsize=9)
        axes.set_xlabel(_KIND_AXIS_LABELS[kind], fontsize=8)
        axes.set_ylabel("share of values (%)", fontsize=8)
    for axes in panels[len(checked):]:
        axes.set_visible(False)
    dropped = sum(int((~np.isfinite(array)).sum()) for array, _ in checked.values())
    figure.suptitle(title + " (red: saturated)" + (f"; {dropped} non-finite values left out" if dropped else ""))
    return _save_png(figure, path)


def plot_gradient_flow(curves: Mapping[str, np.ndarray], path: str | os.PathLike, *, title: str,
                       xlabel: str = "time step t") -> Path:
    """‖∂L/∂h_t‖ against t, one line per label, on a log y axis.

    A vanishing gradient is a line falling towards early t by orders of magnitude, an exploding
    one a line rising. A log axis cannot show 0 or non-finite values, so those steps are left out
    of the line and the legend says how many were, rather than the plot failing or hiding it.
    Labels of one architecture ("LSTM layer 0", "LSTM layer 1") share its colour and differ in dash.

    Args:
        curves: label -> (T,) gradient norms, step t at index t; curves may differ in T.
        path: the PNG to write.
        title: the figure's title.
        xlabel: the x axis's label.

    Returns:
        `path` as a Path.
    """
    if not isinstance(curves, Mapping) or len(curves) == 0:
        raise ValueError(f"curves must be a non-empty dict of label -> (T,) array; received {curves!r:.80}")
    figure = Figure(figsize=(8, 4.5), layout="constrained")
    axes = figure.add_subplot()
    styles = _line_styles(list(curves))
    drawn = 0
    for label, norms in curves.items():
        norms = np.asarray(norms, dtype=np.float64)
        if norms.ndim != 1 or norms.size == 0:
            raise ValueError(f"curves[{label!r}] must be a non-empty (T,) array; received shape {norms.shape}")
        shown = np.isfinite(norms) & (norms > 0)
        hidden = norms.size - int(shown.sum())
        note = f" ({hidden} of {norms.size} steps zero or non-finite, not drawn)" if hidden else ""
        colour, line_style = styles[label]
        axes.plot(np.arange(norms.size), np.where(shown, norms, np.nan), color=colour, linestyle=line_style,
                  marker="o" if norms.size <= 30 else None, markersize=3, label=f"{label}{note}")
        drawn += int(shown.sum())
    axes.set_yscale("log")
    if drawn == 0:  # nothing to draw: a fixed range keeps the log axis valid, and the text says why it is empty
        axes.set_ylim(1e-3, 1.0)
        axes.text(0.5, 0.5, "no positive finite value to draw", transform=axes.transAxes, ha="center")
    axes.set_xlabel(xlabel)
    axes.set_ylabel("‖∂L/∂h_t‖ (log scale)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title(title)
    return _save_png(figure, path)


def _memory_points(name: str, points: Sequence[tuple[float, float, float, float]]) -> np.ndarray:
    """(N, 4) rows (length, mean, low, high) sorted by length, after checking them."""
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4 or len(array) == 0:
        raise ValueError(f"results[{name!r}] must be a non-empty list of (length, mean, low, high); "
                         f"received {points!r:.80}")
    if not (np.isfinite(array[:, 0]) & (array[:, 0] > 0)).all():
        raise ValueError(f"results[{name!r}] lengths must be positive (the x axis is logarithmic); "
                         f"received {array[:, 0].tolist()}")
    if ((array[:, 2] > array[:, 1]) | (array[:, 3] < array[:, 1])).any():  # nan compares false: allowed
        raise ValueError(f"results[{name!r}] must have low <= mean <= high in every point; received {points!r:.80}")
    return array[np.argsort(array[:, 0], kind="stable")]


def plot_memory_curve(results: Mapping[str, Sequence[tuple[float, float, float, float]]],
                      path: str | os.PathLike, *, baseline: float, title: str, ylabel: str = "test MSE",
                      baseline_label: str = "baseline") -> Path:
    """Error against sequence length per architecture, with the trivial baseline dashed.

    Each architecture is a line through its mean at each length, with error bars from low to high
    (e.g. the minimum and maximum over seeds). The x axis is logarithmic (lengths from 10 to 1000
    and beyond); so is the y axis when every value is positive, since a model that has learned the
    task sits orders of magnitude below the baseline. Non-finite means (a diverged run) are gaps,
    counted in the legend.

    Args:
        results: name -> list of (length, mean, low, high), one per sequence length.
        path: the PNG to write.
        baseline: the baseline's error (0.167 for predicting the mean on the adding problem).
        title: the figure's title.
        ylabel: the y axis's label.
        baseline_label: what the baseline is, for the legend.

    Returns:
        `path` as a Path.
    """
    if not isinstance(results, Mapping) or len(results) == 0:
        raise ValueError(f"results must be a non-empty dict of name -> points; received {results!r:.80}")
    checked = {name: _memory_points(name, points) for name, points in results.items()}
    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    for name, array in checked.items():
        lengths, means, lows, highs = array.T
        missing = int((~np.isfinite(means)).sum())
        note = f" ({missing} lengths without a finite value)" if missing else ""
        error = np.nan_to_num(np.stack([means - lows, highs - means]))  # (2, N) below and above the mean
        axes.errorbar(lengths, means, yerr=error, color=architecture_colour(name), marker="o", markersize=4,
                      capsize=3, label=f"{name}{note}")
    axes.axhline(baseline, color="grey", linestyle="--", linewidth=1.2, label=f"{baseline_label} ({baseline:.3g})")
    axes.set_xscale("log")
    plotted = np.concatenate([array[:, 1:].ravel() for array in checked.values()] + [[baseline]])
    if (plotted[np.isfinite(plotted)] > 0).all():
        axes.set_yscale("log")
    lengths = np.unique(np.concatenate([array[:, 0] for array in checked.values()]))
    if len(lengths) <= 12:  # label the measured lengths themselves rather than powers of ten
        axes.set_xticks(lengths, [f"{length:g}" for length in lengths])
        axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlabel("sequence length T (steps)")
    axes.set_ylabel(ylabel)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title(title)
    return _save_png(figure, path)


def _metric_values(rows: Sequence[Mapping], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, spreads) of one metric over the rows; None or missing spread is 0, a None value nan."""
    values, spreads = [], []
    for number, row in enumerate(rows):
        if key not in row:
            raise ValueError(f"rows[{number}] must have a value for metric {key!r}; received keys {sorted(row)}")
        spread = row.get(f"{key}_spread")
        if spread is not None and not spread >= 0:
            raise ValueError(f"rows[{number}][{key + '_spread'!r}] must be >= 0; received {spread!r}")
        values.append(math.nan if row[key] is None else float(row[key]))
        spreads.append(0.0 if spread is None else float(spread))
    return np.array(values), np.array(spreads)


def plot_comparison(rows: Sequence[Mapping], path: str | os.PathLike, *, metrics: Sequence[tuple[str, str]],
                    title: str) -> Path:
    """A row of bar charts, one per metric, one bar per architecture in its colour.

    Each bar is labelled with its value; a row with `<key>_spread` (e.g. the standard deviation
    or half the range over seeds) gets an error bar of that size. A value of None is drawn as
    "n/a" (e.g. peak GPU memory on a CPU run).

    Args:
        rows: one dict per architecture or setting, with "name" and a value for every metric key,
            e.g. {"name": "LSTM", "accuracy": 0.73, "accuracy_spread": 0.01, "parameters": 1234}.
        path: the PNG to write.
        metrics: (key, label) per panel, the label with its unit, e.g. ("train_seconds", "training time (s)").
        title: the figure's title.

    Returns:
        `path` as a Path.
    """
    if len(rows) == 0 or any(not isinstance(row, Mapping) or "name" not in row for row in rows):
        raise ValueError(f"rows must be a non-empty list of dicts with 'name'; received {list(rows)[:3]!r:.120}")
    if len(metrics) == 0:
        raise ValueError(f"metrics must be a non-empty list of (key, label); received {metrics!r}")
    names = [str(row["name"]) for row in rows]
    positions = np.arange(len(rows))
    figure = Figure(figsize=(0.6 + max(2.4, 0.7 * len(rows)) * len(metrics), 4.0), layout="constrained")
    for axes, (key, label) in zip(figure.subplots(1, len(metrics), squeeze=False)[0], metrics):
        values, spreads = _metric_values(rows, key)
        axes.bar(positions, np.nan_to_num(values), color=[architecture_colour(name) for name in names],
                 yerr=spreads if spreads.any() else None, capsize=4)
        for position, value, spread in zip(positions, values, spreads):
            text = "n/a" if math.isnan(value) else f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
            axes.annotate(text, (position, np.nan_to_num(value) + spread), ha="center", va="bottom", fontsize=8,
                          xytext=(0, 2), textcoords="offset points")
        axes.margins(y=0.15)  # room for the value labels above the tallest bar
        slanted = len(rows) > 3  # long names of many settings would overlap when level
        axes.set_xticks(positions, names, rotation=30 if slanted else 0, ha="right" if slanted else "center")
        axes.set_xlabel("architecture")
        axes.set_ylabel(label)
        axes.set_title(label, fontsize=10)
    figure.suptitle(title)
    return _save_png(figure, path)
