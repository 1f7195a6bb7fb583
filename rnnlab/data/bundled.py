"""Small real data sets shipped inside the package.

Each bundled data set is a folder under ``rnnlab/data/bundled/`` holding its data file(s) and a
``SOURCE.md`` (origin, citation, licence, how it was extracted). Nothing here downloads: the files
are read from the installed package, so loading works on machines without network access.
"""

import csv
from pathlib import Path

import torch

# Folder of the bundled data sets, next to this module (works for editable and regular installs).
_BUNDLED_ROOT = Path(__file__).resolve().parent / "bundled"

# Names a user may pass to `bundled_path`; each is a folder under _BUNDLED_ROOT.
_NAMES = ("airline",)


def bundled_path(name: str) -> Path:
    """Return the folder of a bundled data set.

    Args:
        name: the data set's name, one of ``['airline']``.

    Returns:
        The folder that holds the data set's files and its ``SOURCE.md``.

    Raises:
        ValueError: if ``name`` is not a bundled data set.

    Example:
        >>> (bundled_path("airline") / "SOURCE.md").is_file()
        True
    """
    if name not in _NAMES:
        raise ValueError(f"name must be one of {list(_NAMES)}; received {name!r}")
    return _BUNDLED_ROOT / name


def load_airline() -> torch.Tensor:
    """Load the airline passengers series (Box, Jenkins & Reinsel, Series G).

    Monthly totals of international airline passengers, in thousands, January 1949 to December
    1960. The same values as R's ``datasets::AirPassengers``; see ``SOURCE.md`` in
    ``bundled_path("airline")`` for the origin and licence.

    Returns:
        A float32 tensor of the 144 monthly values, in time order (first 112.0, last 432.0).

    Shape:
        (T,) with T = 144.

    Example:
        >>> series = load_airline()
        >>> series.shape, series[0].item()
        (torch.Size([144]), 112.0)
    """
    path = bundled_path("airline") / "airline.csv"
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    months = [row["month"] for row in rows]
    # The CSV is written in time order; checked here so a bad edit cannot silently shuffle it.
    assert months == sorted(months), "airline.csv must be in time order"
    return torch.tensor([float(row["passengers"]) for row in rows], dtype=torch.float32)  # (T,)
