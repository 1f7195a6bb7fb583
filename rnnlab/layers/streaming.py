"""Streaming: a drop-in layer advanced one time step at a time, its state carried by the caller.

`RecurrentLayer.step(x, state, reset=...)` runs here (`step`). For a stack of L layers, one step is

    y^0 = x
    s^l_t, y^l = cell_l(y^{l-1}, s^l_{t-1})     l = 1 … L (dropout on y^{l-1}, l > 1, in training)
    returns y^L and the states s^1_t … s^L_t, packed as torch packs them, (L, B, ·)

which is what `forward` computes at step t when it is given the whole sequence: stepping a
sequence through `step` and stacking the outputs equals running `forward` over it. A row whose
`reset` is True first takes the initial state (zeros, or the learned initial state), so a new
stream can start in row k while the other rows carry on.

Four paths compute the step, chosen by `rnnlab.backends.choose` as for `forward` (a forced
backend is honoured; "auto" takes the native path wherever it can run); each backend's `step`:
1. native, no projection: torch's fused one-step cell kernels (`torch.lstm_cell`, `gru_cell`,
   `rnn_tanh_cell`, `rnn_relu_cell`: what torch.nn.LSTMCell & co. call), one per layer. torch's
   whole-sequence kernel is avoided on purpose: on the CPU it hands an LSTM to oneDNN, whose set-up
   per call costs more than the step itself (nn.LSTM on a one-step sequence: about 5x this path's
   time at H = 512, 2x at H = 32; benchmarks/results/step_latency.md).
2. native with an LSTM projection (which the cell kernels lack): torch's whole-layer kernel on a
   one-step sequence, `rnnlab.backends.native.run` (oneDNN does not take projections, so no set-up).
3. triton (when forced, or picked by "auto" on a GPU): the layer's kernels on a one-step sequence.
4. reference: each layer's cell equations (`Cell.step`) on the layer's own parameters, through
   the cells of `cells_by_position`; every configuration, GRU with reset_after=False included.

All four are differentiable by autograd, so truncated BPTT over a stream works through `step`. Gate
recording (`rnnlab.diagnostics`) does not see steps; it watches `forward` only.

`PooledStream` and `pool_step` keep a many-to-one classifier's pooling ("last", "mean", "max")
running over a stream, so that its logits after t steps equal those of the first t steps read whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor

from rnnlab import backends
from rnnlab.backends.spec import Mode, state_sizes
from rnnlab.cells.base import tensor_argument
from rnnlab.errors import DtypeError, ShapeError

if TYPE_CHECKING:
    from rnnlab.layers.base import RecurrentLayer


def step(layer: RecurrentLayer, x: Tensor, state: Any = None, *, reset: Any = None) -> tuple[Tensor, Any]:
    """One time step of `layer` for a batch of streams; see `RecurrentLayer.step`."""
    if layer.bidirectional:
        raise ValueError("step cannot run a bidirectional layer: its backward direction starts at each sequence's "
                         "last step, which a stream has not reached yet; received bidirectional=True (run forward "
                         "over whole sequences instead)")
    _check_input(layer, x)
    tensors = _initial_tensors(layer, x) if state is None else _state_tensors(layer, state, x)
    if reset is not None and state is not None:  # from None every row starts anew anyway
        rows = check_reset(reset, x).view(1, -1, 1)  # (1, B, 1)
        tensors = tuple(torch.where(rows, h0, t) for h0, t in zip(_initial_tensors(layer, x), tensors))
    elif reset is not None:
        check_reset(reset, x)
    spec = layer.describe(recorded=False)  # recording watches `forward` only
    y, final = backends.choose(spec, x.unsqueeze(0), None).step(spec, x, tensors)
    return y, layer._final_state(final)


# -- arguments ---------------------------------------------------------------------------------------


def _state_sizes(layer: RecurrentLayer) -> tuple[int, ...]:
    """Widths of the state tensors, (P, H) for the LSTM and (H,) otherwise, without building a cell."""
    return state_sizes(layer.mode, layer.hidden_size, layer.proj_size)


def _check_input(layer: RecurrentLayer, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a Tensor (B, {layer.input_size}); received {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != layer.input_size:
        raise ShapeError(f"x must have shape (B, input_size={layer.input_size}), one time step of each stream; "
                         f"received shape {tuple(x.shape)}")
    weight = layer.weight_ih_l0
    if x.dtype != weight.dtype:
        raise DtypeError(f"x must have the parameters' dtype {weight.dtype}; received {x.dtype}")


def _initial_tensors(layer: RecurrentLayer, x: Tensor) -> tuple[Tensor, ...]:
    """The initial state of B = len(x) streams, each tensor (L, B, ·): learned, or zeros."""
    batch_size = x.shape[0]
    if layer.learn_initial_state:
        learned = (layer.initial_h, layer.initial_c) if layer.mode is Mode.LSTM else (layer.initial_h,)
        return tuple(p.unsqueeze(1).expand(-1, batch_size, -1) for p in learned)
    return tuple(x.new_zeros(layer.num_layers, batch_size, size) for size in _state_sizes(layer))


def _state_tensors(layer: RecurrentLayer, state: Any, x: Tensor) -> tuple[Tensor, ...]:
    """`state` checked against the layer and x: a tensor (L, B, H), or (h, c) for the LSTM."""
    sizes = _state_sizes(layer)
    if len(sizes) == 2:
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError(f"state must be None or a tuple (h, c) for an LSTM; received {type(state).__name__}"
                            + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else ""))
        tensors = tuple(state)
    elif isinstance(state, Tensor):
        tensors = (state,)
    else:
        raise TypeError(f"state must be None or a Tensor (num_layers, B, hidden_size); received {type(state).__name__}")
    for index, (tensor, size) in enumerate(zip(tensors, sizes)):
        name = "state" if len(sizes) == 1 else f"state[{index}]"
        expected = (layer.num_layers, x.shape[0], size)
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name} must be a Tensor {expected}; received {type(tensor).__name__}")
        if tuple(tensor.shape) != expected:
            raise ShapeError(f"{name} must have shape {expected} (num_layers, B, {size}); "
                             f"received {tuple(tensor.shape)}")
        if tensor.dtype != x.dtype or tensor.device != x.device:
            raise DtypeError(f"{name} must have x's dtype {x.dtype} on {x.device}; received {tensor.dtype} on "
                            f"{tensor.device}")
    return tensors


def check_causal(what: str, num_directions: int, unit: str = "sequence") -> None:
    """Raises ValueError for a bidirectional `what` (e.g. "forecaster"): its backward direction reads
    each `unit` from its end, which a stream has not reached."""
    if num_directions == 2:
        raise ValueError(f"step needs a causal {what}: a bidirectional one reads each {unit} from its end too, "
                         "which a stream has not reached; received bidirectional=True")


def check_step_input(x: Tensor, input_size: int, unit: str = "sequence") -> None:
    """Raises ValueError unless x is (B, input_size): one time step of each `unit`."""
    if x.dim() != 2 or x.shape[-1] != input_size:
        raise ShapeError(f"x must have shape (B, {input_size}), one time step per {unit}; received {tuple(x.shape)}")


def check_reset(reset: Any, x: Tensor) -> Tensor:
    """`reset` as a (B,) bool tensor on x's device; raises naming it when it is not one.

    Args:
        reset: a bool tensor (or anything `torch.as_tensor` takes), one flag per stream.
        x: the step's input (B, ·), for the batch size and the device.
    """
    flags = reset if isinstance(reset, Tensor) else \
        tensor_argument("reset", reset, "a (B,) bool tensor, one flag per stream")
    if flags.dtype != torch.bool:
        raise TypeError(f"reset must hold booleans, one per stream; received dtype {flags.dtype}")
    if tuple(flags.shape) != (x.shape[0],):
        raise ShapeError(f"reset must have shape ({x.shape[0]},), one flag per stream; received {tuple(flags.shape)}")
    return flags.to(x.device)


# -- running pooling, for many-to-one classifiers ---------------------------------------------------


class PooledStream(NamedTuple):
    """What a streaming many-to-one classifier carries from one step to the next."""

    recurrent: Any   # its layer's state, as `RecurrentLayer.step` returns it
    pooled: Tensor   # (B, P): the last output ("last"), Σ_t y_t ("mean") or max_t y_t ("max") so far
    count: Tensor    # (B, 1): steps read since each row's stream began, in the outputs' dtype


POOLINGS = ("last", "mean", "max")


def recurrent_part(state: Any) -> Any:
    """The layer's state inside a `PooledStream` (None for None); TypeError for anything else."""
    if state is None:
        return None
    if not isinstance(state, PooledStream):
        raise TypeError(f"state must be None or the PooledStream the previous step returned; received "
                        f"{type(state).__name__}")
    return state.recurrent


def pool_step(pooling: str, y: Tensor, previous: PooledStream | None,
              reset: Any = None) -> tuple[Tensor, Tensor, Tensor]:
    """The pooled encoding after one more output y (B, P) of each stream.

        last:  e_t = y_t
        mean:  e_t = (Σ_{j ≤ t} y_j) / t     a running sum and count
        max:   e_t = max_{j ≤ t} y_j         elementwise, a running maximum

    t counts from each row's own start: a row whose `reset` is True (or every row, when
    `previous` is None) starts its pooling at y. The sums run in order, one step at a time, so
    they can differ from a whole-sequence sum by rounding only.

    Args:
        pooling: "last", "mean" or "max".
        y: (B, P) this step's outputs.
        previous: the `PooledStream` of the step before, or None at the start.
        reset: (B,) bool or None, as `RecurrentLayer.step` takes it.

    Returns:
        (e (B, P), pooled (B, P), count (B, 1)); the last two go into the next `PooledStream`.
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {list(POOLINGS)}; received {pooling!r}")
    if previous is None:
        pooled, count = y, y.new_ones(y.shape[0], 1)
    else:
        if pooling == "last":
            pooled = y
        elif pooling == "mean":
            pooled = previous.pooled + y
        else:
            pooled = torch.maximum(previous.pooled, y)
        count = previous.count + 1
        if reset is not None:
            rows = check_reset(reset, y).view(-1, 1)  # (B, 1)
            pooled = torch.where(rows, y, pooled)
            count = torch.where(rows, count.new_ones(()), count)
    return (pooled / count if pooling == "mean" else pooled), pooled, count
