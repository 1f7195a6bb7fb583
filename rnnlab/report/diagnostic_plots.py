"""PNG figures of the studies: gradient flow through time, memory curves and comparisons of
architectures, each architecture in its own colour in every figure (the gates: `gate_plots`).

Made as `rnnlab.report.plots` makes its figures (matplotlib's object API, never pyplot; each PNG
written atomically).
"""

from __future__ import annotations

import math
import os
import re
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullLocator

from rnnlab.report.plots import save_png


# The colours are from Okabe and Ito's palette, chosen to stay distinct for colour-blind readers.
ARCHITECTURE_COLOURS: dict[str, str] = {"RNN": "#D55E00", "LSTM": "#0072B2", "GRU": "#009E73"}
_OTHER_COLOURS = ("#E69F00", "#CC79A7", "#56B4E9", "#000000", "#999999")
_LINE_STYLES = ("-", "--", ":", "-.")

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
    return save_png(figure, path)


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
    return save_png(figure, path)


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
    return save_png(figure, path)
