"""Target transforms that make a trending series stationary, and their exact inverses for forecasts.

A recurrent network trained on standardised levels cannot forecast beyond the range it saw in
training (the airline series' test years lie above every training month). Differences, or
differences of logs, stay in range; forecasts of them are turned back into levels from the last
value observed before each forecast.

    none     z_t = y_t
    log      z_t = log y_t
    diff     z_t = y_t − y_{t−1}
    logdiff  z_t = log y_t − log y_{t−1}

The differenced transforms have no z_0, so transformed index i is original index i + `lag`.
"""

from __future__ import annotations

import numpy as np

TRANSFORMS = ("auto", "none", "log", "diff", "logdiff")


def resolve_transform(name: str, y: np.ndarray) -> str:
    """`name`, with "auto" resolved: "logdiff" for a strictly positive series, else "diff"."""
    if name not in TRANSFORMS:
        raise ValueError(f"transform must be one of {list(TRANSFORMS)}; received {name!r}")
    if name == "auto":
        return "logdiff" if bool(np.all(y > 0)) else "diff"
    if name in ("log", "logdiff") and not bool(np.all(y > 0)):
        raise ValueError(f"transform={name!r} needs a strictly positive target; its minimum is {float(np.min(y))}")
    return name


def lag(name: str) -> int:
    """How many leading steps the transform consumes (1 for the differenced ones)."""
    return 1 if name in ("diff", "logdiff") else 0


def apply(name: str, y: np.ndarray) -> np.ndarray:
    """z for the series y (N,); (N - lag,) long."""
    z = np.log(y) if name in ("log", "logdiff") else np.asarray(y, dtype=np.float64)
    return np.diff(z) if name in ("diff", "logdiff") else z


def invert(name: str, z: np.ndarray, y: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Levels from forecasts z (M, H) of the transformed target.

    Args:
        name: a resolved transform.
        z: (M, H) forecasts of z for the H steps from each original index in `starts`.
        y: (N,) the observed series (only y[start - 1] is read, for the differenced transforms).
        starts: (M,) original index of each forecast's first step.
    """
    if name == "none":
        return z
    if name == "log":
        return np.exp(z)
    base = y[starts - 1][:, None]  # (M, 1), the last value observed before each forecast
    if name == "diff":
        return base + np.cumsum(z, axis=1)
    return base * np.exp(np.cumsum(z, axis=1))
