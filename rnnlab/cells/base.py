"""What every cell shares: parameters in torch's layout, state handling, and the BPTT contract.

A cell is one time step. Subclasses write their equations twice, once forward (`gates_projected`
and `update`) and once backward (`backward_step`, the derivative of one step), and the time loop in
`rnnlab.backends.reference` runs either over a whole sequence without knowing which cell it holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnlab.errors import ShapeError


class StepGrads(NamedTuple):
    """Gradients of one step, as returned by `Cell.backward_step`.

    d_xw: (B, G*H) gradient of the input projection W_ih x + b_ih.
    d_hh: (B, G*H) gradient of the recurrent projection W_hh h + b_hh (for most cells the same
        tensor as d_xw; the GRU differs because r multiplies part of it).
    d_state: gradient of the previous state, shaped like the state.
    """

    d_xw: Tensor
    d_hh: Tensor
    d_state: Any


def check_positive_int(name: str, value: Any) -> int:
    """Returns `value` if it is a positive int; raises TypeError/ValueError naming `name` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; received {value!r} of type {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer; received {value}")
    return value


def tensor_argument(name: str, value: Any, wanted: str) -> Tensor:
    """torch.as_tensor(value), or a TypeError naming the argument when value is not tensor-like."""
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be {wanted}; received {value!r:.60}") from None


def state_tensors(state: Any) -> tuple[Tensor, ...]:
    """A state as a flat tuple of tensors: (h,) for RNN/GRU, (h, c) for LSTM."""
    return tuple(state) if isinstance(state, tuple) else (state,)


class Cell(nn.Module):
    """Base class of the cells: parameters, initialisation, state and the torch-compatible forward.

    Parameters follow torch.nn's cells: `weight_ih` (G*H, F), `weight_hh` (G*H, P), `bias_ih`
    and `bias_hh` (G*H,), where G is the number of gate blocks stacked in rows, H the hidden size
    and P the size of h (H, except for a projected LSTM). Every parameter starts U(-1/√H, 1/√H),
    drawn in the order of `parameter_names()`, as torch does, so that the same seed gives the same
    weights as torch.

    Subclasses set `num_gates` and implement `gates_projected`, `update`, `state_sizes`,
    `state_from_tensors` and, for the hand-written backward, `backward_step`.
    """

    num_gates: int = 1
    _option_defaults: dict[str, Any] = {}  # a subclass's own options and their defaults, for repr

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool; received {bias!r}")
        self.bias = bias

    def _create_parameters(self, device, dtype) -> None:
        """Allocates the parameters named by `parameter_names()`, then initialises them as torch."""
        for name, shape in self.parameter_shapes().items():
            self.register_parameter(name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
        if not self.bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        """torch.nn's text for the options torch has (bias, nonlinearity, unquoted); rnnlab's own after."""
        text = f"{self.input_size}, {self.hidden_size}"
        options = {"bias": True, **self._option_defaults}
        for key, default in options.items():
            if key in ("bias", "nonlinearity") and getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        for key, default in options.items():
            if key not in ("bias", "nonlinearity") and getattr(self, key) != default:
                text += f", {key}={getattr(self, key)!r}"
        return text

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Names and shapes of this cell's parameters, in torch's order."""
        rows = self.num_gates * self.hidden_size
        shapes = {"weight_ih": (rows, self.input_size), "weight_hh": (rows, self.state_sizes()[0])}
        if self.bias:
            shapes.update(bias_ih=(rows,), bias_hh=(rows,))
        return shapes

    def parameter_names(self) -> list[str]:
        """The names of this cell's parameters, in torch's order."""
        return list(self.parameter_shapes())

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name in self.parameter_names():
            nn.init.uniform_(getattr(self, name), -bound, bound)

    # -- state ---------------------------------------------------------------------------------

    def state_sizes(self) -> tuple[int, ...]:
        """Width of each state tensor: (H,) for RNN/GRU, (P, H) for LSTM."""
        return (self.hidden_size,)

    def state_from_tensors(self, tensors: tuple[Tensor, ...]) -> Any:
        """The state whose tensors are `tensors` (the inverse of `state_tensors`)."""
        (h,) = tensors
        return h

    def init_state(self, batch_size: int, *, device=None, dtype=None) -> Any:
        """The zero state for `batch_size` sequences."""
        return self.state_from_tensors(
            tuple(torch.zeros(batch_size, size, device=device, dtype=dtype) for size in self.state_sizes())
        )

    @staticmethod
    def output(state: Any) -> Tensor:
        """The cell's output h, which is also the first state tensor."""
        return state_tensors(state)[0]

    # -- one step --------------------------------------------------------------------------------

    def project_input(self, x: Tensor) -> Tensor:
        """W_ih x + b_ih, the part of the pre-activations that does not depend on the state.

        Works on any leading shape, so a layer projects a whole sequence in one matrix product.
        """
        return F.linear(x, self.weight_ih, self.bias_ih)  # (..., G*H)

    def gates(self, x: Tensor, state: Any):
        """The gate activations of one step, from the input x (B, F) and the previous state."""
        return self.gates_projected(self.project_input(x), state)

    def gates_projected(self, xw: Tensor, state: Any):
        raise NotImplementedError

    def update(self, gates, state: Any) -> Any:
        raise NotImplementedError

    def recorded(self, gates, state: Any) -> dict[str, Tensor]:
        """What gate recording keeps of one step: name -> (B, ·), from its gates and the new state.

        The default is every field of a NamedTuple of gates; a cell with internal values in its
        gates (the GRU's W_hn h) or a state worth seeing (the LSTM's c) overrides it.
        """
        return dict(gates._asdict()) if hasattr(gates, "_asdict") else {}

    def recorded_kinds(self) -> dict[str, str]:
        """The range of each recorded value: "sigmoid" (0, 1), "tanh" (-1, 1), "relu" [0, ∞) or "free"."""
        return {}

    def step(self, x: Tensor, state: Any) -> Any:
        """One step: the next state from x (B, F) and the previous state."""
        return self.update(self.gates(x, state), state)

    def forward(self, input: Tensor, hx: Any = None) -> Any:
        """One step with torch.nn's cell signature: input (B, F) or (F,); hx defaults to zeros."""
        if input.dim() not in (1, 2):
            raise ShapeError(f"input must be 1-D (F,) or 2-D (B, F); received shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ShapeError(
                f"input must have {self.input_size} features in its last dimension; "
                f"received shape {tuple(input.shape)}"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            state = self.init_state(x.shape[0], device=x.device, dtype=x.dtype)
        else:
            tensors = tuple(t.unsqueeze(0) if unbatched else t for t in state_tensors(hx))
            for tensor, size in zip(tensors, self.state_sizes(), strict=True):
                if tuple(tensor.shape) != (x.shape[0], size):
                    raise ShapeError(
                        f"hx must have shape {(x.shape[0], size)} to match the input; "
                        f"received {tuple(tensor.shape)}"
                    )
            state = self.state_from_tensors(tensors)
        state = self.step(x, state)
        if unbatched:
            state = self.state_from_tensors(tuple(t.squeeze(0) for t in state_tensors(state)))
        return state

    # -- backpropagation through time ------------------------------------------------------------

    def backward_step(self, d_state: Any, gates, state_prev: Any, state: Any) -> StepGrads:
        """Gradients of one step, given the gradient `d_state` of the state it produced."""
        raise NotImplementedError

    def parameter_grads(self, trace: Trace) -> dict[str, Tensor]:
        """Whole-sequence gradients of the parameters, as matrix products over all T steps at once."""
        result = {"weight_ih": _flat_mm(trace.d_xw, trace.xs), "weight_hh": self.weight_hh_grad(trace)}
        if self.bias:
            result["bias_ih"] = trace.d_xw.sum((0, 1))
            result["bias_hh"] = trace.d_hh.sum((0, 1))
        return result

    def weight_hh_grad(self, trace: Trace) -> Tensor:
        """Σ_t (∂L/∂(W_hh h_{t-1}))ᵀ h_{t-1}; a cell whose W_hh sees something else overrides it."""
        return _flat_mm(trace.d_hh, _previous_outputs(trace))


def _previous_outputs(trace: Trace) -> Tensor:
    """h_{t-1} for every step t, (T, B, P): what W_hh multiplies in most cells."""
    return torch.stack([Cell.output(s) for s in trace.states[:-1]])


class Trace(NamedTuple):
    """A forward pass over T steps and the gradients that flowed back through it.

    xs: (T, B, F) the inputs.
    states: T + 1 states, the initial one first.
    gates: T gate tuples.
    d_h: (T, B, P) the gradient of each step's output h, as `backward_step` received it.
    d_xw: (T, B, G*H) every step's `StepGrads.d_xw`.
    d_hh: (T, B, G*H) every step's `StepGrads.d_hh` (the same tensor as d_xw where they agree).
    """

    xs: Tensor
    states: list
    gates: list
    d_h: Tensor
    d_xw: Tensor
    d_hh: Tensor


def _flat_mm(d_out: Tensor, inputs: Tensor) -> Tensor:
    """Σ_t d_out[t]ᵀ inputs[t] for d_out (T, B, N) and inputs (T, B, K): the (N, K) weight gradient."""
    return d_out.reshape(-1, d_out.shape[-1]).t() @ inputs.reshape(-1, inputs.shape[-1])


def bind(cell_type: type[Cell], weights: Mapping[str, Tensor | None], **config: Any) -> Cell:
    """A cell of `cell_type` that computes with `weights` (the tensors themselves, not copies).

    Layers own their parameters under torch's names (`weight_ih_l0`, ...); they run a cell's
    equations on them through a bound cell, so the math lives only in the cell class. `config`
    holds the cell's hyper-parameters (`input_size`, `hidden_size`, `bias`, ...).
    """
    cell = cell_type.__new__(cell_type)
    nn.Module.__init__(cell)
    for key, value in config.items():
        setattr(cell, key, value)
    for name, tensor in weights.items():
        # a plain attribute, not a registered parameter: the layer that owns it registers it
        object.__setattr__(cell, name, tensor)
    return cell
