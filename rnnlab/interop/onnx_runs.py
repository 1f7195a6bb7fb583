"""ONNX export of a finished run's task model: `export_run(run_dir)`, behind `rnnlab export DIR --format onnx`.

Each task's network becomes one ONNX graph with named inputs and outputs and dynamic batch and
time axes (`rnnlab.interop.onnx.export_onnx` does the work). The graph is the network only: the
steps around it (scaling a series, tokenizing text, thresholds, sampling, beam search) stay in
Python and read the run's config.json. What each task's graph takes and gives (B batch, T time):

    forecast          inputs (B, T, C) scaled windows               -> forecast (B, horizon)
    classify-text     tokens (B, T) int64, lengths (B,) int64       -> logits (B, K)
    classify-series   values (B, T, C), lengths (B,) int64          -> logits (B, K)
    tag               words (B, T), lengths (B,)[, chars (B, T, W)] -> scores (B, T, K)
    generate          tokens (B, T), h_0[, c_0] (L, B, H)           -> logits (B, T, V), h_n[, c_n]
    anomaly forecast  inputs (B, T, C) standardised, h_0[, c_0]     -> predictions (B, T, C), h_n[, c_n]
    anomaly recon.    windows (B, W, C) standardised                -> reconstruction (B, W, C)

A translate run is an encoder and a decoder around a search, so it gives two graphs: the encoder
(`<name>.encoder.onnx`: source, source_lengths -> memory, keys, mask, h_0[, c_0]) and one decoder
call (`<name>.decoder.onnx`: target_inputs, memory, keys, mask, h_0[, c_0] -> logits, h_n[, c_n],
attention). Greedy or beam search calls the decoder one token at a time, feeding h_n back as h_0.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.cells.lstm import LSTMState
from rnnlab.interop.onnx import export_onnx
from rnnlab.tasks.run import load_weights, read_run

# example sizes for the trace: at least 2 on every dynamic axis, else torch.export fixes the axis
_BATCH, _STEPS = 2, 3
# Unequal, and below _STEPS: a model check that reads lengths (every length ≤ T) is decided on the
# example's values while tracing (see export_onnx), and must not tie T to them.
_LENGTHS = (2, 1)


class _Graph(NamedTuple):
    """What `export_onnx` needs to export one graph of a run."""

    module: nn.Module
    example_inputs: tuple
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]


class _Stateful(nn.Module):
    """`model(inputs, state) -> (outputs, state)` with the state as flat tensors h (and c), (L, B, H) each."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor, h_0: Tensor, c_0: Tensor | None = None):
        outputs, final = self.model(inputs, h_0 if c_0 is None else LSTMState(h_0, c_0))
        return (outputs, *final) if isinstance(final, LSTMState) else (outputs, final)


def _stateful(model: nn.Module, inputs: Tensor, name: str, output: str) -> _Graph:
    """The graph of a model that carries its state from call to call (language model, next-step forecaster)."""
    encoder = model.encoder
    states = [torch.zeros(encoder.num_layers, _BATCH, encoder.hidden_size) for _ in range(1 + (encoder.mode == "LSTM"))]
    state_names = ["h_0", "c_0"][: len(states)]
    axes = {name: {0: "batch", 1: "time"}, **{state: {1: "batch"} for state in state_names}}
    return _Graph(_Stateful(model), (inputs, *states), [name, *state_names],
                  [output, *["h_n", "c_n"][: len(states)]], axes)


# One function per task: the run's model, rebuilt from its directory, as the graphs to export. Each
# imports its task's modules itself, so exporting one task never imports the others (as the registry).


def _forecast(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.forecast import build_forecaster
    from rnnlab.tasks.forecast_run import ForecastConfig

    channels = len(saved["columns"])
    model = build_forecaster(ForecastConfig(**saved["config"]).model_config(), input_size=channels)
    load_weights(model, run_dir)
    return [_Graph(model, (torch.zeros(_BATCH, _STEPS, channels),), ["inputs"], ["forecast"],
                   {"inputs": {0: "batch", 1: "time"}})]


def _classify_text(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.classify_run import load_run

    model = load_run(run_dir).model
    return [_Graph(model, (torch.zeros(_BATCH, _STEPS, dtype=torch.int64), torch.tensor(_LENGTHS)),
                   ["tokens", "lengths"], ["logits"], {"tokens": {0: "batch", 1: "time"}, "lengths": {0: "batch"}})]


def _classify_series(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.classify_series_run import load_run

    _, _, model = load_run(run_dir)
    values = torch.zeros(_BATCH, _STEPS, len(saved["channels"]))
    return [_Graph(model, (values, torch.tensor(_LENGTHS)), ["values", "lengths"], ["logits"],
                   {"values": {0: "batch", 1: "time"}, "lengths": {0: "batch"}})]


class _TaggerSignature(nn.Module):
    """The tagger with its `TaggerInputs` spread into tensors: words, lengths[, chars]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        from rnnlab.tasks.tag import TaggerInputs

        return self.model(TaggerInputs(words, lengths, chars))


def _tag(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.tag_run import load_run

    _, model, _ = load_run(run_dir)
    inputs = (torch.zeros(_BATCH, _STEPS, dtype=torch.int64), torch.tensor(_LENGTHS))
    names, axes = ["words", "lengths"], {"words": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
    if model.chars is not None:
        inputs += (torch.ones(_BATCH, _STEPS, 2, dtype=torch.int64),)  # every word 2 characters long
        names.append("chars")
        axes["chars"] = {0: "batch", 1: "time", 2: "characters"}
    return [_Graph(_TaggerSignature(model), inputs, names, ["scores"], axes)]


def _generate(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.generate_run import load_run

    model = load_run(run_dir)[1]
    return [_stateful(model, torch.zeros(_BATCH, _STEPS, dtype=torch.int64), "tokens", "logits")]


def _anomaly(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.anomaly_run import AnomalyConfig, build_model

    config = AnomalyConfig(**saved["config"])
    model = load_weights(build_model(config, len(saved["channels"])), run_dir)
    inputs = torch.zeros(_BATCH, _STEPS, len(saved["channels"]))
    if config.method == "forecast":
        return [_stateful(model, inputs, "inputs", "predictions")]
    return [_Graph(model, (inputs,), ["windows"], ["reconstruction"], {"windows": {0: "batch", 1: "time"}})]


class _TranslatorEncoder(nn.Module):
    """`Translator.encode` with flat outputs: memory, keys, mask, h_0[, c_0]."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, source: Tensor, source_lengths: Tensor):
        memory, state = self.model.encode(source, source_lengths)
        return (*memory, *(state if isinstance(state, LSTMState) else (state,)))


class _TranslatorDecoder(nn.Module):
    """`Translator.decode` with flat inputs and outputs: logits, h_n[, c_n], attention."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, target_inputs: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, h_0: Tensor,
                c_0: Tensor | None = None):
        from rnnlab.tasks.translate import Memory

        state = h_0 if c_0 is None else LSTMState(h_0, c_0)
        logits, final, weights = self.model.decode(Memory(memory, keys, mask), target_inputs, state)
        return (logits, *(final if isinstance(final, LSTMState) else (final,)), weights)


def _translate(run_dir: Path, saved: dict) -> list[_Graph]:
    from rnnlab.tasks.translate_run import load_run

    model = load_run(run_dir).model.to("cpu")
    states = ["h_0", "c_0"][: 1 + (model.cell == "lstm")]
    source_steps = _STEPS + 1  # unlike the target's, so that no guard ties the two lengths together
    sequence = {0: "batch", 1: "source_time"}
    encoder = _Graph(_TranslatorEncoder(model), (torch.zeros(_BATCH, source_steps, dtype=torch.int64),
                                                 torch.tensor(_LENGTHS)),
                     ["source", "source_lengths"], ["memory", "keys", "mask", *states],
                     {"source": sequence, "source_lengths": {0: "batch"}})
    with torch.no_grad():
        memory = model.encode(*encoder.example_inputs)[0]
    decoder_inputs = (torch.zeros(_BATCH, _STEPS, dtype=torch.int64), *memory,
                      *[torch.zeros(model.num_layers, _BATCH, model.hidden_size) for _ in states])
    decoder = _Graph(_TranslatorDecoder(model), decoder_inputs, ["target_inputs", "memory", "keys", "mask", *states],
                     ["logits", *["h_n", "c_n"][: len(states)], "attention"],
                     {"target_inputs": {0: "batch", 1: "target_time"}, "memory": sequence, "keys": sequence,
                      "mask": sequence, **{state: {1: "batch"} for state in states}})
    return [encoder, decoder]


_TASKS: dict[str, Callable[[Path, dict], list[_Graph]]] = {
    "forecast": _forecast,
    "classify-text": _classify_text,
    "classify-series": _classify_series,
    "tag": _tag,
    "generate": _generate,
    "anomaly": _anomaly,
    "translate": _translate,
}


def export_run(run_dir: str | Path, path: str | Path | None = None) -> list[Path]:
    """Exports a finished run's task model to ONNX (see the module docstring for each task's graph).

    Args:
        run_dir: a run directory written by `rnnlab train`.
        path: the .onnx file to write (atomically); default `run_dir/model.onnx`. A translate run
            writes two files beside it, `<stem>.encoder.onnx` and `<stem>.decoder.onnx`.

    Returns:
        The paths written.

    Raises:
        FileNotFoundError: if `run_dir` is not a finished run, or the directory of `path` does not exist.
        ValueError: if the run's task has no ONNX export.
    """
    run_dir = Path(run_dir)
    saved = read_run(run_dir)
    if saved["task"] not in _TASKS:
        raise ValueError(f"task must be one of {list(_TASKS)} to export to ONNX; received a {saved['task']!r} run")
    path = Path(path) if path is not None else run_dir / "model.onnx"
    if not path.parent.is_dir():
        raise FileNotFoundError(f"out {str(path)!r}: directory {str(path.parent)!r} does not exist")
    graphs = _TASKS[saved["task"]](run_dir, saved)
    paths = [path] if len(graphs) == 1 else [path.with_name(f"{path.stem}.{part}{path.suffix}")
                                             for part in ("encoder", "decoder")]
    for graph, target in zip(graphs, paths, strict=True):
        export_onnx(graph.module, target, example_inputs=graph.example_inputs, input_names=graph.input_names,
                    output_names=graph.output_names, dynamic_axes=graph.dynamic_axes,
                    doc_string=f"rnnlab {saved['task']} run {run_dir.name}: {', '.join(graph.input_names)} -> "
                               f"{', '.join(graph.output_names)}; see the run's config.json for preprocessing")
    return paths
