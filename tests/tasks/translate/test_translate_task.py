"""The translation task's hooks: its settings, the probe against the decoders' own likelihood, the ONNX
graphs in onnxruntime, and run directories written by the old code."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnlab.data.text import EOS
from rnnlab.tasks import load
from rnnlab.tasks.translate import TranslateConfig, Translator, sequence_log_probs
from rnnlab.tasks.translate.corpus import encode_pairs

TINY = dict(epochs=1, hidden_size=8, batch_size=8, embedding_dim=8, min_freq=1, beam_size=2, test_fraction=0.25,
            device="cpu")
OLD_RUN = Path(__file__).parent / "old_run"  # written by `rnnlab train translate` before the task became a package


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, build) -> Translator:
    data = build.parallel_tsv(tmp_path_factory.mktemp("translate") / "pairs.tsv")
    return Translator(**TINY, model="lstm").fit(str(data))


@pytest.mark.parametrize("overrides, message", [
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "val_fraction \\+ test_fraction must be < 1"),
    ({"test_fraction": 0.0}, "test_fraction must be in \\(0, 1\\)"),
    ({"eval_pairs": -1}, "eval_pairs must be an integer >= 0"),
    ({"max_ratio": 0.0}, "max_ratio must be > 0"),
    ({"attention": "dot"}, "attention must be one of \\['general', 'additive'\\]"),
    ({"beam_size": 0}, "beam_size must be a positive integer"),
])
def test_config_rejects_bad_settings(overrides, message):
    with pytest.raises(ValueError, match=message):
        TranslateConfig(**overrides)


def test_the_fitted_state_is_saved_under_the_old_keys(fitted, tmp_path):
    saved = json.loads((fitted.save(tmp_path / "run") / "config.json").read_text())
    assert saved["tokenizer"] == {"kind": "word", "lowercase": True}
    assert saved["source_vocab"]["tokens"] == fitted.source_vocabulary_
    assert "luz" in fitted.target_vocabulary_ and "light" in fitted.source_vocabulary_
    assert "out" not in saved["config"]


def test_the_probe_is_the_teacher_forced_likelihood_of_the_references(fitted):
    """−Σ log p(y | x) / Σ |y| over the test pairs, from `sequence_log_probs` (the decoders' own check)."""
    probe = fitted.probe(1000)
    task = fitted.task_
    _, tokens = task.own_data().corpus.part("test")
    examples = encode_pairs(tokens, task.source_vocab, task.target_vocab)
    totals, _ = sequence_log_probs(fitted.network_, [s for s, _ in examples], [t for _, t in examples],
                                   eos_id=task.target_vocab.id_of(EOS))
    assert probe.batch_size == len(examples) == 6
    expected = -float(totals.double().sum()) / sum(len(t) for _, t in examples)
    assert probe.loss().item() == pytest.approx(expected, rel=1e-6, abs=1e-7)
    assert probe.description.startswith("6 test pairs") and probe.steps == max(len(s) for s, _ in examples)


def run_onnx(path: Path, **inputs: torch.Tensor) -> list[torch.Tensor]:
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graphs: pip install onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [torch.from_numpy(value) for value in session.run(None, {k: v.numpy() for k, v in inputs.items()})]


def test_export_gives_an_encoder_and_a_decoder_step_equal_to_the_model(fitted, tmp_path):
    pytest.importorskip("onnxruntime", reason="onnxruntime runs the exported graphs: pip install onnxruntime")
    pytest.importorskip("onnxscript", reason="ONNX export needs onnxscript: pip install onnxscript")
    paths = fitted.export(tmp_path / "model.onnx")
    assert paths == [tmp_path / "model.encoder.onnx", tmp_path / "model.decoder.onnx"]
    model = fitted.network_
    generator = torch.Generator().manual_seed(6)
    # a batch and source length unlike the export's example
    source = torch.randint(4, model.source_embedding.num_embeddings, (3, 6), generator=generator)
    source_lengths = torch.tensor([6, 2, 4])
    with torch.no_grad():
        memory, state = model.encode(source, source_lengths)
        encoded = run_onnx(paths[0], source=source, source_lengths=source_lengths)
        for ours, theirs in zip(encoded[:2] + encoded[3:], [memory.outputs, memory.keys, *state], strict=True):
            torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0.0)
        assert torch.equal(encoded[2], memory.mask)
        step = torch.full((3, 1), model.bos_id)  # one decoding step from <s>
        logits, final, weights = model.decode(memory, step, state)
    decoded = run_onnx(paths[1], target_inputs=step, memory=encoded[0], keys=encoded[1], mask=encoded[2],
                       h_0=encoded[3], c_0=encoded[4])
    for ours, theirs in zip([decoded[0].clamp(min=-1e4), *decoded[1:]], [logits.clamp(min=-1e4), *final, weights],
                            strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0.0)


def test_a_run_written_by_the_old_code_loads_and_translates_as_it_did(tmp_path, monkeypatch):
    run = tmp_path / "old_translate"
    shutil.copytree(OLD_RUN, run)
    monkeypatch.chdir(run)  # its config names its data by a relative path
    translator = load(run)
    assert type(translator) is Translator and translator.model == "lstm"
    assert translator.evaluate()["metrics"] == json.loads((run / "test_metrics.json").read_text())
    rows = [line.split("\t") for line in (run / "predictions.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    beams = translator.translate([row[0] for row in rows], return_scores=True)
    assert [text for text, _ in beams] == [row[2] for row in rows]
    assert [score for _, score in beams] == pytest.approx([float(row[4]) for row in rows], abs=1e-4)
    greedy = translator.translate([row[0] for row in rows], beam_size=1, return_scores=True)
    assert [text for text, _ in greedy] == [row[3] for row in rows]
