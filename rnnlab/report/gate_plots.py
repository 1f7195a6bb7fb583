"""PNG figures of recorded gates: heat maps over time and units, histograms, and how saturated they are.

Made as `rnnlab.report.plots` makes its figures (matplotlib's object API, never pyplot; each PNG
written atomically).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rnnlab.report.plots import save_png

# What a recorded value can range over (Cell.recorded_kinds): its colour map, fixed colour range and
# the name of its axis. Fixed ranges make two heat maps comparable at a glance: a forget gate at 0.5
# has the same shade in the RNN's figure as in the LSTM's.
GATE_KINDS = ("sigmoid", "tanh", "relu", "free")
_KIND_COLOUR_MAPS = {"sigmoid": "viridis", "tanh": "RdBu_r", "relu": "magma", "free": "RdBu_r"}
_KIND_AXIS_LABELS = {"sigmoid": "σ activation, 0 to 1", "tanh": "tanh activation, −1 to 1",
                     "relu": "relu activation, ≥ 0", "free": "value (unbounded)"}


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
    return save_png(figure, path)


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
    return save_png(figure, path)
