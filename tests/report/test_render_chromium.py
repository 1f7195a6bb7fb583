"""A report opened in headless Chromium: every image decodes, tables are counted, broken images are caught.

The tests that run Chromium skip where none is installed; `apt-get install chromium` (Debian) or
CHROMIUM=/path/to/chrome makes them run.
"""

from __future__ import annotations

import base64
import re
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from rnnlab.report import Section, Table, write_report
from rnnlab.report.diagnostic_plots import plot_comparison, plot_gradient_flow
from rnnlab.report.render import _FACTS_SCRIPT, _POLICY, SCREENSHOT_WIDTH, _instrument, find_chromium, main, render

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason="no Chromium (chromium, chromium-browser or google-chrome on PATH, or $CHROMIUM): "
           "the report is not rendered; `apt-get install chromium` enables these tests")

REPO = Path(__file__).parents[2]


def write_study_report(directory: Path) -> Path:
    """A report as the study writes one: two plots and a table."""
    steps = np.arange(40)
    flow = plot_gradient_flow({"RNN": 0.8 ** (40 - steps), "LSTM": 0.99 ** (40 - steps)}, directory / "flow.png",
                              title="gradient flow")
    rows = [{"name": "RNN", "mse": 0.15, "mse_spread": 0.01}, {"name": "LSTM", "mse": 0.01, "mse_spread": 0.002}]
    bars = plot_comparison(rows, directory / "compare.png", metrics=[("mse", "test MSE")], title="adding, T = 100")
    table = Table(columns=["architecture", "test MSE"], rows=[["RNN", 0.15], ["LSTM", 0.01]], caption="adding")
    section = Section(heading="Results", paragraphs=["LSTM < RNN & more"], tables=[table], images=[flow, bars])
    return write_report(directory / "report.html", title="Study <T = 100>", sections=[section],
                        command="rnnlab compare adding")


def corrupt_first_image(report: Path, replacement) -> None:
    """Replaces the base64 payload of the report's first image with replacement(payload)."""
    text = report.read_text(encoding="utf-8")
    payload = re.search(r'src="data:image/png;base64,([^"]+)"', text).group(1)
    report.write_text(text.replace(payload, replacement(payload), 1), encoding="utf-8")


@needs_chromium
def test_report_renders_with_every_image_decoded(tmp_path):
    report = write_study_report(tmp_path)
    original = report.read_bytes()
    check = render(report)
    assert check.title == "Study <T = 100>"
    assert (check.images, check.images_decoded, check.tables) == (2, 2, 1)
    assert check.ok and check.failed_images == [] and check.screenshot is None
    assert report.read_bytes() == original  # Chromium read a copy; the report gained no script


@pytest.mark.parametrize("replacement", [
    lambda payload: payload[:200] + "!*not base64*!" + payload[200:],            # corrupt base64
    lambda payload: base64.b64encode(b"this is not a PNG at all").decode("ascii"),  # valid base64, not an image
], ids=["corrupt-base64", "not-an-image"])
@needs_chromium
def test_a_broken_image_is_reported_as_not_decoded(tmp_path, replacement):
    report = write_study_report(tmp_path)
    corrupt_first_image(report, replacement)
    check = render(report)
    assert (check.images, check.images_decoded, check.tables) == (2, 1, 1)
    assert not check.ok and check.failed_images == ["flow"]  # the alt text names the broken plot


@needs_chromium
def test_an_image_the_report_only_references_does_not_load(tmp_path):
    # a report must stand alone: a file beside it or an address on the network is blocked, not fetched
    report = write_study_report(tmp_path)
    text = report.read_text(encoding="utf-8")
    text = text.replace("</section>", '<img src="flow.png" alt="beside"><img src="http://example.com/a.png" '
                                      'alt="remote"></section>', 1)
    report.write_text(text, encoding="utf-8")
    check = render(report)
    assert (check.images, check.images_decoded) == (4, 2)
    assert check.failed_images == ["beside", "remote"]


@needs_chromium
def test_render_writes_a_screenshot_of_the_whole_page(tmp_path):
    check = render(write_study_report(tmp_path), tmp_path / "page.png")
    assert check.screenshot == tmp_path / "page.png"
    pixels = imread(check.screenshot)
    assert pixels.shape[1] == SCREENSHOT_WIDTH and pixels.shape[0] == check.height > 800
    assert pixels[..., :3].std() > 0.05


@needs_chromium
def test_command_line_exits_nonzero_when_an_image_failed(tmp_path, capsys):
    report = write_study_report(tmp_path)
    assert main([str(report)]) == 0
    assert "images: 2 of 2 decoded" in capsys.readouterr().out
    corrupt_first_image(report, lambda payload: payload[:100] + "%%%" + payload[100:])
    finished = subprocess.run([sys.executable, "-m", "rnnlab.report.render", str(report)], capture_output=True,
                              text=True, cwd=REPO, timeout=120)
    assert finished.returncode == 1
    assert "images: 1 of 2 decoded" in finished.stdout and "not decoded: flow" in finished.stdout


def test_command_line_exits_2_for_a_missing_report(tmp_path, capsys):
    assert main([str(tmp_path / "absent.html")]) == 2
    assert "html_path must be an existing HTML file" in capsys.readouterr().err


def test_instrumented_copy_adds_the_policy_in_head_and_the_script_at_the_end():
    document = b'<!DOCTYPE html>\n<html lang="en">\n<HEAD>\n<title>t</title></head><body><p>x</p></body></html>\n'
    copy = _instrument(document)
    policy_at = copy.index(b"Content-Security-Policy")
    assert copy.index(b"<HEAD>") < policy_at < copy.index(b"<title>")
    assert b"default-src 'none'; img-src data:;" in copy
    assert copy.endswith(_FACTS_SCRIPT.encode("utf-8"))
    # without the two additions the copy is the report, byte for byte
    assert copy.replace(_POLICY, b"", 1).removesuffix(_FACTS_SCRIPT.encode("utf-8")) == document


def fake_executable(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_chromium_prefers_the_environment_then_path(tmp_path, monkeypatch):
    chosen = fake_executable(tmp_path, "my-chrome")
    fake_executable(tmp_path, "chromium-browser")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CHROMIUM", str(chosen))
    assert find_chromium() == str(chosen)
    monkeypatch.delenv("CHROMIUM")
    assert find_chromium() == str(tmp_path / "chromium-browser")


def test_find_chromium_is_none_without_one_and_render_says_why(tmp_path, monkeypatch):
    monkeypatch.delenv("CHROMIUM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_chromium() is None
    report = tmp_path / "r.html"
    report.write_text("<title>t</title>")
    with pytest.raises(RuntimeError, match="no Chromium found"):
        render(report)


def test_find_chromium_rejects_a_wrong_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match=r"CHROMIUM must name a Chromium executable.*nowhere"):
        find_chromium()
