"""The contract every task keeps, through the Python API and the command line alike.

One table (`TASKS`) names each registered task's tiny data file, settings and prediction input;
the same tests then run on every task:
- fit on a file, save, load: the loaded estimator evaluates to the metrics the fit held out, and
  predicts what the fitted one predicted; settings round-trip through get_params/set_params;
- the command line trains the same run (the same metrics as the Python fit), `evaluate --json`
  repeats them, and `predict` in a fresh interpreter prints what this process prints;
- bad input (a malformed file, a setting out of range, data of the wrong type) raises one clear
  error naming what is wrong, from Python and from the CLI (one line, status 2), and writes nothing;
- the probe (what `compare` and `diagnose` measure) is a real held-out batch with the training loss.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

import rnnlab
from rnnlab.cli.main import main
from rnnlab.layers.base import RecurrentLayer
from rnnlab.tasks import get_estimator, load, task_names
from rnnlab.train.trainer import batch_rows


@dataclass(frozen=True)
class Case:
    """How one task is exercised: its data file (a `build` method and a file name), tiny settings,
    its other data arguments, the predict options, and a malformed file with a word its error names."""

    build: str | None
    file: str | None
    settings: dict
    data_options: dict = field(default_factory=dict)
    predict: tuple[str, ...] = ()           # `rnnlab predict` options; () predicts from --data FILE
    bad: tuple[str, str] | None = None      # (content of a malformed file, a word its error names)
    bad_setting: tuple[str, object, str] = ("hidden_size", 0, "hidden_size")


TASKS = {
    "forecast": Case("series_csv", "sales.csv", dict(epochs=2, hidden_size=8, window=6),
                     {"target": "sales"}, bad=("date,sales\n2020-01-01,1\n2020-01-02,lots\n", "line 3")),
    "forecast-panel": Case("panel_csv", "items.csv", dict(epochs=2, hidden_size=8, horizon=4, steps_per_epoch=3,
                                                          batch_size=16),
                           {"past_covariates": "promo", "static_covariates": "kind"},
                           bad=("unique_id,ds,y,promo,kind\na,2020-01-01,1,0,x\na,2020-02-01,lots,0,x\n", "line 3")),
    "classify-text": Case("labelled_csv", "reviews.csv", dict(epochs=2, hidden_size=8, batch_size=8, embedding_dim=8,
                                                              min_freq=1), predict=("--text", "a great film"),
                          bad=("review,label\nnice,fresh\n", "text")),
    "classify-series": Case("series_ts", "motions.ts", dict(epochs=2, hidden_size=8, batch_size=8),
                            bad=("@problemName x\n@timeStamps false\n@univariate false\n@dimensions 2\n"
                                 "@equalLength false\n@classLabel true a b\n@data\n1,2,3:4,5,6:a\n1,2:b\n", "line 9")),
    "tag": Case("conllu", "sentences.conllu", dict(epochs=2, hidden_size=8, batch_size=8, embedding_dim=8, min_freq=1,
                                                   test_fraction=0.2),
                predict=("--text", "O gato é grande ."), bad=("1\tO\t_\t_\t_\t_\t_\t_\t_\t_\n\n", "UPOS")),
    "generate": Case("text_file", "corpus.txt", dict(epochs=1, hidden_size=16, batch_size=4, bptt=20, embedding_dim=8),
                     predict=("--text", "to be"), bad=("\xff\xfe not text", "UTF-8")),
    "translate": Case("parallel_tsv", "pairs.tsv", dict(epochs=1, hidden_size=8, batch_size=8, embedding_dim=8,
                                                        min_freq=1, test_fraction=0.15), predict=("--text", "the light"),
                      bad=("the light\tla luz\nno tab here\n", "line 2")),
    "anomaly": Case("sensor_csv", "sensor.csv", dict(epochs=2, hidden_size=8, window=16), {"normal_until": 200},
                    bad=("time,value\nt0,1\nt1,high\n", "line 3")),
    "adding": Case(None, None, dict(epochs=1, length=10, train_sequences=64, val_sequences=32, test_sequences=64),
                   bad_setting=("length", 1, "length")),
    "copy": Case(None, None, dict(epochs=1, length=5, hidden_size=16, train_sequences=64, val_sequences=32,
                                  test_sequences=64), bad_setting=("symbols", 1, "symbols")),
}


def test_the_table_covers_every_registered_task():
    assert set(TASKS) == set(task_names())


def flags(values: dict) -> list[str]:
    """Keyword settings as command-line options: hidden_size=8 → --hidden-size 8."""
    return [word for name, value in values.items() for word in ("--" + name.replace("_", "-"), str(value))]


def data_file(case: Case, build, folder: Path) -> Path | None:
    return None if case.build is None else getattr(build, case.build)(folder / case.file)


def fit(name: str, case: Case, data: Path | None):
    estimator = get_estimator(name)(**case.settings)
    return estimator.fit(str(data), **case.data_options) if data is not None else estimator.fit()


def predict_lines(estimator, case: Case, data: Path | None) -> list[str]:
    if case.predict:
        return estimator.predict_lines(text=case.predict[1])
    return estimator.predict_lines(data=None if data is None else str(data))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, build):
    """Every task fitted once through Python and saved: {task: (estimator, data file, run directory)}."""
    runs = {}
    for name, case in TASKS.items():
        folder = tmp_path_factory.mktemp(name.replace("-", "_"))
        data = data_file(case, build, folder)
        estimator = fit(name, case, data)
        runs[name] = (estimator, data, estimator.save(folder / "run"))
    return runs


@pytest.mark.parametrize("name", list(TASKS))
def test_a_saved_run_loads_back_as_it_was_fitted(name, fitted):
    estimator, data, run_dir = fitted[name]
    case, task = TASKS[name], estimator.task
    metrics = estimator.test_metrics_
    assert task.headline.metric in metrics["model"] and task.headline.baseline in metrics
    for file in ("config.json", "model.safetensors", "metrics.jsonl", "test_metrics.json", "loss.png", "report.html"):
        assert (run_dir / file).is_file(), file
    assert not run_dir.with_name(run_dir.name + ".partial").exists()
    assert json.loads((run_dir / "config.json").read_text())["task"] == name

    loaded = load(run_dir)
    assert type(loaded) is type(estimator) and loaded.get_params() == estimator.get_params()
    assert loaded.evaluate()["metrics"] == metrics  # the saved run scores as the trained model did
    assert loaded.history_ == json.loads(json.dumps(estimator.history_))
    assert predict_lines(loaded, case, data) == predict_lines(estimator, case, data)


@pytest.mark.parametrize("name", list(TASKS))
def test_settings_are_stored_as_given_and_round_trip(name):
    estimator_class = get_estimator(name)
    estimator = estimator_class(**TASKS[name].settings)
    params = estimator.get_params()
    assert {k: params[k] for k in TASKS[name].settings} == TASKS[name].settings
    assert estimator_class(**params).get_params() == params  # scikit-learn's clone
    assert estimator.set_params(seed=7) is estimator and estimator.seed == 7
    with pytest.raises(TypeError, match="no setting 'hidden_units'"):
        estimator_class(hidden_units=8)
    with pytest.raises(ValueError, match="no setting 'hidden_units'"):
        estimator.set_params(hidden_units=8)
    assert name in rnnlab.tasks.registry.estimator_names().values()
    assert getattr(rnnlab, estimator_class.__name__) is estimator_class  # exported at the top level


def fresh(*argv: str) -> str:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rnnlab", *argv], capture_output=True, text=True, env=env,
                          check=True).stdout


@pytest.mark.parametrize("name", list(TASKS))
def test_the_command_line_trains_evaluates_and_predicts_the_same(name, fitted, tmp_path, capsys):
    estimator, data, _ = fitted[name]
    case, out = TASKS[name], tmp_path / "run"
    data_args = [] if data is None else ["--data", str(data), *flags(case.data_options)]
    assert main(["train", name, *data_args, *flags(case.settings), "--out", str(out), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(estimator.test_metrics_))

    assert main(["evaluate", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"] == json.loads(json.dumps(estimator.test_metrics_))
    options = list(case.predict) if case.predict or data is None else ["--data", str(data)]
    assert main(["predict", str(out), *options]) == 0
    here = capsys.readouterr().out
    assert here.splitlines() == predict_lines(estimator, case, data)
    assert fresh("predict", str(out), *options) == here


@pytest.mark.parametrize("name", [name for name, case in TASKS.items() if case.bad is not None])
def test_a_malformed_file_is_one_clear_error_and_writes_nothing(name, tmp_path, capsys):
    case = TASKS[name]
    content, expected = case.bad
    bad, out = tmp_path / ("bad" + Path(case.file).suffix), tmp_path / "run"
    bad.write_bytes(content.encode("latin-1") if name == "generate" else content.encode("utf-8"))
    argv = ["train", name, "--data", str(bad), *flags(case.data_options), *flags(case.settings), "--out", str(out)]
    assert main([*argv, "--quiet"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and expected in error, error
    with pytest.raises(ValueError, match=expected):
        get_estimator(name)(**case.settings).fit(str(bad), **case.data_options)
    assert sorted(p.name for p in tmp_path.iterdir()) == [bad.name]  # no run, no run.partial


@pytest.mark.parametrize("name", list(TASKS))
def test_a_setting_out_of_range_is_named_before_anything_is_read(name, tmp_path, capsys, build):
    case = TASKS[name]
    setting, value, expected = case.bad_setting
    data = data_file(case, build, tmp_path)
    estimator = get_estimator(name)(**{**case.settings, setting: value})  # stored as given
    with pytest.raises(ValueError, match=f"{expected}.*{value}"):
        estimator.fit(str(data), **case.data_options) if data is not None else estimator.fit()
    data_args = [] if data is None else ["--data", str(data), *flags(case.data_options)]
    out = tmp_path / "run"
    assert main(["train", name, *data_args, *flags({**case.settings, setting: value}), "--out", str(out)]) == 2
    assert expected in capsys.readouterr().err
    assert not out.exists() and not out.with_name("run.partial").exists()


@pytest.mark.parametrize("name", [name for name, case in TASKS.items() if case.build is not None])
def test_data_of_the_wrong_type_names_the_argument(name):
    estimator = get_estimator(name)(**TASKS[name].settings)
    with pytest.raises(TypeError, match=r"data .*received int"):
        estimator.fit(42, **TASKS[name].data_options)


@pytest.mark.parametrize("name", list(TASKS))
def test_an_unfitted_estimator_says_so(name):
    estimator = get_estimator(name)(**TASKS[name].settings)
    with pytest.raises(rnnlab.tasks.estimator.NotFittedError, match="not fitted"):
        estimator.evaluate()
    with pytest.raises(rnnlab.tasks.estimator.NotFittedError, match="not fitted"):
        estimator.save("anywhere")


def model_input(probe) -> object:
    """The first argument the probe's loss passes to its model (the batch)."""
    seen = []
    handle = probe.model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    try:
        with torch.no_grad():
            probe.loss()
    finally:
        handle.remove()
    return seen[0]


def first_tensor(batch) -> torch.Tensor:
    return batch if isinstance(batch, torch.Tensor) else next(item for item in batch if isinstance(item, torch.Tensor))


@pytest.mark.parametrize("name", list(TASKS))
def test_the_probe_is_a_real_held_out_batch_with_the_training_loss(name, fitted):
    """What `compare` and `diagnose` measure: rnnlab layers in eval mode, a loss that is differentiable,
    the same on every call and in inference mode, and that reaches the recurrent weights."""
    rows = 3
    probe = load(fitted[name][2]).probe(rows)
    layers = [module for module in probe.model.modules() if isinstance(module, RecurrentLayer)]
    assert layers, "the model holds no rnnlab recurrent layer"
    assert not any(module.training for module in probe.model.modules())
    batch = first_tensor(model_input(probe))  # (B, T, ...) batch-first
    assert probe.batch_size == rows == batch_rows(batch)
    assert probe.steps == batch.shape[1] >= 1
    assert probe.description.startswith(f"{rows} ") and "\n" not in probe.description
    loss = probe.loss()
    assert loss.dim() == 0 and loss.requires_grad and torch.isfinite(loss)
    assert torch.equal(loss, probe.loss())
    with torch.inference_mode():  # compare times the forward pass this way
        assert torch.equal(probe.loss(), loss.detach())
    probe.model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad for layer in layers for p in layer.parameters() if p.grad is not None]
    assert any(bool(g.abs().sum() > 0) for g in grads), "no recurrent weight received a gradient"
    assert load(fitted[name][2]).probe(1).batch_size == 1
    with pytest.raises(ValueError, match="rows must be a positive integer; received 0"):
        load(fitted[name][2]).probe(0)


@pytest.mark.parametrize("name", [name for name, case in TASKS.items() if case.build is not None])
def test_a_run_whose_data_is_gone_says_so_alike_in_evaluate_and_probe(name, fitted, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(fitted[name][2], moved)
    saved = json.loads((moved / "config.json").read_text())
    saved["config"]["data"] = str(tmp_path / ("gone" + Path(saved["config"]["data"]).suffix))
    (moved / "config.json").write_text(json.dumps(saved))
    with pytest.raises(Exception) as expected:
        load(moved).evaluate()
    assert "gone" in str(expected.value)
    with pytest.raises(type(expected.value), match="gone"):
        load(moved).probe()


def larger(graph, generator: torch.Generator) -> tuple:
    """The graph's example inputs grown along every dynamic axis: integer inputs (ids, lengths, masks)
    tiled, so they stay valid (lengths then fall below the doubled T), floating inputs drawn anew."""
    grown = []
    for name, example in zip(graph.input_names, graph.example_inputs):
        axes = graph.dynamic_axes.get(name, {})
        tiled = example.repeat(*[2 if axis in axes else 1 for axis in range(example.dim())])
        grown.append(torch.randn(tiled.shape, generator=generator) if tiled.is_floating_point() else tiled)
    return tuple(grown)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_exported_graph_runs_in_onnxruntime_as_the_model_does(name, fitted, tmp_path, capsys):
    """`rnnlab export` writes the run's graphs; onnxruntime runs each on its example inputs and on
    inputs twice as large on every dynamic axis (batch, time), and answers as the model does."""
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graphs: pip install onnxruntime")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")
    run_dir = fitted[name][2]
    assert main(["export", str(run_dir), "--out", str(tmp_path / "model.onnx")]) == 0
    estimator = load(run_dir)
    graphs = estimator.task_.export_graphs(estimator.network_)
    paths = [tmp_path / f"model{graph.suffix}.onnx" for graph in graphs]
    assert all(path.is_file() for path in paths) and not (run_dir / "model.onnx").exists()
    for path, graph in zip(paths, graphs):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for inputs in (graph.example_inputs, larger(graph, torch.Generator().manual_seed(0))):
            with torch.no_grad():
                expected = graph.module(*inputs)
            expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
            got = session.run(None, {n: t.numpy() for n, t in zip(graph.input_names, inputs) if t is not None})
            assert len(got) == len(expected)
            for ours, theirs in zip(got, expected):
                theirs = theirs.float() if theirs.is_floating_point() else theirs  # the encoder's mask is bool
                # a masked attention score is -inf in one and a large negative number in the other
                torch.testing.assert_close(torch.from_numpy(ours).clamp(min=-1e4), theirs.clamp(min=-1e4),
                                           atol=1e-5, rtol=0.0)
