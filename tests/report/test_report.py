"""Plots and the HTML report: valid PNGs, atomic writes, escaping and self-containment."""

import base64
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnnlab.report import Section, Table, plot_forecast, plot_losses, write_report
from rnnlab.report.atomic import write_bytes_atomically

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HISTORY = [{"epoch": 1, "train_loss": 1.0, "val_loss": 1.2}, {"epoch": 2, "train_loss": 0.3, "val_loss": 0.5},
           {"epoch": 3, "train_loss": 0.1, "val_loss": 0.2}]


def test_plot_losses_writes_a_png_and_nothing_else(tmp_path):
    path = plot_losses(HISTORY, tmp_path / "losses.png")
    assert path == tmp_path / "losses.png"
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert [p.name for p in tmp_path.iterdir()] == ["losses.png"]  # no temporary file left behind


def test_plot_losses_replaces_an_existing_file(tmp_path):
    path = tmp_path / "losses.png"
    path.write_bytes(b"old")
    plot_losses(HISTORY[:1], path)  # one epoch, no log-scale trouble
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_plot_losses_rejects_an_empty_history(tmp_path):
    with pytest.raises(ValueError, match="history.*\\[\\]"):
        plot_losses([], tmp_path / "losses.png")


@pytest.mark.parametrize("horizon", [None, 3])
def test_plot_forecast_writes_a_png(tmp_path, horizon):
    shape = (20,) if horizon is None else (20, horizon)
    rng = np.random.default_rng(0)
    actual, forecast, naive = (rng.normal(size=shape) for _ in range(3))
    path = plot_forecast(np.arange(20), actual, forecast, {"seasonal naive": naive}, tmp_path / "f.png", "test span")
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_plot_forecast_names_a_misshapen_baseline(tmp_path):
    with pytest.raises(ValueError, match=r"naive.*M = len\(index\) = 5.*\(4,\)"):
        plot_forecast(np.arange(5), np.zeros(5), np.zeros(5), {"naive": np.zeros(4)}, tmp_path / "f.png", "t")


def test_plots_never_start_pyplot(tmp_path):
    # pyplot is what picks and starts a GUI backend; in a fresh interpreter the plots must not load it
    script = ("import sys; from rnnlab.report import plot_losses; "
              f"plot_losses([{{'train_loss': 1.0}}], {str(tmp_path / 'l.png')!r}); "
              "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=Path(__file__).parents[2])
    assert (tmp_path / "l.png").read_bytes().startswith(PNG_MAGIC)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_bytes(b"old")

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr("rnnlab.report.atomic.os.replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_bytes_atomically(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # the temporary file is removed


def _report(tmp_path):
    images = [plot_losses(HISTORY, tmp_path / "losses.png"),
              plot_forecast(np.arange(5), np.ones(5), np.ones(5), {}, tmp_path / "forecast.png", "t")]
    table = Table(columns=["model", "MASE"], rows=[["lstm", 0.81234567], ["<script>alert(1)</script>", 1.0]],
                  caption="Quality & baselines")
    section = Section(heading="Results", paragraphs=["MASE < 1 beats seasonal naive"], tables=[table], images=images)
    path = write_report(tmp_path / "report.html", title="Airline <forecast>", sections=[section],
                        command="rnnlab train --data airline --note '<b>'")
    return path.read_text(encoding="utf-8"), images


def test_report_contains_title_and_escaped_text(tmp_path):
    text, _ = _report(tmp_path)
    assert "<title>Airline &lt;forecast&gt;</title>" in text
    assert "<h1>Airline &lt;forecast&gt;</h1>" in text
    assert "<p>MASE &lt; 1 beats seasonal naive</p>" in text
    assert "<caption>Quality &amp; baselines</caption>" in text


def test_report_table_cells_are_escaped(tmp_path):
    text, _ = _report(tmp_path)
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in text
    assert "<script>" not in text
    assert "<th>model</th><th>MASE</th>" in text
    assert "<td>lstm</td><td>0.8123</td>" in text  # floats at 4 significant digits


def test_report_embeds_every_image_as_a_data_uri(tmp_path):
    text, images = _report(tmp_path)
    sources = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert [base64.b64decode(source) for source in sources] == [image.read_bytes() for image in images]


def test_report_references_no_other_file_or_address(tmp_path):
    text, _ = _report(tmp_path)
    assert 'src="http' not in text and "href=" not in text and "url(" not in text
    assert len(re.findall(r'src="', text)) == len(re.findall(r'src="data:', text)) == 2
    assert "losses.png" not in text  # the image's bytes are in the file, not its name


def test_report_ends_with_the_escaped_reproduce_command(tmp_path):
    text, _ = _report(tmp_path)
    reproduce = text.index("<h2>Reproduce</h2>")
    assert reproduce > text.index("<h2>Results</h2>")
    assert "<pre><code>rnnlab train --data airline --note &#x27;&lt;b&gt;&#x27;</code></pre>" in text[reproduce:]


def test_table_rows_must_match_the_columns():
    with pytest.raises(ValueError, match=r"rows\[1\] must have 2 values.*received 3"):
        Table(columns=["a", "b"], rows=[[1, 2], [1, 2, 3]])


def test_report_rejects_an_unknown_image_type(tmp_path):
    image = tmp_path / "plot.gifx"
    image.write_bytes(b"x")
    with pytest.raises(ValueError, match="plot.gifx"):
        write_report(tmp_path / "r.html", title="t", sections=[Section("s", images=[image])], command="c")
    assert not (tmp_path / "r.html").exists()
