"""Per-column standardisation, fitted on the training span only."""

from dataclasses import dataclass

import numpy as np

from rnnlab.data.errors import DataError


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
        for key in ("mean", "std"):  # JSON read back may hold strings, nulls, NaN or nested lists instead
            values = state[key]
            if not isinstance(values, list) or not values:
                raise ValueError(f"{key} must be a non-empty list of numbers; received {values!r:.60}")
            for i, value in enumerate(values):
                number = isinstance(value, (int, float)) and not isinstance(value, bool)
                if not number or not np.isfinite(value) or (key == "std" and value <= 0):
                    kind = "a positive finite number" if key == "std" else "a finite number"
                    raise ValueError(f"{key}[{i}] must be {kind}; received {value!r}")
        mean, std = np.asarray(state["mean"], float), np.asarray(state["std"], float)
        if mean.shape != std.shape:
            raise ValueError(f"state's mean and std must be equal-length lists; received lengths "
                             f"{mean.size} and {std.size}")
        index = state["target_index"]
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(mean):
            raise ValueError(f"target_index must be an integer in [0, {len(mean)}); received {index!r}")
        return cls(mean=mean, std=std, target_index=index)
