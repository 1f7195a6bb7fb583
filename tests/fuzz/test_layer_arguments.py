"""The layers' argument checks, fuzzed: random constructor and call arguments of random kinds.

Property: a layer either accepts the arguments (and then behaves: outputs of the documented
shapes) or raises one error of a type torch.nn users catch (ValueError, TypeError, RuntimeError;
rnnlab's ShapeError and DtypeError are both kinds at once) whose message is one line naming the
argument it rejects and showing the value received. Never another exception from deeper down
(an IndexError, a torch internal assertion, a ZeroDivisionError), never a silent acceptance of a
value that then fails later.

Seeded (the "rnnlab" profile in tests/conftest.py: derandomized, no example database) and
bounded: 300 constructor examples, 300 forward calls, 150 step calls, about 10 s in all here.
"""

from __future__ import annotations

import warnings

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz suites need hypothesis: pip install hypothesis")

import torch  # noqa: E402
from hypothesis import event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import rnnlab  # noqa: E402

KINDS = {"RNN": rnnlab.RNN, "LSTM": rnnlab.LSTM, "GRU": rnnlab.GRU}
CATCHABLE = (ValueError, TypeError, RuntimeError)

# values of every kind a careless caller passes: right kind and wrong kind, edge numbers
ODD = st.one_of(st.none(), st.booleans(), st.integers(-3, 6), st.floats(allow_nan=True, allow_infinity=True, width=32),
                st.text(max_size=4), st.sampled_from(["tanh", "relu", "auto", "native", "reference", "1"]),
                st.lists(st.integers(0, 3), max_size=2), st.just(torch.tensor(2)))

CONSTRUCTOR = {
    "input_size": st.one_of(st.integers(1, 4), ODD),
    "hidden_size": st.one_of(st.integers(1, 4), ODD),
    "num_layers": st.one_of(st.integers(1, 3), ODD),
    "bias": st.one_of(st.booleans(), ODD),
    "batch_first": st.one_of(st.booleans(), ODD),
    "dropout": st.one_of(st.floats(0, 1), ODD),
    "bidirectional": st.one_of(st.booleans(), ODD),
    "learn_initial_state": st.one_of(st.booleans(), ODD),
    "backend": st.one_of(st.sampled_from(["auto", "reference", "native"]), ODD),
}
EXTRA = {"RNN": {"nonlinearity": st.one_of(st.sampled_from(["tanh", "relu"]), ODD)},
         "LSTM": {"proj_size": st.one_of(st.integers(0, 3), ODD)},
         "GRU": {"reset_after": st.one_of(st.booleans(), ODD)}}


@st.composite
def constructor_calls(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    strategies = {**CONSTRUCTOR, **EXTRA[kind]}
    names = draw(st.lists(st.sampled_from(sorted(strategies)), unique=True, max_size=len(strategies)))
    kwargs = {name: draw(strategies[name]) for name in names}
    kwargs.setdefault("input_size", draw(st.integers(1, 4)))
    kwargs.setdefault("hidden_size", draw(st.integers(1, 4)))
    return kind, kwargs


def assert_one_clear_line(error: BaseException, names) -> None:
    message = str(error)
    assert "\n" not in message, message
    assert any(name in message for name in names), f"{message!r} names none of {names}"
    assert "received" in message or "must" in message, message


@given(constructor_calls())
@settings(max_examples=300)
def test_a_constructor_accepts_or_names_the_argument_it_rejects(call):
    kind, kwargs = call
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dropout with one layer warns, as torch's does
            layer = KINDS[kind](**kwargs)
    except CATCHABLE as error:
        event("rejected")
        assert_one_clear_line(error, list(kwargs))
        return
    event("accepted")
    # accepted: every argument is what it claims to be, so the layer runs
    assert isinstance(layer.input_size, int) and layer.input_size >= 1
    x = torch.randn(2, 3, layer.input_size)
    output, _ = layer(x)
    width = (layer.proj_size or layer.hidden_size) * layer.num_directions
    assert output.shape[-1] == width and torch.isfinite(output).all()


DTYPES = st.sampled_from([torch.float32, torch.float64, torch.float16, torch.int64, torch.bool])


@st.composite
def tensors(draw, max_dims: int = 4):
    shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=max_dims))
    dtype = draw(st.one_of(st.just(torch.float32), DTYPES))
    return torch.zeros(shape, dtype=dtype) if dtype in (torch.int64, torch.bool) else torch.randn(shape).to(dtype)


def mostly(good, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` two times in three, else a draw of `bad`: so that calls with every argument right, and
    with one wrong among right ones, are both common."""
    return st.integers(0, 2).flatmap(lambda pick: bad if pick == 0 else st.just(good))  # (one_of would flatten `bad`)


@st.composite
def forward_calls(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    options = dict(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                   batch_first=draw(st.booleans()), backend=draw(st.sampled_from(["auto", "reference"])))
    if kind == "LSTM":
        options["proj_size"] = draw(st.sampled_from([0, 2]))
    layer = KINDS[kind](3, 4, **options)
    # inputs: mostly near-right (the right features, a wrong rank or dtype), sometimes anything
    batch, steps = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    good = torch.randn((batch, steps, 3) if layer.batch_first else (steps, batch, 3))
    packed = None
    if batch and steps:
        sequences = [torch.randn(draw(st.integers(1, steps)), draw(st.sampled_from([3, 3, 2]))) for _ in range(batch)]
        packed = torch.nn.utils.rnn.pack_sequence(sequences, enforce_sorted=False) \
            if len({s.shape[1] for s in sequences}) == 1 else None
    input = draw(mostly(packed if packed is not None and draw(st.booleans()) else good,
                        st.one_of(tensors(), st.just(good.double()), st.just(good[..., :2]), ODD)))
    arguments = {"input": input}
    if draw(st.booleans()):
        states = 2 if kind == "LSTM" else 1
        sizes = [(layer.proj_size or 4), 4][:states]
        hx = tuple(draw(mostly(torch.zeros(layer.num_layers * layer.num_directions, batch, size), st.one_of(tensors(), ODD)))
                   for size in sizes)
        arguments["hx"] = hx if states == 2 or draw(st.integers(0, 5)) else hx[0]
    if draw(st.booleans()):
        fitting = st.lists(st.integers(0, steps), min_size=batch, max_size=batch)
        arguments["lengths"] = draw(st.one_of(fitting.map(torch.tensor), fitting,
                                              st.lists(st.integers(-1, 4), max_size=4).map(torch.tensor), tensors(2), ODD))
    return layer, arguments


@given(forward_calls())
@settings(max_examples=300)
def test_forward_accepts_or_names_the_argument_it_rejects(call):
    layer, arguments = call
    try:
        output, _ = layer(arguments["input"], arguments.get("hx"), **({"lengths": arguments["lengths"]}
                                                                      if "lengths" in arguments else {}))
    except CATCHABLE as error:
        event("rejected")
        assert_one_clear_line(error, ["input", "hx", "lengths"])
        return
    event("accepted")
    output = output.data if isinstance(output, torch.nn.utils.rnn.PackedSequence) else output
    assert output.shape[-1] == (layer.proj_size or 4) * layer.num_directions


@st.composite
def step_calls(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    layer = KINDS[kind](3, 4, num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.integers(0, 4)) == 0)
    batch = draw(st.integers(1, 3))
    x = draw(mostly(torch.randn(batch, 3), st.one_of(tensors(3), ODD)))
    zeros = torch.zeros(layer.num_layers, batch, 4)
    state = draw(mostly((zeros, zeros) if kind == "LSTM" else zeros, st.one_of(st.none(), tensors(), ODD,
                                                                                st.tuples(tensors(), tensors()))))
    reset = draw(mostly(torch.zeros(batch, dtype=torch.bool), st.one_of(st.none(), tensors(2), ODD)))
    return layer, x, state, reset


@given(step_calls())
@settings(max_examples=150)
def test_step_accepts_or_names_the_argument_it_rejects(call):
    layer, x, state, reset = call
    try:
        y, _ = layer.step(x, state, reset=reset)
    except CATCHABLE as error:
        event("rejected")
        assert_one_clear_line(error, ["x", "state", "reset", "bidirectional"])
        return
    event("accepted")
    assert y.shape == (x.shape[0], 4)


@pytest.mark.parametrize("call, name", [
    (lambda: rnnlab.LSTM(3, 4)(torch.randn(2, 1, 3), lengths=""), "lengths"),  # found by the fuzzing above
    (lambda: rnnlab.GRU(3, 4).step(torch.randn(1, 3), None, reset=""), "reset"),  # likewise
    (lambda: rnnlab.RNN(3, 4)(torch.nn.utils.rnn.pack_sequence([torch.randn(2, 3)]), lengths="x"), "lengths"),
], ids=["lengths-text", "reset-text", "lengths-with-packed"])
def test_values_torch_cannot_make_a_tensor_of_are_named(call, name):
    with pytest.raises((TypeError, ValueError)) as caught:
        call()
    assert_one_clear_line(caught.value, [name])
