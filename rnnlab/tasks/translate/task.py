"""Translation as a task: sentence pairs → seeded split → vocabularies → `TranslatorNetwork` → decoded text.

The pairs (a TSV file, the bundled "kjv_rv", or pairs in memory) are split at random (seeded)
into training, validation and test parts; both vocabularies come from the training pairs alone
and are saved in config.json with the tokenizer, so a run reloaded in a fresh process translates
exactly as it did. Translations are word-level and lowercased. Each output may have
⌈max_ratio · S⌉ + 5 tokens for a source of S tokens, and with `replace_unk` each output <unk> is
replaced by the source word it attends to most (Luong et al. 2015), which carries names over.

The test metrics are corpus BLEU (on lowercased tokens) and chrF (on detokenized text) of the
beam-search and greedy translations of the held-out test pairs, beside the copy-the-source
baseline (the source offered as its own translation). Evaluation decodes at most `eval_pairs`
test pairs (a random sample: the test part is in shuffled order).

A run directory holds, beside the pipeline's files, predictions.tsv (the evaluated test pairs)
and attention.png.

This module is a little longer than the style's ~300 lines: its hooks include the test report
(beam and greedy decoding, BLEU and chrF, the copy baseline), which every other hook's data feeds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from rnnlab.data.frames import name_of, quoted
from rnnlab.data.text import BOS, EOS, PAD, UNK, Tokenizer, Vocabulary
from rnnlab.metrics.translation import chrf, corpus_bleu
from rnnlab.report.atomic import write_text
from rnnlab.report.html import Section, Table
from rnnlab.report.plots import plot_attention
from rnnlab.tasks.api import Graph, Headline, Outputs, Probe, RunConfig, SavedState, Task
from rnnlab.tasks.translate import corpus
from rnnlab.tasks.translate.corpus import Corpus, Example, TokenPair
from rnnlab.tasks.translate.decoding import Translation, translate
from rnnlab.tasks.translate.graphs import decoder_graph, encoder_graph
from rnnlab.tasks.translate.model import ATTENTIONS, TeacherForcedBatch, TranslatorNetwork, translation_loss


@dataclass(frozen=True)
class TranslateConfig(RunConfig):
    """Everything a translation run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("embedding_dim", "min_freq", "max_length", "beam_size")
    DATA = ("data",)

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
    data: str | None = field(default="kjv_rv", metadata={"type": str, "help": "a TSV file of source<TAB>target "
                                                         "lines, or a bundled parallel data set's name"})
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
        if not self.max_ratio > 0:
            raise ValueError(f"max_ratio must be > 0; received {self.max_ratio!r}")
        if self.eval_pairs < 0:
            raise ValueError(f"eval_pairs must be an integer >= 0 (0: all); received {self.eval_pairs!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"{name} must be in (0, 1); received {getattr(self, name)!r}")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError(f"val_fraction + test_fraction must be < 1; received "
                             f"{self.val_fraction} + {self.test_fraction}")

    def capped(self, items: list) -> list:
        """The first eval_pairs items (all of them with eval_pairs 0)."""
        return items[: self.eval_pairs or None]


class Prepared(NamedTuple):
    """A run's pairs: the corpus, and its training and validation pairs as ids (those within max_length)."""

    corpus: Corpus
    train: list[Example]
    val: list[Example]


class TranslateTask(Task):
    name = "translate"
    help = "translate English to Spanish (or any source<TAB>target pairs) with attention"
    config_class = TranslateConfig
    headline = Headline("chrf", True, "copy_source")

    def __init__(self, config: TranslateConfig) -> None:
        super().__init__(config)
        self.tokenizer: Tokenizer | None = None
        self.source_vocab: Vocabulary | None = None
        self.target_vocab: Vocabulary | None = None

    def state_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.to_dict(), "source_vocab": self.source_vocab.to_dict(),
                "target_vocab": self.target_vocab.to_dict()}

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        self.tokenizer = state.tokenizer("tokenizer")
        self.source_vocab = state.vocabulary("source_vocab", (PAD, UNK))
        self.target_vocab = state.vocabulary("target_vocab", (PAD, UNK, BOS, EOS))

    # --- training --------------------------------------------------------------------------------

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        """Reads, splits and checks `data`; builds the vocabularies on its training pairs unless fitted.

        With `validation_data`, those pairs validate and the validation part of `data` trains too;
        the test part is the one `data` gives without them.
        """
        config = self.config
        fitted = None if self.source_vocab is None else (self.source_vocab, self.target_vocab)
        loaded = corpus.load_corpus(data, self.tokenizer or Tokenizer(kind="word", lowercase=True),
                                    val_fraction=config.val_fraction, test_fraction=config.test_fraction,
                                    seed=config.seed, max_length=config.max_length, min_freq=config.min_freq,
                                    vocabularies=fitted, validation=validation_data)
        self.tokenizer, self.source_vocab, self.target_vocab = (loaded.tokenizer, loaded.source_vocab,
                                                                loaded.target_vocab)
        return Prepared(loaded, loaded.examples("train", config.max_length), loaded.examples("val", config.max_length))

    @property
    def pad_id(self) -> int:
        return self.target_vocab.pad_id

    @property
    def bos_id(self) -> int:
        return self.target_vocab.id_of(BOS)

    def build_model(self) -> TranslatorNetwork:
        config, source, target = self.config, self.source_vocab, self.target_vocab
        if source.pad_id != target.pad_id:
            raise ValueError(f"both vocabularies must give <pad> the same id; received {source.pad_id} and "
                             f"{target.pad_id}")
        return TranslatorNetwork(len(source), len(target), pad_id=self.pad_id, bos_id=self.bos_id, cell=config.model,
                                 embedding_dim=config.embedding_dim, hidden_size=config.hidden_size,
                                 num_layers=config.num_layers, bidirectional=config.bidirectional,
                                 dropout=config.dropout, attention=config.attention)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return translation_loss(outputs, targets, pad_id=self.pad_id)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        return corpus.batches(prepared.train, self.config.batch_size, pad_id=self.pad_id, bos_id=self.bos_id,
                             generator=generator)

    def val_batches(self, prepared: Prepared):
        return corpus.batches(prepared.val, self.config.batch_size, pad_id=self.pad_id, bos_id=self.bos_id)

    # --- translations ----------------------------------------------------------------------------

    def translate_tokens(self, model: nn.Module, sources: list[list[str]], beam_size: int) -> list[Translation]:
        """Translations of tokenized sources with the run's settings (greedy when `beam_size` is 1)."""
        return translate(model, sources, self.source_vocab, self.target_vocab, beam_size=beam_size,
                         max_ratio=self.config.max_ratio, replace_unk=self.config.replace_unk)

    def translate_texts(self, model: nn.Module, texts: list[str], beam_size: int | None) -> list[tuple[str, float]]:
        """(translation, log-probability) of each text, by the run's beam size unless `beam_size` is given."""
        beam_size = self.config.beam_size if beam_size is None else beam_size
        if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
            raise ValueError(f"beam_size must be a positive integer; received {beam_size!r}")
        translations = self.translate_tokens(model, [self.tokenizer(text) for text in texts], beam_size)
        return [(self.tokenizer.detokenize(t.tokens), t.hypothesis.score) for t in translations]

    def report(self, model: nn.Module, texts: list[tuple[str, str]], tokens: list[TokenPair]) -> dict:
        """Greedy and beam translations of the pairs, and BLEU and chrF of them and of copying the source."""
        started = time.perf_counter()
        sources = [source for source, _ in tokens]
        beams = self.translate_tokens(model, sources, self.config.beam_size)
        greedy = self.translate_tokens(model, sources, 1)
        outputs = {"model": [t.tokens for t in beams], "model_greedy": [t.tokens for t in greedy],
                   "copy_source": sources}
        references, detok = [target for _, target in tokens], self.tokenizer.detokenize
        metrics = {name: {"bleu": corpus_bleu(hyps, references),
                          "chrf": chrf([detok(h) for h in hyps], [detok(r) for r in references])}
                   for name, hyps in outputs.items()}
        beam_scores, greedy_scores = [t.hypothesis.score for t in beams], [t.hypothesis.score for t in greedy]
        log_prob = {"beam": sum(beam_scores) / len(beams), "greedy": sum(greedy_scores) / len(greedy),
                    "beam_better": sum(b > g for b, g in zip(beam_scores, greedy_scores)),
                    "beam_worse": sum(b < g for b, g in zip(beam_scores, greedy_scores))}
        return {"metrics": metrics, "log_prob": log_prob, "texts": texts, "tokens": tokens, "outputs": outputs,
                "translations": beams, "seconds": time.perf_counter() - started}

    def score(self, model: nn.Module, prepared: Prepared) -> dict:
        texts, tokens = prepared.corpus.part("test")
        return self.report(model, self.config.capped(texts), self.config.capped(tokens))

    # --- outputs ---------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Prepared, evaluation: dict) -> Outputs:
        _write_predictions(run_dir / "predictions.tsv", evaluation, self.tokenizer.detokenize)
        _plot_example(run_dir / "attention.png", evaluation, self.target_vocab)
        config, detok, log_prob = self.config, self.tokenizer.detokenize, evaluation["log_prob"]
        table = Table(columns=["translation", "BLEU", "chrF"],
                      caption=f"{len(evaluation['texts'])} held-out test pairs",
                      rows=[[name, v["bleu"], v["chrf"]] for name, v in evaluation["metrics"].items()])
        examples = Table(columns=["source", "reference", "translation"],
                         rows=[[source, reference, detok(beam)] for (source, reference), beam
                               in list(zip(evaluation["texts"], evaluation["outputs"]["model"]))[:12]])
        sections = [
            Section(heading="Test metrics", tables=[table], paragraphs=[
                f"model: beam search of width {config.beam_size}; model_greedy: greedy decoding; copy_source: "
                "the source offered as the translation. BLEU is corpus BLEU-4 on lowercased tokens, chrF the "
                "character 6-gram F-score (beta = 2) on the detokenized text; both 0 to 100.",
                f"Mean log-probability of the translations under the model: beam {log_prob['beam']:.3f}, greedy "
                f"{log_prob['greedy']:.3f}; the beam found a more probable translation for {log_prob['beam_better']} "
                f"pairs and a less probable one for {log_prob['beam_worse']} (never, by construction)."]),
            Section(heading="Examples", tables=[examples]),
            Section(heading="Attention", images=[run_dir / "attention.png"], paragraphs=[
                "Attention weights of one test translation: each output token's weights over the source tokens."])]
        trained = len(prepared.train)
        return Outputs(
            title=f"rnnlab translate: {name_of(config.data)}", sections=sections,
            training=[f"Loss: cross-entropy per real target token, teacher-forced, on {trained} training pairs of at "
                      f"most {config.max_length} tokens a side; {len(evaluation['texts'])} test pairs decoded in "
                      f"{evaluation['seconds']:.1f} s."],
            configuration=[f"Vocabularies (training pairs only): {len(self.source_vocab)} source and "
                           f"{len(self.target_vocab)} target tokens; word-level, lowercased."])

    def describe(self) -> str:
        config = self.config
        return f"{config.model.upper()} encoder-decoder, {config.attention} attention, on {quoted(config.data)}"

    def metrics_text(self, metrics: dict) -> str:
        lines = [f"{'':14}{'BLEU':>8}{'chrF':>8}"]
        return "\n".join(lines + [f"{name:14}{v['bleu']:>8.2f}{v['chrf']:>8.2f}" for name, v in metrics.items()])

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """BLEU and chrF of the beam and greedy translations and of copying the source, JSON-ready: on the
        run's own test pairs when `data` is None, else on every pair of `data`, capped at eval_pairs."""
        if data is None:
            texts, tokens = self.own_data().corpus.part("test")
        else:
            texts = corpus.read_texts(data)
            tokens = corpus.tokenize(texts, self.tokenizer)
        report = self.report(model, self.config.capped(texts), self.config.capped(tokens))
        return {"data": name_of(self.config.data if data is None else data), "pairs": len(report["texts"]),
                "beam_size": self.config.beam_size, "metrics": report["metrics"], "log_prob": report["log_prob"]}

    def evaluate_text(self, result: dict) -> str:
        log_prob = result["log_prob"]
        return "\n".join([
            f"{result['data']}: {result['pairs']} test pairs, beam {result['beam_size']}",
            self.metrics_text(result["metrics"]),
            f"mean log p(translation | source): beam {log_prob['beam']:.3f}, greedy {log_prob['greedy']:.3f} "
            f"(beam higher on {log_prob['beam_better']}, lower on {log_prob['beam_worse']})"])

    def probe(self, model: nn.Module, prepared: Prepared, rows: int) -> Probe:
        """The translator and the first `rows` test pairs, with the training loss, teacher-forced.

        The test pairs are those `evaluate` decodes (a random sample in the seeded order), encoded
        with the run's vocabularies and padded as training batches are (`corpus.make_batch`); like
        `evaluate`, no test pair is left out for its length. The loss is `translation_loss`, the
        mean cross-entropy per real target token.
        """
        examples = prepared.corpus.examples("test", max_length=sys.maxsize)[:rows]  # the limit only drops empty sides
        batch, targets = corpus.make_batch(examples, pad_id=self.pad_id, bos_id=self.bos_id)
        model.eval()  # a probe measures the model as it predicts (no dropout)
        device = model.blocked.device
        batch, targets = TeacherForcedBatch(*(t.to(device) for t in batch)), targets.to(device)
        source_steps, target_steps = batch.source.shape[1], batch.target_inputs.shape[1]  # S, T
        return Probe(model=model, loss=lambda: self.loss(model(batch), targets), batch_size=len(targets),
                     steps=source_steps, description=f"{len(targets)} test pairs, sources up to {source_steps} "
                                                     f"tokens and targets up to {target_steps} (teacher-forced)")

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """The encoder (source, source_lengths -> memory, keys, mask, h_0[, c_0]) and one decoder call
        (target_inputs, memory, keys, mask, h_0[, c_0] -> logits, h_n[, c_n], attention)."""
        model.eval()  # the graphs must not hold dropout
        encoder = encoder_graph(model)
        return [encoder, decoder_graph(model, encoder)]


def _write_predictions(path: Path, report: dict, detok) -> None:
    """predictions.tsv: each evaluated test pair, its beam and greedy translations and the beam's log-probability."""
    rows = ["source\treference\ttranslation\tgreedy\tlog_prob"]
    outputs = report["outputs"]
    for (source, reference), beam, greedy, translation in zip(report["texts"], outputs["model"],
                                                              outputs["model_greedy"], report["translations"]):
        rows.append("\t".join([source, reference, detok(beam), detok(greedy), f"{translation.hypothesis.score:.4f}"]))
    write_text(path, "\n".join(rows) + "\n")


def _plot_example(path: Path, report: dict, target_vocab: Vocabulary) -> None:
    """attention.png of the first test pair short enough to read (else the first)."""
    found = [(source, t) for (source, _), t in zip(report["tokens"], report["translations"])]
    source, translation = next(((s, t) for s, t in found if len(s) <= 20 and len(t.hypothesis.tokens) <= 24), found[0])
    outputs = target_vocab.decode(translation.hypothesis.tokens)  # as emitted: <unk>s and </s> shown
    plot_attention(translation.attention.numpy(), source, outputs, path, title="Attention of one test translation")
