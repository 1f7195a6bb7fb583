"""`rnnlab export DIR --format onnx`: a trained run's network, run in onnxruntime, equals the run's own model.

Each task trains a tiny run, the command line exports it, and onnxruntime runs the file on batch
sizes, lengths and sequence lengths unlike the export's example; its outputs equal those of the
model as the task's own `load_run` rebuilds it, to 1e-5 in float32. Bad input is one line on
stderr, status 2, and nothing written.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is needed to run exported models: pip install onnxruntime")
pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")

from rnnlab.cells.lstm import LSTMState  # noqa: E402
from rnnlab.cli.main import main  # noqa: E402
from rnnlab.tasks.run import load_weights, read_run  # noqa: E402

FLOAT32 = dict(atol=1e-5, rtol=0.0)
TINY = ["--epochs", "1", "--hidden-size", "8", "--batch-size", "8", "--quiet"]


def series_csv(path: Path, n: int = 120) -> Path:
    rows = [f"t{t:03d},{100 + t + 10 * math.sin(t / 2):.3f},{5 * math.cos(t / 3):.3f}" for t in range(n)]
    path.write_text("date,sales,temperature\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def labelled_csv(path: Path) -> Path:
    rows = ['"a fine and moving film",fresh', '"warm funny and wise",fresh', '"a dull and tired mess",rotten',
            '"boring plot and bad acting",rotten']
    path.write_text("text,label\n" + "\n".join(rows * 6) + "\n", encoding="utf-8")
    return path


def conllu(path: Path) -> Path:
    sentences = [[("O", "DET"), ("gato", "NOUN"), ("dorme", "VERB"), (".", "PUNCT")],
                 [("A", "DET"), ("casa", "NOUN"), ("é", "AUX"), ("grande", "ADJ"), (".", "PUNCT")]]
    blocks = ["\n".join(f"{i}\t{form}\t_\t{tag}\t_\t_\t_\t_\t_\t_" for i, (form, tag) in enumerate(sentence, 1))
              for sentence in sentences]
    path.write_text("\n\n".join(blocks * 8) + "\n\n", encoding="utf-8")
    return path


def sensor_csv(path: Path, n: int = 240) -> Path:
    rows = [f"t{t:03d},{10 * math.sin(2 * math.pi * t / 25):.4f},{3 * math.cos(t / 7):.4f}" for t in range(n)]
    path.write_text("time,a,b\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def parallel_tsv(path: Path) -> Path:
    pairs = ["the light\tla luz", "the earth\tla tierra", "and god said\ty dijo dios", "the water\tel agua"]
    path.write_text("\n".join(pairs * 6) + "\n", encoding="utf-8")
    return path


# run name -> arguments of `rnnlab train`, given the folder for data files
RUNS = {
    "forecast": lambda d: ["forecast", "--data", str(series_csv(d / "shop.csv")), "--target", "sales", "--model", "gru",
                           "--num-layers", "2", "--bidirectional"],
    "classify-text": lambda d: ["classify-text", "--data", str(labelled_csv(d / "reviews.csv")), "--embedding-dim", "8",
                                "--min-freq", "1", "--model", "lstm", "--pooling", "mean"],
    "classify-series": lambda d: ["classify-series", "--data", "basic_motions", "--model", "rnn"],
    "tag": lambda d: ["tag", "--data", str(conllu(d / "tags.conllu")), "--embedding-dim", "8", "--min-freq", "1"],
    "generate": lambda d: ["generate", "--data", str(labelled_csv(d / "text.txt")), "--embedding-dim", "8",
                           "--bptt", "10", "--batch-size", "4", "--model", "gru"],
    "anomaly": lambda d: ["anomaly", "--data", str(sensor_csv(d / "sensor.csv")), "--normal-until", "200",
                          "--window", "16"],
    "anomaly-reconstruction": lambda d: ["anomaly", "--data", str(sensor_csv(d / "sensor2.csv")), "--normal-until",
                                         "200", "--method", "reconstruction", "--recon-window", "8", "--model", "gru"],
    "translate": lambda d: ["translate", "--data", str(parallel_tsv(d / "pairs.tsv")), "--embedding-dim", "8",
                            "--min-freq", "1", "--model", "lstm"],
}


class TrainedRuns:
    """Run directories by name, each trained on first use (a test worker trains only what its tests read)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __getitem__(self, name: str) -> Path:
        run_dir = self.folder / name
        if not run_dir.exists():
            task, *options = RUNS[name](self.folder)
            assert main(["train", task, *TINY, *options, "--out", str(run_dir)]) == 0, name  # options win over TINY
        return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> TrainedRuns:
    return TrainedRuns(tmp_path_factory.mktemp("runs"))


def exported(run_dir: Path, capsys, *options: str) -> list[str]:
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "onnx", *options]) == 0
    return capsys.readouterr().out.splitlines()


def run_onnx(path: Path, **inputs: torch.Tensor) -> list[torch.Tensor]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [torch.from_numpy(value) for value in session.run(None, {k: v.numpy() for k, v in inputs.items()})]


def assert_close_all(got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    assert len(got) == len(want)
    for ours, theirs in zip(got, want, strict=True):
        torch.testing.assert_close(ours, theirs.detach(), **FLOAT32)


def padded_lengths(generator: torch.Generator, batch_size: int, steps: int) -> torch.Tensor:
    lengths = torch.randint(1, steps + 1, (batch_size,), generator=generator)
    lengths[0] = steps
    return lengths


def test_forecast(runs, capsys):
    from rnnlab.tasks.forecast_run import load_run

    assert exported(runs["forecast"], capsys) == [str(runs["forecast"] / "model.onnx")]
    model = load_run(runs["forecast"])[1]
    xs = torch.randn(5, 17, 2, generator=torch.Generator().manual_seed(0))  # example: 2 windows of 3 steps
    with torch.no_grad():
        assert_close_all(run_onnx(runs["forecast"] / "model.onnx", inputs=xs), [model(xs)])


def test_classify_text(runs, capsys, tmp_path):
    from rnnlab.tasks.classify_run import load_run

    out = tmp_path / "classifier.onnx"
    assert exported(runs["classify-text"], capsys, "--out", str(out)) == [str(out)]
    assert not (runs["classify-text"] / "model.onnx").exists()
    model = load_run(runs["classify-text"]).model
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(1, model.embedding.num_embeddings, (6, 11), generator=generator)
    lengths = padded_lengths(generator, 6, 11)
    with torch.no_grad():
        assert_close_all(run_onnx(out, tokens=tokens, lengths=lengths), [model(tokens, lengths)])


def test_classify_series(runs, capsys):
    from rnnlab.tasks.classify_series_run import load_run

    exported(runs["classify-series"], capsys)
    model = load_run(runs["classify-series"])[2]
    generator = torch.Generator().manual_seed(2)
    values, lengths = torch.randn(4, 30, 6, generator=generator), padded_lengths(generator, 4, 30)
    with torch.no_grad():
        assert_close_all(run_onnx(runs["classify-series"] / "model.onnx", values=values, lengths=lengths),
                         [model(values, lengths)])


def test_tag_with_its_character_encoder(runs, capsys):
    from rnnlab.tasks.tag import TaggerInputs
    from rnnlab.tasks.tag_run import load_run

    exported(runs["tag"], capsys)
    model = load_run(runs["tag"])[1]
    assert model.chars is not None
    generator = torch.Generator().manual_seed(3)
    words = torch.randint(1, model.embedding.num_embeddings, (3, 7), generator=generator)
    lengths = padded_lengths(generator, 3, 7)
    chars = torch.randint(1, model.chars.embedding.num_embeddings, (3, 7, 5), generator=generator)
    chars[..., 3:] = model.char_padding_idx  # words of 3 characters, padded to 5
    with torch.no_grad():
        want = model(TaggerInputs(words, lengths, chars))
    assert_close_all(run_onnx(runs["tag"] / "model.onnx", words=words, lengths=lengths, chars=chars), [want])


@pytest.mark.parametrize("name", ["generate", "anomaly"])
def test_stateful_models_carry_their_state(name, runs, capsys):
    exported(runs[name], capsys)
    if name == "generate":
        from rnnlab.tasks.generate_run import load_run

        model = load_run(runs[name])[1]
        inputs = {"tokens": torch.randint(0, model.vocab_size, (3, 9), generator=torch.Generator().manual_seed(4))}
    else:
        from rnnlab.tasks.anomaly_run import AnomalyConfig, build_model

        saved = read_run(runs[name])
        model = load_weights(build_model(AnomalyConfig(**saved["config"]), len(saved["channels"])), runs[name])
        inputs = {"inputs": torch.randn(3, 9, len(saved["channels"]), generator=torch.Generator().manual_seed(4))}
    layer = model.encoder
    states = [torch.randn(layer.num_layers, 3, layer.hidden_size) for _ in range(1 + (layer.mode == "LSTM"))]
    with torch.no_grad():
        outputs, final = model(*inputs.values(), LSTMState(*states) if len(states) == 2 else states[0])
    got = run_onnx(runs[name] / "model.onnx", **inputs, **dict(zip(["h_0", "c_0"], states)))
    assert_close_all(got, [outputs, *(final if isinstance(final, tuple) else (final,))])


def test_anomaly_reconstruction(runs, capsys):
    from rnnlab.tasks.anomaly_run import AnomalyConfig, build_model

    run_dir = runs["anomaly-reconstruction"]
    exported(run_dir, capsys)
    saved = read_run(run_dir)
    model = load_weights(build_model(AnomalyConfig(**saved["config"]), 2), run_dir)
    windows = torch.randn(4, 8, 2, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert_close_all(run_onnx(run_dir / "model.onnx", windows=windows), [model(windows)])


def test_translate_gives_an_encoder_and_a_decoder_step(runs, capsys):
    from rnnlab.tasks.translate_run import load_run

    run_dir = runs["translate"]
    assert exported(run_dir, capsys) == [str(run_dir / "model.encoder.onnx"), str(run_dir / "model.decoder.onnx")]
    model = load_run(run_dir).model.cpu()
    generator = torch.Generator().manual_seed(6)
    source = torch.randint(4, model.source_embedding.num_embeddings, (3, 6), generator=generator)
    source_lengths = padded_lengths(generator, 3, 6)
    with torch.no_grad():
        memory, state = model.encode(source, source_lengths)
        encoded = run_onnx(run_dir / "model.encoder.onnx", source=source, source_lengths=source_lengths)
        assert_close_all(encoded[:2] + encoded[3:], [memory.outputs, memory.keys, *state])
        assert torch.equal(encoded[2], memory.mask)
        step = torch.full((3, 1), model.bos_id)  # one decoding step from <s>
        logits, final, weights = model.decode(memory, step, state)
    decoded = run_onnx(run_dir / "model.decoder.onnx", target_inputs=step, memory=encoded[0], keys=encoded[1],
                       mask=encoded[2], h_0=encoded[3], c_0=encoded[4])
    assert_close_all([decoded[0].clamp(min=-1e4), *decoded[1:]], [logits.clamp(min=-1e4), *final, weights])


def test_bad_format_and_missing_directory_are_one_line_errors(runs, capsys, tmp_path):
    run_dir = runs["forecast"]
    before = sorted(path.name for path in run_dir.iterdir())
    for argv, message in ((["export", str(run_dir), "--format", "tflite"], "format must be one of ['onnx']; "
                                                                           "received 'tflite'"),
                          (["export", str(tmp_path / "missing")], "does not exist"),
                          (["export", str(run_dir), "--out", str(tmp_path / "no" / "m.onnx")], "does not exist")):
        capsys.readouterr()
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert len(captured.err.strip().splitlines()) == 1 and message in captured.err
    assert sorted(path.name for path in run_dir.iterdir()) == before
    assert not (tmp_path / "missing").exists() and not (tmp_path / "no").exists()
