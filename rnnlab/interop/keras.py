"""Keras 3 ⇄ rnnlab: SimpleRNN, LSTM and GRU layers, Bidirectional wrappers and stacks, weights copied.

Keras stays optional: nothing here imports it until `from_keras` or `to_keras` is called.

The two libraries compute the same functions from differently laid-out weights. For a layer of H
units reading F features, with G gate blocks (1 for SimpleRNN, 4 for LSTM, 3 for GRU):

    kernel            (F, G*H)  = W_ihᵀ, gate blocks in Keras's order
    recurrent_kernel  (H, G*H)  = W_hhᵀ, likewise
    SimpleRNN  bias (H,)        = b_ih + b_hh
    LSTM       bias (4H,)       = b_ih + b_hh; Keras's blocks [i|f|c|o] are torch's [i|f|g|o]
    GRU        Keras's blocks [z|r|h] are ours [r|z|n] with the first two swapped, and
      reset_after=True   bias (2, 3H) = [b_ih; b_hh]   (apart, because r multiplies b_hn)
      reset_after=False  bias (3H,)   = b_ih + b_hh    (in this form every bias is additive)

Where Keras keeps one bias and rnnlab two, Keras → rnnlab puts all of it in b_ih with b_hh = 0,
and rnnlab → Keras sums them: the function is the same either way, and Keras → rnnlab → Keras
gives Keras's weights back exactly.

This module is longer than the style's ~300 lines: it is one weight map read both ways (Keras to
rnnlab and back) for three layer kinds, two GRU forms, Bidirectional wrappers and stacks; the two
directions are kept side by side so that each can be checked against the other.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnlab.layers.gru import GRU
from rnnlab.layers.lstm import LSTM
from rnnlab.layers.rnn import RNN


def _import_keras(caller: str):
    """Keras 3, imported on first use; on its torch backend unless KERAS_BACKEND is set or Keras is loaded."""
    if "keras" not in sys.modules:
        # rnnlab already has torch; Keras's own default backend (TensorFlow) may well be absent
        os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except ImportError as error:
        raise ImportError(f"{caller} needs Keras 3, an optional dependency of rnnlab: pip install 'keras>=3' "
                          "(rnnlab runs it on its torch backend, KERAS_BACKEND=torch)") from error
    if int(keras.__version__.split(".")[0]) < 3:
        raise ImportError(f"{caller} needs Keras 3 (pip install 'keras>=3'); received keras {keras.__version__}")
    return keras


@dataclass(frozen=True)
class _Spec:
    """One Keras recurrent layer (or Bidirectional pair) as rnnlab's constructor sees it."""

    name: str
    layer_type: type  # RNN, LSTM or GRU
    options: dict  # nonlinearity= (RNN) or reset_after= (GRU)
    input_size: int
    hidden_size: int
    bias: bool
    cells: tuple  # the Keras cells, forward then backward

    def signature(self) -> tuple:
        """What must agree between the layers of a stack (input sizes follow from it)."""
        return self.layer_type, sorted(self.options.items()), self.hidden_size, self.bias, len(self.cells)

    def describe(self) -> str:
        options = "".join(f", {key}={value!r}" for key, value in self.options.items())
        wrapping = ", bidirectional" if len(self.cells) == 2 else ""
        kind = self.layer_type.__name__
        return f"{self.name!r} ({kind}, {self.hidden_size} units, bias={self.bias}{options}{wrapping})"


def _cell_type(keras, cell, name: str) -> tuple[type, dict]:
    """The rnnlab layer type and options equal to a Keras cell's math; raises for what has none."""
    if not isinstance(cell, (keras.layers.SimpleRNNCell, keras.layers.LSTMCell, keras.layers.GRUCell)):
        raise TypeError(f"layer {name!r} steps a {type(cell).__name__}; from_keras converts SimpleRNN, LSTM and "
                        "GRU layers (and keras.layers.RNN over one of their cells)")
    activation = keras.activations.serialize(cell.activation)
    if isinstance(cell, keras.layers.SimpleRNNCell):
        if activation not in ("tanh", "relu"):
            raise ValueError(f"layer {name!r}: rnnlab's RNN supports activation 'tanh' or 'relu'; "
                             f"received activation={activation!r}")
        return RNN, {"nonlinearity": activation}
    if activation != "tanh":
        raise ValueError(f"layer {name!r}: rnnlab's {type(cell).__name__[:-4]} uses activation 'tanh'; "
                         f"received activation={activation!r}")
    recurrent_activation = keras.activations.serialize(cell.recurrent_activation)
    if recurrent_activation != "sigmoid":
        raise ValueError(f"layer {name!r}: rnnlab's gates use recurrent_activation 'sigmoid'; "
                         f"received recurrent_activation={recurrent_activation!r}")
    if isinstance(cell, keras.layers.LSTMCell):
        return LSTM, {}
    return GRU, {"reset_after": bool(cell.reset_after)}


def _one_direction(keras, layer) -> _Spec:
    """The spec of a plain Keras recurrent layer, after checking the options rnnlab cannot follow."""
    if not layer.built:
        raise ValueError(f"layer {layer.name!r} has no weights yet: build it (or call it on an input) first; "
                         "received built=False")
    if layer.stateful:
        raise ValueError(f"layer {layer.name!r}: a stateful layer keeps its state between calls, which rnnlab's "
                         "layers leave to the caller (pass hx); received stateful=True")
    layer_type, options = _cell_type(keras, layer.cell, layer.name)
    rates = {key: float(getattr(layer.cell, key, 0.0)) for key in ("dropout", "recurrent_dropout")}
    if any(rates.values()):
        warnings.warn(f"layer {layer.name!r} has dropout={rates['dropout']}, recurrent_dropout="
                      f"{rates['recurrent_dropout']}: Keras drops inside the cell in training only, rnnlab's "
                      "layer has no such dropout, so the two agree at inference", stacklevel=4)
    cell = layer.cell
    return _Spec(layer.name, layer_type, options, int(cell.kernel.shape[0]), int(cell.units), bool(cell.use_bias),
                 (cell,))


def _layer_spec(keras, layer) -> _Spec:
    """The spec of a Keras SimpleRNN/LSTM/GRU (or RNN over their cells), or a Bidirectional of one."""
    if isinstance(layer, keras.layers.Bidirectional):
        if layer.merge_mode != "concat":
            raise ValueError(f"layer {layer.name!r}: rnnlab concatenates the two directions' features; "
                             f"received merge_mode={layer.merge_mode!r} (use 'concat')")
        forward, backward = layer.forward_layer, layer.backward_layer
        if forward.go_backwards or not backward.go_backwards:
            raise ValueError(f"layer {layer.name!r}: the forward layer must read forwards and the backward one "
                             f"backwards; received go_backwards={forward.go_backwards} and {backward.go_backwards}")
        specs = [_one_direction(keras, forward), _one_direction(keras, backward)]
        if specs[0].signature() != specs[1].signature():
            raise ValueError(f"layer {layer.name!r}: rnnlab's two directions are alike; received "
                             f"{specs[0].describe()} and {specs[1].describe()}")
        first = specs[0]
        return _Spec(layer.name, first.layer_type, first.options, first.input_size, first.hidden_size, first.bias,
                     (forward.cell, backward.cell))
    if isinstance(layer, keras.layers.RNN):
        if layer.go_backwards:
            raise ValueError(f"layer {layer.name!r} reads its input backwards and returns its outputs reversed; "
                             "rnnlab's one-direction layers read forwards (flip the input with torch.flip(xs, [1]) "
                             "and convert the layer built with go_backwards=False); received go_backwards=True")
        return _one_direction(keras, layer)
    raise TypeError(f"layer {layer.name!r} is a {type(layer).__name__}; from_keras converts SimpleRNN, LSTM, GRU "
                    "and Bidirectional layers, and models made of them")


def _check_chain(keras, model, layers: list) -> None:
    """A functional model is converted only when each layer reads the one before (the first, the input)."""
    if len(model.inputs) != 1:
        raise ValueError(f"model {model.name!r} must have one input; received {len(model.inputs)}")
    previous, previous_name = model.inputs[0], "the model's input"
    for layer in layers:
        try:
            received = layer.input
        except (AttributeError, ValueError) as error:  # a subclassed model, or a layer called twice
            raise ValueError(f"model {model.name!r}: layer {layer.name!r} has no single input to follow; "
                             "from_keras converts a Sequential or a functional chain of layers") from error
        if received is not previous:
            raise ValueError(f"model {model.name!r} is not a chain: layer {layer.name!r} does not read "
                             f"{previous_name}; from_keras converts a Sequential or a functional chain of layers")
        output = layer.output
        previous = output[0] if isinstance(output, (list, tuple)) else output  # return_state adds states after
        previous_name = f"layer {layer.name!r}"


def _stack(keras, model) -> tuple[list[_Spec], float]:
    """The recurrent layers of a Sequential or functional chain, and the dropout rate between them."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not isinstance(model, keras.Sequential):
        _check_chain(keras, model, layers)
    specs, rates, pending = [], [], None
    for layer in layers:
        if isinstance(layer, keras.layers.Dropout):
            if not specs or pending is not None:
                raise ValueError(f"model {model.name!r}: rnnlab applies dropout between recurrent layers only; "
                                 f"received Dropout {layer.name!r} before the first recurrent layer or after another")
            pending = float(layer.rate)
            continue
        spec = _layer_spec(keras, layer)
        if specs:
            rates.append(pending or 0.0)
            if spec.signature() != specs[0].signature():
                raise ValueError(f"model {model.name!r}: rnnlab stacks alike layers only (same type, units, bias, "
                                 f"activation, reset_after and wrapping); received {specs[0].describe()} and "
                                 f"{spec.describe()}")
        specs.append(spec)
        pending = None
    if not specs:
        raise ValueError(f"model {model.name!r} has no recurrent layer to convert; received layers "
                         f"{[layer.name for layer in layers]}")
    if pending is not None:
        raise ValueError(f"model {model.name!r}: rnnlab applies dropout between recurrent layers only; received a "
                         "Dropout after the last recurrent layer")
    if len(set(rates)) > 1:
        raise ValueError(f"model {model.name!r}: rnnlab drops out at one rate between all its layers; "
                         f"received rates {rates} between consecutive recurrent layers")
    return specs, rates[0] if rates else 0.0


def _swap_first_blocks(tensor: Tensor, hidden_size: int) -> Tensor:
    """GRU gate rows [z|r|h] ⇄ [r|z|n]: swapping the first two blocks, its own inverse."""
    H = hidden_size
    return torch.cat([tensor[H : 2 * H], tensor[:H], tensor[2 * H :]])


def _weights_from_keras(keras, cell) -> dict[str, Tensor]:
    """A Keras cell's weights under rnnlab's names, shapes and gate order."""
    is_gru = isinstance(cell, keras.layers.GRUCell)

    def rows(variable) -> Tensor:  # Keras (·, G*H) with gate blocks in columns -> ours (G*H, ·) in rows
        tensor = torch.from_numpy(np.array(keras.ops.convert_to_numpy(variable)).T.copy())
        return _swap_first_blocks(tensor, cell.units) if is_gru else tensor

    weights = {"weight_ih": rows(cell.kernel), "weight_hh": rows(cell.recurrent_kernel)}
    if cell.use_bias:
        bias = rows(cell.bias)  # (G*H,), or (3H, 2) from a GRU's (2, 3H)
        if bias.dim() == 2:  # GRU reset_after=True: input and recurrent biases apart, as ours
            weights.update(bias_ih=bias[:, 0].contiguous(), bias_hh=bias[:, 1].contiguous())
        else:  # one bias: all of it on the input side (the sum is what every form computes)
            weights.update(bias_ih=bias, bias_hh=torch.zeros_like(bias))
    return weights


def from_keras(layer_or_model: Any) -> RNN | LSTM | GRU:
    """The rnnlab layer equal to a Keras recurrent layer or stack, with copies of its weights.

    Converts keras.layers.SimpleRNN (activation tanh or relu), LSTM and GRU (reset_after True or
    False), keras.layers.RNN over one of their cells, Bidirectional(merge_mode="concat") wrappers
    of those, and a keras.Sequential (or a functional model chaining layers one after another) of
    alike recurrent layers, optionally with one Dropout rate between them, into one layer with
    num_layers > 1 and rnnlab's between-layer dropout. Keras's dropout and recurrent_dropout act in
    training only, so they are dropped with a warning: the two agree at inference.

    Keras's return_sequences and return_state only choose what a call returns; the rnnlab layer
    returns everything: `output` (B, T, D*H), Keras's output with return_sequences=True, and the
    final state h_n, or (h_n, c_n), (L*D, B, H), with layer l's direction d in row l*D + d (Keras
    returns each layer's forward states, then its backward ones). Keras's output with
    return_sequences=False is the last layer's h_n, its directions side by side.

    Args:
        layer_or_model: a built Keras layer or model, as above.

    Returns:
        an `RNN`, `LSTM` or `GRU` with batch_first=True (Keras's layout), in the dtype of the Keras
        weights, on the CPU, in training mode as every new torch module.

    Raises:
        ImportError: Keras 3 is not installed.
        TypeError: a layer that is no SimpleRNN/LSTM/GRU/Bidirectional/Dropout.
        ValueError: an option rnnlab cannot follow (an activation other than those above,
            stateful=True, go_backwards=True outside Bidirectional, merge_mode other than
            "concat", unlike layers in a stack, an unbuilt layer), naming it and its value.
    """
    keras = _import_keras("from_keras")
    if isinstance(layer_or_model, keras.Model):
        specs, dropout = _stack(keras, layer_or_model)
    elif isinstance(layer_or_model, keras.layers.Layer):
        specs, dropout = [_layer_spec(keras, layer_or_model)], 0.0
    else:
        raise TypeError(f"layer_or_model must be a Keras layer or model; received {type(layer_or_model).__name__}")
    weights = [_weights_from_keras(keras, cell) for spec in specs for cell in spec.cells]
    first = specs[0]
    ours = first.layer_type(first.input_size, first.hidden_size, num_layers=len(specs), bias=first.bias,
                            batch_first=True, dropout=dropout, bidirectional=len(first.cells) == 2,
                            dtype=weights[0]["weight_ih"].dtype, **first.options)
    with torch.no_grad():
        for (_, cell), named in zip(ours.cells_by_position(), weights, strict=True):
            for name, tensor in named.items():
                getattr(cell, name).copy_(tensor)  # the bound cell holds the layer's own parameters
    return ours


def _weights_to_keras(cell, is_gru: bool) -> list[np.ndarray]:
    """An rnnlab cell's weights as Keras's [kernel, recurrent_kernel(, bias)]."""
    def columns(tensor: Tensor) -> np.ndarray:  # ours (G*H, ·) gate blocks in rows -> Keras (·, G*H)
        tensor = _swap_first_blocks(tensor, cell.hidden_size) if is_gru else tensor
        return tensor.detach().cpu().numpy().T.copy()

    arrays = [columns(cell.weight_ih), columns(cell.weight_hh)]
    if cell.bias:
        if is_gru and cell.reset_after:  # (2, 3H): r multiplies b_hn, so it stays apart from b_in
            arrays.append(np.stack([columns(cell.bias_ih), columns(cell.bias_hh)]))
        else:  # every bias is additive here: one vector holds them all
            arrays.append(columns(cell.bias_ih + cell.bias_hh))
    return arrays


def _keras_dtype(layer: RNN | LSTM | GRU) -> str:
    return str(layer.weight_ih_l0.dtype).removeprefix("torch.")  # torch.float32 -> "float32"


def _keras_layer(keras, layer: RNN | LSTM | GRU, return_state: bool):
    """A new Keras layer (unbuilt) with the architecture of one of `layer`'s layers."""
    dtype = _keras_dtype(layer)
    common = dict(use_bias=layer.bias, return_sequences=True, return_state=return_state, dtype=dtype)
    if isinstance(layer, RNN):
        recurrent = keras.layers.SimpleRNN(layer.hidden_size, activation=layer.nonlinearity, **common)
    elif isinstance(layer, LSTM):
        recurrent = keras.layers.LSTM(layer.hidden_size, **common)
    else:
        recurrent = keras.layers.GRU(layer.hidden_size, reset_after=layer.reset_after, **common)
    if not layer.bidirectional:
        return recurrent
    # the wrapper has a dtype of its own, float32 unless told: it would cast float64 outputs down
    return keras.layers.Bidirectional(recurrent, merge_mode="concat", dtype=dtype)


def _keras_stack(keras, layer: RNN | LSTM | GRU, recurrent: list, return_state: bool):
    """Keras's layers chained, with rnnlab's between-layer dropout as Dropout layers."""
    inputs = keras.Input((None, layer.input_size), dtype=_keras_dtype(layer))
    if not return_state:
        parts = [inputs]
        for depth, keras_layer in enumerate(recurrent):
            if depth > 0 and layer.dropout > 0:
                parts.append(keras.layers.Dropout(layer.dropout))
            parts.append(keras_layer)
        return keras.Sequential(parts)
    ys, states = inputs, []  # a Sequential passes one tensor on: the states need a functional model
    for depth, keras_layer in enumerate(recurrent):
        if depth > 0 and layer.dropout > 0:
            ys = keras.layers.Dropout(layer.dropout)(ys)
        ys, *state = keras_layer(ys)
        states += state
    return keras.Model(inputs, [ys, *states])


def to_keras(layer: RNN | LSTM | GRU, *, return_state: bool = True):
    """The Keras layer or model equal to an rnnlab `RNN`, `LSTM` or `GRU`, with copies of its weights.

    Keras reads batch-first input (B, T, F) whatever `layer.batch_first` is. Every recurrent layer
    is made with return_sequences=True, so the Keras output is rnnlab's `output`.

    Args:
        layer: the layer to convert: any num_layers, bidirectional or not, with or without bias,
            a GRU in either reset_after form.
        return_state: keyword-only; also return the final states, in Keras's order (per layer,
            forward then backward; per direction h, then c for an LSTM).

    Returns:
        for num_layers=1, a built keras.layers.SimpleRNN, LSTM or GRU, or a Bidirectional of one
        (merge_mode="concat"); for more layers, a keras.Model whose outputs are [output, *states]
        with return_state, else a keras.Sequential; layer.dropout > 0 becomes Dropout layers
        between the recurrent ones. Weights are in the layer's dtype.

    Raises:
        ImportError: Keras 3 is not installed.
        TypeError: `layer` is not an rnnlab RNN, LSTM or GRU layer.
        ValueError: what Keras cannot hold: an LSTM's proj_size, a learned initial state.
    """
    keras = _import_keras("to_keras")
    if not isinstance(layer, (RNN, LSTM, GRU)):
        raise TypeError(f"layer must be an rnnlab RNN, LSTM or GRU layer; received {type(layer).__name__}")
    if layer.proj_size:
        raise ValueError(f"Keras's LSTM has no projection of h; received proj_size={layer.proj_size}")
    if layer.learn_initial_state:
        raise ValueError("Keras's layers start from zeros or a given state, not a learned one; "
                         "received learn_initial_state=True")
    recurrent = [_keras_layer(keras, layer, return_state) for _ in range(layer.num_layers)]
    if layer.num_layers == 1:
        result = recurrent[0]
        result.build((None, None, layer.input_size))
    else:
        result = _keras_stack(keras, layer, recurrent, return_state)
    keras_cells = [cell for keras_layer in recurrent for cell in
                   ((keras_layer.forward_layer.cell, keras_layer.backward_layer.cell) if layer.bidirectional
                    else (keras_layer.cell,))]
    for (_, cell), keras_cell in zip(layer.cells_by_position(), keras_cells, strict=True):
        keras_cell.set_weights(_weights_to_keras(cell, isinstance(layer, GRU)))
    return result
