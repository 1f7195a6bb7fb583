"""Gradient flow through time: ‖∂L/∂h_t‖ at every step of every recurrent layer, from a real loss.

Backpropagation through time multiplies the gradient by one step's Jacobian ∂h_t/∂h_{t-1} per step
back. When those products shrink it the gradient vanishes and the early steps learn nothing; when
they grow it explodes. `gradient_flow` measures this on a model as it is: it runs the loss with the
layers recording (`rnnlab.diagnostics.record`), and the reference backward hands over ∂L/∂h_t, the
gradient that reaches h_t along every path (its own output and all later steps), not only the
direct one through the output at t.

Clipping rescales the whole gradient once, after backpropagation, by min(1, clip / ‖∇θ L‖): it
bounds the size of the update but cannot change how fast the gradient decays from step to step.
`GradientFlow` reports both the curves and the factor clipping would apply, so the two can be seen
side by side.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.diagnostics.recording import Key, record


@dataclass(frozen=True)
class GradientFlow:
    """‖∂L/∂h_t‖ per step for each recorded (module, layer, direction).

    Attributes:
        norms: label -> (T,) array: per step t, ‖∂L/∂h_t‖ over the units, averaged over the
            batch's sequences that are still running at t (so padding does not make a curve fall).
            Labels read "module", "module layer 1" or "module layer 0 reverse".
        loss: the loss the gradients come from.
        parameter_norm: ‖∇θ L‖ over all trainable parameters, the norm clipping looks at.
        clip: the max-norm of gradient clipping considered, or None.
    """

    norms: dict[str, np.ndarray]
    loss: float
    parameter_norm: float
    clip: float | None = None

    @property
    def clip_factor(self) -> float:
        """What clipping to `clip` multiplies every gradient by: min(1, clip / ‖∇θ L‖)."""
        if self.clip is None or self.parameter_norm <= self.clip:
            return 1.0
        return self.clip / self.parameter_norm

    def clipped(self) -> dict[str, np.ndarray]:
        """The curves as they reach the parameters after clipping: the same shape, scaled down."""
        return {label: norms * self.clip_factor for label, norms in self.norms.items()}

    def growth(self) -> dict[str, float]:
        """`growth_per_step` of each curve."""
        return {label: growth_per_step(norms) for label, norms in self.norms.items()}

    def orders_of_magnitude(self) -> dict[str, float]:
        """log10(largest / smallest nonzero ‖∂L/∂h_t‖) of each curve: how far it spans."""
        result = {}
        for label, norms in self.norms.items():
            positive = norms[np.isfinite(norms) & (norms > 0)]
            result[label] = float(np.log10(positive.max() / positive.min())) if positive.size else math.nan
        return result


def growth_per_step(norms: np.ndarray) -> float:
    """The factor by which ‖∂L/∂h_t‖ changes per step back in time, from t to t - 1.

    Fitted by least squares to log ‖∂L/∂h_t‖ over the steps where it is finite and nonzero: below 1
    the gradient vanishes going back, above 1 it explodes, 1 is a flat curve. NaN with fewer than
    two usable steps.
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim != 1:
        raise ValueError(f"norms must be 1-D (T,); received shape {norms.shape}")
    steps = np.flatnonzero(np.isfinite(norms) & (norms > 0))
    if steps.size < 2:
        return math.nan
    slope = np.polyfit(steps, np.log(norms[steps]), 1)[0]  # d log‖g_t‖ / dt
    return float(np.exp(-slope))


def gradient_flow(model: nn.Module, loss: Callable[[], Tensor], *, clip: float | None = None) -> GradientFlow:
    """Runs `loss()` through `model` and measures ‖∂L/∂h_t‖ at every step of every recurrent layer.

    The model's parameters' `.grad` are left as they were: the gradients are taken with
    `torch.autograd.grad`, not accumulated.

    Args:
        model: a module holding rnnlab recurrent layers (as `rnnlab.diagnostics.record` takes).
        loss: runs the model's forward pass on a batch and returns a scalar loss.
        clip: a gradient-clipping max-norm, to report the factor it would apply; None for none.

    Raises:
        ValueError: if `loss()` is not a scalar, `clip` is not positive, the model has no
            trainable parameter, or no gradient reached a recurrent layer.
    """
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be a positive number or None; received {clip!r}")
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(f"model ({type(model).__name__}) has no trainable parameters: gradient flow follows the "
                         "gradient a training step would take")
    with torch.enable_grad(), record(model, gradients=True) as recording:
        value = loss()
        if not isinstance(value, Tensor) or value.numel() != 1:
            raise ValueError(f"loss must return a scalar tensor; received {type(value).__name__} "
                             f"{tuple(value.shape) if isinstance(value, Tensor) else ''}".rstrip())
        grads = torch.autograd.grad(value, parameters, allow_unused=True)
    norms = {}
    for key in recording.keys():
        state_grads = recording.grads(*key)
        if state_grads:
            norms[_label(key, recording.keys())] = _mean_norms(state_grads["h"], recording.lengths(*key))
    if not norms:
        raise ValueError("no gradient reached a recurrent layer: are its parameters frozen, or is the loss "
                         "independent of it?")
    parameter_norm = math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads if g is not None))
    return GradientFlow(norms=norms, loss=float(value.detach()), parameter_norm=parameter_norm, clip=clip)


def _mean_norms(d_h: Tensor, lengths: Tensor | None) -> np.ndarray:
    """(T,) the mean over running sequences of ‖∂L/∂h_t‖ over units, from d_h (T, B, P); 0 where none runs."""
    per_sequence = d_h.double().norm(dim=-1)  # (T, B)
    if lengths is None:
        return per_sequence.mean(dim=1).cpu().numpy()
    running = torch.arange(d_h.shape[0], device=lengths.device).unsqueeze(1) < lengths  # (T, B)
    count = running.sum(dim=1).clamp(min=1).to(per_sequence)
    return (per_sequence.sum(dim=1) / count.to(per_sequence.device)).cpu().numpy()


def _label(key: Key, keys: list[Key]) -> str:
    """"module", with " layer L" when the module has layers past 0 and " reverse" for direction 1."""
    name, layer, direction = key
    stacked = any(other[0] == name and other[1] > 0 for other in keys)
    return name + (f" layer {layer}" if stacked else "") + (" reverse" if direction else "")
