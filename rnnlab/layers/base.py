"""The drop-in recurrent layer: torch.nn.RNN/LSTM/GRU's interface over rnnlab's cells and backends.

The layer owns its parameters under torch's names (`weight_ih_l0`, `bias_hh_l1_reverse`, ...), in
torch's order and with torch's initialisation, so state_dicts move between the two unchanged. It
speaks torch at its boundary (layouts, packed sequences, states packed as (L*D, B, H)) and runs
through one of the backends, to which it hands a frozen description of itself (`describe()`, a
`rnnlab.backends.LayerSpec`), never itself. Its seams for other code are public: `describe()` for
what a backend sees, `prepare_inputs`/`pack_outputs` for code that runs the recurrence another way
(ONNX export), `observed_by` for gate recording.

This module is longer than the style's ~300 lines: it is one class, torch's whole layer interface
(constructor, torch's parameter names, forward with hx, lengths and PackedSequence, step), whose
parts all read the same layer state; split, each part would reach into the others' privates.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnlab import backends
from rnnlab.backends.reference import Observer
from rnnlab.backends.spec import LayerSpec, Mode, suffix
from rnnlab.cells.base import Cell, bind, check_positive_int, tensor_argument
from rnnlab.errors import DtypeError, ShapeError
from rnnlab.layers import streaming


class Inputs(NamedTuple):
    """A forward call's arguments in the form every backend takes (`RecurrentLayer.prepare_inputs`)."""

    xs: Tensor  # (T, B, F), time-major
    initial: tuple[Tensor, ...]  # the initial state tensors, each (L*D, B, ·)
    lengths: Tensor | None  # (B,) int64 on xs's device, or None
    unbatched: bool  # the input was (T, F)
    packed: PackedSequence | None  # the PackedSequence given, so the outputs are packed alike
    default_initial: bool  # no hx was given and the initial state is zeros (not learned)


class RecurrentLayer(nn.Module):
    """Base of the drop-in `RNN`, `LSTM` and `GRU`; subclasses set `cell_type` and `mode`."""

    cell_type: type[Cell]
    mode: Mode  # torch's name for the fused kernel (equal to the string "LSTM", "GRU", "RNN_TANH", "RNN_RELU")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        bias: bool,
        batch_first: bool,
        dropout: float,
        bidirectional: bool,
        device,
        dtype,
        *,
        learn_initial_state: bool,
        backend: str,
        cell_options: dict[str, Any],
    ) -> None:
        super().__init__()
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        for name, flag in (("bias", bias), ("batch_first", batch_first), ("bidirectional", bidirectional),
                           ("learn_initial_state", learn_initial_state)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool; received {flag!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
            raise ValueError(f"dropout must be a number in [0, 1]; received {dropout!r}")
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        self.dropout = float(dropout)
        if self.dropout > 0 and num_layers == 1:  # as torch warns: dropout acts between layers only
            warnings.warn(f"dropout={dropout} has no effect with num_layers=1: dropout is applied between "
                          "recurrent layers, not after the last", stacklevel=3)
        self.learn_initial_state = learn_initial_state
        self.backend = backend
        # set by rnnlab.diagnostics.record while it records: (layer, direction) -> an Observer
        self._observe: Callable[[tuple[int, int]], Observer] | None = None
        self.proj_size = cell_options.get("proj_size", 0)
        self._cell_options = cell_options
        self.num_directions = 2 if bidirectional else 1
        # read once, here: building a cell inside forward would break torch.compile's graph
        self._sizes = bind(self.cell_type, {}, **self._cell_config(0)).state_sizes()

        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for direction in range(self.num_directions):
                shapes = bind(self.cell_type, {}, **self._cell_config(layer)).parameter_shapes()
                for name, shape in shapes.items():
                    full_name = name + suffix(layer, direction)
                    self.register_parameter(full_name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
                    self._flat_weights_names.append(full_name)
        self.reset_parameters()
        if learn_initial_state:  # after reset_parameters: zeros, and torch's random stream is untouched
            for index, size in enumerate(self._state_sizes()):
                shape = (num_layers * self.num_directions, size)
                self.register_parameter(f"initial_{'hc'[index]}", nn.Parameter(torch.zeros(shape, device=device, dtype=dtype)))

    def _cell_config(self, layer: int) -> dict[str, Any]:
        layer_input = self.input_size if layer == 0 else self.num_directions * (self.proj_size or self.hidden_size)
        return dict(input_size=layer_input, hidden_size=self.hidden_size, bias=self.bias, **self._cell_options)

    def reset_parameters(self) -> None:
        """U(-1/√H, 1/√H) for every weight and bias, drawn in torch's order (same seed, same weights)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name in self._flat_weights_names:
            nn.init.uniform_(getattr(self, name), -bound, bound)

    @property
    def backend(self) -> str:
        """"auto", "reference", "native" or "triton"; see `rnnlab.backends`."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        object.__setattr__(self, "_backend", backends.check_backend(value))

    @property
    def _flat_weights(self) -> list[Tensor]:  # torch.nn.RNNBase's name, which code written for it reads
        # what getattr(self, name) returns, without nn.Module.__getattr__'s cost (a step reads these
        # every call): an instance attribute first (torch.func.functional_call and parametrizations
        # put the tensors they swap in there or in _parameters), then the registered parameter
        attributes, parameters = self.__dict__, self._parameters
        return [attributes[name] if name in attributes else parameters[name] if name in parameters
                else getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters grouped by (layer, direction), as torch.nn.RNNBase.all_weights."""
        return self.describe().per_position()

    def describe(self, *, recorded: bool = True) -> LayerSpec:
        """The layer as a backend sees it, now: sizes, options, its parameter tensors, what to record
        (nothing with recorded=False: `step`, which recording does not watch).

        Made anew on each call and holding the current parameter tensors (not copies): nothing is
        cached that `.to()`, `load_state_dict(assign=True)` or a replica made by nn.DataParallel
        could leave stale or share between threads.
        """
        return LayerSpec(
            mode=self.mode, cell_type=self.cell_type, input_size=self.input_size, hidden_size=self.hidden_size,
            num_layers=self.num_layers, num_directions=self.num_directions, bias=self.bias, dropout=self.dropout,
            training=self.training, proj_size=self.proj_size, reset_after=self._cell_options.get("reset_after", True),
            cell_options=tuple(self._cell_options.items()), weight_names=tuple(self._flat_weights_names),
            weights=tuple(self._flat_weights), backend=self.backend, observe=self._observe if recorded else None)

    def flatten_parameters(self) -> None:
        """Puts every weight into one contiguous buffer, each parameter a view of it, as torch does.

        On CUDA with cuDNN the buffer is cuDNN's own layout (`torch._cudnn_rnn_flatten_weight`, the
        call torch.nn.RNNBase makes), so cuDNN reads the weights in place instead of copying them
        into one on every call. Elsewhere the weights go into one buffer in torch's order (the
        CPU kernels read them either way). The parameters stay the same objects, so an optimizer
        holding them is unaffected; a later `.to()` or `load_state_dict(assign=True)` separates them
        again, until the next call.
        """
        weights = self._flat_weights
        first = weights[0]
        if any(w.dtype != first.dtype or w.device != first.device for w in weights):
            return  # mixed dtypes or devices: nothing one buffer could hold (torch returns too)
        if len({w.data_ptr() for w in weights}) != len(weights):
            return  # some weights already share memory (tied by the user): keep them so
        with torch.no_grad():
            if first.is_cuda and torch.backends.cudnn.is_acceptable(first) and torch._use_cudnn_rnn_flatten_weight():
                from torch.backends.cudnn import rnn as cudnn_rnn

                with torch.cuda.device_of(first):
                    per_cell = len(weights) // (self.num_layers * self.num_directions)
                    torch._cudnn_rnn_flatten_weight(weights, per_cell, self.input_size,
                                                    cudnn_rnn.get_cudnn_mode(self.mode.value), self.hidden_size,
                                                    self.proj_size, self.num_layers, self.batch_first,
                                                    self.bidirectional)
                return
            buffer = torch.cat([w.detach().reshape(-1) for w in weights])
            for w, part in zip(weights, buffer.split([w.numel() for w in weights])):
                w.set_(part.view(w.shape))  # the parameter becomes a view of its slice; values unchanged

    def cells_by_position(self) -> Iterator[tuple[tuple[int, int], Cell]]:
        """Yields ((layer, direction), cell) for every cell, bound to this layer's parameters (the
        tensors themselves, not copies; made anew on each call, as `describe`)."""
        yield from self.describe().cells()

    @property
    def observed(self) -> bool:
        """True while a recording (`rnnlab.diagnostics.record`) watches this layer."""
        return self._observe is not None

    @contextlib.contextmanager
    def observed_by(self, observe: Callable[[tuple[int, int]], Observer]) -> Iterator[None]:
        """While the block runs, each forward hands `observe((layer, direction))`, an Observer
        (`rnnlab.backends.reference.Observer`), every step's gates and states of that position; the
        outputs are unchanged. The seam `rnnlab.diagnostics.record` uses.

        Raises:
            ValueError: if the layer is already observed (recordings do not nest).
        """
        if self._observe is not None:
            raise ValueError(f"this {type(self).__name__} is already being recorded; recordings cannot be nested")
        self._observe = observe
        try:
            yield
        finally:
            self._observe = None

    def _state_sizes(self) -> tuple[int, ...]:
        return self._sizes

    def extra_repr(self) -> str:
        """torch.nn's text for the options torch has, in its order and format; rnnlab's own options after."""
        text = f"{self.input_size}, {self.hidden_size}"
        for key, default in _TORCH_LAYER_REPR.items():
            if hasattr(self, key) and getattr(self, key) != default:
                text += f", {key}={getattr(self, key)}"
        defaults = {**{key: _CELL_DEFAULTS[key] for key in self._cell_options}, **_LAYER_DEFAULTS}
        for key, default in defaults.items():
            value = getattr(self, key)
            if key not in _TORCH_LAYER_REPR and value != default:
                text += f", {key}={value!r}"
        return text

    # -- forward ---------------------------------------------------------------------------------

    def forward(self, input: Tensor | PackedSequence, hx: Any = None, *, lengths: Tensor | None = None):
        """Runs the layer over a sequence, as the torch.nn layer of the same name.

        Args:
            input: (T, B, F), or (B, T, F) with batch_first, or (T, F) unbatched, or a PackedSequence.
            hx: the initial state packed as torch packs it, (L*D, B, H) per state tensor; zeros
                (or the learned initial state) when None.
            lengths: (B,) integers in [0, T], keyword-only: the real length of each padded
                sequence. Outputs past a sequence's end are zeros, its final state is the one at
                its last real step (the initial state for length 0), and the reverse direction
                starts at its own end. Not allowed with a PackedSequence, which has its own.

        Returns:
            output in the layout of `input` (a PackedSequence for a PackedSequence), with D*P
            features, and the final state packed as torch packs it.
        """
        inputs = self.prepare_inputs(input, hx, lengths=lengths)
        spec = self.describe()
        ys, final = backends.choose(spec, inputs.xs, inputs.lengths).run(spec, inputs.xs, inputs.initial, inputs.lengths)
        return self.pack_outputs(inputs, ys, final)

    def prepare_inputs(self, input: Tensor | PackedSequence, hx: Any = None, *,
                       lengths: Tensor | None = None) -> Inputs:
        """`forward`'s arguments checked and put in the form every backend takes (`Inputs`).

        With `pack_outputs`, the seam for code that runs the recurrence another way (ONNX export
        runs it as one operator): `layer.pack_outputs(inputs, *run(inputs))` returns what `forward`
        returns. Raises what `forward` raises for bad arguments.
        """
        packed_input = input if isinstance(input, PackedSequence) else None
        if packed_input is not None:
            if lengths is not None:
                shown = f"of shape {tuple(lengths.shape)}" if isinstance(lengths, Tensor) else f"{lengths!r:.60}"
                raise ValueError(f"lengths must be None when input is a PackedSequence, which carries its own; "
                                 f"received lengths {shown}")
            xs, lengths = pad_packed_sequence(packed_input)  # (T, B, F) in the caller's batch order
            unbatched = False
        else:
            xs, unbatched = self._time_major(input)
        self._check_input(xs, input.data if packed_input is not None else input)
        lengths = self._check_lengths(lengths, xs)
        initial = self._initial_state(hx, xs, unbatched)
        return Inputs(xs, initial, lengths, unbatched, packed_input, hx is None and not self.learn_initial_state)

    def pack_outputs(self, inputs: Inputs, ys: Tensor, final: tuple[Tensor, ...]) -> tuple[Any, Any]:
        """A backend's outputs (T, B, D*P) and final state tensors (L*D, B, ·) in `forward`'s form:
        the input's layout (a PackedSequence for one) and the state as torch packs it."""
        if inputs.packed is not None:
            output = _repack(ys, inputs.lengths, inputs.packed)
        elif inputs.unbatched:
            output, final = ys.squeeze(1), tuple(t.squeeze(1) for t in final)
        else:
            output = ys.transpose(0, 1) if self.batch_first else ys
        return output, self._final_state(final)

    def _final_state(self, tensors: tuple[Tensor, ...]) -> Any:
        """The final state in torch's form: h_n, or (h_n, c_n) for the LSTM."""
        return tensors[0]

    # -- one step of a stream --------------------------------------------------------------------

    def step(self, x: Tensor, state: Any = None, *, reset: Tensor | None = None) -> tuple[Tensor, Any]:
        """Advances a batch of streams by one time step, the state carried by the caller.

        Stepping a sequence through `step`, the returned state fed back each time, gives the
        outputs and final state that `forward` gives on the whole sequence (tested to 1e-6), so a
        model trained on sequences serves a stream one point at a time. It runs torch's fused
        one-step cell kernels where the backend allows (`rnnlab.layers.streaming` says which path
        runs when), and it is differentiable: truncated BPTT over a stream works through it.

        Args:
            x: (B, F) this time step of each of B streams (the layout is the same with batch_first).
            state: the state the previous call returned, in torch's packing: (L, B, H), or
                (h, c) with h (L, B, P) and c (L, B, H) for the LSTM; None for the initial state
                (zeros, or the learned initial state with learn_initial_state).
            reset: keyword-only (B,) bool, or None: rows where a new stream starts. Their state
                is set to the initial state before this step; the other rows carry on.

        Returns:
            (y, state): y (B, P) the top layer's output at this step, and the new state in the
            form `forward` returns it (an `LSTMState` for the LSTM).

        Raises:
            ValueError: for a bidirectional layer (its backward direction needs each sequence's
                end, which a stream has not reached), or arguments of the wrong shape.

        In training mode, dropout between layers (dropout > 0, L > 1) draws a fresh mask at every
        step, as `forward` does at every time step; the numbers then differ from `forward`'s,
        their distribution does not. In eval mode no dropout acts.
        """
        return streaming.step(self, x, state, reset=reset)

    # -- input checks ----------------------------------------------------------------------------

    def _time_major(self, input: Any) -> tuple[Tensor, bool]:
        if not isinstance(input, Tensor):
            raise TypeError(f"input must be a Tensor or a PackedSequence; received {type(input).__name__}")
        if input.dim() == 2:
            return input.unsqueeze(1), True  # unbatched (T, F)
        if input.dim() != 3:
            layout = "(B, T, F)" if self.batch_first else "(T, B, F)"
            raise ShapeError(f"input must be 3-D {layout} or 2-D unbatched (T, F); received shape {tuple(input.shape)}")
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _check_input(self, xs: Tensor, given: Tensor) -> None:
        if xs.shape[-1] != self.input_size:
            raise ShapeError(f"input must have input_size={self.input_size} features in its last dimension; "
                             f"received shape {tuple(given.shape)}")
        if xs.shape[0] == 0:
            raise ShapeError("input must have at least one time step; received a sequence of length 0")
        weight = self.weight_ih_l0
        if xs.dtype != weight.dtype:
            raise DtypeError(f"input must have the parameters' dtype {weight.dtype}; received {xs.dtype}")

    def _check_lengths(self, lengths: Any, xs: Tensor) -> Tensor | None:
        if lengths is None:
            return None
        if not isinstance(lengths, Tensor):
            lengths = tensor_argument("lengths", lengths, "a (B,) tensor or list of integers")
        if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must hold integers; received dtype {lengths.dtype}")
        num_steps, batch_size = xs.shape[0], xs.shape[1]
        lengths = lengths.reshape(-1) if lengths.dim() == 0 else lengths
        if tuple(lengths.shape) != (batch_size,):
            raise ShapeError(f"lengths must have shape ({batch_size},), one per sequence; received {tuple(lengths.shape)}")
        if lengths.device not in (torch.device("cpu"), xs.device):
            raise ValueError(f"lengths must be on the cpu or on the input's device ({xs.device}); received {lengths.device}")
        low, high = 0, 0
        # A compiled or exported graph cannot branch on values, nor on a batch size that is itself
        # data-dependent (a batch picked out by a mask): is_compiling() is asked first.
        tracing = torch.compiler.is_compiling()
        if not tracing and batch_size:
            low, high = int(lengths.min()), int(lengths.max())
        if low < 0 or high > num_steps:
            raise ValueError(f"lengths must be in [0, {num_steps}] (the sequence length); received values from {low} to {high}")
        if not tracing and not batch_size:
            return None  # nothing to mask
        return lengths.to(device=xs.device, dtype=torch.int64)

    def _initial_state(self, hx: Any, xs: Tensor, unbatched: bool) -> tuple[Tensor, ...]:
        """The initial state as a tuple of (L*D, B, ·) tensors: hx checked, or the default."""
        sizes = self._state_sizes()
        stacked, batch_size = self.num_layers * self.num_directions, xs.shape[1]
        if hx is None:
            if self.learn_initial_state:
                learned = (getattr(self, f"initial_{'hc'[index]}") for index in range(len(sizes)))
                return tuple(p.unsqueeze(1).expand(-1, batch_size, -1) for p in learned)
            return tuple(xs.new_zeros(stacked, batch_size, size) for size in sizes)
        tensors = self._hx_tensors(hx)
        result = []
        for index, (tensor, size) in enumerate(zip(tensors, sizes)):
            name = "hx" if len(sizes) == 1 else f"hx[{index}]"
            expected = (stacked, size) if unbatched else (stacked, batch_size, size)
            if not isinstance(tensor, Tensor):
                raise TypeError(f"{name} must be a Tensor; received {type(tensor).__name__}")
            if tuple(tensor.shape) != expected:
                raise ShapeError(f"{name} must have shape {expected} (num_layers * num_directions, "
                                 f"{'' if unbatched else 'batch, '}{size}); received {tuple(tensor.shape)}")
            if tensor.dtype != xs.dtype:
                raise DtypeError(f"{name} must have the input's dtype {xs.dtype}; received {tensor.dtype}")
            result.append(tensor.unsqueeze(1) if unbatched else tensor)
        return tuple(result)

    def _hx_tensors(self, hx: Any) -> tuple:
        if not isinstance(hx, Tensor):
            raise TypeError(f"hx must be a Tensor (num_layers * num_directions, batch, hidden_size); received {type(hx).__name__}")
        return (hx,)


_LAYER_DEFAULTS = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False,
                       learn_initial_state=False, backend="auto")
_CELL_DEFAULTS = {"proj_size": 0, "nonlinearity": "tanh", "reset_after": True}
# what torch.nn.RNNBase.extra_repr prints, in its order (it never prints the RNN's nonlinearity)
_TORCH_LAYER_REPR = {"proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
                     "bidirectional": False}


def _repack(ys: Tensor, lengths: Tensor, template: PackedSequence) -> PackedSequence:
    """Packs the padded outputs ys (T, B, ·) exactly as `template` was packed (same batch order)."""
    lengths = lengths.cpu()
    if template.sorted_indices is not None:
        ys = ys.index_select(1, template.sorted_indices)
        lengths = lengths[template.sorted_indices.cpu()]
    data = pack_padded_sequence(ys, lengths, enforce_sorted=True).data
    return PackedSequence(data, template.batch_sizes, template.sorted_indices, template.unsorted_indices)
