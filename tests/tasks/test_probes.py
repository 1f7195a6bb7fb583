"""Every task's probe: its trained model, one held-out batch, and the very loss the task trains with.

Each task trains a tiny run once (a few seconds for all seven), then its probe is checked against the
`Probe` contract and, where a second path to the same number is cheap, against that path: the
evaluation code, the trainer's own loss, or windows cut by hand from the raw file.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.data.bundled import series_classification_files
from rnnlab.layers.base import RecurrentLayer
from rnnlab.tasks import seq2seq
from rnnlab.tasks.registry import get_task, task_names
from rnnlab.train import Trainer, TrainerOptions
from rnnlab.train.trainer import batch_rows

ROWS = 3  # every tiny run below holds at least this many held-out sequences


def series_csv(path: Path) -> Path:
    """A trending, seasonal series with a second input column (as the forecast CLI tests use)."""
    lines = ["date,sales,temperature"] + [
        f"t{t:04d},{100 + 0.8 * t + 15 * math.sin(2 * math.pi * t / 12):.3f},{10 + 5 * math.cos(2 * math.pi * t / 12):.3f}"
        for t in range(120)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def labelled_csv(path: Path) -> Path:
    positive = ["a fine and moving film", "great acting and a great story", "warm funny and wise", "a joy to watch"]
    negative = ["a dull and tired mess", "boring plot and bad acting", "flat lifeless and long", "a chore to sit through"]
    rows = [f'"{text}",fresh' for text in positive] + [f'"{text}",rotten' for text in negative]
    path.write_text("text,label\n" + "\n".join(rows * 6) + "\n", encoding="utf-8")
    return path


def verse(path: Path) -> Path:
    path.write_text(("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"
                     "The slings and arrows of outrageous fortune,\nOr to take arms against a sea of troubles\n") * 30,
                    encoding="utf-8")
    return path


def conllu(path: Path) -> Path:
    sentences = [[("O", "DET"), ("gato", "NOUN"), ("dorme", "VERB"), (".", "PUNCT")],
                 [("A", "DET"), ("casa", "NOUN"), ("é", "AUX"), ("grande", "ADJ"), (".", "PUNCT")]]
    blocks = ["\n".join(f"{i}\t{form}\t_\t{tag}\t_\t_\t_\t_\t_\t_" for i, (form, tag) in enumerate(sentence, 1))
              for sentence in sentences]
    path.write_text("\n\n".join(blocks * 25) + "\n\n", encoding="utf-8")
    return path


def parallel_tsv(path: Path) -> Path:
    pairs = ["the light\tla luz", "the earth\tla tierra", "and god said\ty dijo dios", "the water\tel agua"]
    path.write_text("\n".join(pairs * 6) + "\n", encoding="utf-8")
    return path


def series_ts(path: Path) -> Path:
    """The bundled BasicMotions training file cut to its first 16 cases: a real .ts file."""
    with gzip.open(series_classification_files("basic_motions")[0], "rt", encoding="utf-8") as file:
        lines = file.read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    path.write_text("\n".join(lines[: start + 16]) + "\n", encoding="utf-8")
    return path


def sensor_csv(path: Path) -> Path:
    """A noisy periodic signal with a labelled burst at points 300-305."""
    rng = np.random.default_rng(0)
    lines = ["time,value,is_anomaly"]
    for t in range(400):
        value = 10 * math.sin(2 * math.pi * t / 25) + 0.3 * rng.standard_normal() + (8 if t % 2 else -8) * (300 <= t < 306)
        lines.append(f"t{t:04d},{value:.4f},{int(300 <= t < 306)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# task -> (write its data file, the file's name, settings beyond the tiny shared ones)
TASKS = {
    "forecast": (series_csv, "shop.csv", {"target": "sales", "window": 8}),
    "classify-text": (labelled_csv, "reviews.csv", {"embedding_dim": 8, "min_freq": 1}),
    "generate": (verse, "verse.txt", {"embedding_dim": 8, "bptt": 20, "batch_size": 4}),
    "tag": (conllu, "sentences.conllu", {"embedding_dim": 8, "min_freq": 1, "char_hidden_size": 4,
                                         "test_fraction": 0.2}),
    "translate": (parallel_tsv, "pairs.tsv", {"embedding_dim": 8, "min_freq": 1, "beam_size": 2,
                                             "test_fraction": 0.25}),
    "classify-series": (series_ts, "motions.ts", {}),
    "anomaly": (sensor_csv, "sensor.csv", {"normal_until": 200, "window": 16}),
}
TINY = {"hidden_size": 8, "batch_size": 8, "epochs": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Trains each task's tiny run on first use; task name -> run directory."""
    root, trained = tmp_path_factory.mktemp("probes"), {}

    def run(name: str) -> Path:
        if name not in trained:
            make, file_name, extra = TASKS[name]
            task = get_task(name)
            config = task.config(data=str(make(root / file_name)), out=str(root / name), **{**TINY, **extra})
            trained[name] = Path(task.train(config, quiet=True)["run_dir"])
        return trained[name]

    return run


def test_the_seven_tasks_are_registered_with_their_probe():
    assert set(TASKS) <= set(task_names())  # the memory tasks have probes of their own, tested with them
    for name in TASKS:
        assert get_task(name).probe.__module__ == get_task(name).train.__module__


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
def test_probe_keeps_the_contract(name, runs):
    probe = get_task(name).probe(runs(name), rows=ROWS)
    layers = [module for module in probe.model.modules() if isinstance(module, RecurrentLayer)]
    assert layers, "the model holds no rnnlab recurrent layer"
    assert not any(module.training for module in probe.model.modules())

    batch = first_tensor(model_input(probe))  # (B, T, ...) batch-first
    assert probe.batch_size == ROWS == batch_rows(batch)
    assert probe.steps == batch.shape[1] >= 1
    assert probe.description.startswith(f"{ROWS} ") and "\n" not in probe.description

    loss = probe.loss()
    assert loss.dim() == 0 and loss.requires_grad and torch.isfinite(loss)
    assert torch.equal(loss, probe.loss())
    with torch.inference_mode():  # compare times the forward pass this way
        assert torch.equal(probe.loss(), loss.detach())

    probe.model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad for layer in layers for p in layer.parameters() if p.grad is not None]
    assert any(bool(g.abs().sum() > 0) for g in grads), "no recurrent weight received a gradient"


@pytest.mark.parametrize("name", list(TASKS))
def test_rows_is_honoured_and_bounds_the_batch(name, runs):
    task, run_dir = get_task(name), runs(name)
    assert task.probe(run_dir, rows=2).batch_size == 2
    assert task.probe(run_dir, rows=1).batch_size == 1
    assert 2 <= task.probe(run_dir).batch_size <= 64


def trainer_loss(model, loss_fn, batches) -> float:
    """The loss the shared Trainer computes on `batches` (its validation path: eval mode, no gradient)."""
    return Trainer(model, loss_fn, TrainerOptions(), run_dir=None, quiet=True).evaluate(batches)


def test_forecast_probe_equals_the_trainer_loss_on_the_same_windows(runs):
    from rnnlab.data.windows import batches
    from rnnlab.tasks.forecast_run import load_run, windows

    run_dir = runs("forecast")
    probe = get_task("forecast").probe(run_dir, rows=7)
    config, model, prepared = load_run(run_dir)
    xs, ys, _ = windows(config, prepared, "test")
    # in batches of 3: the trainer's sample-weighted mean over them is the mean over all 7 windows
    expected = trainer_loss(model, torch.nn.functional.mse_loss, batches(xs[:7], ys[:7], 3, shuffle=False))
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name", ["classify-text", "classify-series"])
def test_classifier_probe_is_the_cross_entropy_of_the_evaluated_probabilities(name, runs, tmp_path):
    """On the whole test split, the probe's loss is −mean log p(label) of what `evaluate` predicts."""
    run_dir = runs(name)
    probe = get_task(name).probe(run_dir, rows=1000)
    if name == "classify-text":
        from rnnlab.data.splits import stratified_split
        from rnnlab.tasks.classify_run import load_run, predict_probabilities, read_labelled

        config, encoder, model, _ = load_run(run_dir)
        where, texts, labels = read_labelled(config.data)
        test = stratified_split(labels, val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                                seed=config.seed)[2]
        probabilities = predict_probabilities(model, encoder.ids([texts[i] for i in test]),
                                              pad_id=encoder.vocabulary.pad_id)
        targets = encoder.targets([labels[i] for i in test], where)
    else:
        from rnnlab.data.scaling import Scaler
        from rnnlab.tasks.classify_series_run import load_run, predict_probabilities, prepare, standardised, targets_of

        config, saved, model = load_run(run_dir)
        prepared = prepare(config)
        test = prepared.rows[2]
        probabilities = predict_probabilities(model, standardised(Scaler.from_dict(saved["scaler"]), prepared.test,
                                                                  test))
        targets = targets_of(saved["classes"], prepared.test, test)
    assert probe.batch_size == len(test)
    expected = -np.log(probabilities[np.arange(len(test)), targets]).mean()
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_generate_probe_equals_the_stream_likelihood_of_its_chunk(runs):
    """One stream: the first bptt test tokens, scored token by token as evaluation reads a stream."""
    from rnnlab.tasks.generate import stream_nll
    from rnnlab.tasks.generate_run import encode_splits, load_run, read_corpus

    run_dir = runs("generate")
    probe = get_task("generate").probe(run_dir, rows=1)
    config, model, tokenizer, vocab, _ = load_run(run_dir)
    ids = encode_splits(config, read_corpus(config.data), tokenizer, vocab).ids["test"]
    assert probe.steps == config.bptt < len(ids)
    nats, tokens = stream_nll(model, ids[: config.bptt + 1], bptt=7)  # other chunk cuts, the state carried
    assert probe.loss().item() == pytest.approx(nats / tokens, rel=1e-6, abs=1e-7)


def test_tag_probe_equals_the_trainer_loss_on_the_test_sentences(runs):
    from rnnlab.tasks.tag import tagging_loss
    from rnnlab.tasks.tag_run import batches, encode, load_run, prepare

    run_dir = runs("tag")
    probe = get_task("tag").probe(run_dir, rows=1000)
    config, model, vocabs = load_run(run_dir)
    sentences = prepare(config, vocabs).splits["test"]
    assert probe.batch_size == len(sentences)
    batch = batches(encode(sentences, vocabs, config.max_word_chars), vocabs, len(sentences), None)
    assert probe.loss().item() == pytest.approx(trainer_loss(model, tagging_loss, batch), rel=1e-6, abs=1e-7)


def test_translate_probe_is_the_teacher_forced_likelihood_of_the_references(runs):
    """−Σ log p(y | x) / Σ |y| over the test pairs, from `sequence_log_probs` (the decoders' own check)."""
    from rnnlab.data.text import EOS
    from rnnlab.tasks.translate import sequence_log_probs
    from rnnlab.tasks.translate_run import load_run, prepare

    run_dir = runs("translate")
    probe = get_task("translate").probe(run_dir, rows=1000)
    loaded = load_run(run_dir)
    _, tokens = prepare(loaded.config).part("test")
    examples = seq2seq.encode_pairs(tokens, loaded.source_vocab, loaded.target_vocab)
    totals, _ = sequence_log_probs(loaded.model, [s for s, _ in examples], [t for _, t in examples],
                                   eos_id=loaded.target_vocab.id_of(EOS))
    assert probe.batch_size == len(examples)
    expected = -float(totals.double().sum()) / sum(len(t) for _, t in examples)
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_anomaly_probe_is_the_forecast_error_on_held_out_normal_windows(runs):
    """Windows cut by hand from the raw file: every forecast in them is of a calibration point."""
    run_dir = runs("anomaly")
    probe = get_task("anomaly").probe(run_dir, rows=5)
    saved = json.loads((run_dir / "config.json").read_text())
    values = np.loadtxt(saved["config"]["data"], delimiter=",", skiprows=1, usecols=1)  # (N,)
    detector = saved["detectors"]["model"]
    xs = (values - detector["mean"][0]) / detector["std"][0]
    window, first = saved["config"]["window"], saved["train_end"] - 1  # the first forecast is of point train_end
    segments = torch.tensor(np.stack([xs[first + k: first + k + window + 1] for k in range(5)]),
                            dtype=torch.float32)[..., None]  # (5, window + 1, 1)
    with torch.no_grad():
        predictions, _ = probe.model(segments[:, :-1])
    expected = float(((predictions - segments[:, 1:]) ** 2).mean())
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)


def test_anomaly_held_out_windows_mask_training_forecasts_when_the_span_is_short():
    from rnnlab.tasks.anomaly_run import AnomalyConfig, Spans, held_out_windows

    xs = np.arange(40, dtype=np.float64)[:, None]  # (N, 1): each value is its own index
    inputs, targets = held_out_windows(AnomalyConfig(window=4), xs, Spans(train_end=20, normal_until=30))
    assert inputs.shape == targets.shape == (7, 4, 1)  # targets 20 … 29: every calibration point
    np.testing.assert_array_equal(inputs[0, :, 0], [19, 20, 21, 22])
    np.testing.assert_array_equal(targets[:, 0, 0], np.arange(20, 27))  # each forecast is of a calibration point

    inputs, targets = held_out_windows(AnomalyConfig(window=8), xs, Spans(train_end=20, normal_until=23))
    assert inputs.shape == targets.shape == (3, 8, 1)  # one segment per calibration point, each its newest
    np.testing.assert_array_equal(inputs[:, 0, 0], [12, 13, 14])
    finite = targets[np.isfinite(targets)]
    assert len(finite) == 1 + 2 + 3 and (finite >= 20).all()  # forecasts of training points do not count

    inputs, targets = held_out_windows(AnomalyConfig(method="reconstruction", recon_window=4), xs,
                                       Spans(train_end=20, normal_until=30))
    np.testing.assert_array_equal(inputs[:, -1, 0], np.arange(20, 30))  # windows whose newest point is held out
    np.testing.assert_array_equal(inputs, targets)


@pytest.mark.parametrize("name", list(TASKS))
def test_data_gone_is_the_same_clear_error_as_evaluate(name, runs, tmp_path):
    moved = tmp_path / "run"
    shutil.copytree(runs(name), moved)
    saved = json.loads((moved / "config.json").read_text())
    missing = str(tmp_path / ("gone" + Path(saved["config"]["data"]).suffix))
    saved["config"]["data"] = missing
    (moved / "config.json").write_text(json.dumps(saved))
    task = get_task(name)
    with pytest.raises(Exception) as expected:
        task.evaluate(moved, None)
    with pytest.raises(type(expected.value), match="gone"):
        task.probe(moved)
