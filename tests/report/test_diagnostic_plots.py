"""The diagnostic and comparison plots: valid PNGs, fixed colour ranges and colours, edge cases, bad input."""

from __future__ import annotations

import math
import warnings
from collections import Counter

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.image import imread

from rnnlab.report import diagnostic_plots, gate_plots
from rnnlab.report.diagnostic_plots import (
    ARCHITECTURE_COLOURS,
    architecture_colour,
    plot_comparison,
    plot_gradient_flow,
    plot_memory_curve,
)
from rnnlab.report.gate_plots import plot_gate_heatmaps, plot_gate_histograms, saturation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LSTM_KINDS = {"i": "sigmoid", "f": "sigmoid", "g": "tanh", "o": "sigmoid", "c": "free"}


@pytest.fixture
def figures(monkeypatch):
    """Every Figure the plots save, in order, so a test can read its titles, labels and colours."""
    saved = []
    save_png = diagnostic_plots.save_png

    def keep(figure, path):
        saved.append(figure)
        return save_png(figure, path)

    for module in (diagnostic_plots, gate_plots):
        monkeypatch.setattr(module, "save_png", keep)
    return saved


@pytest.fixture(autouse=True)
def no_warnings():
    # matplotlib warns (UserWarning) when a log axis gets no positive value, numpy (RuntimeWarning) on
    # an empty mean or nan comparison: the plots must avoid both, not pass them on to the user
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("error", RuntimeWarning)
        yield


def assert_png(path, *, min_side=100):
    assert path.read_bytes()[:8] == PNG_MAGIC
    pixels = imread(path)
    assert pixels.shape[0] >= min_side and pixels.shape[1] >= min_side
    assert pixels[..., :3].std() > 0.05  # something was drawn, not a blank canvas
    return pixels


def assert_titled_and_labelled(figure):
    """The figure has a title, and every plotting panel a y label; some panel has an x label."""
    panels = [axes for axes in figure.axes if axes.get_visible() and axes.get_label() != "<colorbar>"]
    title = figure._suptitle.get_text() if figure._suptitle else ""
    assert title or all(axes.get_title() for axes in panels)
    assert all(axes.get_ylabel() for axes in panels)
    assert any(axes.get_xlabel() for axes in panels)


def lstm_gates(num_steps, num_units, seed=0):
    """Values in the ranges of an LSTM's recorded i, f, g, o (each (T, H)) and a wandering c."""
    pre = np.random.default_rng(seed).normal(size=(5, num_steps, num_units))  # pre-activations
    sigmoid = 1 / (1 + np.exp(-pre))
    return {"i": sigmoid[0], "f": sigmoid[1], "g": np.tanh(pre[2]), "o": sigmoid[3], "c": pre[4].cumsum(axis=0)}


def dominant_colour(pixels):
    """The commonest RGB colour of an image other than white, as a hex string."""
    rgb = (pixels[..., :3].reshape(-1, 3) * 255).round().astype(int)
    counts = Counter(map(tuple, rgb))
    colour = next(colour for colour, _ in counts.most_common() if colour != (255, 255, 255))
    return np.array(colour) / 255


def bar_container(axes):
    """The bars of a bar chart (its errorbars, when drawn, are a container of their own)."""
    return next(container for container in axes.containers if isinstance(container, BarContainer))


# Gate heat maps

@pytest.mark.parametrize("num_steps, num_units", [(40, 16), (1, 8), (25, 1), (1, 1)])
def test_gate_heatmaps_write_a_png_for_any_length_and_width(tmp_path, figures, num_steps, num_units):
    path = plot_gate_heatmaps(lstm_gates(num_steps, num_units), tmp_path / "gates.png", title="LSTM layer 0",
                              kinds=LSTM_KINDS)
    assert path == tmp_path / "gates.png"
    assert_png(path)
    assert_titled_and_labelled(figures[0])
    assert [axes.get_title(loc="left").split(" ")[0] for axes in figures[0].axes if axes.get_title(loc="left")] == \
        ["i", "f", "g", "o", "c"]


@pytest.mark.parametrize("kind, value, position", [
    ("sigmoid", 0.5, 0.5),   # fixed [0, 1]: half-way, not the bottom of a range fitted to the data
    ("tanh", 0.5, 0.75),     # fixed [-1, 1]
    ("relu", 3.0, 1.0),      # [0, max]
    ("free", -2.0, 0.0),     # symmetric about 0: [-2, 2]
])
def test_gate_heatmap_colour_range_is_fixed_by_kind(tmp_path, kind, value, position):
    path = plot_gate_heatmaps({"x": np.full((30, 12), value)}, tmp_path / "one.png", title="t", kinds={"x": kind})
    expected = colormaps[gate_plots._KIND_COLOUR_MAPS[kind]](position)[:3]
    np.testing.assert_allclose(dominant_colour(imread(path)), expected, atol=2 / 255)


def test_gate_heatmaps_draw_nan_and_an_all_zero_relu(tmp_path, figures):
    values = {"h": np.zeros((10, 4)), "c": np.where(np.eye(10, 4) > 0, np.nan, 1.0)}
    assert_png(plot_gate_heatmaps(values, tmp_path / "g.png", title="t", kinds={"h": "relu", "c": "free"}))
    assert "not a finite number" in figures[0]._suptitle.get_text()


@pytest.mark.parametrize("values, kinds, message", [
    ({"f": np.zeros((2, 3, 4))}, {"f": "sigmoid"}, r"values\['f'\] must be a \(T, H\).*\(2, 3, 4\)"),
    ({"f": np.zeros(5)}, {"f": "sigmoid"}, r"values\['f'\] must be a \(T, H\).*\(5,\)"),
    ({"f": np.zeros((0, 3))}, {"f": "sigmoid"}, r"values\['f'\].*\(0, 3\)"),
    ({"f": np.zeros((2, 3))}, {"f": "softmax"}, r"kinds\['f'\] must be one of .*received 'softmax'"),
    ({"f": np.zeros((2, 3))}, {}, r"kinds\['f'\] must be one of .*received None"),
    ({}, {}, r"values must be a non-empty dict.*received \{\}"),
])
def test_gate_heatmaps_reject_bad_input(tmp_path, values, kinds, message):
    with pytest.raises(ValueError, match=message):
        plot_gate_heatmaps(values, tmp_path / "bad.png", title="t", kinds=kinds)
    assert not (tmp_path / "bad.png").exists()


# Saturation and histograms

def test_saturation_of_a_sigmoid_counts_each_end_and_skips_nan():
    shares = saturation(np.array([0.05, 0.1, 0.5, 0.9, 0.95, 0.99, np.nan, 0.2]), "sigmoid")
    # 7 finite values: 0.05 below 0.1; 0.95 and 0.99 above 0.9; 0.1 and 0.9 themselves are not saturated
    assert shares == pytest.approx({"low": 1 / 7, "high": 2 / 7, "saturated": 3 / 7})


def test_saturation_of_tanh_counts_magnitude_above_0_9():
    shares = saturation(np.array([[-0.95, -0.9], [0.0, 0.91], [0.5, np.inf]]), "tanh")
    assert shares == pytest.approx({"low": 1 / 5, "high": 1 / 5, "saturated": 2 / 5})


def test_saturation_of_relu_is_its_flat_side():
    assert saturation(np.array([0.0, 0.0, 1.0, 2.5]), "relu") == pytest.approx({"low": 0.5, "high": 0.0,
                                                                                 "saturated": 0.5})


@pytest.mark.parametrize("values, kind", [(np.array([1.0, -3.0]), "free"), (np.array([np.nan, np.inf]), "sigmoid")])
def test_saturation_is_nan_without_a_range_or_a_finite_value(values, kind):
    assert all(math.isnan(share) for share in saturation(values, kind).values())


def test_saturation_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match=r"kind must be one of .*received 'softplus'"):
        saturation(np.zeros(3), "softplus")


def test_gate_histograms_write_a_png_with_the_saturated_shares(tmp_path, figures):
    values = {name: array[:, None, :].repeat(3, axis=1) for name, array in lstm_gates(50, 8).items()}  # (T, B, H)
    values["f"] = np.array([0.05, 0.5, 0.95, 0.95])
    path = plot_gate_histograms(values, tmp_path / "hist.png", title="LSTM gates", kinds=LSTM_KINDS)
    assert_png(path)
    assert_titled_and_labelled(figures[0])
    titles = {axes.get_title().split(" ")[0]: axes.get_title() for axes in figures[0].axes if axes.get_visible()}
    assert "25.0% < 0.1, 50.0% > 0.9" in titles["f"]
    assert "no saturation range" in titles["c"]


def test_gate_histograms_handle_one_value_nan_and_an_empty_gate(tmp_path, figures):
    values = {"h": np.array([[0.3]]), "n": np.array([np.nan, 0.95, -0.2])}
    assert_png(plot_gate_histograms(values, tmp_path / "h.png", title="t", kinds={"h": "tanh", "n": "tanh"}))
    assert "1 non-finite values left out" in figures[0]._suptitle.get_text()
    only_nan = {"r": np.full(4, np.nan)}
    assert_png(plot_gate_histograms(only_nan, tmp_path / "n.png", title="t", kinds={"r": "sigmoid"}))


def test_gate_histograms_reject_an_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match=r"kinds\['z'\] must be one of .*received 'gelu'"):
        plot_gate_histograms({"z": np.zeros(3)}, tmp_path / "bad.png", title="t", kinds={"z": "gelu"})


# Gradient flow

def test_gradient_flow_writes_a_log_plot_with_architecture_colours(tmp_path, figures):
    steps = np.arange(100)
    curves = {"RNN": 0.7 ** (100 - steps), "LSTM layer 0": 0.99 ** (100 - steps),
              "LSTM layer 1": 0.98 ** (100 - steps), "GRU (clipped)": 0.995 ** (100 - steps)}
    assert_png(plot_gradient_flow(curves, tmp_path / "flow.png", title="adding, T = 100"))
    axes = figures[0].axes[0]
    assert axes.get_yscale() == "log"
    assert_titled_and_labelled(figures[0])
    colours = {line.get_label(): to_hex(line.get_color()) for line in axes.get_lines()}
    expected = {"RNN": "RNN", "LSTM layer 0": "LSTM", "LSTM layer 1": "LSTM", "GRU (clipped)": "GRU"}
    assert colours == {label: ARCHITECTURE_COLOURS[name].lower() for label, name in expected.items()}
    styles = {line.get_label(): line.get_linestyle() for line in axes.get_lines()}
    assert styles["LSTM layer 0"] != styles["LSTM layer 1"]  # one colour, told apart by the dash


def test_gradient_flow_masks_zero_and_non_finite_steps_and_says_so(tmp_path, figures):
    curves = {"RNN": np.array([0.0, 1e-30, np.nan, np.inf, 1e-3, 1e-2, 1.0, 0.0, 2.0, 3.0]),
              "LSTM": np.zeros(10), "GRU": np.array([0.5])}  # an all-zero curve and a single step
    assert_png(plot_gradient_flow(curves, tmp_path / "flow.png", title="t"))
    axes = figures[0].axes[0]
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert labels == ["RNN (4 of 10 steps zero or non-finite, not drawn)",
                      "LSTM (10 of 10 steps zero or non-finite, not drawn)", "GRU"]
    drawn = axes.get_lines()[0].get_ydata()
    assert np.isnan(drawn[[0, 2, 3, 7]]).all() and (drawn[[1, 4, 5, 6, 8, 9]] > 0).all()
    low, high = axes.get_ylim()
    assert 0 < low < 1e-30 and high > 3.0


def test_gradient_flow_with_nothing_to_draw_still_writes_a_png(tmp_path, figures):
    assert_png(plot_gradient_flow({"RNN": np.zeros(20)}, tmp_path / "flow.png", title="all zero"))
    assert any("no positive finite value" in text.get_text() for text in figures[0].axes[0].texts)


@pytest.mark.parametrize("curves, message", [
    ({"RNN": np.zeros((3, 4))}, r"curves\['RNN'\] must be a non-empty \(T,\) array; received shape \(3, 4\)"),
    ({"RNN": np.zeros(0)}, r"curves\['RNN'\].*\(0,\)"),
    ({}, r"curves must be a non-empty dict.*received \{\}"),
])
def test_gradient_flow_rejects_bad_curves(tmp_path, curves, message):
    with pytest.raises(ValueError, match=message):
        plot_gradient_flow(curves, tmp_path / "bad.png", title="t")


# Memory curve

def test_memory_curve_draws_each_architecture_the_baseline_and_log_lengths(tmp_path, figures):
    results = {name: [(length, scale * length / 1e4, scale * length / 2e4, scale * length / 5e3)
                      for length in (1000, 10, 100)] for name, scale in (("RNN", 10.0), ("LSTM", 1.0), ("GRU", 0.8))}
    assert_png(plot_memory_curve(results, tmp_path / "memory.png", baseline=0.167, title="adding",
                                 baseline_label="predict the mean"))
    axes = figures[0].axes[0]
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    assert_titled_and_labelled(figures[0])
    labels = [text.get_text() for text in axes.get_legend().get_texts()]
    assert "predict the mean (0.167)" in labels
    baseline = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
    assert len(baseline) == 1 and set(baseline[0].get_ydata()) == {0.167}
    lines = {container.get_label(): container.lines[0] for container in axes.containers}  # errorbar: data line first
    assert list(lines) == ["RNN", "LSTM", "GRU"]
    assert list(lines["RNN"].get_xdata()) == [10, 100, 1000]  # sorted by length
    assert to_hex(lines["GRU"].get_color()) == ARCHITECTURE_COLOURS["GRU"].lower()


def test_memory_curve_with_one_architecture_one_length_and_a_diverged_run(tmp_path, figures):
    results = {"LSTM": [(50, 0.01, 0.005, 0.02)], "RNN": [(50, np.nan, np.nan, np.nan), (500, 0.2, 0.1, 0.3)]}
    assert_png(plot_memory_curve(results, tmp_path / "m.png", baseline=0.167, title="t"))
    labels = [text.get_text() for text in figures[0].axes[0].get_legend().get_texts()]
    assert "RNN (1 lengths without a finite value)" in labels
    assert_png(plot_memory_curve({"GRU": [(10, 0.1, 0.1, 0.1)]}, tmp_path / "one.png", baseline=0.167, title="t"))


@pytest.mark.parametrize("results, message", [
    ({"RNN": [(10, 0.1, 0.2, 0.3)]}, r"results\['RNN'\] must have low <= mean <= high"),
    ({"RNN": [(0, 0.1, 0.1, 0.1)]}, r"results\['RNN'\] lengths must be positive.*\[0\.0\]"),
    ({"RNN": [(10, 0.1, 0.1)]}, r"results\['RNN'\] must be a non-empty list of \(length, mean, low, high\)"),
    ({"RNN": []}, r"results\['RNN'\] must be a non-empty list"),
    ({}, r"results must be a non-empty dict"),
])
def test_memory_curve_rejects_bad_points(tmp_path, results, message):
    with pytest.raises(ValueError, match=message):
        plot_memory_curve(results, tmp_path / "bad.png", baseline=0.167, title="t")


# Comparison bars

ROWS = [{"name": "RNN", "accuracy": 0.61, "accuracy_spread": 0.05, "parameters": 1200, "peak_mb": None},
        {"name": "LSTM", "accuracy": 0.73, "accuracy_spread": 0.01, "parameters": 4700, "peak_mb": None},
        {"name": "GRU", "accuracy": 0.74, "parameters": 3600, "peak_mb": None}]
METRICS = [("accuracy", "test accuracy"), ("parameters", "parameters (count)"), ("peak_mb", "peak memory (MB)")]


def test_comparison_draws_a_panel_per_metric_in_architecture_colours(tmp_path, figures):
    assert_png(plot_comparison(ROWS, tmp_path / "compare.png", metrics=METRICS, title="Rotten Tomatoes, 3 seeds"))
    panels = figures[0].axes
    assert [axes.get_title() for axes in panels] == ["test accuracy", "parameters (count)", "peak memory (MB)"]
    assert_titled_and_labelled(figures[0])
    bars = bar_container(panels[0])
    assert [to_hex(bar.get_facecolor()) for bar in bars] == [ARCHITECTURE_COLOURS[name].lower()
                                                             for name in ("RNN", "LSTM", "GRU")]
    assert [bar.get_height() for bar in bars] == pytest.approx([0.61, 0.73, 0.74])
    assert bars.errorbar is not None and bar_container(panels[1]).errorbar is None  # spread only where given
    assert [text.get_text() for text in panels[1].texts] == ["1,200", "4,700", "3,600"]
    assert [text.get_text() for text in panels[2].texts] == ["n/a"] * 3


def test_comparison_with_a_single_architecture(tmp_path):
    assert_png(plot_comparison([{"name": "LSTM", "mse": 0.01}], tmp_path / "one.png", metrics=[("mse", "test MSE")],
                               title="t"))


@pytest.mark.parametrize("rows, metrics, message", [
    ([{"name": "RNN", "mse": 1.0}, {"name": "GRU"}], [("mse", "MSE")], r"rows\[1\] must have a value for metric 'mse'"),
    ([{"name": "RNN", "mse": 1.0, "mse_spread": -0.1}], [("mse", "MSE")], r"rows\[0\]\['mse_spread'\] must be >= 0"),
    ([{"mse": 1.0}], [("mse", "MSE")], r"rows must be a non-empty list of dicts with 'name'"),
    ([{"name": "RNN", "mse": 1.0}], [], r"metrics must be a non-empty list"),
])
def test_comparison_rejects_bad_rows(tmp_path, rows, metrics, message):
    with pytest.raises(ValueError, match=message):
        plot_comparison(rows, tmp_path / "bad.png", metrics=metrics, title="t")


# Colours

@pytest.mark.parametrize("label, architecture", [("RNN", "RNN"), ("lstm", "LSTM"), ("LSTM layer 1 reverse", "LSTM"),
                                                 ("GRU (clipped)", "GRU"), ("gru-h64", "GRU")])
def test_architecture_colour_follows_the_first_word(label, architecture):
    assert architecture_colour(label) == ARCHITECTURE_COLOURS[architecture]


def test_other_labels_get_a_stable_colour_of_their_own():
    colour = architecture_colour("Transformer")
    assert colour not in ARCHITECTURE_COLOURS.values()
    assert architecture_colour("Transformer") == colour
    assert len(set(ARCHITECTURE_COLOURS.values())) == 3
