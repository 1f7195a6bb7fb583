"""What a panel forecaster's network predicts at each future step, and how it is trained and read.

A network ends in `outputs` raw numbers per future step, raw (B, h, K); an output object turns them
into a loss, quantiles, sample paths and a point forecast. Everything is in z units, the window-
normalised target (`rnnlab.tasks.forecast.panel.Windows`: z = log(y / level) or y / level − 1), and
`level` (B, 1) is each window's level, which an output over counts needs to return to the series'
units. Every output keeps this interface, so the direct head and the autoregressive decoder take
any of them:

    outputs                         K raw numbers per step
    loss(raw, z, level)             the training loss, a scalar mean (raw (B, h, K), z (B, h))
    quantiles(raw, levels, level)   (B, h, Q) z at each level τ (non-decreasing in τ)
    sample(raw, n, generator, level) (n, B, h) draws of z
    point(raw, level)               (B, h) the point forecast (the median) in z

`QuantileOutput` is the MQ-RNN head (pinball loss on Q levels); the parametric likelihoods
(Gaussian, Student-t, negative binomial) are in `rnnlab.tasks.forecast.likelihood`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import functional as F

DEFAULT_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def check_levels(levels: Sequence[float], argument: str = "quantiles") -> tuple[float, ...]:
    """`levels` as floats, strictly increasing in (0, 1); a ValueError naming `argument` otherwise."""
    try:
        values = tuple(float(q) for q in levels)
    except (TypeError, ValueError):
        raise ValueError(f"{argument} must be numbers in (0, 1); received {levels!r}") from None
    if not values or any(not 0 < q < 1 for q in values) or list(values) != sorted(set(values)):
        raise ValueError(f"{argument} must be strictly increasing levels in (0, 1); received {levels!r}")
    return values


def monotone_quantiles(raw: Tensor, median: int) -> Tensor:
    """Quantiles that never cross: raw[..., median] is the median, and the others step away from it
    by softplus increments (each > 0), upwards above it and downwards below it. (…, Q) → (…, Q)."""
    centre = raw[..., median:median + 1]
    above = centre + torch.cumsum(F.softplus(raw[..., median + 1:]), dim=-1)
    below = centre - torch.cumsum(F.softplus(raw[..., :median]).flip(-1), dim=-1).flip(-1)
    return torch.cat([below, centre, above], dim=-1)


def pinball_loss(predicted: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """Mean pinball (quantile) loss: predicted (B, h, Q), target (B, h), quantiles (Q,)."""
    error = target.unsqueeze(-1) - predicted  # (B, h, Q)
    return torch.maximum(quantiles * error, (quantiles - 1) * error).mean()


def interpolate(levels: Tensor, values: Tensor, at: Tensor) -> Tensor:
    """The piecewise-linear quantile function through (levels (Q,), values (…, Q)) at `at` (…, M),
    held flat beyond the first and last level. Returns (…, M)."""
    index = torch.searchsorted(levels, at.clamp(levels[0], levels[-1]).contiguous()).clamp(1, len(levels) - 1)
    low, high = levels[index - 1], levels[index]
    weight = ((at.clamp(levels[0], levels[-1]) - low) / (high - low)).clamp(0, 1)
    below = torch.gather(values, -1, index - 1)
    above = torch.gather(values, -1, index)
    return below + weight * (above - below)


class QuantileOutput:
    """Q quantiles per step, trained with the pinball loss and kept from crossing (MQ-RNN)."""

    name = "quantile"

    def __init__(self, levels: Sequence[float] = DEFAULT_QUANTILES) -> None:
        self.levels = check_levels(levels)
        if 0.5 not in self.levels:
            raise ValueError(f"quantiles must include 0.5 (the point forecast is the median); received {levels!r}")
        self.median = self.levels.index(0.5)
        self.outputs = len(self.levels)

    def _tensor(self, like: Tensor) -> Tensor:
        return torch.tensor(self.levels, dtype=like.dtype, device=like.device)

    def loss(self, raw: Tensor, z: Tensor, level: Tensor) -> Tensor:
        return pinball_loss(monotone_quantiles(raw, self.median), z, self._tensor(raw))

    def quantiles(self, raw: Tensor, levels: Sequence[float], level: Tensor) -> Tensor:
        own = monotone_quantiles(raw, self.median)
        if tuple(float(q) for q in levels) == self.levels:
            return own
        at = torch.tensor(check_levels(levels, "levels"), dtype=raw.dtype, device=raw.device)
        return interpolate(self._tensor(raw), own, at.expand(*own.shape[:-1], len(at)))

    def sample(self, raw: Tensor, n: int, generator: torch.Generator | None, level: Tensor) -> Tensor:
        own = monotone_quantiles(raw, self.median)  # (B, h, Q)
        at = torch.rand((*own.shape[:-1], n), generator=generator, dtype=raw.dtype, device=raw.device)
        return interpolate(self._tensor(raw), own, at).movedim(-1, 0)  # (n, B, h)

    def point(self, raw: Tensor, level: Tensor) -> Tensor:
        return monotone_quantiles(raw, self.median)[..., self.median]
