"""The seam between the layers and everything else, kept by reading the source.

Issue 15 moved the backends, gate recording and ONNX export off the layer's private members onto
public seams (`describe()` and its `LayerSpec`, `observed_by`, `prepare_inputs`/`pack_outputs`).
These tests fail when code outside `rnnlab/layers/` reads a private member of a layer again, or
when the backends import the layers (the import cycle the seam removed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from torch import nn

import rnnlab
from rnnlab.layers import GRU, LSTM, RNN, RecurrentLayer

PACKAGE = Path(rnnlab.__file__).parent


def _layer_privates() -> set[str]:
    """Every single-underscore name a layer has beyond what any nn.Module has: its class's
    methods and properties, and the attributes a constructed layer holds."""
    module_names = set(dir(nn.Module())) | set(vars(nn.Module()))
    names: set[str] = set()
    layers = [RNN(2, 3), LSTM(2, 3, proj_size=2), GRU(2, 3, reset_after=False), LSTM(2, 3, learn_initial_state=True)]
    for layer in layers:
        for cls in type(layer).__mro__:
            if issubclass(cls, RecurrentLayer):
                names.update(vars(cls))
        names.update(vars(layer))
    return {name for name in names - module_names if name.startswith("_") and not name.startswith("__")}


def _modules_outside_layers() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if (PACKAGE / "layers") not in p.parents)


def _private_reads(path: Path, privates: set[str]) -> list[str]:
    """`x._name` (x not self or cls) and getattr/setattr(x, "_name") for the names in `privates`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in privates:
            if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{path}:{node.lineno}: .{node.attr}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr",
                                                                                                   "hasattr", "delattr"):
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and node.args[1].value in privates:
                found.append(f"{path}:{node.lineno}: {node.func.id}(…, {node.args[1].value!r})")
    return found


def test_the_private_names_are_found():
    """The check below is only as good as this list: it holds the members the seam replaced."""
    privates = _layer_privates()
    assert {"_observe", "_flat_weights", "_flat_weights_names", "_cell_options", "_time_major", "_check_input",
            "_initial_state", "_final_state"} <= privates


def test_no_module_outside_the_layers_reads_a_private_member_of_a_layer():
    privates = _layer_privates()
    reads = [read for path in _modules_outside_layers() for read in _private_reads(path, privates)]
    assert not reads, "use the layer's public seams (describe, observed_by, prepare_inputs, pack_outputs):\n" + \
        "\n".join(reads)


def test_the_check_catches_a_private_read(tmp_path):
    """The detector itself: a module reading `layer._observe` or getattr(layer, "_flat_weights") is caught."""
    source = tmp_path / "bad.py"
    source.write_text("def f(layer):\n    layer._observe = None\n    return getattr(layer, '_flat_weights')\n"
                      "def g(self):\n    return self._observe\n", encoding="utf-8")
    assert len(_private_reads(source, _layer_privates())) == 2  # self._observe is the class's own


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_the_backends_do_not_import_the_layers():
    """Not even for type hints: a backend is handed a LayerSpec, so it needs nothing from rnnlab.layers."""
    offenders = {str(path.relative_to(PACKAGE)): sorted(n for n in _imports(path) if n.startswith("rnnlab.layers"))
                 for path in (PACKAGE / "backends").rglob("*.py")}
    assert not {path: names for path, names in offenders.items() if names}


@pytest.mark.parametrize("layer, theirs", [
    (RNN(2, 3, nonlinearity="relu"), nn.RNN(2, 3, nonlinearity="relu")),
    (LSTM(2, 3, num_layers=2, proj_size=2), nn.LSTM(2, 3, num_layers=2, proj_size=2)),
    (GRU(2, 3, bidirectional=True, reset_after=False), nn.GRU(2, 3, bidirectional=True)),
], ids=["rnn", "lstm", "gru"])
def test_the_description_is_frozen_and_holds_the_parameters_themselves(layer, theirs):
    spec = layer.describe()
    assert layer.mode == theirs.mode and spec.mode is layer.mode  # an enum that compares equal to torch's string
    assert str(spec.mode) == f"{spec.mode}" == theirs.mode
    assert dict(zip(spec.weight_names, spec.weights)) == dict(layer.named_parameters())
    assert all(a is b for a, b in zip(spec.weights, (getattr(layer, n) for n in spec.weight_names)))
    with pytest.raises(AttributeError):
        spec.hidden_size = 7  # a NamedTuple: read-only
    cells = dict(spec.cells())
    assert set(cells) == {(k, d) for k in range(layer.num_layers) for d in range(layer.num_directions)}
    assert cells[(0, 0)].weight_ih is layer.weight_ih_l0
