"""Data for rnnlab: small real data sets bundled with the package, and time series for forecasting.

Public API: `load_series` / `read_csv` give a `Series`; `time_split` gives train/val/test bounds;
`Scaler` standardises with training statistics; `make_windows` and `batches` turn a span into
(inputs, targets) mini-batches. Every problem in the data raises `DataError`.
"""

from rnnlab.data.bundled import DatasetInfo, bundled_file, bundled_path, list_datasets, load_airline
from rnnlab.data.errors import DataError
from rnnlab.data.scaling import Scaler
from rnnlab.data.series import Series, SplitBounds, load_series, read_csv, time_split
from rnnlab.data.windows import batches, make_windows, num_batches

__all__ = [
    "DataError",
    "DatasetInfo",
    "Scaler",
    "Series",
    "SplitBounds",
    "batches",
    "bundled_file",
    "bundled_path",
    "list_datasets",
    "load_airline",
    "load_series",
    "make_windows",
    "num_batches",
    "read_csv",
    "time_split",
]
