"""ONNX export of a finished run's network: `export_run(run_dir)`, behind `rnnlab export DIR --format onnx`.

Each task declares its own graphs (`rnnlab.tasks.api.Task.export_graphs`): the network with named
inputs and outputs and dynamic batch and time axes, exported by `rnnlab.interop.onnx.export_onnx`.
The graph is the network only: the steps around it (scaling a series, tokenizing text,
thresholds, sampling, beam search) stay in Python and read the run's config.json. A task with
several graphs (translate: an encoder and one decoder step) writes `<stem><suffix>.onnx` for each.
"""

from __future__ import annotations

from pathlib import Path

from rnnlab.interop.onnx import export_onnx
from rnnlab.tasks.api import Graph


def export_graphs(graphs: list[Graph], path: str | Path, *, description: str = "rnnlab run") -> list[Path]:
    """Writes each graph as an ONNX file: `path` for a single graph, `<stem><suffix><ext>` beside it otherwise.

    Raises:
        FileNotFoundError: if the directory of `path` does not exist.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"out {str(path)!r}: directory {str(path.parent)!r} does not exist")
    paths = [path if len(graphs) == 1 else path.with_name(f"{path.stem}{graph.suffix}{path.suffix}")
             for graph in graphs]
    for graph, target in zip(graphs, paths, strict=True):
        export_onnx(graph.module, target, example_inputs=graph.example_inputs, input_names=graph.input_names,
                    output_names=graph.output_names, dynamic_axes=graph.dynamic_axes,
                    doc_string=f"{description}: {', '.join(graph.input_names)} -> {', '.join(graph.output_names)}; "
                               "see the run's config.json for preprocessing")
    return paths


def export_run(run_dir: str | Path, path: str | Path | None = None) -> list[Path]:
    """Exports a finished run's network to ONNX (default: `run_dir/model.onnx`); returns the paths written.

    Raises:
        FileNotFoundError: if `run_dir` is not a finished run, or the directory of `path` does not exist.
    """
    from rnnlab.tasks import load

    return load(run_dir).export(path)
