"""Dynamic int8 inference on the CPU: weights quantized once, activations at every product.

`quantize_dynamic(model)` returns a copy of `model` whose weight matrices (of every rnnlab RNN,
LSTM and GRU layer and cell, and of every torch.nn.Linear) are `Int8Weight`s. Each product of an
input x (M, K) with a weight W (N, K) is then an int8 × int8 → int32 matrix product:

    W ≈ s_w ⊙ W_q    W_q ∈ {-127 … 127}^(N×K), s_w (N,) = max_k |W_nk| / 127    once, per output row
    x ≈ s_x ⊙ x_q    x_q ∈ {-127 … 127}^(M×K), s_x (M,) = max_k |x_mk| / 127    every call, per input row
    x Wᵀ ≈ (s_x s_wᵀ) ⊙ (x_q W_qᵀ)                                             x_q W_qᵀ exact in int32

Scales are symmetric (no zero points) and per row on both sides: a per-channel weight scale keeps
a row of small weights from being rounded away by another row's large ones, and a per-row
activation scale makes each sequence's result independent of the others in its batch.

The recurrent layers keep their own equations and time loop. The copy runs them on the reference
backend, whose cells make their products with `F.linear` and `torch.addmm`; an `Int8Weight` answers
those (through `__torch_function__`) with the int8 product above, and raises TypeError for any other
use, so nothing falls back to float in silence. What a layer offers works as it does in float:
`lengths=`, PackedSequence, bidirectional and stacked layers, hx, a learned initial state, `step()`.

Support conditions:
1. the model is on the CPU and its weights are float32;
2. rnnlab's RNN, LSTM (with or without proj_size), GRU (reset_after True or False) and their cells,
   and torch.nn.Linear (the class itself: subclasses may read `.weight` in ways this cannot serve);
   torch.nn's own recurrent layers and cells are refused (convert them with `rnnlab.from_torch`);
3. inference only: the copy is in eval mode with every parameter frozen, and an int8 product that
   autograd would have to differentiate raises;
4. the copy's state_dict holds only its float tensors (biases, embeddings, ...): keep the float
   model (or its run directory) and quantize after loading, which takes milliseconds.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnlab.cells.base import Cell
from rnnlab.layers.base import RecurrentLayer

_LEVELS = 127  # symmetric int8, -127 … 127: -128 has no positive twin, and a symmetric grid needs no zero point
_NOT_DIFFERENTIABLE = ("int8 products are not differentiable: a quantized model runs inference only (train the "
                       "float model, or run under torch.no_grad())")


def _row_scales(rows: Tensor) -> Tensor:
    """max |row| / 127 for every row of rows (M, K), as (M, 1); never below the smallest normal
    float, so that an all-zero row divides 0 by a normal number (and quantizes to zeros)."""
    amax = rows.abs().amax(dim=1, keepdim=True)  # (M, 1)
    return amax.clamp_min(torch.finfo(rows.dtype).tiny * _LEVELS) / _LEVELS


def _quantize_rows(rows: Tensor) -> tuple[Tensor, Tensor]:
    """rows (M, K) float → (int8 values (M, K), scales (M, 1)) with rows ≈ scales * values."""
    scales = _row_scales(rows)
    return torch.round(rows / scales).to(torch.int8), scales  # |rows / scales| ≤ 127 by construction


class Int8Weight:
    """A weight matrix W (N, K) held as int8 rows and one float scale per row: W ≈ scale ⊙ W_q.

    It stands where a layer keeps its float weight, and it is not a Tensor: it serves the products
    rnnlab's cells and torch.nn.Linear make with their weights, `F.linear(x, W, b)` and
    `torch.addmm(b, x, W.t())`, and `W[rows]` (a GRU with reset_after=False takes W_hn as rows of
    W_hh). Any other torch function given it raises TypeError naming the function.

    Attributes:
        values_t: (K, N) int8, W_qᵀ laid out as the int8 product's right operand.
        scale: (N,) float, s_w.
        dtype: the float dtype of the weight it replaces (and of the inputs it takes).
        shape: (N, K), or (K, N) for the transposed view `t()` returns.
    """

    requires_grad = False  # read by the time loop when it decides whether to build a backward

    def __init__(self, values_t: Tensor, scale: Tensor, *, transposed: bool = False) -> None:
        self.values_t, self.scale, self.transposed = values_t, scale, transposed
        self.dtype, self.device = scale.dtype, scale.device

    @classmethod
    def quantize(cls, weight: Tensor) -> Int8Weight:
        """Per output row (channel) symmetric int8 quantization of weight (N, K)."""
        values, scales = _quantize_rows(weight.detach())
        return cls(values.t().contiguous(), scales.squeeze(1))

    def dequantize(self) -> Tensor:
        """The float matrix it stands for, scale ⊙ W_q (N, K) (its transpose for a transposed view)."""
        weight = self.values_t.t().to(self.dtype) * self.scale.unsqueeze(1)  # (N, K)
        return weight.t() if self.transposed else weight

    @property
    def shape(self) -> torch.Size:
        rows, columns = self.values_t.shape[1], self.values_t.shape[0]
        return torch.Size((columns, rows) if self.transposed else (rows, columns))

    def t(self) -> Int8Weight:
        """Wᵀ, for `torch.addmm(b, x, W.t())`; it shares the int8 values."""
        return Int8Weight(self.values_t, self.scale, transposed=not self.transposed)

    def __getitem__(self, rows) -> Int8Weight:
        if self.transposed or not isinstance(rows, slice):
            raise TypeError(f"an Int8Weight can be indexed by a slice of its rows only; received {rows!r}"
                            + (" on a transposed view" if self.transposed else ""))
        return Int8Weight(self.values_t[:, rows].contiguous(), self.scale[rows])

    def __repr__(self) -> str:
        return f"Int8Weight(shape={tuple(self.shape)}, dtype={self.dtype}, per-row scales)"

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.linear:
            return _linear(*args, **kwargs)
        if func is torch.addmm and not kwargs:
            return _addmm(*args)
        raise TypeError(f"{getattr(func, '__name__', func)} is not supported on an Int8Weight: a quantized model "
                        "runs F.linear and torch.addmm products only, for inference")


def _linear(input: Tensor, weight: Int8Weight, bias: Tensor | None = None) -> Tensor:
    """F.linear(input, W, bias) = input Wᵀ + bias, with W an (untransposed) Int8Weight."""
    if not isinstance(weight, Int8Weight) or weight.transposed:
        raise TypeError(f"F.linear takes an Int8Weight as its weight, untransposed; received {weight!r}")
    return _product(input, weight, bias)


def _addmm(input: Tensor, mat1: Tensor, mat2: Int8Weight) -> Tensor:
    """torch.addmm(input, mat1, Wᵀ) = input + mat1 Wᵀ, with mat2 the transposed view of an Int8Weight."""
    if not isinstance(mat2, Int8Weight) or not mat2.transposed or isinstance(mat1, Int8Weight):
        raise TypeError("torch.addmm takes an Int8Weight as mat2, transposed (W.t()); received mat1 "
                        f"{type(mat1).__name__} and mat2 {mat2!r}")
    return _product(mat1, mat2, input)


def _product(x: Tensor, weight: Int8Weight, addend: Tensor | None) -> Tensor:
    """x Wᵀ (+ addend) through the int8 product: x (..., K) → (..., N)."""
    if not isinstance(x, Tensor) or x.dtype != weight.dtype or x.device != weight.device:
        described = f"{x.dtype} on {x.device}" if isinstance(x, Tensor) else type(x).__name__
        raise TypeError(f"input to an int8 product must be {weight.dtype} on {weight.device}; received {described}")
    if torch.is_grad_enabled() and (x.requires_grad or (addend is not None and addend.requires_grad)):
        raise RuntimeError(_NOT_DIFFERENTIABLE)
    rows = x.reshape(-1, x.shape[-1])  # (M, K)
    values, scales = _quantize_rows(rows)
    accumulated = torch._int_mm(values, weight.values_t)  # (M, N) int32, exact
    outer = scales * weight.scale  # (M, N): s_x s_wᵀ
    # one pass turns the int32 sums into floats, scales them and adds the bias (N,) or addmm's input (M, N)
    out = accumulated * outer if addend is None else torch.addcmul(addend, accumulated, outer)
    return out.reshape(*x.shape[:-1], out.shape[-1])


# -- the model ---------------------------------------------------------------------------------------


def _tensors(value):
    """Every tensor in a (nested) argument: a tensor, a PackedSequence or a state tuple, a list, a dict."""
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _tensors(item)


def _refuse_gradients(layer: nn.Module, args: tuple, kwargs: dict) -> None:
    """Forward pre-hook of a quantized recurrent layer. Its time loop would otherwise start a
    hand-written backward (which runs without grad inside), and fail later with a message about
    saving tensors instead of this one."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in _tensors((args, kwargs))):
        raise RuntimeError(_NOT_DIFFERENTIABLE)


_TORCH_RECURRENT = (nn.RNNBase, nn.RNNCellBase)


def _quantized_names(module: nn.Module) -> list[str]:
    """The weight matrices of `module` that become int8: every weight of an rnnlab layer or cell
    (weight_ih, weight_hh, weight_hr, ...), an nn.Linear's weight, nothing elsewhere."""
    if isinstance(module, (RecurrentLayer, Cell)) or type(module) is nn.Linear:
        return [name for name, _ in module.named_parameters(recurse=False) if name.startswith("weight")]
    return []


def _check_model(model: nn.Module) -> None:
    """Raises, naming the module, for what `quantize_dynamic` cannot serve (its support conditions)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; received {type(model).__name__}")
    found = False
    for path, module in model.named_modules():
        where = f"model.{path}" if path else "model"
        if isinstance(module, _TORCH_RECURRENT):
            raise TypeError(f"{where} is a torch.nn.{type(module).__name__}, which quantize_dynamic does not "
                            "serve; convert it with rnnlab.from_torch first")
        if any(isinstance(value, Int8Weight) for value in vars(module).values()):
            raise ValueError(f"{where} holds int8 weights already: model was quantized before")
        for name in _quantized_names(module):
            weight = getattr(module, name)
            if weight.dtype != torch.float32 or weight.device.type != "cpu":
                raise ValueError(f"quantize_dynamic needs float32 weights on the CPU; received {where}.{name} "
                                 f"as {weight.dtype} on {weight.device}")
            found = True
    if not found:
        raise ValueError(f"model has no rnnlab RNN, LSTM or GRU layer or cell and no nn.Linear to quantize; "
                         f"received a {type(model).__name__}")


@torch.no_grad()
def quantize_dynamic(model: nn.Module) -> nn.Module:
    """A copy of `model` that runs its recurrent layers and linear layers with int8 weights.

    Weights are quantized here, per output row; activations are quantized at every product, per
    row (see the module docstring for the arithmetic and the support conditions). `model` itself
    is left as it was. Recurrent layers of the copy run on the reference backend, which takes any
    configuration, with the same results up to the rounding to int8.

    Args:
        model: a float32 model on the CPU holding rnnlab layers or cells and/or torch.nn.Linear.

    Returns:
        the quantized copy, in eval mode, every remaining parameter frozen (inference only).

    Raises:
        TypeError: if `model` is not a module, or holds one of torch.nn's recurrent layers or cells.
        ValueError: if it has nothing to quantize, weights that are not float32 on the CPU, or was
            quantized already.

    Example:
        >>> model = rnnlab.GRU(12, 64, batch_first=True)
        >>> quantized = quantize_dynamic(model)
        >>> outputs, h_n = quantized(torch.randn(8, 29, 12))
    """
    _check_model(model)
    quantized = copy.deepcopy(model)
    for module in quantized.modules():
        names = _quantized_names(module)
        for name in names:
            weight = getattr(module, name)
            delattr(module, name)  # the float Parameter leaves the module (and its state_dict)
            setattr(module, name, Int8Weight.quantize(weight))
        if names and isinstance(module, RecurrentLayer):
            module.backend = "reference"  # the path whose products the cells make, where int8 weights act
            module.register_forward_pre_hook(_refuse_gradients, with_kwargs=True)
    return quantized.requires_grad_(False).eval()
