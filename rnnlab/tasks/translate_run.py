"""A translation run, end to end: sentence pairs → vocabularies → encoder–decoder → trainer → run directory.

This is the one place where a `TranslateConfig` becomes objects, and where a run directory is
written: config.json (the settings, both vocabularies and the tokenizer, so a run reloaded in a
fresh process translates exactly as it did), model.safetensors, metrics.jsonl, test_metrics.json,
predictions.tsv (the evaluated test pairs), loss.png, attention.png and report.html.

The test metrics are corpus BLEU (on lowercased tokens) and chrF (on detokenized text) of the
beam-search and greedy translations of the held-out test pairs, beside the copy-the-source
baseline (the English sentence offered as its own translation) on the same pairs. Evaluation
decodes at most `eval_pairs` test pairs (a random sample: the test part is in shuffled order).

Translations are word-level and lowercased. Each output may have ⌈max_ratio · S⌉ + 5 tokens for
a source of S tokens, and with `replace_unk` each output <unk> is replaced by the source word it
attends to most (Luong et al. 2015), which carries names over (Jacob → jacob).
"""

from __future__ import annotations

import dataclasses
import functools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch

from rnnlab.data.text import BOS, Tokenizer, Vocabulary, read_parallel_tsv, resolve_text_data
from rnnlab.report.atomic import write_bytes_atomically
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_attention, plot_losses
from rnnlab.tasks import seq2seq
from rnnlab.metrics.translation import chrf, corpus_bleu
from rnnlab.tasks.decoding import Translation, translate
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, num_parameters, read_run, resolve_device,
                              save_run, write_json)
from rnnlab.tasks.translate import ATTENTIONS, TeacherForcedBatch, Translator, translation_loss
from rnnlab.train import distributed

TASK = "translate"


@dataclass(frozen=True)
class TranslateConfig(RunConfig):
    """Everything a translation run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("embedding_dim", "min_freq", "max_length", "beam_size")

    model: str = field(default="gru", metadata={"choices": ["rnn", "lstm", "gru"],
                                                "help": "recurrent cell of the encoder and the decoder"})
    hidden_size: int = field(default=128, metadata={"help": "hidden units of the decoder and of each encoder "
                                                            "direction"})
    bidirectional: bool = field(default=True, metadata={"help": "the encoder reads the source in both directions"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the embeddings and the attentional state "
                                                          "(and between stacked layers)"})
    batch_size: int = field(default=32, metadata={"help": "sentence pairs per batch"})
    epochs: int = field(default=7, metadata={"help": "training epochs (early stopping may end sooner)"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    out: str = field(default="runs/translate", metadata={"help": "run directory to write"})
    data: str = field(default="kjv_rv", metadata={"help": "a TSV file of source<TAB>target lines, or a bundled "
                                                          "parallel data set's name"})
    embedding_dim: int = field(default=128, metadata={"help": "features of each token embedding"})
    attention: str = field(default="general", metadata={"choices": list(ATTENTIONS),
                                                        "help": "attention score: general (Luong) or additive "
                                                                "(Bahdanau)"})
    min_freq: int = field(default=4, metadata={"help": "words seen fewer times in training become <unk>"})
    max_length: int = field(default=40, metadata={"help": "training and validation pairs with more tokens on "
                                                          "either side are left out (test pairs are all kept)"})
    beam_size: int = field(default=5, metadata={"help": "beam width for evaluation and prediction (1: greedy)"})
    max_ratio: float = field(default=1.5, metadata={"help": "decode at most ceil(ratio x source tokens) + 5 tokens"})
    replace_unk: bool = field(default=True, metadata={"help": "an output <unk> becomes the source word it "
                                                               "attends to most (Luong et al. 2015)"})
    eval_pairs: int = field(default=500, metadata={"help": "test pairs decoded for the metrics (0: all of them)"})
    val_fraction: float = field(default=0.05, metadata={"help": "share of the pairs for validation (seeded shuffle)"})
    test_fraction: float = field(default=0.05, metadata={"help": "share of the pairs for testing (seeded shuffle)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {list(ATTENTIONS)}; received {self.attention!r}")
        if not self.max_ratio > 0:
            raise ValueError(f"max_ratio must be > 0; received {self.max_ratio!r}")
        if isinstance(self.eval_pairs, bool) or not isinstance(self.eval_pairs, int) or self.eval_pairs < 0:
            raise ValueError(f"eval_pairs must be an integer >= 0 (0: all); received {self.eval_pairs!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1); received {getattr(self, name)!r}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(f"val_fraction + test_fraction must be < 1; received "
                             f"{self.val_fraction} + {self.test_fraction}")


def prepare(config: TranslateConfig) -> seq2seq.Corpus:
    """Reads, splits and checks `config.data`; the vocabularies come from its training pairs."""
    return seq2seq.load_corpus(config.data, Tokenizer(kind="word", lowercase=True), val_fraction=config.val_fraction,
                               test_fraction=config.test_fraction, seed=config.seed, max_length=config.max_length,
                               min_freq=config.min_freq)


def build_translator(config: TranslateConfig, source_vocab: Vocabulary, target_vocab: Vocabulary) -> Translator:
    """The only place a `TranslateConfig` becomes a model (torch's global RNG decides its weights)."""
    if source_vocab.pad_id != target_vocab.pad_id:
        raise ValueError(f"both vocabularies must give <pad> the same id; received {source_vocab.pad_id} and "
                         f"{target_vocab.pad_id}")
    return Translator(len(source_vocab), len(target_vocab), pad_id=target_vocab.pad_id,
                      bos_id=target_vocab.id_of(BOS), cell=config.model, embedding_dim=config.embedding_dim,
                      hidden_size=config.hidden_size, num_layers=config.num_layers,
                      bidirectional=config.bidirectional, dropout=config.dropout, attention=config.attention)


class Loaded(NamedTuple):
    """A finished run, ready to translate."""

    config: TranslateConfig
    model: Translator
    tokenizer: Tokenizer
    source_vocab: Vocabulary
    target_vocab: Vocabulary


def load_run(run_dir: str | Path) -> Loaded:
    """A finished run's config, vocabularies, tokenizer and model (in eval mode)."""
    saved = read_run(run_dir, TASK)
    config = TranslateConfig(**saved["config"])
    source_vocab, target_vocab = (Vocabulary.from_dict(saved[key]) for key in ("source_vocab", "target_vocab"))
    model = build_translator(config, source_vocab, target_vocab)
    load_weights(model, run_dir)
    device = loaded_device(config.device)
    return Loaded(config, model.to(device), Tokenizer.from_dict(saved["tokenizer"]), source_vocab, target_vocab)


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained translator and the first `rows` test pairs, with the training loss, teacher-forced.

    The test pairs are those `evaluate` decodes (re-split with the run's seed, a random sample in
    that order), encoded with the run's vocabularies and padded as training batches are
    (`seq2seq.make_batch`); like `evaluate`, no test pair is left out for its length. The loss is
    `translation_loss`, the mean cross-entropy per real target token. The batch sits with the model
    on the device `load_run` chose.
    """
    loaded = load_run(run_dir)
    config, model = loaded.config, loaded.model
    corpus = prepare(config)._replace(source_vocab=loaded.source_vocab, target_vocab=loaded.target_vocab)
    examples = corpus.examples("test", max_length=sys.maxsize)[:rows]  # the limit only drops empty sides
    pad = loaded.target_vocab.pad_id
    batch, targets = seq2seq.make_batch(examples, pad_id=pad, bos_id=loaded.target_vocab.id_of(BOS))
    device = model.blocked.device
    batch, targets = TeacherForcedBatch(*(t.to(device) for t in batch)), targets.to(device)
    source_steps, target_steps = batch.source.shape[1], batch.target_inputs.shape[1]  # S, T
    return Probe(model=model, loss=lambda: translation_loss(model(batch), targets, pad_id=pad),
                 batch_size=len(targets), steps=source_steps,
                 description=f"{len(targets)} test pairs, sources up to {source_steps} tokens and targets up to "
                             f"{target_steps} (teacher-forced)")


def translate_tokens(loaded: Loaded, sources: list[list[str]], *, beam_size: int) -> list[Translation]:
    """Translations of tokenized sources with the run's settings (greedy when `beam_size` is 1)."""
    return translate(loaded.model, sources, loaded.source_vocab, loaded.target_vocab, beam_size=beam_size,
                     max_ratio=loaded.config.max_ratio, replace_unk=loaded.config.replace_unk)


def test_report(loaded: Loaded, texts: list[tuple[str, str]], tokens: list[seq2seq.TokenPair]) -> dict:
    """Greedy and beam translations of the test pairs, and BLEU and chrF of them and of copying the source."""
    started = time.perf_counter()
    sources = [source for source, _ in tokens]
    beams = translate_tokens(loaded, sources, beam_size=loaded.config.beam_size)
    greedy = translate_tokens(loaded, sources, beam_size=1)
    outputs = {"model": [t.tokens for t in beams], "model_greedy": [t.tokens for t in greedy], "copy_source": sources}
    references = [target for _, target in tokens]
    detok = loaded.tokenizer.detokenize
    metrics = {name: {"bleu": corpus_bleu(hyps, references),
                      "chrf": chrf([detok(h) for h in hyps], [detok(r) for r in references])}
               for name, hyps in outputs.items()}
    beam_scores, greedy_scores = [t.hypothesis.score for t in beams], [t.hypothesis.score for t in greedy]
    log_prob = {"beam": sum(beam_scores) / len(beams), "greedy": sum(greedy_scores) / len(greedy),
                "beam_better": sum(b > g for b, g in zip(beam_scores, greedy_scores)),
                "beam_worse": sum(b < g for b, g in zip(beam_scores, greedy_scores))}
    return {"metrics": metrics, "log_prob": log_prob, "texts": texts, "tokens": tokens, "outputs": outputs,
            "translations": beams, "seconds": time.perf_counter() - started}


def _capped(config: TranslateConfig, texts: list, tokens: list) -> tuple[list, list]:
    """The first eval_pairs pairs (all with eval_pairs 0)."""
    return texts[: config.eval_pairs or None], tokens[: config.eval_pairs or None]


def train_translate(config: TranslateConfig, *, resume: bool = False, quiet: bool = False, command: str = "") -> dict:
    """Trains a translator as `config` says and writes its run directory.

    Everything that can be wrong with the input is checked before anything is written; the run
    is built in `<out>.partial` and renamed to `<out>` when complete.

    Returns:
        {"metrics": BLEU and chrF of the model (beam), model_greedy and copy_source on the test
         pairs, "text": a printable summary, "run_dir", "seconds": training time, "parameters"}.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    corpus = prepare(config)
    train, val = corpus.examples("train", config.max_length), corpus.examples("val", config.max_length)
    model = build_translator(config, corpus.source_vocab, corpus.target_vocab).to(resolve_device(config.device))
    pad, bos = corpus.target_vocab.pad_id, corpus.target_vocab.id_of(BOS)
    stage.open()
    result, seconds = fit(
        model, functools.partial(translation_loss, pad_id=pad), config.trainer_options(), stage,
        batch_size=config.batch_size,
        train_batches=lambda epoch, generator: seq2seq.batches(train, config.batch_size, pad_id=pad, bos_id=bos,
                                                               generator=generator),
        val_batches=lambda: seq2seq.batches(val, config.batch_size, pad_id=pad, bos_id=bos), quiet=quiet)
    parameters = num_parameters(model)
    if not distributed.is_main():
        return {"metrics": {}, "text": "", "run_dir": str(stage.out), "seconds": seconds, "parameters": parameters}
    loaded = Loaded(config, model.eval(), corpus.tokenizer, corpus.source_vocab, corpus.target_vocab)
    report = test_report(loaded, *_capped(config, *corpus.part("test")))
    save_run(stage.path, model, TASK, {"config": dataclasses.asdict(config), "tokenizer": corpus.tokenizer.to_dict(),
                                       "source_vocab": corpus.source_vocab.to_dict(),
                                       "target_vocab": corpus.target_vocab.to_dict()})
    write_json(stage.path / "test_metrics.json", report["metrics"])
    text = summary_text(config, report, seconds, parameters, len(train))
    write_outputs(stage.path, loaded, report, result.history, command=command or "rnnlab train translate ...",
                  summary=text)
    out = stage.finish()
    return {"metrics": report["metrics"], "text": text, "run_dir": str(out), "seconds": seconds,
            "parameters": parameters}


def evaluate_translate(run_dir: str | Path, data: str | None = None) -> dict:
    """BLEU and chrF of the run's beam and greedy translations and of copying the source, JSON-ready.

    With `data` None, the run's own test pairs (re-split with its seed); otherwise every pair of
    `data` (a TSV file or bundled name), capped at the run's eval_pairs.
    """
    loaded = load_run(run_dir)
    config = loaded.config
    if data is None:
        texts, tokens = _capped(config, *prepare(config).part("test"))
    else:
        texts, tokens = _capped(config, *seq2seq.read_pairs(data, loaded.tokenizer))
    report = test_report(loaded, texts, tokens)
    return {"data": data or config.data, "pairs": len(texts), "beam_size": config.beam_size,
            "metrics": report["metrics"], "log_prob": report["log_prob"]}


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_translate`'s result."""
    lines = [f"{result['data']}: {result['pairs']} test pairs, beam {result['beam_size']}",
             f"{'':14}{'BLEU':>8}{'chrF':>8}"]
    lines += [f"{name:14}{values['bleu']:>8.2f}{values['chrf']:>8.2f}" for name, values in result["metrics"].items()]
    log_prob = result["log_prob"]
    lines.append(f"mean log p(translation | source): beam {log_prob['beam']:.3f}, greedy {log_prob['greedy']:.3f} "
                 f"(beam higher on {log_prob['beam_better']}, lower on {log_prob['beam_worse']})")
    return "\n".join(lines)


def translate_texts(run_dir: str | Path, texts: list[str], *, beam_size: int | None = None) -> list[tuple[str, float]]:
    """(translation, log-probability) of each English text, by the run's beam size unless `beam_size` is given."""
    loaded = load_run(run_dir)
    beam_size = loaded.config.beam_size if beam_size is None else beam_size
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be a positive integer; received {beam_size!r}")
    translations = translate_tokens(loaded, [loaded.tokenizer(text) for text in texts], beam_size=beam_size)
    return [(loaded.tokenizer.detokenize(t.tokens), t.hypothesis.score) for t in translations]


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`'s output: the translation of --text, or of each source of the --data TSV, one per line."""
    if (data is None) == (text is None):
        raise ValueError("a translation run predicts from exactly one of --text (an English sentence) or --data "
                         "(a source<TAB>target TSV file or bundled name)")
    if text is not None:
        sources = [text]
    else:
        sources = [source for source, _ in read_parallel_tsv(resolve_text_data(data, "parallel"))]
    return [translation for translation, _ in translate_texts(run_dir, sources)]


def summary_text(config: TranslateConfig, report: dict, seconds: float, parameters: int, num_train: int) -> str:
    lines = [f"{config.model.upper()} encoder-decoder, {config.attention} attention, on {config.data!r}: "
             f"{parameters} parameters, {num_train} training pairs, trained in {seconds:.1f} s; "
             f"{len(report['texts'])} test pairs decoded in {report['seconds']:.1f} s:",
             f"{'':14}{'BLEU':>8}{'chrF':>8}"]
    lines += [f"{name:14}{values['bleu']:>8.2f}{values['chrf']:>8.2f}" for name, values in report["metrics"].items()]
    return "\n".join(lines)


def write_outputs(run_dir: Path, loaded: Loaded, report: dict, history: list, *, command: str, summary: str) -> None:
    """predictions.tsv, loss.png, attention.png and report.html of a finished training run."""
    rows = ["source\treference\ttranslation\tgreedy\tlog_prob"]
    detok = loaded.tokenizer.detokenize
    outputs = report["outputs"]
    for (source, reference), beam, greedy, translation in zip(report["texts"], outputs["model"],
                                                              outputs["model_greedy"], report["translations"]):
        rows.append("\t".join([source, reference, detok(beam), detok(greedy), f"{translation.hypothesis.score:.4f}"]))
    write_bytes_atomically(run_dir / "predictions.tsv", ("\n".join(rows) + "\n").encode("utf-8"))
    plot_losses(history, run_dir / "loss.png")
    _plot_example(run_dir / "attention.png", loaded, report)
    table = Table(columns=["translation", "BLEU", "chrF"], caption=f"{len(report['texts'])} held-out test pairs",
                  rows=[[name, values["bleu"], values["chrf"]] for name, values in report["metrics"].items()])
    examples = Table(columns=["source", "reference", "translation"],
                     rows=[[source, reference, detok(beam)] for (source, reference), beam
                           in list(zip(report["texts"], report["outputs"]["model"]))[:12]])
    settings = loaded.config.settings_table()
    log_prob = report["log_prob"]
    sections = [
        Section(heading="Test metrics", tables=[table], paragraphs=[
            f"model: beam search of width {loaded.config.beam_size}; model_greedy: greedy decoding; copy_source: "
            "the English source offered as the translation. BLEU is corpus BLEU-4 on lowercased tokens, chrF "
            "the character 6-gram F-score (beta = 2) on the detokenized text; both 0 to 100.",
            f"Mean log-probability of the translations under the model: beam {log_prob['beam']:.3f}, greedy "
            f"{log_prob['greedy']:.3f}; the beam found a more probable translation for {log_prob['beam_better']} "
            f"pairs and a less probable one for {log_prob['beam_worse']} (never, by construction)."]),
        Section(heading="Examples", tables=[examples]),
        Section(heading="Attention", images=[run_dir / "attention.png"], paragraphs=[
            "Attention weights of one test translation: each output token's weights over the source tokens."]),
        Section(heading="Training", images=[run_dir / "loss.png"], paragraphs=[summary]),
        Section(heading="Configuration", tables=[settings], paragraphs=[
            f"Vocabularies (training pairs only): {len(loaded.source_vocab)} source and "
            f"{len(loaded.target_vocab)} target tokens; word-level, lowercased."]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab translate: {loaded.config.data}", sections=sections,
                 command=command)


def _plot_example(path: Path, loaded: Loaded, report: dict) -> None:
    """attention.png of the first test pair short enough to read (else the first)."""
    pairs = [(source, t) for (source, _), t in zip(report["tokens"], report["translations"])]
    source, translation = next(((s, t) for s, t in pairs if len(s) <= 20 and len(t.hypothesis.tokens) <= 24), pairs[0])
    outputs = loaded.target_vocab.decode(translation.hypothesis.tokens)  # as emitted: <unk>s and </s> shown
    plot_attention(translation.attention.numpy(), source, outputs, path, title="Attention of one test translation")


SPEC = Task(name=TASK, help="translate English to Spanish (or any source<TAB>target pairs) with attention",
            config=TranslateConfig, train=train_translate, evaluate=evaluate_translate, evaluate_text=evaluate_text,
            predict=predict_lines,
            headline=Headline('chrf', True, 'copy_source'), probe=probe)
