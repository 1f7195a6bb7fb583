"""rnnlab layers exported to ONNX (rnnlab.interop.onnx) and run in onnxruntime equal rnnlab's own outputs.

rnnlab is the oracle: a layer is exported once, on one example, and onnxruntime then runs the file
on other batch sizes, sequence lengths and `lengths=`, in float32; outputs and every final state
equal the layer's to 1e-5. The grid is cell (RNN tanh and relu, LSTM, GRU in both reset_after
forms) × (one layer batch-first without lengths, two stacked bidirectional time-major layers with
lengths). Then initial states (given, learned, and kept by empty sequences), the graph's shape
(ONNX's own recurrent nodes, symbolic axes), a module whose checks read its inputs' values, and
the promised errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor, nn

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed to run exported models: pip install onnxruntime")
pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install onnx")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")

import rnnlab  # noqa: E402
from rnnlab.interop.onnx import export_onnx  # noqa: E402

F, H = 3, 4
FLOAT32 = dict(atol=1e-5, rtol=0.0)
KINDS = {
    "rnn_tanh": lambda **kw: rnnlab.RNN(F, H, **kw),
    "rnn_relu": lambda **kw: rnnlab.RNN(F, H, nonlinearity="relu", **kw),
    "lstm": lambda **kw: rnnlab.LSTM(F, H, **kw),
    "gru": lambda **kw: rnnlab.GRU(F, H, **kw),
    "gru_reset_before": lambda **kw: rnnlab.GRU(F, H, reset_after=False, **kw),
}
ONNX_OPS = {"rnn_tanh": "RNN", "rnn_relu": "RNN", "lstm": "LSTM", "gru": "GRU", "gru_reset_before": "GRU"}


def run_onnx(path, **inputs: Tensor) -> list[np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: value.numpy() for name, value in inputs.items()})


def flat(output: Tensor, final) -> list[Tensor]:
    return [output, *final] if isinstance(final, tuple) else [output, final]


def assert_equal_outputs(got: list[np.ndarray], want: list[Tensor]) -> None:
    assert len(got) == len(want)
    for ours, theirs in zip(got, want, strict=True):
        torch.testing.assert_close(torch.from_numpy(ours), theirs.detach(), **FLOAT32)


@pytest.mark.parametrize("kind", list(KINDS))
def test_single_layer_batch_first_runs_other_shapes(kind, tmp_path):
    torch.manual_seed(0)
    layer = KINDS[kind](batch_first=True)
    path = tmp_path / "layer.onnx"
    model = export_onnx(layer, path, example_inputs=(torch.randn(2, 5, F),))
    assert [node.op_type for node in model.graph.node].count(ONNX_OPS[kind]) == 1
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim][:2] == ["batch", "time"]
    for batch_size, steps in ((2, 5), (1, 9), (4, 2)):
        xs = torch.randn(batch_size, steps, F)
        assert_equal_outputs(run_onnx(path, input=xs), flat(*layer(xs)))


@pytest.mark.parametrize("kind", list(KINDS))
def test_stacked_bidirectional_with_lengths(kind, tmp_path):
    torch.manual_seed(1)
    layer = KINDS[kind](num_layers=2, bidirectional=True)
    path = tmp_path / "layer.onnx"
    model = export_onnx(layer, path, example_inputs=(torch.randn(6, 3, F), torch.tensor([6, 2, 4])))
    assert [node.op_type for node in model.graph.node].count(ONNX_OPS[kind]) == 2  # one node per layer, both ways
    xs, lengths = torch.randn(9, 5, F), torch.tensor([9, 1, 3, 7, 9])  # T and B unlike the example's
    got = run_onnx(path, input=xs, lengths=lengths)
    want = flat(*layer(xs, lengths=lengths))
    assert_equal_outputs(got, want)
    assert np.all(got[0][3:, 2] == 0)  # past a sequence's end the outputs are zeros, as rnnlab's


@pytest.mark.parametrize("kind", ["lstm", "gru_reset_before", "rnn_relu"])
def test_given_initial_state_and_empty_sequences(kind, tmp_path):
    torch.manual_seed(2)
    layer = KINDS[kind](num_layers=2, bidirectional=True, bias=False)
    states = 2 if kind == "lstm" else 1
    example = (torch.randn(4, 3, F), torch.tensor([4, 2, 3]), *[torch.randn(4, 3, H) for _ in range(states)])
    path = tmp_path / "layer.onnx"
    export_onnx(layer, path, example_inputs=example)
    xs, lengths = torch.randn(7, 4, F), torch.tensor([7, 0, 2, 5])  # an empty sequence keeps its initial state
    initial = [torch.randn(4, 4, H) for _ in range(states)]
    got = run_onnx(path, input=xs, lengths=lengths, **dict(zip(["h_0", "c_0"], initial)))
    want = flat(*layer(xs, tuple(initial) if kind == "lstm" else initial[0], lengths=lengths))
    assert_equal_outputs(got, want)
    torch.testing.assert_close(torch.from_numpy(got[1][:, 1]), initial[0][:, 1])


def test_learned_initial_state(tmp_path):
    torch.manual_seed(3)
    layer = rnnlab.LSTM(F, H, num_layers=2, batch_first=True, learn_initial_state=True)
    with torch.no_grad():
        layer.initial_h.normal_()
        layer.initial_c.normal_()
    path = tmp_path / "layer.onnx"
    export_onnx(layer, path, example_inputs=(torch.randn(2, 4, F), torch.tensor([4, 3])))
    xs, lengths = torch.randn(3, 6, F), torch.tensor([6, 1, 4])
    assert_equal_outputs(run_onnx(path, input=xs, lengths=lengths), flat(*layer(xs, lengths=lengths)))


class CheckedClassifier(nn.Module):
    """A task-like model: embedding, a GRU over real steps, the last state to logits, and a check on lengths' values."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(10, F)
        self.encoder = rnnlab.GRU(F, H, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * H, 2)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        if int(lengths.min()) < 1:  # reads a value: torch.export cannot trace this symbolically
            raise ValueError(f"lengths must be ≥ 1; received {lengths.tolist()}")
        _, h_n = self.encoder(self.embedding(tokens), lengths=lengths)
        return self.head(h_n.transpose(0, 1).reshape(tokens.shape[0], -1))


def test_module_with_value_checks_and_named_inputs(tmp_path):
    torch.manual_seed(4)
    model = CheckedClassifier()
    model.train()
    path = tmp_path / "model.onnx"
    exported = export_onnx(model, path, example_inputs=(torch.randint(10, (2, 3)), torch.tensor([2, 1])),
                           input_names=["tokens", "lengths"], output_names=["logits"])
    assert model.training and model.encoder.training  # modes come back, and the layer's own forward too
    assert "forward" not in vars(model.encoder)
    assert [value.name for value in exported.graph.output] == ["logits"]
    tokens, lengths = torch.randint(10, (5, 8)), torch.tensor([8, 1, 5, 3, 8])
    with torch.no_grad():
        want = model.eval()(tokens, lengths)
    torch.testing.assert_close(torch.from_numpy(run_onnx(path, tokens=tokens, lengths=lengths)[0]), want, **FLOAT32)


def test_errors(tmp_path):
    path = tmp_path / "layer.onnx"
    projected = rnnlab.LSTM(F, H, proj_size=2)
    with pytest.raises(ValueError, match="proj_size=2"):
        export_onnx(projected, path, example_inputs=(torch.randn(4, 2, F),))
    layer = rnnlab.GRU(F, H, batch_first=True)
    with pytest.raises(ValueError, match=r"at least 2 long.*received size 1"):
        export_onnx(layer, path, example_inputs=(torch.randn(1, 4, F),))
    with pytest.raises(ValueError, match=r"dynamic_axes must name inputs among \['input'\]; received \['x'\]"):
        export_onnx(layer, path, example_inputs=(torch.randn(2, 4, F),), dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(ValueError, match="input_names must name each of the 1 tensors"):
        export_onnx(layer, path, example_inputs=(torch.randn(2, 4, F),), input_names=["a", "b"])
    with pytest.raises(TypeError, match="example_inputs must be a tuple"):
        export_onnx(layer, path, example_inputs=torch.randn(2, 4, F))
    assert not path.exists()
