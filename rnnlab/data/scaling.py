"""Scalers: `Scaler` standardises each column of a `Series` with statistics from its training span
only; `PanelScaler` scales each series of a panel by that series' own statistics."""

from dataclasses import dataclass

import numpy as np

from rnnlab.data.errors import DataError

SCALER_METHODS = ("standard", "robust", "mean")  # PanelScaler's methods


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields with == is ambiguous
class Scaler:
    """Standardises each column: x' = (x - mean) / std, with mean and std from the training span.

    Fit it on ``values[:train_end]`` only: statistics taken over validation or test steps would leak
    the future into training. A column with std 0 (constant over the training span) gets std 1.0,
    so it maps to 0 instead of dividing by zero.

    Attributes:
        mean: (C,) float64 per-column mean of the fitted values.
        std: (C,) float64 per-column standard deviation (population, ddof=0), zeros replaced by 1.
        target_index: the target's column, used by `inverse_transform_target`.
    """

    mean: np.ndarray
    std: np.ndarray
    target_index: int

    @classmethod
    def fit(cls, values: np.ndarray, target_index: int) -> "Scaler":
        """Compute per-column mean and std of ``values``.

        Args:
            values: (N, C) training span, N >= 1, no NaN.
            target_index: the target's column in ``values``, in [0, C).

        Returns:
            The fitted `Scaler`.

        Raises:
            ValueError: if ``values`` is not 2-D, or ``target_index`` is out of range.
            DataError: if ``values`` has no rows or contains NaN or infinities.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"values must have shape (N, C); received shape {values.shape}")
        if not 0 <= target_index < values.shape[1]:
            raise ValueError(f"target_index must be in [0, {values.shape[1]}); "
                             f"received {target_index!r}")
        if len(values) == 0 or not np.isfinite(values).all():
            raise DataError(f"cannot fit a Scaler on {len(values)} rows containing NaN/inf "
                            "or on no rows; fill the series first")
        std = values.std(axis=0)                                      # (C,)
        return cls(mean=values.mean(axis=0), std=np.where(std == 0, 1.0, std),
                   target_index=int(target_index))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Return (values - mean) / std. ``values``: (..., C); returns the same shape, float64."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape[-1] != len(self.mean):
            raise ValueError(f"values must have {len(self.mean)} columns in the last axis; "
                             f"received shape {values.shape}")
        return (values - self.mean) / self.std

    def inverse_transform_target(self, y):
        """Map standardised target values back to the data's units: y * std_t + mean_t.

        Args:
            y: a numpy array, torch tensor or float of standardised target values (any shape,
                e.g. (M, horizon) forecasts).

        Returns:
            The same type and shape, in the target column's original units.
        """
        t = self.target_index
        return y * float(self.std[t]) + float(self.mean[t])

    def to_dict(self) -> dict:
        """Return a JSON-safe dict (floats in lists) that `from_dict` turns back into this Scaler."""
        return {"mean": [float(m) for m in self.mean], "std": [float(s) for s in self.std],
                "target_index": self.target_index}

    @classmethod
    def from_dict(cls, state: dict) -> "Scaler":
        """Rebuild a Scaler from `to_dict`'s output.

        Raises:
            ValueError: if a key is missing, ``mean`` and ``std`` are not equal-length lists of
                finite numbers, a std is not positive (`fit` never gives 0), or ``target_index`` is
                not an integer column index.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict with keys mean, std, target_index; received {type(state).__name__}")
        missing = [key for key in ("mean", "std", "target_index") if key not in state]
        if missing:
            raise ValueError(f"state must have keys mean, std, target_index; missing {missing}")
        # JSON read back may hold strings, nulls, NaN or nested lists instead
        mean = np.asarray(_number_list(state, "mean", positive=False), float)
        std = np.asarray(_number_list(state, "std", positive=True), float)
        if mean.shape != std.shape:
            raise ValueError(f"state's mean and std must be equal-length lists; received lengths "
                             f"{mean.size} and {std.size}")
        index = state["target_index"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(mean):
            raise ValueError(f"target_index must be an integer in [0, {len(mean)}); received {index!r}")
        return cls(mean=mean, std=std, target_index=index)


class PanelScaler:
    """Scales each series by its own statistics: y' = (y − loc_i) / scale_i, and back y = y' scale_i + loc_i.

        standard: loc = mean, scale = standard deviation (population)
        robust:   loc = median, scale = IQR (q75 − q25, numpy's linear percentiles)
        mean:     loc = 0, scale = mean |y| (DeepAR's ν, Salinas et al. 2020)

    A scale that comes out 0 (a constant series; all zeros for "mean") is 1, so the series maps to
    y − loc instead of dividing by zero: DeepAR's "+1" smoothing, applied only where it is needed.
    (No MAD fallback for a zero IQR: the IQR is 0 only where more than half the values equal the
    median, and then the MAD, median |y − median|, is 0 as well.)

    Attributes (after `fit`):
        loc_: (N,) float64 per-series shift. scale_: (N,) float64, positive.
        ids_: the fitted panel's ids, or None when fitted on arrays.
    """

    def __init__(self, method: str = "standard"):
        if method not in SCALER_METHODS:
            raise ValueError(f"method must be one of {list(SCALER_METHODS)}; received {method!r}")
        self.method = method
        self.loc_ = self.scale_ = self.ids_ = None

    def __repr__(self) -> str:
        return f"PanelScaler(method={self.method!r})"

    def fit(self, data) -> "PanelScaler":
        """Compute each series' statistics from a `Panel` or a sequence of (T_i,) arrays.

        Raises:
            DataError: for an empty series or one with NaN or infinities.
        """
        panel = _is_panel(data)
        arrays = data.values if panel else [np.asarray(a, dtype=np.float64) for a in data]
        if not arrays:
            raise DataError("cannot fit a PanelScaler on no series")
        stats = []
        for k, y in enumerate(arrays):
            name = repr(data.ids[k]) if panel else f"{k}"
            if y.ndim != 1 or y.size == 0 or not np.isfinite(y).all():
                raise DataError(f"cannot fit a PanelScaler on series {name} of shape {y.shape}: it needs "
                                "at least one value and only finite ones")
            stats.append(_statistics(self.method, y))
        self.loc_, self.scale_ = (np.array(s, dtype=np.float64) for s in zip(*stats))
        self.ids_ = data.ids if panel else None
        return self

    def transform(self, values, index=None):
        """Scale `values`: a `Panel` or sequence of N per-series arrays (returns a list), or with
        `index` an array whose row b belongs to series index[b] (shape (B, ...); returns an array)."""
        return self._apply(values, index, lambda y, loc, scale: (y - loc) / scale)

    def inverse(self, values, index=None):
        """Undo `transform` (as exact as float64 allows); takes `values` and `index` as it does."""
        return self._apply(values, index, lambda y, loc, scale: y * scale + loc)

    def _apply(self, values, index, function):
        if self.loc_ is None:
            raise ValueError("this PanelScaler is not fitted; call fit first")
        if index is None:
            arrays = values.values if _is_panel(values) else values
            if len(arrays) != len(self.loc_):
                raise ValueError(f"values must hold {len(self.loc_)} series, as fitted; received {len(arrays)}")
            return [function(np.asarray(y, dtype=np.float64), m, s) for y, m, s in zip(arrays, self.loc_, self.scale_)]
        index, values = np.asarray(index), np.asarray(values, dtype=np.float64)
        if index.ndim != 1 or index.dtype.kind not in "iu" or len(index) != len(values):
            raise ValueError(f"index must be (B,) integers, one per row of values {values.shape}; "
                             f"received {index!r:.80}")
        if index.size and not (0 <= index.min() and index.max() < len(self.loc_)):
            raise ValueError(f"index must be in [0, {len(self.loc_)}); received values from {index.min()} "
                             f"to {index.max()}")
        shape = (len(index),) + (1,) * (values.ndim - 1)               # broadcast over each row's steps
        return function(values, self.loc_[index].reshape(shape), self.scale_[index].reshape(shape))

    def to_dict(self) -> dict:
        """A JSON-safe dict that `from_dict` turns back into this scaler."""
        if self.loc_ is None:
            raise ValueError("this PanelScaler is not fitted; call fit first")
        return {"method": self.method, "loc": [float(v) for v in self.loc_], "scale": [float(v) for v in self.scale_],
                "ids": None if self.ids_ is None else list(self.ids_)}

    @classmethod
    def from_dict(cls, state: dict) -> "PanelScaler":
        """Rebuild a scaler from `to_dict`'s output, checking it (JSON read back may hold anything).

        Raises:
            ValueError: naming the key and the value received.
        """
        if not isinstance(state, dict):
            raise ValueError(f"state must be a dict with keys method, loc, scale; received {type(state).__name__}")
        missing = [key for key in ("method", "loc", "scale") if key not in state]
        if missing:
            raise ValueError(f"state must have keys method, loc, scale; missing {missing}")
        scaler = cls(state["method"])
        loc, scale = _number_list(state, "loc", positive=False), _number_list(state, "scale", positive=True)
        if len(loc) != len(scale):
            raise ValueError(f"state's loc and scale must have equal lengths; received {len(loc)} and {len(scale)}")
        ids = state.get("ids")
        strings = isinstance(ids, list) and len(ids) == len(loc) and all(isinstance(i, str) for i in ids)
        if ids is not None and not strings:
            raise ValueError(f"ids must be None or a list of {len(loc)} strings; received {ids!r:.60}")
        scaler.loc_, scaler.scale_ = np.array(loc, dtype=np.float64), np.array(scale, dtype=np.float64)
        scaler.ids_ = None if ids is None else tuple(ids)
        return scaler


def _is_panel(data) -> bool:
    # imported here, not at the top: rnnlab.data.panel imports this module (via series.py, and to re-export PanelScaler)
    from rnnlab.data.panel import Panel

    return isinstance(data, Panel)


def _statistics(method: str, y: np.ndarray) -> tuple[float, float]:
    """(loc, scale) of one series; a zero scale is 1."""
    if method == "standard":
        # a constant series: exactly (y[0], 0), where mean/std may leave round-off (std 1e-17)
        loc, scale = (y[0], 0.0) if y.min() == y.max() else (y.mean(), y.std())
    elif method == "robust":
        loc = np.median(y)
        q25, q75 = np.percentile(y, [25, 75])
        scale = q75 - q25
    else:
        loc, scale = 0.0, np.abs(y).mean()
    if not np.isfinite(scale):
        raise DataError(f"a series' {method} scale overflows float64 (values up to {np.abs(y).max():.3g})")
    return float(loc), float(scale) if scale > 0 else 1.0


def _number_list(state: dict, key: str, *, positive: bool) -> list[float]:
    """state[key] checked to be a non-empty list of finite numbers (each > 0 if `positive`): both
    scalers' `from_dict` read their statistics through it."""
    values = state[key]
    if not isinstance(values, list) or not values:
        raise ValueError(f"{key} must be a non-empty list of numbers; received {values!r:.60}")
    for i, value in enumerate(values):
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number or not np.isfinite(value) or (positive and value <= 0):
            kind = "a positive finite number" if positive else "a finite number"
            raise ValueError(f"{key}[{i}] must be {kind}; received {value!r}")
    return [float(v) for v in values]
