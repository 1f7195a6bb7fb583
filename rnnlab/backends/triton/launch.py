"""Launching the kernels, and the autograd Functions that wrap one direction of one layer's recurrence.

Each Function covers only the recurrence, h_t from xw_t and h_{t-1} (`kernels.py`): its inputs are
the projected inputs xw (T, B, G*H), the recurrent weight and the initial state, and its outputs
the state at every step, (T, B, H), frozen past each sequence's end. Everything around it (the
input projection, biases, the LSTM's projection, masking the outputs) is torch code in
`layers.py`, which autograd differentiates; the weight gradient Σ_t ∂z_tᵀ h_{t-1} is one matrix
product here, as in the reference backend.

Gradients arriving at the frozen copies of a state past a sequence's end belong to its final
state, the state of its last real step: `_split_state_grads` sums them there.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnlab.backends.triton import kernels
from rnnlab.cells.base import _flat_mm


@dataclass(frozen=True)
class Plan:
    """How a recurrence is cut into programs and launches.

    block_b, block_j, block_k: rows, hidden units and reduction length of one program's tile
        (each at least 16, the smallest `tl.dot` takes).
    unit_programs: programs across the hidden units. With 1, a program owns every unit of its rows
        and a whole sequence runs in one launch (steps ordered by a barrier inside the program);
        with more, each launch is one time step (two for the GRU of Cho et al.).
    num_warps: warps per program.
    """

    block_b: int
    block_j: int
    block_k: int
    unit_programs: int
    num_warps: int = 4

    @property
    def whole_sequence(self) -> bool:
        return self.unit_programs == 1


# Set by tests to force a plan (e.g. several unit programs at a tiny hidden size): (batch, hidden) -> Plan.
plan_override: Callable[[int, int], Plan] | None = None


def plan(batch_size: int, hidden_size: int, dtype: torch.dtype) -> Plan:
    """The launch plan for a batch and hidden size.

    Not tuned on a GPU yet (none was at hand when this was written): small hidden sizes run whole
    sequences in one launch, larger ones spread each step's weights over H / 32 programs.
    """
    if plan_override is not None:
        return plan_override(batch_size, hidden_size)
    block_b = min(64, max(16, 1 << (batch_size - 1).bit_length()))
    block_k = 64 if dtype in (torch.float16, torch.bfloat16) else 32
    if hidden_size <= 64:
        return Plan(block_b, block_j=max(16, 1 << (hidden_size - 1).bit_length()), block_k=block_k, unit_programs=1)
    block_j = 32
    return Plan(block_b, block_j, block_k, unit_programs=math.ceil(hidden_size / block_j))


def _options(xs: Tensor, p: Plan) -> dict:
    allow_tf32 = xs.dtype == torch.float32 and xs.is_cuda and torch.backends.cuda.matmul.allow_tf32
    return dict(BLOCK_B=p.block_b, BLOCK_J=p.block_j, BLOCK_K=p.block_k,
                PRECISION="tf32" if allow_tf32 else "ieee",
                ACC=kernels.tl.float64 if xs.dtype == torch.float64 else kernels.tl.float32,
                UPCAST=xs.dtype == torch.bfloat16 and not xs.is_cuda,  # only the interpreter runs on the CPU
                num_warps=p.num_warps)


def _run(kernel, p: Plan, num_steps: int, pointers: tuple, sizes: tuple, options: dict, *,
         phases: tuple = ((),), backward: bool = False) -> None:
    """Launches `kernel` over steps [0, num_steps): once for the whole range when the plan allows,
    else once per step (last step first when `backward`) and phase. `phases` lists the flags each
    phase sets, in their order within a step; a whole-sequence launch sets them all."""
    grid = (_cdiv(sizes[-2], p.block_b), p.unit_programs)  # sizes end with (B, H)
    if p.whole_sequence:
        merged = {key: True for phase in phases for key in phase}
        kernel[grid](*pointers, 0, num_steps, *sizes, SYNC=True, **merged, **options)
        return
    for t in (reversed(range(num_steps)) if backward else range(num_steps)):
        for phase in phases:
            flags = {key: key in phase for keys in phases for key in keys}
            kernel[grid](*pointers, t, t + 1, *sizes, SYNC=False, **flags, **options)


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def valid_steps(lengths: Tensor | None, num_steps: int) -> Tensor | None:
    """(T, B, 1) bool: step t of sequence b is real; None without lengths."""
    if lengths is None:
        return None
    return (torch.arange(num_steps, device=lengths.device).unsqueeze(1) < lengths).unsqueeze(-1)


def _split_state_grads(d_hs: Tensor, lengths: Tensor | None) -> tuple[Tensor, Tensor]:
    """The gradient of each step's state through its own output (zero past the end), and the
    gradient of the final state, which the frozen copies past a sequence's end all are."""
    if lengths is None:
        return d_hs.contiguous(), torch.zeros_like(d_hs[0])
    valid = valid_steps(lengths, d_hs.shape[0])
    return torch.where(valid, d_hs, 0).contiguous(), torch.where(valid, 0, d_hs).sum(0)


def _first_step_state_grad(d_recurrent: Tensor, carry: Tensor, lengths: Tensor | None) -> Tensor:
    """∂L/∂h_0 from the recurrent path (already W-multiplied) and, for sequences of length 0, the
    final state's gradient (their final state is h_0)."""
    if lengths is None:
        return d_recurrent
    return torch.where((lengths == 0).unsqueeze(-1), carry, d_recurrent)


class Keep:
    """What a Function hands to gate recording: the gates it wrote (`values`) and, when `receive`
    is set, every step's ∂L/∂h_t after the backward pass."""

    def __init__(self, receive: Callable[[Tensor], None] | None = None) -> None:
        self.values: dict[str, Tensor] = {}
        self.receive = receive


def first_order_only(backward):
    """`once_differentiable`, and a clear error where a gradient's gradient is asked for: the kernels'
    backward is not itself differentiable, and a silent zero would be worse than a refusal."""
    once = once_differentiable(backward)

    @functools.wraps(backward)
    def checked(ctx, *grads):
        if torch.is_grad_enabled():  # the backward of a create_graph=True call
            raise RuntimeError("backend='triton' computes first-order gradients only; create_graph=True (a gradient "
                               "penalty, a Hessian-vector product) needs backend='reference' or 'native'")
        return once(ctx, *grads)

    return checked


class LSTMRecurrence(torch.autograd.Function):
    """hs, c_T = LSTM recurrence over xw (T, B, 4H) with weight w (4H, H) from (h0, c0) (B, H)."""

    @staticmethod
    def forward(ctx, xw, w, h0, c0, lengths, save, keep):
        num_steps, batch_size, hidden_size = xw.shape[0], xw.shape[1], w.shape[1]
        p = plan(batch_size, hidden_size, xw.dtype)
        options = _options(xw, p)
        hs = xw.new_empty(num_steps + 1, batch_size, hidden_size)
        cs = torch.empty_like(hs)
        hs[0], cs[0] = h0, c0
        write_gates = save or keep is not None
        gates = xw.new_empty(num_steps, batch_size, 4 * hidden_size) if write_gates else xw.new_empty(1)
        lengths_arg = lengths if lengths is not None else hs
        _run(kernels.lstm_forward, p, num_steps, (xw.contiguous(), w.contiguous(), hs, cs, gates, lengths_arg),
             (batch_size, hidden_size), dict(options, HAS_LENGTHS=lengths is not None, WRITE_GATES=write_gates))
        if keep is not None:
            keep.values = dict(zip("ifgo", gates.detach().chunk(4, dim=-1)), c=cs[1:].detach())
        ctx.save_for_backward(w, hs, cs, gates, lengths)
        ctx.keep = keep
        return hs[1:], cs[num_steps]

    @staticmethod
    @first_order_only
    def backward(ctx, d_hs, d_c_final):
        w, hs, cs, gates, lengths = ctx.saved_tensors
        num_steps, batch_size, hidden_size = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        p = plan(batch_size, hidden_size, hs.dtype)
        gy, d_final_h = _split_state_grads(d_hs, lengths)
        d_c = d_c_final.clone().contiguous()
        dz = hs.new_empty(num_steps, batch_size, 4 * hidden_size)
        receive = ctx.keep.receive if ctx.keep is not None else None
        dh = hs.new_empty(num_steps, batch_size, hidden_size) if receive else hs.new_empty(1)
        lengths_arg = lengths if lengths is not None else hs
        _run(kernels.lstm_backward, p, num_steps, (gy, d_final_h.contiguous(), w, cs, gates, dz, d_c, dh, lengths_arg),
             (num_steps, batch_size, hidden_size),
             dict(_options(hs, p), HAS_LENGTHS=lengths is not None, WRITE_DH=receive is not None), backward=True)
        if receive:
            receive(dh)
        d_h0 = _first_step_state_grad(dz[0] @ w, d_final_h, lengths)
        return dz, _flat_mm(dz, hs[:-1]), d_h0, d_c, None, None, None


class GRURecurrence(torch.autograd.Function):
    """hs = GRU recurrence over xw (T, B, 3H) with weight w (3H, H), b_hn (H,) from h0 (B, H)."""

    @staticmethod
    def forward(ctx, xw, w, b_hn, h0, lengths, reset_after, save, keep):
        num_steps, batch_size, hidden_size = xw.shape[0], xw.shape[1], w.shape[1]
        p = plan(batch_size, hidden_size, xw.dtype)
        hs = xw.new_empty(num_steps + 1, batch_size, hidden_size)
        hs[0] = h0
        # Cho et al.'s form keeps r h in the gate buffer between its two phases, so always writes it
        write_gates = save or keep is not None or not reset_after
        gates = xw.new_empty(num_steps, batch_size, 4 * hidden_size) if write_gates else xw.new_empty(1)
        lengths_arg = lengths if lengths is not None else hs
        b_hn_arg = b_hn.contiguous() if b_hn is not None else xw.new_zeros(hidden_size)
        phases, flags = _gru_phases(reset_after)
        _run(kernels.gru_forward, p, num_steps, (xw.contiguous(), w.contiguous(), b_hn_arg, hs, gates, lengths_arg),
             (batch_size, hidden_size), dict(_options(xw, p), RESET_AFTER=reset_after, HAS_LENGTHS=lengths is not None,
                                             WRITE_GATES=write_gates, **flags), phases=phases)
        if keep is not None:
            keep.values = dict(zip("rzn", gates.detach().chunk(4, dim=-1)))
        ctx.save_for_backward(w, hs, gates, lengths)
        ctx.keep, ctx.reset_after, ctx.has_b_hn = keep, reset_after, b_hn is not None
        return hs[1:]

    @staticmethod
    @first_order_only
    def backward(ctx, d_hs):
        w, hs, gates, lengths = ctx.saved_tensors
        reset_after = ctx.reset_after
        num_steps, batch_size, hidden_size = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        p = plan(batch_size, hidden_size, hs.dtype)
        gy, d_final_h = _split_state_grads(d_hs, lengths)
        dxw = hs.new_empty(num_steps, batch_size, 3 * hidden_size)
        dhh = torch.empty_like(dxw) if reset_after else hs.new_empty(1)
        d_carry = torch.zeros_like(hs[0])
        d_rh = torch.zeros_like(hs[0])
        receive = ctx.keep.receive if ctx.keep is not None else None
        dh = hs.new_empty(num_steps, batch_size, hidden_size) if receive else hs.new_empty(1)
        lengths_arg = lengths if lengths is not None else hs
        phases, flags = _gru_phases(reset_after)
        _run(kernels.gru_backward, p, num_steps,
             (gy, d_final_h.contiguous(), w, hs, gates, dxw, dhh, d_carry, d_rh, dh, lengths_arg),
             (num_steps, batch_size, hidden_size),
             dict(_options(hs, p), RESET_AFTER=reset_after, HAS_LENGTHS=lengths is not None,
                  WRITE_DH=receive is not None, **flags), phases=phases, backward=True)
        if receive:
            receive(dh)
        r, z = gates[0, :, :hidden_size], gates[0, :, hidden_size : 2 * hidden_size]
        direct = torch.where(valid_steps(lengths, 1)[0], z * d_carry, d_carry) if lengths is not None else z * d_carry
        if reset_after:
            d_h0 = dhh[0] @ w + direct
            d_w = _flat_mm(dhh, hs[:-1])
            d_b_hn = dhh[..., 2 * hidden_size :].sum((0, 1)) if ctx.has_b_hn else None
        else:
            rows = slice(None, 2 * hidden_size)
            d_h0 = dxw[0, :, rows] @ w[rows] + r * d_rh + direct
            rh = gates[..., 3 * hidden_size :]
            d_w = torch.cat([_flat_mm(dxw[..., rows], hs[:-1]), _flat_mm(dxw[..., 2 * hidden_size :], rh)])
            d_b_hn = None
        return dxw, d_w, d_b_hn, d_h0, None, None, None, None


def _gru_phases(reset_after: bool) -> tuple[tuple, dict]:
    """torch's form is one phase a step; Cho et al.'s needs all of r h (phase A) before n (phase B)."""
    if reset_after:
        return ((),), dict(PHASE_A=True, PHASE_B=False)
    return (("PHASE_A",), ("PHASE_B",)), {}


class RNNRecurrence(torch.autograd.Function):
    """hs = φ(xw_t + W h_{t-1}) over xw (T, B, H) with weight w (H, H) from h0 (B, H)."""

    @staticmethod
    def forward(ctx, xw, w, h0, lengths, relu, keep):
        num_steps, batch_size, hidden_size = xw.shape
        p = plan(batch_size, hidden_size, xw.dtype)
        hs = xw.new_empty(num_steps + 1, batch_size, hidden_size)
        hs[0] = h0
        lengths_arg = lengths if lengths is not None else hs
        gates = torch.empty_like(xw) if keep is not None else xw.new_empty(1)
        _run(kernels.rnn_forward, p, num_steps, (xw.contiguous(), w.contiguous(), hs, gates, lengths_arg),
             (batch_size, hidden_size),
             dict(_options(xw, p), RELU=relu, HAS_LENGTHS=lengths is not None, WRITE_GATES=keep is not None))
        if keep is not None:
            keep.values = {"h": gates}
        ctx.save_for_backward(w, hs, lengths)
        ctx.keep, ctx.relu = keep, relu
        return hs[1:]

    @staticmethod
    @first_order_only
    def backward(ctx, d_hs):
        w, hs, lengths = ctx.saved_tensors
        num_steps, batch_size, hidden_size = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        p = plan(batch_size, hidden_size, hs.dtype)
        gy, d_final_h = _split_state_grads(d_hs, lengths)
        da = torch.empty_like(gy)
        receive = ctx.keep.receive if ctx.keep is not None else None
        dh = hs.new_empty(num_steps, batch_size, hidden_size) if receive else hs.new_empty(1)
        lengths_arg = lengths if lengths is not None else hs
        _run(kernels.rnn_backward, p, num_steps, (gy, d_final_h.contiguous(), w, hs, da, dh, lengths_arg),
             (num_steps, batch_size, hidden_size),
             dict(_options(hs, p), RELU=ctx.relu, HAS_LENGTHS=lengths is not None, WRITE_DH=receive is not None),
             backward=True)
        if receive:
            receive(dh)
        d_h0 = _first_step_state_grad(da[0] @ w, d_final_h, lengths)
        return da, _flat_mm(da, hs[:-1]), d_h0, None, None, None
