"""A self-contained HTML report: headings, paragraphs, tables and embedded images in one file.

Every piece of text is HTML-escaped and every image is embedded as a base64 data URI, so the file
can be mailed or archived alone and shows the same everywhere; it references no other file and
no network address.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnlab.report.atomic import write_bytes_atomically

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .3rem; }
h2 { margin-top: 2rem; }
table { border-collapse: collapse; margin: 1rem 0; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3rem; }
th, td { border: 1px solid #ccc; padding: .25rem .6rem; text-align: right; }
th { background: #f3f3f3; }
td:first-child, th:first-child, td.text { text-align: left; }
img { max-width: 100%; display: block; margin: 1rem 0; }
pre { background: #f6f6f6; padding: .8rem; overflow-x: auto; }
"""


@dataclass(frozen=True)
class Table:
    """A table: `columns` names the header cells, each row has one value per column.

    Floats are shown with 4 significant digits; everything else with str().
    """

    columns: list[str]
    rows: list[list[object]]
    caption: str = ""

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"rows[{number}] must have {len(self.columns)} values (one per column); "
                                 f"received {len(row)}")


@dataclass(frozen=True)
class Section:
    """One part of the report, rendered in this order: heading, paragraphs, tables, images."""

    heading: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    images: list[Path] = field(default_factory=list)


def write_report(path: str | os.PathLike, *, title: str, sections: list[Section], command: str) -> Path:
    """Writes the report as one self-contained HTML file, atomically.

    Args:
        path: the .html file to write; its directory must exist.
        title: the page title and top heading.
        sections: the report's body, in order.
        command: the command line that reproduces the run; shown last, under "Reproduce".

    Returns:
        `path` as a Path.
    """
    body = [f"<h1>{_escape(title)}</h1>"]
    body.extend(_render_section(section) for section in sections)
    body.append(f"<h2>Reproduce</h2>\n<pre><code>{_escape(command)}</code></pre>")
    document = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    return write_bytes_atomically(path, document.encode("utf-8"))


def _escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def _render_section(section: Section) -> str:
    parts = [f"<section>\n<h2>{_escape(section.heading)}</h2>"]
    parts.extend(f"<p>{_escape(paragraph)}</p>" for paragraph in section.paragraphs)
    parts.extend(_render_table(table) for table in section.tables)
    parts.extend(_render_image(Path(image)) for image in section.images)
    parts.append("</section>")
    return "\n".join(parts)


def _render_table(table: Table) -> str:
    caption = f"<caption>{_escape(table.caption)}</caption>" if table.caption else ""
    header = "".join(f"<th>{_escape(column)}</th>" for column in table.columns)
    rows = "\n".join(
        "<tr>" + "".join(_render_cell(value) for value in row) + "</tr>"
        for row in table.rows
    )
    return f"<table>{caption}\n<thead><tr>{header}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>"


def _render_cell(value: object) -> str:
    """Numbers align right, as in every table; text longer than a word reads better aligned left."""
    text = _format_cell(value)
    return f"<td class=\"text\">{_escape(text)}</td>" if isinstance(value, str) and " " in value else f"<td>{_escape(text)}</td>"


def _format_cell(value: object) -> str:
    # np.float32 is not a float subclass (np.float64 is), so check numpy's floating too
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def _render_image(image: Path) -> str:
    """An <img> whose source is the file's bytes as a data URI: the report needs no other file."""
    media_type = IMAGE_TYPES.get(image.suffix.lower())
    if media_type is None:
        raise ValueError(f"images must be {sorted(IMAGE_TYPES)} files; received {str(image)!r}")
    encoded = base64.b64encode(image.read_bytes()).decode("ascii")
    return f"<img src=\"data:{media_type};base64,{encoded}\" alt=\"{_escape(image.stem)}\">"
