"""plot_confusion writes a PNG of the right matrix and rejects a matrix that does not fit the labels."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from rnnlab.report.plots import plot_confusion


def test_plot_confusion_writes_a_png(tmp_path):
    path = plot_confusion(np.array([[5, 1], [2, 7]]), ["fresh", "rotten"], tmp_path / "confusion.png", title="test")
    assert path == tmp_path / "confusion.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = imread(path)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert pixels[..., :3].std() > 0.05  # something was drawn, not a blank canvas


def test_plot_confusion_handles_a_class_that_never_occurs(tmp_path):
    path = plot_confusion(np.array([[3, 0, 0], [0, 0, 0], [1, 0, 2]]), ["a", "b", "c"], tmp_path / "c.png")
    assert path.is_file()


@pytest.mark.parametrize("matrix, labels", [
    (np.zeros((2, 3)), ["a", "b"]),
    (np.zeros((2, 2)), ["a", "b", "c"]),
    (np.array([[1, -1], [0, 1]]), ["a", "b"]),
])
def test_plot_confusion_rejects_a_matrix_that_does_not_fit(tmp_path, matrix, labels):
    with pytest.raises(ValueError, match="matrix must be"):
        plot_confusion(matrix, labels, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
