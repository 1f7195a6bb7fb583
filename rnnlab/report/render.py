"""Opening a report in headless Chromium: does every image decode, and what does the page hold?

A report that writes without error can still show a broken image (a truncated PNG, a data URI
that is not base64) or depend on a file beside it. `render` checks it the way a reader sees it:
Chromium opens a copy of the report, and a small script appended to the copy writes, once the
page has loaded, the facts into the page (how many <img> there are and how many decoded, how many
tables, the title); Chromium's --dump-dom prints the page and the facts are read back from it.
No browser driver is needed, and the report itself is never changed.

The copy also gets a Content-Security-Policy that allows only inline styles, inline scripts and
data: images. Together with the flags below (no background networking, every host name mapped to
"not found") nothing can reach the network, and an image the report only references, by address
or by file name, fails to load and is counted as not decoded: the report must stand alone.

    python -m rnnlab.report.render runs/demo/report.html [--screenshot page.png]

prints the facts and exits 1 if an image did not decode, 2 if the page could not be rendered.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rnnlab.report.atomic import write_bytes_atomically

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # the sandbox cannot start as root (containers, CI); the page is our own file
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-dev-shm-usage",  # a container's /dev/shm is often too small for Chromium's shared memory
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves, so no request can leave the machine
    "--hide-scrollbars",
    "--mute-audio",
)

SCREENSHOT_WIDTH = 1280  # px: the report's column (60rem) with its margins
_MAX_SCREENSHOT_HEIGHT = 16384  # px: Chromium's largest surface; a longer page is cut there

_POLICY = (b'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
           b'style-src \'unsafe-inline\'; script-src \'unsafe-inline\'">')
_FACTS_ID = "rnnlab-render-facts"
# Runs once the page and all its images have loaded (or failed to): an image that failed has
# naturalWidth 0. The facts are measured first, then written in a hidden element.
_FACTS_SCRIPT = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var failed = images.filter(function (image) { return !(image.complete && image.naturalWidth > 0); });
  var facts = {
    title: document.title, images: images.length, decoded: images.length - failed.length,
    failed: failed.map(function (image) { return image.alt || image.src.slice(0, 80); }),
    tables: document.getElementsByTagName("table").length,
    height: Math.ceil(document.documentElement.scrollHeight)
  };
  var out = document.createElement("pre");
  out.id = "%s";
  out.hidden = true;
  out.textContent = JSON.stringify(facts);
  document.body.appendChild(out);
});
</script>
""" % _FACTS_ID


@dataclass(frozen=True)
class RenderCheck:
    """What headless Chromium showed of a report.

    Attributes:
        title: the page's title.
        images: the number of <img> elements.
        images_decoded: how many of them decoded (naturalWidth > 0).
        tables: the number of <table> elements.
        failed_images: the alt text (or the start of the address) of each image that did not decode.
        height: the page's height in CSS pixels at SCREENSHOT_WIDTH.
        screenshot: the PNG written, or None.
    """

    title: str
    images: int
    images_decoded: int
    tables: int
    failed_images: list[str] = field(default_factory=list)
    height: int = 0
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        """True when every image decoded."""
        return self.images_decoded == self.images

    def summary(self) -> str:
        """The facts, one per line, for a terminal."""
        lines = [f"title: {self.title}", f"images: {self.images_decoded} of {self.images} decoded",
                 f"tables: {self.tables}", f"page height: {self.height} px"]
        if self.failed_images:
            lines.append("not decoded: " + ", ".join(self.failed_images))
        if self.screenshot is not None:
            lines.append(f"screenshot: {self.screenshot}")
        return "\n".join(lines)


def find_chromium() -> str | None:
    """The Chromium to run: $CHROMIUM if set, else the first of CHROMIUM_NAMES on PATH, else None.

    Raises:
        ValueError: CHROMIUM is set but names no executable; a wrong setting is an error, not a
            silent fall-back to another browser or a skipped check.
    """
    configured = os.environ.get("CHROMIUM")
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise ValueError(f"CHROMIUM must name a Chromium executable (a path or a command on PATH); "
                             f"received {configured!r}")
        return found
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def render(html_path: str | os.PathLike, png_path: str | os.PathLike | None = None, *,
           timeout: float = 60.0) -> RenderCheck:
    """Opens the report in headless Chromium and reports its images, tables and title.

    Args:
        html_path: the report. It is not modified: Chromium opens an instrumented copy.
        png_path: where to write a screenshot of the whole page (SCREENSHOT_WIDTH px wide), or None.
        timeout: seconds each Chromium run may take.

    Returns:
        The facts; `.ok` is False when some image did not decode.

    Raises:
        ValueError: html_path is not a file.
        RuntimeError: no Chromium was found, or it printed no facts (the page did not load).
        TimeoutError: Chromium took more than `timeout` seconds.
    """
    html_path = Path(html_path)
    if not html_path.is_file():
        raise ValueError(f"html_path must be an existing HTML file; received {str(html_path)!r}")
    executable = find_chromium()
    if executable is None:
        raise RuntimeError(f"no Chromium found: install one of {CHROMIUM_NAMES} (Debian: apt-get install chromium) "
                           "or set CHROMIUM to its path")
    with tempfile.TemporaryDirectory(prefix="rnnlab-render-") as scratch:
        page = Path(scratch) / "page.html"
        page.write_bytes(_instrument(html_path.read_bytes()))
        # measured at the screenshot's width, so that its height is the page's height in the screenshot
        dom, errors = _run_chromium(executable, Path(scratch), [f"--window-size={SCREENSHOT_WIDTH},900", "--dump-dom",
                                                                page.as_uri()], timeout)
        facts = _read_facts(dom, errors, html_path)
        screenshot = None
        if png_path is not None:
            shot = Path(scratch) / "screenshot.png"
            height = min(max(facts["height"], 100), _MAX_SCREENSHOT_HEIGHT)
            _run_chromium(executable, Path(scratch), [f"--window-size={SCREENSHOT_WIDTH},{height}",
                                                      f"--screenshot={shot}", page.as_uri()], timeout)
            if not shot.is_file():
                raise RuntimeError(f"Chromium wrote no screenshot of {html_path}")
            screenshot = write_bytes_atomically(png_path, shot.read_bytes())
    return RenderCheck(title=facts["title"], images=facts["images"], images_decoded=facts["decoded"],
                       tables=facts["tables"], failed_images=facts["failed"], height=facts["height"],
                       screenshot=screenshot)


def _instrument(document: bytes) -> bytes:
    """The report with the policy at the start of <head> and the facts script at the very end."""
    head = re.search(rb"<head(\s[^>]*)?>", document, flags=re.IGNORECASE)
    if head is None:  # a parser puts a <meta> met before <body> into the implied head
        doctype = re.match(rb"\s*<!DOCTYPE[^>]*>", document, flags=re.IGNORECASE)
        head_end = doctype.end() if doctype else 0
    else:
        head_end = head.end()
    # after </html> the parser still adds the script to <body>, so the report's own markup is untouched
    return document[:head_end] + _POLICY + document[head_end:] + _FACTS_SCRIPT.encode("utf-8")


def _run_chromium(executable: str, scratch: Path, arguments: list[str], timeout: float) -> tuple[str, str]:
    """Runs Chromium once with a fresh profile; returns its stdout and stderr."""
    profile = tempfile.mkdtemp(prefix="profile-", dir=scratch)  # fresh: no cache, cookies or settings carried over
    command = [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *arguments]
    # its own process group, so that on a timeout its helpers (renderer, zygote) end with it
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.communicate()
        raise TimeoutError(f"Chromium did not finish within timeout={timeout} s: {' '.join(command)}") from None
    return stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


def _read_facts(dom: str, errors: str, html_path: Path) -> dict:
    """The facts the script wrote into the page, from Chromium's dump of it."""
    found = re.search(rf'<pre id="{_FACTS_ID}"[^>]*>(.*?)</pre>', dom, flags=re.DOTALL)
    if found is None:
        tail = "\n".join(line for line in errors.splitlines() if "dbus" not in line.lower())[-800:]
        raise RuntimeError(f"Chromium printed no render facts for {html_path}: the page did not load "
                           f"(or a policy in it blocked the script). Chromium said:\n{tail}")
    return json.loads(html.unescape(found.group(1)))


def main(argv: list[str] | None = None) -> int:
    """`python -m rnnlab.report.render REPORT.html`: 0 if every image decoded, 1 if not, 2 if it could not render."""
    parser = argparse.ArgumentParser(prog="python -m rnnlab.report.render",
                                     description="Open an HTML report in headless Chromium and check that every "
                                                 "image decodes; print its images, tables and title.")
    parser.add_argument("report", type=Path, help="the report's .html file")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="also write a screenshot of the whole page")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds each Chromium run may take (default 60)")
    args = parser.parse_args(argv)
    try:
        check = render(args.report, args.screenshot, timeout=args.timeout)
    except (ValueError, RuntimeError, TimeoutError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.report}\n{check.summary()}")
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
