"""The Triton kernels: one time step (or a run of steps) of each cell's recurrence, forward and backward.

Every kernel works on the recurrent part only. The input projection W_ih x + b (every step at
once, one matrix product) and the weight gradients (Σ_t over all steps, one matrix product) are
left to torch, as in the reference backend. What remains is inherently sequential: at step t,

    forward:   gates from xw_t + W_hh h_{t-1}, then the elementwise update, for all B rows;
    backward:  d_h_t from the step above (d_z_{t+1} W_hh) and the output's own gradient, then
               the elementwise derivative of the step, giving d_z_t.

Program (pid_b, pid_j) owns a block of BLOCK_B rows and loops over hidden units from block pid_j
in strides of the grid's width, so one kernel serves two launch plans:

- one step per launch, many unit blocks: the weights of the step are spread over many programs
  (and SMs), and the launches themselves order the steps;
- a run of steps per launch with one unit block: a program owns every unit of its rows, so the
  steps only depend on the program's own earlier writes, and a CTA barrier between steps orders
  them. Loads of values written in the same launch bypass L1 (`.cg`).

Arithmetic is in ACC (float32, or float64 for float64 tensors); matrix products use `tl.dot`
with PRECISION ("ieee" unless TF32 is allowed). Buffers are contiguous, time-major:
states (T+1, B, H) with the initial state in slot 0, gates (T, B, G*H), gradients (T, B, G*H).
tanh is written as 2σ(2x) - 1, which the interpreter and every GPU back end have.

A sequence past its length keeps its state (its rows are frozen, not written with new values)
and sends no gradient into its gates; the drivers in `launch.py` turn the final state's gradient
into the gradient of each row's last real step.

This module is longer than the style's ~300 lines: the forward and backward kernels of the three
cells share the `@triton.jit` helpers at its top (tiles, matrix products, ∂L/∂h_t), and read
best beside them and beside this docstring's account of the launch plans.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _tanh(x):
    return 2.0 * tl.sigmoid(2.0 * x) - 1.0


@triton.jit
def _matmul(a_ptr, a_stride, rows, row_mask, w_ptr, w_stride_k, w_stride_j, cols, col_mask, K,
            BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
            PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """acc[b, j] = Σ_k A[rows[b], k] · W(k, cols[j]), W(k, j) at w_ptr + k*w_stride_k + j*w_stride_j.

    Forward steps read W_hh's rows as j (stride_j = row length, stride_k = 1); backward steps read
    its transpose (stride_k = row length, stride_j = 1). A is read with `.cg`: it may have been
    written earlier in the same launch. UPCAST multiplies in ACC (exact for 16-bit operands, as the
    tensor cores' products are).
    """
    acc = tl.zeros((BLOCK_B, BLOCK_J), dtype=ACC)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_mask = ks < K
        a = tl.load(a_ptr + rows[:, None] * a_stride + ks[None, :], mask=row_mask[:, None] & k_mask[None, :],
                    other=0.0, cache_modifier=".cg")
        w = tl.load(w_ptr + ks[:, None] * w_stride_k + cols[None, :] * w_stride_j,
                    mask=k_mask[:, None] & col_mask[None, :], other=0.0)
        if UPCAST:  # Triton's interpreter multiplies bfloat16 bit patterns as integers: give it ACC values
            a = a.to(ACC)
            w = w.to(ACC)
        acc += tl.dot(a, w, input_precision=PRECISION, out_dtype=ACC)
    return acc


@triton.jit
def _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS: tl.constexpr):
    """(BLOCK_B,) bool: the rows whose sequence is still running at step t."""
    if HAS_LENGTHS:
        lengths = tl.load(len_ptr + rows, mask=row_mask, other=0)
        return row_mask & (t < lengths)
    return row_mask


@triton.jit
def _tile(rows, row_mask, j0, H, BLOCK_J: tl.constexpr):
    """The hidden units j0..j0+BLOCK_J-1 of a block of rows: their indices and mask, the (rows, units)
    mask, and their offsets in a (B, H) array."""
    cols = j0 + tl.arange(0, BLOCK_J)
    col_mask = cols < H
    return cols, col_mask, row_mask[:, None] & col_mask[None, :], rows[:, None] * H + cols[None, :]


@triton.jit
def _rows_with_next(rows, row_mask, t, T):
    """(BLOCK_B,) bool: the block's rows, if step t + 1 exists (t + 1 < T)."""
    return row_mask & ((tl.zeros_like(rows) + t + 1) < T)


@triton.jit
def _state_grad(gy_ptr, d_final_h_ptr, d_next_ptr, width, w_ptr, rows, row_mask, has_next, valid_next, cols, col_mask,
                t, B, H, BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """∂L/∂h_t at (rows, cols), the three ways h_t reaches the loss: through its own output (gy),
    through step t + 1 (d_next_{t+1} W_hh, d_next (T, B, width) with width = G*H), and, at a
    sequence's last real step, as the final state (d_final_h)."""
    mask = row_mask[:, None] & col_mask[None, :]
    here = rows[:, None] * H + cols[None, :]
    d_h = tl.load(gy_ptr + t * B * H + here, mask=mask, other=0.0).to(ACC)
    d_h += _matmul(d_next_ptr + (t + 1) * B * width, width, rows, has_next, w_ptr, H, 1, cols, col_mask, width,
                   BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
    d_final = tl.load(d_final_h_ptr + here, mask=mask, other=0.0).to(ACC)
    return d_h + tl.where(valid_next[:, None], 0.0, d_final)


# -- LSTM ----------------------------------------------------------------------------------------

@triton.jit
def lstm_forward(xw_ptr, w_ptr, hs_ptr, cs_ptr, gates_ptr, len_ptr, t_begin, t_end, B, H,
                 HAS_LENGTHS: tl.constexpr, WRITE_GATES: tl.constexpr, SYNC: tl.constexpr,
                 BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                 PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """Steps t_begin..t_end-1 of c' = f c + i g, h' = o tanh(c'), z = xw_t + W h (gates [i|f|g|o]).

    xw (T, B, 4H) holds W_ih x + b_ih + b_hh; w (4H, H); hs, cs (T+1, B, H) read slot t, write t+1.
    """
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    for t in range(t_begin, t_end):
        valid = _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS)
        h_prev_ptr = hs_ptr + t * B * H
        for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
            cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
            xw_here = xw_ptr + t * B * 4 * H + rows[:, None] * 4 * H + cols[None, :]
            z_i = _matmul(h_prev_ptr, H, rows, row_mask, w_ptr, 1, H, cols, col_mask, H,
                          BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            z_f = _matmul(h_prev_ptr, H, rows, row_mask, w_ptr + H * H, 1, H, cols, col_mask, H,
                          BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            z_g = _matmul(h_prev_ptr, H, rows, row_mask, w_ptr + 2 * H * H, 1, H, cols, col_mask, H,
                          BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            z_o = _matmul(h_prev_ptr, H, rows, row_mask, w_ptr + 3 * H * H, 1, H, cols, col_mask, H,
                          BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            i = tl.sigmoid(z_i + tl.load(xw_here, mask=mask, other=0.0).to(ACC))
            f = tl.sigmoid(z_f + tl.load(xw_here + H, mask=mask, other=0.0).to(ACC))
            g = _tanh(z_g + tl.load(xw_here + 2 * H, mask=mask, other=0.0).to(ACC))
            o = tl.sigmoid(z_o + tl.load(xw_here + 3 * H, mask=mask, other=0.0).to(ACC))
            c_prev = tl.load(cs_ptr + t * B * H + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
            h_prev = tl.load(h_prev_ptr + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
            c = f * c_prev + i * g
            h = o * _tanh(c)
            c = tl.where(valid[:, None], c, c_prev)
            h = tl.where(valid[:, None], h, h_prev)
            tl.store(cs_ptr + (t + 1) * B * H + here, c.to(cs_ptr.dtype.element_ty), mask=mask)
            tl.store(hs_ptr + (t + 1) * B * H + here, h.to(hs_ptr.dtype.element_ty), mask=mask)
            if WRITE_GATES:
                gates_here = gates_ptr + t * B * 4 * H + rows[:, None] * 4 * H + cols[None, :]
                kind = gates_ptr.dtype.element_ty
                tl.store(gates_here, i.to(kind), mask=mask)
                tl.store(gates_here + H, f.to(kind), mask=mask)
                tl.store(gates_here + 2 * H, g.to(kind), mask=mask)
                tl.store(gates_here + 3 * H, o.to(kind), mask=mask)
        if SYNC:
            tl.debug_barrier()


@triton.jit
def lstm_backward(gy_ptr, d_final_h_ptr, w_ptr, cs_ptr, gates_ptr, dz_ptr, dc_ptr, dh_ptr, len_ptr,
                  t_begin, t_end, T, B, H,
                  HAS_LENGTHS: tl.constexpr, WRITE_DH: tl.constexpr, SYNC: tl.constexpr,
                  BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                  PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """Steps t_end-1 down to t_begin of the LSTM's BPTT.

    gy (T, B, H): gradient of each step's h through the outputs (zero past a sequence's end).
    d_final_h (B, H): gradient of the final h, which a sequence reaches at its last real step.
    dc (B, H): the carried ∂L/∂c, holding ∂L/∂c_final on entry; ∂L/∂c_0 on exit.
    dz (T, B, 4H): written, ∂L/∂z_t (zero past a sequence's end); read at t + 1 for W_hhᵀ.
    dh (T, B, H): written when WRITE_DH, the total ∂L/∂h_t (for gradient flow).
    """
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    for step in range(t_begin, t_end):
        t = t_end - 1 - (step - t_begin)
        valid = _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS)
        has_next = _rows_with_next(rows, row_mask, t, T)
        valid_next = _valid_rows(len_ptr, rows, has_next, t + 1, HAS_LENGTHS)
        for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
            cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
            d_h = _state_grad(gy_ptr, d_final_h_ptr, dz_ptr, 4 * H, w_ptr, rows, row_mask, has_next, valid_next, cols,
                              col_mask, t, B, H, BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            d_c = tl.load(dc_ptr + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
            gates_here = gates_ptr + t * B * 4 * H + rows[:, None] * 4 * H + cols[None, :]
            i = tl.load(gates_here, mask=mask, other=0.0).to(ACC)
            f = tl.load(gates_here + H, mask=mask, other=0.0).to(ACC)
            g = tl.load(gates_here + 2 * H, mask=mask, other=0.0).to(ACC)
            o = tl.load(gates_here + 3 * H, mask=mask, other=0.0).to(ACC)
            c = tl.load(cs_ptr + (t + 1) * B * H + here, mask=mask, other=0.0).to(ACC)
            c_prev = tl.load(cs_ptr + t * B * H + here, mask=mask, other=0.0).to(ACC)
            tanh_c = _tanh(c)
            d_c_total = d_c + d_h * o * (1.0 - tanh_c * tanh_c)
            live = valid[:, None]
            kind = dz_ptr.dtype.element_ty
            dz_here = dz_ptr + t * B * 4 * H + rows[:, None] * 4 * H + cols[None, :]
            tl.store(dz_here, tl.where(live, d_c_total * g * i * (1.0 - i), 0.0).to(kind), mask=mask)
            tl.store(dz_here + H, tl.where(live, d_c_total * c_prev * f * (1.0 - f), 0.0).to(kind), mask=mask)
            tl.store(dz_here + 2 * H, tl.where(live, d_c_total * i * (1.0 - g * g), 0.0).to(kind), mask=mask)
            tl.store(dz_here + 3 * H, tl.where(live, d_h * tanh_c * o * (1.0 - o), 0.0).to(kind), mask=mask)
            tl.store(dc_ptr + here, tl.where(live, d_c_total * f, d_c).to(dc_ptr.dtype.element_ty), mask=mask)
            if WRITE_DH:
                tl.store(dh_ptr + t * B * H + here, d_h.to(dh_ptr.dtype.element_ty), mask=mask)
        if SYNC:
            tl.debug_barrier()


# -- GRU -----------------------------------------------------------------------------------------

@triton.jit
def gru_forward(xw_ptr, w_ptr, b_hn_ptr, hs_ptr, gates_ptr, len_ptr, t_begin, t_end, B, H,
                RESET_AFTER: tl.constexpr, PHASE_A: tl.constexpr, PHASE_B: tl.constexpr,
                HAS_LENGTHS: tl.constexpr, WRITE_GATES: tl.constexpr, SYNC: tl.constexpr,
                BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """Steps of h' = (1 - z) n + z h, gates [r|z|n] from xw_t + W h.

    RESET_AFTER (torch's form): n = tanh(xw_n + r (W_hn h + b_hn)); xw holds W_ih x + b_ih + b_h[rz];
    one phase per step. gates (T, B, 4H) = [r|z|n|W_hn h + b_hn], written when WRITE_GATES.
    Otherwise (Cho et al.): n = tanh(xw_n + W_hn (r h)); xw holds every bias. Phase A computes r, z
    and r h for all units, phase B the candidate n, which needs all of r h: two launches per step,
    or both phases in one with a barrier between them. gates = [r|z|n|r h], always written.
    """
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    for t in range(t_begin, t_end):
        valid = _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS)
        h_prev_ptr = hs_ptr + t * B * H
        gates_t = gates_ptr + t * B * 4 * H
        kind = gates_ptr.dtype.element_ty
        if PHASE_A:
            for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
                cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
                xw_here = xw_ptr + t * B * 3 * H + rows[:, None] * 3 * H + cols[None, :]
                gates_here = gates_t + rows[:, None] * 4 * H + cols[None, :]
                r = tl.sigmoid(tl.load(xw_here, mask=mask, other=0.0).to(ACC) + _matmul(
                    h_prev_ptr, H, rows, row_mask, w_ptr, 1, H, cols, col_mask, H,
                    BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST))
                z = tl.sigmoid(tl.load(xw_here + H, mask=mask, other=0.0).to(ACC) + _matmul(
                    h_prev_ptr, H, rows, row_mask, w_ptr + H * H, 1, H, cols, col_mask, H,
                    BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST))
                h_prev = tl.load(h_prev_ptr + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
                if RESET_AFTER:
                    hn = tl.load(b_hn_ptr + cols, mask=col_mask, other=0.0).to(ACC)[None, :] + _matmul(
                        h_prev_ptr, H, rows, row_mask, w_ptr + 2 * H * H, 1, H, cols, col_mask, H,
                        BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
                    n = _tanh(tl.load(xw_here + 2 * H, mask=mask, other=0.0).to(ACC) + r * hn)
                    h = tl.where(valid[:, None], (1.0 - z) * n + z * h_prev, h_prev)
                    tl.store(hs_ptr + (t + 1) * B * H + here, h.to(hs_ptr.dtype.element_ty), mask=mask)
                    if WRITE_GATES:
                        tl.store(gates_here, r.to(kind), mask=mask)
                        tl.store(gates_here + H, z.to(kind), mask=mask)
                        tl.store(gates_here + 2 * H, n.to(kind), mask=mask)
                        tl.store(gates_here + 3 * H, hn.to(kind), mask=mask)
                else:
                    tl.store(gates_here, r.to(kind), mask=mask)
                    tl.store(gates_here + H, z.to(kind), mask=mask)
                    tl.store(gates_here + 3 * H, (r * h_prev).to(kind), mask=mask)
        if PHASE_A and PHASE_B and SYNC:
            tl.debug_barrier()
        if PHASE_B:
            for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
                cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
                gates_here = gates_t + rows[:, None] * 4 * H + cols[None, :]
                xw_n = tl.load(xw_ptr + t * B * 3 * H + rows[:, None] * 3 * H + 2 * H + cols[None, :],
                               mask=mask, other=0.0).to(ACC)
                n = _tanh(xw_n + _matmul(gates_t + 3 * H, 4 * H, rows, row_mask, w_ptr + 2 * H * H, 1, H,
                                         cols, col_mask, H, BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST))
                z = tl.load(gates_here + H, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
                h_prev = tl.load(h_prev_ptr + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
                h = tl.where(valid[:, None], (1.0 - z) * n + z * h_prev, h_prev)
                tl.store(hs_ptr + (t + 1) * B * H + here, h.to(hs_ptr.dtype.element_ty), mask=mask)
                tl.store(gates_here + 2 * H, n.to(kind), mask=mask)
        if SYNC:
            tl.debug_barrier()


@triton.jit
def gru_backward(gy_ptr, d_final_h_ptr, w_ptr, hs_ptr, gates_ptr, dxw_ptr, dhh_ptr, dcarry_ptr, drh_ptr,
                 dh_ptr, len_ptr, t_begin, t_end, T, B, H,
                 RESET_AFTER: tl.constexpr, PHASE_A: tl.constexpr, PHASE_B: tl.constexpr,
                 HAS_LENGTHS: tl.constexpr, WRITE_DH: tl.constexpr, SYNC: tl.constexpr,
                 BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                 PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """Steps t_end-1 down to t_begin of the GRU's BPTT.

    dxw (T, B, 3H): ∂L/∂xw_t = [∂a_r|∂a_z|∂a_n], the pre-activations' gradients.
    dhh (T, B, 3H): ∂L/∂(W_hh h + b_hh) with RESET_AFTER ([∂a_r|∂a_z|r ∂a_n]); unused otherwise,
        where W_hh's rows r, z see h and its rows n see r h, so dxw serves both.
    dcarry (B, H): ∂L/∂h_t of the last step done, for the direct path z ⊙ h.
    drh (B, H), without RESET_AFTER: ∂L/∂(r h) of the last step done (phase B writes it).
    Phase A computes ∂L/∂h_t and every gate's gradient but r's without RESET_AFTER; phase B, only
    without RESET_AFTER, ∂L/∂(r h) = ∂a_n W_hn (all units) and from it ∂a_r.
    """
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    for step in range(t_begin, t_end):
        t = t_end - 1 - (step - t_begin)
        valid = _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS)
        has_next = _rows_with_next(rows, row_mask, t, T)
        valid_next = _valid_rows(len_ptr, rows, has_next, t + 1, HAS_LENGTHS)
        gates_t = gates_ptr + t * B * 4 * H
        if PHASE_A:
            for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
                cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
                next_mask = has_next[:, None] & col_mask[None, :]
                gates_here = gates_t + rows[:, None] * 4 * H + cols[None, :]
                d_h = tl.load(gy_ptr + t * B * H + here, mask=mask, other=0.0).to(ACC)
                z_next = tl.load(gates_here + B * 4 * H + H, mask=next_mask, other=0.0).to(ACC)
                d_h_next = tl.load(dcarry_ptr + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
                d_final = tl.load(d_final_h_ptr + here, mask=mask, other=0.0).to(ACC)
                d_h += tl.where(valid_next[:, None], z_next * d_h_next, d_final)
                if RESET_AFTER:
                    d_h += _matmul(dhh_ptr + (t + 1) * B * 3 * H, 3 * H, rows, has_next, w_ptr, H, 1, cols, col_mask,
                                   3 * H, BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
                else:  # rows r, z of W_hh see h; rows n see r h
                    d_h += _matmul(dxw_ptr + (t + 1) * B * 3 * H, 3 * H, rows, has_next, w_ptr, H, 1, cols, col_mask,
                                   2 * H, BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
                    r_next = tl.load(gates_here + B * 4 * H, mask=next_mask, other=0.0).to(ACC)
                    d_rh_next = tl.load(drh_ptr + here, mask=next_mask, other=0.0, cache_modifier=".cg").to(ACC)
                    d_h += r_next * d_rh_next
                r = tl.load(gates_here, mask=mask, other=0.0).to(ACC)
                z = tl.load(gates_here + H, mask=mask, other=0.0).to(ACC)
                n = tl.load(gates_here + 2 * H, mask=mask, other=0.0).to(ACC)
                h_prev = tl.load(hs_ptr + t * B * H + here, mask=mask, other=0.0).to(ACC)
                live = valid[:, None]
                d_a_n = tl.where(live, d_h * (1.0 - z) * (1.0 - n * n), 0.0)
                d_a_z = tl.where(live, d_h * (h_prev - n) * z * (1.0 - z), 0.0)
                kind = dxw_ptr.dtype.element_ty
                dxw_here = dxw_ptr + t * B * 3 * H + rows[:, None] * 3 * H + cols[None, :]
                tl.store(dxw_here + H, d_a_z.to(kind), mask=mask)
                tl.store(dxw_here + 2 * H, d_a_n.to(kind), mask=mask)
                if RESET_AFTER:
                    hn = tl.load(gates_here + 3 * H, mask=mask, other=0.0).to(ACC)
                    d_a_r = d_a_n * hn * r * (1.0 - r)
                    tl.store(dxw_here, d_a_r.to(kind), mask=mask)
                    dhh_here = dhh_ptr + t * B * 3 * H + rows[:, None] * 3 * H + cols[None, :]
                    tl.store(dhh_here, d_a_r.to(kind), mask=mask)
                    tl.store(dhh_here + H, d_a_z.to(kind), mask=mask)
                    tl.store(dhh_here + 2 * H, (d_a_n * r).to(kind), mask=mask)
                tl.store(dcarry_ptr + here, d_h.to(dcarry_ptr.dtype.element_ty), mask=mask)
                if WRITE_DH:
                    tl.store(dh_ptr + t * B * H + here, d_h.to(dh_ptr.dtype.element_ty), mask=mask)
        if PHASE_A and PHASE_B and SYNC:
            tl.debug_barrier()
        if PHASE_B:
            for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
                cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
                gates_here = gates_t + rows[:, None] * 4 * H + cols[None, :]
                # ∂L/∂(r h)[j] = Σ_n ∂a_n[n] W_hn[n, j]
                d_rh = _matmul(dxw_ptr + t * B * 3 * H + 2 * H, 3 * H, rows, row_mask, w_ptr + 2 * H * H, H, 1,
                               cols, col_mask, H, BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
                r = tl.load(gates_here, mask=mask, other=0.0).to(ACC)
                h_prev = tl.load(hs_ptr + t * B * H + here, mask=mask, other=0.0).to(ACC)
                d_a_r = d_rh * h_prev * r * (1.0 - r)  # zero past the end: ∂a_n is
                tl.store(dxw_ptr + t * B * 3 * H + rows[:, None] * 3 * H + cols[None, :],
                         d_a_r.to(dxw_ptr.dtype.element_ty), mask=mask)
                tl.store(drh_ptr + here, d_rh.to(drh_ptr.dtype.element_ty), mask=mask)
        if SYNC:
            tl.debug_barrier()


# -- vanilla RNN ---------------------------------------------------------------------------------

@triton.jit
def rnn_forward(xw_ptr, w_ptr, hs_ptr, gates_ptr, len_ptr, t_begin, t_end, B, H,
                RELU: tl.constexpr, HAS_LENGTHS: tl.constexpr, WRITE_GATES: tl.constexpr, SYNC: tl.constexpr,
                BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """Steps of h' = φ(xw_t + W h), φ = tanh or relu; xw holds W_ih x + b_ih + b_hh.

    gates (T, B, H), written when WRITE_GATES: φ(·) also past a sequence's end, where hs keeps
    the frozen state (what the reference records too).
    """
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    for t in range(t_begin, t_end):
        valid = _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS)
        h_prev_ptr = hs_ptr + t * B * H
        for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
            cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
            a = tl.load(xw_ptr + t * B * H + here, mask=mask, other=0.0).to(ACC) + _matmul(
                h_prev_ptr, H, rows, row_mask, w_ptr, 1, H, cols, col_mask, H,
                BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            if RELU:
                h = tl.maximum(a, 0.0)
            else:
                h = _tanh(a)
            if WRITE_GATES:
                tl.store(gates_ptr + t * B * H + here, h.to(gates_ptr.dtype.element_ty), mask=mask)
            h_prev = tl.load(h_prev_ptr + here, mask=mask, other=0.0, cache_modifier=".cg").to(ACC)
            h = tl.where(valid[:, None], h, h_prev)
            tl.store(hs_ptr + (t + 1) * B * H + here, h.to(hs_ptr.dtype.element_ty), mask=mask)
        if SYNC:
            tl.debug_barrier()


@triton.jit
def rnn_backward(gy_ptr, d_final_h_ptr, w_ptr, hs_ptr, da_ptr, dh_ptr, len_ptr, t_begin, t_end, T, B, H,
                 RELU: tl.constexpr, HAS_LENGTHS: tl.constexpr, WRITE_DH: tl.constexpr, SYNC: tl.constexpr,
                 BLOCK_B: tl.constexpr, BLOCK_J: tl.constexpr, BLOCK_K: tl.constexpr,
                 PRECISION: tl.constexpr, ACC: tl.constexpr, UPCAST: tl.constexpr):
    """Steps t_end-1 down to t_begin of the vanilla RNN's BPTT; da (T, B, H) = ∂L/∂a_t."""
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    row_mask = rows < B
    for step in range(t_begin, t_end):
        t = t_end - 1 - (step - t_begin)
        valid = _valid_rows(len_ptr, rows, row_mask, t, HAS_LENGTHS)
        has_next = _rows_with_next(rows, row_mask, t, T)
        valid_next = _valid_rows(len_ptr, rows, has_next, t + 1, HAS_LENGTHS)
        for j0 in range(tl.program_id(1) * BLOCK_J, H, BLOCK_J * tl.num_programs(1)):
            cols, col_mask, mask, here = _tile(rows, row_mask, j0, H, BLOCK_J)
            d_h = _state_grad(gy_ptr, d_final_h_ptr, da_ptr, H, w_ptr, rows, row_mask, has_next, valid_next, cols,
                              col_mask, t, B, H, BLOCK_B, BLOCK_J, BLOCK_K, PRECISION, ACC, UPCAST)
            h = tl.load(hs_ptr + (t + 1) * B * H + here, mask=mask, other=0.0).to(ACC)
            if RELU:
                slope = tl.where(h > 0.0, 1.0, 0.0)
            else:
                slope = 1.0 - h * h
            tl.store(da_ptr + t * B * H + here, tl.where(valid[:, None], d_h * slope, 0.0).to(da_ptr.dtype.element_ty),
                     mask=mask)
            if WRITE_DH:
                tl.store(dh_ptr + t * B * H + here, d_h.to(dh_ptr.dtype.element_ty), mask=mask)
        if SYNC:
            tl.debug_barrier()
