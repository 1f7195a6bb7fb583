"""ONNX export: rnnlab's layers become ONNX's own RNN, LSTM and GRU operators.

How it works. `torch.export` traces the module; during the trace (and only then) every rnnlab
`RNN`/`LSTM`/`GRU` inside it runs as one call to the custom operator `rnnlab::recurrent`, which
the trace keeps whole instead of unrolling the time loop. torch's ONNX exporter then writes that
call, through `custom_translation_table`, as one ONNX RNN, LSTM or GRU node per stacked layer
with `sequence_lens` from `lengths=` (`rnnlab.interop.onnx_ops` has the operator and the gate
orders), so batch size and sequence length stay dynamic. The rest of the module goes through
torch's exporter as it is.

Why not torch's own translation. In torch 2.13 the default exporter (`dynamo=True`, onnxscript's
torchlib) turns torch.nn.LSTM and GRU (`aten.lstm.input`, `aten.gru.input`) into ONNX LSTM and
GRU nodes, but it unrolls torch.nn.RNN over the example's steps (the time axis silently becomes
fixed), torch.export cannot trace a PackedSequence, and rnnlab's GRU with reset_after=False has no
torch counterpart. The TorchScript exporter (`dynamo=False`) still exists and maps all three torch
layers, PackedSequence included, to ONNX nodes with sequence_lens, but it is deprecated and warns
so on every call. So rnnlab translates its layers itself.

Limits: ONNX's LSTM has no projection, so an LSTM with proj_size is refused; a PackedSequence
input is refused (pass the padded batch and `lengths=`); the model is exported in eval mode
(dropout off); the file holds its weights inline, so it must stay under protobuf's 2 GiB;
onnxruntime runs ONNX's recurrent operators in float32 only (a float64 model exports, but
onnxruntime cannot load it).
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import onnx
import torch
import torch._functorch.config
from torch import Tensor, nn
from torch.fx.experimental.symbolic_shapes import GuardOnDataDependentSymNode

from rnnlab.interop.onnx_ops import TRANSLATIONS, layers_as_operator
from rnnlab.layers import LSTM
from rnnlab.layers.base import RecurrentLayer
from rnnlab.report.atomic import write_bytes_atomically

_TRACE_LOGGER = "torch.fx.experimental.symbolic_shapes"  # its notes on data-dependent sizes


class _LayerSignature(nn.Module):
    """A bare rnnlab layer with flat inputs and outputs, as an ONNX graph has them.

    forward(input, lengths=None, h_0=None, c_0=None) -> (output, h_n) or (output, h_n, c_n).
    """

    def __init__(self, layer: RecurrentLayer) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, input: Tensor, lengths: Tensor | None = None, h_0: Tensor | None = None,
                c_0: Tensor | None = None):
        hx = None if h_0 is None else ((h_0, c_0) if isinstance(self.layer, LSTM) else h_0)
        output, final = self.layer(input, hx, lengths=lengths)
        return (output, *final) if isinstance(final, tuple) else (output, final)


def export_onnx(module: nn.Module, path: str | os.PathLike, *, example_inputs: tuple,
                input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None,
                dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
                opset_version: int | None = None, doc_string: str | None = None) -> onnx.ModelProto:
    """Writes `module` as an ONNX model whose recurrent layers are ONNX's RNN, LSTM and GRU operators.

    The module is traced once, on `example_inputs`, in eval mode; every rnnlab layer in it becomes
    ONNX nodes that honour `lengths=` (sequence_lens), so the file runs on other batch sizes,
    sequence lengths and lengths than the example's. Everything else in the module goes through
    torch's own ONNX exporter. A check in the module that reads its inputs' values (e.g. "every
    length is ≥ 1") cannot be traced symbolically; it is then evaluated on the example and left
    out of the graph, so the exported graph does not check its inputs.

    Args:
        module: an rnnlab RNN, LSTM or GRU, or any module whose recurrent layers are rnnlab layers.
        path: the .onnx file to write (atomically); its directory must exist.
        example_inputs: positional arguments of `module.forward`. For a bare layer: (input,) or
            (input, lengths) or (input, lengths, h_0[, c_0]), with lengths None to pass h_0 alone.
        input_names: one per tensor in `example_inputs`; default: the names in forward's signature
            (for a layer: "input", "lengths", "h_0", "c_0").
        output_names: one per output tensor (nested outputs are flattened); default: a layer's
            "output", "h_n" and "c_n", else "output" or "output_0", "output_1", ...
        dynamic_axes: {input name: {axis: axis name}}; axes that share a name share a size. Default:
            a layer's batch and time axes (by its batch_first) and the batch axis of lengths and
            states; for other modules, batch-first: axis 0 "batch" of every input and axis 1 "time"
            of every input with two or more axes. An example must be at least 2 long on each
            dynamic axis, or torch.export fixes that axis to its size.
        opset_version: the ONNX opset; default torch's.
        doc_string: a description stored in the model (what its inputs are, for instance).

    Returns:
        The exported model, as written.

    Example:
        >>> lstm = rnnlab.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
        >>> export_onnx(lstm, "lstm.onnx", example_inputs=(torch.randn(4, 10, 8), torch.tensor([10, 7, 3, 1])))
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; received {type(module).__name__}")
    if not isinstance(example_inputs, tuple):
        raise TypeError(f"example_inputs must be a tuple of forward's positional arguments; received "
                        f"{type(example_inputs).__name__}")
    if not os.path.isdir(os.path.dirname(os.path.abspath(path))):  # before the export, which takes seconds
        raise FileNotFoundError(f"path {os.fspath(path)!r}: its directory does not exist")
    layer = module if isinstance(module, RecurrentLayer) else None
    if layer is not None:
        module = _LayerSignature(layer)
    tensors = [i for i, value in enumerate(example_inputs) if isinstance(value, Tensor)]
    signature = list(inspect.signature(module.forward).parameters)
    parameters = [signature[i] if i < len(signature) else f"input_{i}" for i in tensors]
    names = list(input_names) if input_names is not None else parameters
    if len(names) != len(tensors):
        raise ValueError(f"input_names must name each of the {len(tensors)} tensors in example_inputs; received "
                         f"{len(names)} names {names}")
    if dynamic_axes is None:
        dynamic_axes = {name: _default_axes(layer, parameter, example_inputs[i])
                        for name, parameter, i in zip(names, parameters, tensors)}
    dynamic_shapes = _dynamic_shapes(example_inputs, dict(zip(tensors, names)), dynamic_axes)

    with layers_as_operator(module):
        program = _trace(module, example_inputs, dynamic_shapes)
    count = len(program.graph_signature.user_outputs)
    if output_names is None:
        output_names = ["output", "h_n", "c_n"][:count] if layer is not None else \
            (["output"] if count == 1 else [f"output_{i}" for i in range(count)])
    if len(output_names) != count:
        raise ValueError(f"output_names must name each of the {count} output tensors; received {list(output_names)}")
    with _quiet("torch.onnx._internal.exporter._registration"):  # it notes the absence of torchvision
        onnx_program = torch.onnx.export(program, dynamo=True, custom_translation_table=TRANSLATIONS,
                                         input_names=names, output_names=list(output_names),
                                         opset_version=opset_version, verbose=False)
    model = onnx_program.model_proto
    _name_axes(model, dynamic_axes)
    if doc_string is not None:
        model.doc_string = doc_string
    write_bytes_atomically(path, model.SerializeToString())
    return model


def _default_axes(layer: RecurrentLayer | None, parameter: str, example: Tensor) -> dict[int, str]:
    """The dynamic axes of one input when the caller names none (see `export_onnx`)."""
    if layer is None:
        return {0: "batch", 1: "time"} if example.dim() >= 2 else ({0: "batch"} if example.dim() == 1 else {})
    if parameter == "input":
        if example.dim() == 2:  # unbatched (T, F)
            return {0: "time"}
        return {0: "batch", 1: "time"} if layer.batch_first else {0: "time", 1: "batch"}
    return {0: "batch"} if parameter == "lengths" else ({1: "batch"} if example.dim() == 3 else {})


def _dynamic_shapes(example_inputs: tuple, names: dict[int, str], dynamic_axes: Mapping[str, Mapping[int, str]]):
    """torch.export's dynamic_shapes for `example_inputs`: one Dim per axis name, shared where names repeat."""
    unknown = sorted(set(dynamic_axes) - set(names.values()))
    if unknown:
        raise ValueError(f"dynamic_axes must name inputs among {list(names.values())}; received {unknown}")
    dims: dict[str, Any] = {}
    shapes = []
    for index, value in enumerate(example_inputs):
        if index not in names:
            shapes.append(None)
            continue
        spec = {}
        for axis, axis_name in dynamic_axes.get(names[index], {}).items():
            where = f"dynamic_axes[{names[index]!r}][{axis}]"
            if not isinstance(axis, int) or not 0 <= axis < value.dim():
                raise ValueError(f"{where} must be an axis in [0, {value.dim()}); received {axis!r}")
            if not isinstance(axis_name, str) or not axis_name.isidentifier():
                raise ValueError(f"{where} must be a name usable as an identifier; received {axis_name!r}")
            if value.shape[axis] < 2:  # torch.export specialises sizes 0 and 1 to constants
                raise ValueError(f"{where} ({axis_name!r}) needs an example at least 2 long on that axis; received "
                                 f"size {value.shape[axis]}")
            spec[axis] = dims.setdefault(axis_name, torch.export.Dim(axis_name))
        shapes.append(spec)
    return tuple(shapes)


def _trace(module: nn.Module, example_inputs: tuple, dynamic_shapes: tuple) -> torch.export.ExportedProgram:
    """torch.export of `module`, with the example's values standing in for checks that read input values."""
    try:
        with _quiet(_TRACE_LOGGER):
            return torch.export.export(module, example_inputs, dynamic_shapes=dynamic_shapes, strict=False)
    except GuardOnDataDependentSymNode:
        pass
    # A Python `if` on a tensor's value (`if int(lengths.min()) < 1: raise ...`) has no symbolic
    # answer. Traced again with real tensors beside the symbolic ones, such a branch is decided on
    # the example and recorded as an assertion, which the ONNX graph leaves out. A size computed
    # from input values would be fixed to the example's; rnnlab's models only check values. The
    # flag is private: it is how torch.export.draft_export works, which is not used because it is a
    # debugging tool that writes a trace log under the temporary directory on every call.
    with torch._functorch.config.patch(fake_tensor_propagate_real_tensors=True), _quiet(_TRACE_LOGGER):
        return torch.export.export(module, example_inputs, dynamic_shapes=dynamic_shapes, strict=False)


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silences torch's notes on stderr while it exports (errors still raise): its warnings in `loggers`,
    the partial graph a failed trace prints, and a FutureWarning that torch raises against itself."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*isinstance\(treespec, LeafSpec\)")
            yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _name_axes(model: onnx.ModelProto, dynamic_axes: Mapping[str, Mapping[int, str]]) -> None:
    """Renames torch's symbols for dynamic sizes (s27, ...) to the caller's axis names, everywhere in the graph."""
    renames = {}
    for value in model.graph.input:
        for axis, axis_name in dynamic_axes.get(value.name, {}).items():
            symbol = value.type.tensor_type.shape.dim[axis].dim_param
            if symbol:
                renames[symbol] = axis_name
    for value in [*model.graph.input, *model.graph.output, *model.graph.value_info]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in renames:
                dim.dim_param = renames[dim.dim_param]
