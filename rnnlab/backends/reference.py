"""The reference backend: the time loop over a cell's equations, and backpropagation through time by hand.

This is the oracle every other backend is tested against. `scan` runs one direction of one layer;
`run` a whole layer (`stack` over its layers and directions, as `rnnlab.layers.compose`'s Stacked
over Bidirectional over Recurrent compose them), and `step` one time step of a stream.

BPTT (`_BPTT`): the forward pass projects the whole input sequence in one matrix product
(W_ih x_t + b_ih for every t), then steps the cell, keeping every state and gate. The backward
pass walks the steps in reverse, calling the cell's `backward_step` (the derivative of one step,
written out in each cell), and carries the state gradient from step t to step t - 1. Parameter
gradients are not accumulated step by step: they are whole-sequence matrix products at the end,
Σ_t (∂L/∂z_t)ᵀ x_t as one (G*H, T*B) @ (T*B, F) product, which is what makes the loop fast.
Under create_graph=True (a gradient penalty, a Hessian-vector product) the hand-written pass is
not differentiable, so the backward recomputes the steps through the cell's equations and lets
autograd differentiate them, keeping the graph: slower, and correct to any order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch
from torch import Tensor

from torch.nn import functional as F

from rnnlab.backends.spec import LayerSpec
from rnnlab.cells.base import Cell, Trace, state_tensors

# one direction of one layer: (layer, direction, inputs (T, B, F), initial state tensors) ->
# (outputs (T, B, P) in the inputs' time order, final state tensors)
Direction = Callable[[int, int, Tensor, tuple[Tensor, ...]], tuple[Tensor, tuple[Tensor, ...]]]


class Observer(Protocol):
    """Sees what a `scan` computes, for gate recording and gradient flow (`rnnlab.diagnostics`).

    Tensors are time-major (T, B, ·) and in the input's time order, also for a reversed scan.
    """

    def forward(self, values: dict[str, Tensor], lengths: Tensor | None) -> Callable[[dict[str, Tensor]], None] | None:
        """Takes every step's `cell.recorded(...)` values (detached; steps past a sequence's end
        included) and returns where this scan's state gradients should go, or None.

        That function receives {"h": ∂L/∂h_t} for every step t: the total gradient of the step's
        output h_t, through the loss at t and through step t + 1, zero past a sequence's end. It
        is called when a backward pass has gone through the scan.
        """


def run(spec: LayerSpec, xs: Tensor, initial: tuple[Tensor, ...], lengths: Tensor | None):
    """The whole layer through its cells' equations; the signature and results of `native.run`."""
    cells = dict(spec.cells())

    def direction(layer: int, way: int, inputs: Tensor, state: tuple[Tensor, ...]):
        cell = cells[(layer, way)]
        observer = None if spec.observe is None else spec.observe((layer, way))
        ys, final = scan(cell, inputs, cell.state_from_tensors(state), lengths, reverse=bool(way),
                         observer=observer)
        return ys, state_tensors(final)

    return stack(spec, xs, initial, direction)


def stack(spec: LayerSpec, xs: Tensor, initial: tuple[Tensor, ...], direction: Direction):
    """Layer after layer, each layer's directions on the same input and concatenated on features,
    dropout between layers in training (torch's semantics: not after the last).

    Args:
        xs: (T, B, F); initial: the initial state tensors, each (L*D, B, ·).
        direction: runs one direction of one layer (a backend's own).

    Returns:
        outputs (T, B, D*P) and the final state tensors, each (L*D, B, ·).
    """
    finals: list[list[Tensor]] = [[] for _ in initial]
    for layer in range(spec.num_layers):
        if layer > 0 and spec.dropout > 0:
            xs = F.dropout(xs, spec.dropout, spec.training)
        outputs = []
        for way in range(spec.num_directions):
            index = layer * spec.num_directions + way
            ys, final = direction(layer, way, xs, tuple(t[index] for t in initial))
            outputs.append(ys)
            for store, tensor in zip(finals, final):
                store.append(tensor)
        xs = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
    return xs, tuple(torch.stack(store) for store in finals)


def step(spec: LayerSpec, x: Tensor, tensors: tuple[Tensor, ...]) -> tuple[Tensor, tuple[Tensor, ...]]:
    """One time step of a unidirectional layer, layer after layer through `Cell.step`.

    Args:
        x: (B, F) this step's input; tensors: the state tensors, each (L, B, ·).

    Returns:
        the top layer's output (B, P) and the new state tensors, each (L, B, ·).
    """
    finals = []
    for (layer, _), cell in spec.cells():
        if layer > 0 and spec.dropout > 0:
            x = F.dropout(x, spec.dropout, spec.training)
        new_state = cell.step(x, cell.state_from_tensors(tuple(t[layer] for t in tensors)))
        x = cell.output(new_state)
        finals.append(state_tensors(new_state))
    return x, tuple(stacked(parts) for parts in zip(*finals))


def stacked(parts: tuple[Tensor, ...]) -> Tensor:
    """Per-layer states (B, ·) stacked to (L, B, ·); one layer's is a view, not a copy (it is per step)."""
    return parts[0].unsqueeze(0) if len(parts) == 1 else torch.stack(parts)


def scan(cell: Cell, xs: Tensor, state: Any, lengths: Tensor | None = None, *, reverse: bool = False,
         observer: Observer | None = None):
    """Runs `cell` over the time axis. Equivalent to calling the cell once per step.

    Args:
        cell: any `Cell`; one with a `backward_step` gets the hand-written BPTT, any other is
            differentiated by autograd through the loop.
        xs: (T, B, F) inputs, time-major.
        state: the initial state (its tensors (B, ·)).
        lengths: (B,) int64 on xs's device, each in [0, T]; None means every sequence has T steps.
            Past a sequence's end its outputs are zero and its state stops changing, so the final
            state is the one at its last real step (the initial state for length 0).
        reverse: run from each sequence's own last real step back to its first.
        observer: given the gates and states of every step and, when a backward pass follows, the
            gradient of every state; the outputs are the same with or without it.

    Returns:
        outputs (T, B, P) and the final state.
    """
    mask = None
    if lengths is not None:
        mask = torch.arange(xs.shape[0], device=xs.device).unsqueeze(1) < lengths  # (T, B)
        mask = mask.unsqueeze(-1)  # (T, B, 1)
        xs = torch.where(mask, xs, xs.new_zeros(()))  # padding never influences anything, even NaN
        if reverse:
            xs = reverse_padded(xs, lengths)
    elif reverse:
        xs = xs.flip(0)
    if mask is None:
        first_masked = xs.shape[0]  # no step is masked
    elif torch.compiler.is_compiling() or torch.jit.is_tracing():
        # a graph must serve any lengths, not only those it was traced with: mask every step (asked
        # before the batch's size, which a batch picked out by a mask makes data-dependent)
        first_masked = 0
    elif not mask.numel():
        first_masked = xs.shape[0]  # an empty batch
    else:
        first_masked = int(lengths.min())  # every sequence is still running before this step
    tensors = state_tensors(state)
    weights = [getattr(cell, name) for name in cell.parameter_names()]
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (xs, *tensors, *weights))
    if observer is not None:
        observer = _ScanObserver(observer, lengths, reverse)
    if needs_grad and type(cell).backward_step is not Cell.backward_step and not func_transforms():
        ys, *final = _BPTT.apply(cell, mask, first_masked, len(tensors), observer, xs, *tensors, *weights)
        final_state = cell.state_from_tensors(tuple(final))
    else:  # inference, a cell without a hand-written backward, or under torch.func: autograd follows the loop
        record = observer is not None
        ys, final_state, states, gates = _loop(cell, cell.project_input(xs), state, mask, first_masked, record)
        if record:
            receive = observer.forward(_recorded(cell, gates, states))
            if needs_grad and receive is not None:
                _observe_state_grads(states, receive)
    if reverse:
        ys = reverse_padded(ys, lengths) if lengths is not None else ys.flip(0)
    return ys, final_state


def func_transforms() -> tuple[str, ...]:
    """The torch.func transforms running now, outermost first ("Vmap", "Grad", "Jvp", ...); () for none.

    The hand-written BPTT is an autograd.Function without the vmap and jvp rules torch.func needs,
    so under a transform `scan` lets autograd (and torch.func) follow the cell's equations instead:
    the same numbers, by the slower path. () also on a torch without functorch's interpreter stack,
    and while torch.compile or torch.export traces (dynamo cannot call into the interpreter stack,
    and a traced graph holds torch's own ops, never the autograd.Function's Python backward).
    """
    if torch.compiler.is_compiling():
        return ()
    functorch = getattr(torch._C, "_functorch", None)
    stack = getattr(functorch, "get_interpreter_stack", None)
    if stack is not None:
        return tuple(interpreter.key().name for interpreter in (stack() or ()))
    peek = getattr(functorch, "peek_interpreter_stack", None)  # an older torch: the innermost only
    interpreter = peek() if peek is not None else None
    return () if interpreter is None else (interpreter.key().name,)


def reverse_padded(xs: Tensor, lengths: Tensor) -> Tensor:
    """Reverses each sequence within its own length; padding stays where it is.

    xs (T, B, ...) time-major; lengths (B,). Applying it twice gives xs back.
    """
    num_steps = xs.shape[0]
    t = torch.arange(num_steps, device=xs.device).unsqueeze(1)  # (T, 1)
    source = torch.where(t < lengths, lengths - 1 - t, t)  # (T, B)
    index = source.reshape(num_steps, -1, *([1] * (xs.dim() - 2))).expand_as(xs)
    return xs.gather(0, index)


def _recorded(cell: Cell, gates: list, states: list) -> dict[str, Tensor]:
    """Each recorded value of every step, stacked: name -> (T, B, ·), detached."""
    steps = [cell.recorded(g, s) for g, s in zip(gates, states[1:])]
    return {name: torch.stack([step[name] for step in steps]).detach() for name in steps[0]}


def _observe_state_grads(states: list, receive: Callable[[dict[str, Tensor]], None]) -> None:
    """Autograd's path (a cell without `backward_step`): hooks on every step's h copy its gradient
    into a (T, B, P) buffer, handed over when the first step's is in, which autograd computes last."""
    hs = [Cell.output(state) for state in states[1:]]
    buffer = torch.zeros(len(hs), *hs[0].shape, dtype=hs[0].dtype, device=hs[0].device)

    def keep(grad: Tensor, t: int) -> None:
        buffer[t].copy_(grad)
        if t == 0:
            receive({"h": buffer})

    for t, h in enumerate(hs):
        if h.requires_grad:
            h.register_hook(lambda grad, t=t: keep(grad, t))


class _ScanObserver:
    """One scan's side of an `Observer`: adds the lengths, and puts a reversed scan's steps back in
    the input's time order."""

    def __init__(self, observer: Observer, lengths: Tensor | None, reverse: bool) -> None:
        self.observer, self.lengths, self.reverse = observer, lengths, reverse

    def _in_time_order(self, values: dict[str, Tensor]) -> dict[str, Tensor]:
        if not self.reverse:
            return values
        if self.lengths is None:
            return {name: v.flip(0) for name, v in values.items()}
        return {name: reverse_padded(v, self.lengths) for name, v in values.items()}

    def forward(self, values: dict[str, Tensor]) -> Callable[[dict[str, Tensor]], None] | None:
        receive = self.observer.forward(self._in_time_order(values), self.lengths)
        return None if receive is None else lambda grads: receive(self._gradients_in_time_order(grads))

    def _gradients_in_time_order(self, grads: dict[str, Tensor]) -> dict[str, Tensor]:
        if self.lengths is not None:  # the autograd path also sees the frozen state past the end
            steps = next(iter(grads.values())).shape[0]
            valid = (torch.arange(steps, device=self.lengths.device).unsqueeze(1) < self.lengths).unsqueeze(-1)
            grads = {name: g * valid for name, g in grads.items()}
        return self._in_time_order(grads)


def _loop(cell: Cell, xw: Tensor, state: Any, mask: Tensor | None, first_masked: int, record: bool):
    """Steps `cell` over the projected inputs xw (T, B, G*H); returns outputs, final state, and
    (when `record`) every state and gate tuple."""
    num_steps, batch_size = xw.shape[:2]
    ys = xw.new_empty(num_steps, batch_size, cell.state_sizes()[0])  # (T, B, P), allocated once
    states, gates_seen = [state], []
    for t in range(num_steps):
        gates = cell.gates_projected(xw[t], state)
        new_state = cell.update(gates, state)
        if t >= first_masked:  # some sequence has ended: it keeps its state and outputs zeros
            valid = mask[t]  # (B, 1)
            new_state = cell.state_from_tensors(
                tuple(torch.where(valid, a, b) for a, b in zip(state_tensors(new_state), state_tensors(state)))
            )
            ys[t] = cell.output(new_state) * valid
        else:
            ys[t] = cell.output(new_state)
        state = new_state
        if record:
            states.append(state)
            gates_seen.append(gates)
    return ys, state, states, gates_seen


class _BPTT(torch.autograd.Function):
    """One direction of one layer, with a backward pass derived through time by hand."""

    @staticmethod
    def forward(ctx, cell, mask, first_masked, num_state, observer, xs, *tensors):
        state = cell.state_from_tensors(tensors[:num_state])
        ys, final_state, states, gates = _loop(cell, cell.project_input(xs), state, mask, first_masked, record=True)
        ctx.receive = None if observer is None else observer.forward(_recorded(cell, gates, states))
        ctx.save_for_backward(xs, *tensors)  # weights: in-place edits before backward are caught
        ctx.cell, ctx.mask, ctx.first_masked, ctx.num_state = cell, mask, first_masked, num_state
        ctx.states, ctx.gates = states, gates
        return ys, *state_tensors(final_state)

    @staticmethod
    def backward(ctx, d_ys, *d_final):
        if torch.is_grad_enabled():  # create_graph=True: this backward must be differentiable itself
            return _differentiable_backward(ctx, d_ys, d_final)
        with torch.no_grad():
            return _hand_backward(ctx, d_ys, d_final)


def _differentiable_backward(ctx, d_ys: Tensor, d_final: tuple[Tensor, ...]) -> tuple:
    """The same gradients as `_hand_backward`, by autograd through the cell's equations recomputed
    from the saved inputs: slower, and differentiable again (a gradient penalty, a Hessian product)."""
    xs, *tensors = ctx.saved_tensors
    cell, num_state = ctx.cell, ctx.num_state
    inputs = (xs, *tensors)  # the cell computes with these very weights (`rnnlab.cells.base.bind`)
    wanted = [i for i, need in enumerate(ctx.needs_input_grad[5:]) if need]
    with torch.enable_grad():
        state = cell.state_from_tensors(tuple(tensors[:num_state]))
        ys, final, _, _ = _loop(cell, cell.project_input(xs), state, ctx.mask, ctx.first_masked, record=False)
        grads = torch.autograd.grad((ys, *state_tensors(final)), [inputs[i] for i in wanted], (d_ys, *d_final),
                                    create_graph=True, allow_unused=True)
    found = dict(zip(wanted, grads))
    return (None, None, None, None, None, *(found.get(i) for i in range(len(inputs))))


def _hand_backward(ctx, d_ys: Tensor, d_final: tuple[Tensor, ...]) -> tuple:
    """BPTT as the module docstring says: the steps in reverse, parameter gradients as whole-sequence products."""
    xs = ctx.saved_tensors[0]
    cell, mask, first_masked, states, gates = ctx.cell, ctx.mask, ctx.first_masked, ctx.states, ctx.gates
    if mask is not None:
        d_ys = d_ys * mask  # outputs past a sequence's end are constant zeros
    num_steps, batch_size = xs.shape[:2]
    # every step's gradients go into buffers allocated once, and each step's temporaries are
    # freed as the loop moves on: allocation, not arithmetic, is what costs at small sizes
    d_h = xs.new_empty(num_steps, batch_size, cell.state_sizes()[0])  # (T, B, P)
    d_xw = d_hh = None
    d_state = d_final
    for t in reversed(range(num_steps)):
        d_new = (d_state[0] + d_ys[t], *d_state[1:])  # h_t reaches the loss through y_t and step t + 1
        if t >= first_masked:
            valid = mask[t]
            d_new_valid = tuple(d * valid for d in d_new)
        else:
            d_new_valid = d_new
        d_h[t] = d_new_valid[0]
        step = cell.backward_step(cell.state_from_tensors(d_new_valid), gates[t], states[t], states[t + 1])
        if d_xw is None:  # (T, B, G*H); a separate d_hh only for cells where the two differ
            d_xw = step.d_xw.new_empty(num_steps, *step.d_xw.shape)
            d_hh = d_xw if step.d_hh is step.d_xw else torch.empty_like(d_xw)
        d_xw[t] = step.d_xw
        if d_hh is not d_xw:
            d_hh[t] = step.d_hh
        d_state = state_tensors(step.d_state)
        if t >= first_masked:  # a finished sequence passes its gradient through untouched
            d_state = tuple(torch.where(valid, a, b) for a, b in zip(d_state, d_new))
    if ctx.receive is not None:
        ctx.receive({"h": d_h})
    grads = cell.parameter_grads(Trace(xs, states, gates, d_h, d_xw, d_hh))
    d_xs = d_xw @ cell.weight_ih if ctx.needs_input_grad[5] else None  # (T, B, F)
    return None, None, None, None, None, d_xs, *d_state, *(grads[name] for name in cell.parameter_names())
