"""Small real data sets shipped inside the package.

Each bundled data set is a folder under ``rnnlab/data/bundled/`` holding its data file(s) and a
``SOURCE.md`` (origin, citation, licence, how it was extracted). Nothing here downloads: the files
are read from the installed package, so loading works on machines without network access.

The registry below says, for each name, which CSV holds the series, which column is the default
forecasting target, and which ``fill`` the loader uses by default (``rnnlab.data.load_series``).
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import torch

# Folder of the bundled data sets, next to this module (works for editable and regular installs).
_BUNDLED_ROOT = Path(__file__).resolve().parent / "bundled"


@dataclass(frozen=True)
class _Entry:
    file: str                # CSV file inside the data set's folder
    target: str              # default forecasting target column
    fill: str | None         # default fill for missing cells (None: the file has none)
    description: str         # one line, for `rnnlab datasets`


# Names a user may pass to `bundled_path` and `load_series`; each is a folder under _BUNDLED_ROOT.
_REGISTRY: dict[str, _Entry] = {
    "airline": _Entry(
        "airline.csv", "passengers", None,
        "Monthly international airline passengers (thousands), 1949-1960 (Box & Jenkins)"),
    "co2": _Entry(
        "co2.csv", "co2", "interpolate",
        "Weekly atmospheric CO2 at Mauna Loa (ppmv), 1958-2001, 59 gaps (Keeling & Whorf)"),
    "seattle_weather": _Entry(
        "seattle_weather.csv", "temp_max", None,
        "Daily Seattle weather 2012-2015: precipitation, temp_max, temp_min, wind (NOAA)"),
}
_NAMES = tuple(_REGISTRY)


@dataclass(frozen=True)
class DatasetInfo:
    """What `list_datasets` reports about one bundled data set.

    Attributes:
        name: the name to pass to `load_series` or `bundled_path`.
        description: one line: what is measured, where, when.
        points: number of time steps (data rows of the CSV).
        columns: the input columns, the target included (the time column excluded).
        target: the default forecasting target column.
        fill: the default fill for missing cells, or None.
    """

    name: str
    description: str
    points: int
    columns: tuple[str, ...]
    target: str
    fill: str | None


def bundled_path(name: str) -> Path:
    """Return the folder of a bundled data set.

    Args:
        name: the data set's name, one of ``['airline', 'co2', 'seattle_weather']``.

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


def list_names() -> tuple[str, ...]:
    """Return the names of the bundled data sets, in registry order."""
    return _NAMES


def bundled_file(name: str) -> Path:
    """Return the CSV file of a bundled data set (see `bundled_path` for ``name``)."""
    return bundled_path(name) / _REGISTRY[name].file


def bundled_defaults(name: str) -> tuple[str, str | None]:
    """Return ``(target, fill)``: the default target column and fill of a bundled data set."""
    bundled_path(name)  # validates the name with the usual message
    entry = _REGISTRY[name]
    return entry.target, entry.fill


def list_datasets() -> list[DatasetInfo]:
    """Describe every bundled data set, in registry order.

    The number of points and the columns are read from each CSV's header and rows, so they cannot
    drift from the files.

    Returns:
        One `DatasetInfo` per bundled data set.

    Example:
        >>> [info.name for info in list_datasets()]
        ['airline', 'co2', 'seattle_weather']
    """
    infos = []
    for name, entry in _REGISTRY.items():
        with bundled_file(name).open(newline="", encoding="utf-8") as file:
            header, *rows = [row for row in csv.reader(file) if row]
        # Every bundled file keeps its time column first; the rest are numeric inputs.
        infos.append(DatasetInfo(name=name, description=entry.description, points=len(rows),
                                 columns=tuple(header[1:]), target=entry.target, fill=entry.fill))
    return infos


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
