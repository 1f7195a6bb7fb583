"""Text generation as a task: a text → splits by position → vocabulary → `LanguageModel` → sampled text.

The text (a UTF-8 file, the bundled "hamlet", or strings in memory) is split by position into
train, validation and test (`corpus.encode_splits`; the split does not depend on the seed). The
vocabulary is built on the training split alone and saved with the tokenizer settings and the
unigram counts in config.json, so a reloaded run reads and writes text exactly as the run that
trained it. Training is stateful truncated BPTT (`CarriedState`); held-out metrics are the test
split's perplexity and bits per character, beside the unigram baseline.

A run directory holds, beside the pipeline's files, samples.txt: continuations of the test split's
first line at a few temperatures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnlab.data.frames import name_of, quoted
from rnnlab.data.text import UNK, Tokenizer, Vocabulary
from rnnlab.metrics.language import language_metrics
from rnnlab.report.atomic import write_text
from rnnlab.report.html import Section, Table
from rnnlab.tasks.api import Graph, Headline, Outputs, Probe, RunConfig, SavedState, Task, stateful_graph
from rnnlab.tasks.generate.baselines import unigram_log_probs, unigram_nll
from rnnlab.tasks.generate.corpus import Corpus, characters_covered, encode_splits, read_corpus
from rnnlab.tasks.generate.model import CarriedState, LanguageModel, lm_loss, stream_batches, stream_nll
from rnnlab.tasks.generate.sampling import continue_text

EVAL_BPTT = 1000  # evaluation reads one stream in chunks this long: fewer Python steps, same result
SAMPLE_TEMPERATURES = (0.0, 0.5, 0.8, 1.0)
METRICS = ("perplexity", "bits_per_character", "cross_entropy")


@dataclass(frozen=True)
class GenerateConfig(RunConfig):
    """Everything a text-generation run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("bptt", "embedding_dim")
    DATA = ("data",)

    hidden_size: int = field(default=256, metadata={"help": "hidden units per layer"})
    dropout: float = field(default=0.2, metadata={"help": "dropout on embeddings, between layers and before the head"})
    batch_size: int = field(default=16, metadata={"help": "parallel streams the training text is cut into"})
    epochs: int = field(default=20, metadata={"help": "training epochs (early stopping may end sooner)"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    learning_rate: float = field(default=5e-3, metadata={"help": "optimizer learning rate"})
    schedule: str | None = field(default="cosine", metadata={
        "type": str, "choices": ["constant", "cosine", "step", "linear"], "help": "learning-rate schedule"})
    data: str | None = field(default="hamlet", metadata={"type": str, "help": "a UTF-8 text file, or a bundled "
                                                         "text's name"})
    level: str = field(default="char", metadata={"choices": ["char", "word"], "help": "model characters or words"})
    case: str = field(default="auto", metadata={"choices": ["auto", "keep", "lower"],
                                                "help": "lowercase the text? auto: keep for char, lower for word"})
    min_freq: int | None = field(default=None, metadata={"type": int, "help": "tokens rarer than this in training "
                                                         "become <unk> (default: 1 for char, 2 for word)"})
    bptt: int = field(default=100, metadata={"help": "time steps per chunk of truncated backpropagation"})
    embedding_dim: int = field(default=64, metadata={"help": "features of a token embedding"})
    val_fraction: float = field(default=0.1, metadata={"help": "share of the text for validation"})
    test_fraction: float = field(default=0.1, metadata={"help": "share of the text for testing (the end)"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.bidirectional:
            raise ValueError("bidirectional must be False: a language model reads left to right; received True")
        if self.min_freq is not None and self.min_freq < 1:
            raise ValueError(f"min_freq must be a positive integer; received {self.min_freq!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5); received {getattr(self, name)!r}")

    def tokenizer(self) -> Tokenizer:
        lowercase = self.case == "lower" or (self.case == "auto" and self.level == "word")
        return Tokenizer(kind=self.level, lowercase=lowercase)

    def vocabulary_min_freq(self) -> int:
        return self.min_freq if self.min_freq is not None else (1 if self.level == "char" else 2)


def default_length(level: str) -> int:
    """Tokens generated when no length is given: 300 characters or 60 words."""
    return 300 if level == "char" else 60


class GenerateTask(Task):
    name = "generate"
    help = "train a character- or word-level language model on a text and generate from it"
    config_class = GenerateConfig
    headline = Headline("bits_per_character", False, "unigram")

    def __init__(self, config: GenerateConfig) -> None:
        super().__init__(config)
        self.tokenizer: Tokenizer | None = None
        self.vocab: Vocabulary | None = None
        self.counts: list[int] | None = None  # training count of each token id, for the unigram baseline

    def state_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.to_dict(), "vocabulary": self.vocab.to_dict(),
                "unigram_counts": self.counts}

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        self.tokenizer = state.tokenizer("tokenizer")
        self.vocab = state.vocabulary("vocabulary", (UNK,))
        self.counts = state.integers("unigram_counts", length=len(self.vocab), minimum=0)

    # --- training --------------------------------------------------------------------------------

    def prepare(self, data: Any, validation_data: Any = None) -> Corpus:
        """Reads, splits and tokenizes the text; builds the vocabulary and unigram counts unless fitted.

        With `validation_data`, that text validates and the validation share of `data` trains too;
        the test split is the one `data` gives without it.
        """
        config, fitted = self.config, self.vocab is not None
        text = read_corpus(data)
        validation = None if validation_data is None else read_corpus(validation_data, "validation_data")
        # a fitted run only scores: its training split need not fill a training batch
        corpus = encode_splits(text, self.tokenizer or config.tokenizer(), self.vocab, val_fraction=config.val_fraction,
                               test_fraction=config.test_fraction, min_freq=config.vocabulary_min_freq(),
                               train_minimum=2 if fitted else 2 * config.batch_size, where=f"data {quoted(data)}",
                               validation=validation)
        if not fitted:
            self.tokenizer, self.vocab = corpus.tokenizer, corpus.vocab
            self.counts = torch.bincount(corpus.ids["train"], minlength=len(corpus.vocab)).tolist()
        return corpus

    def build_model(self) -> LanguageModel:
        config = self.config
        return LanguageModel(len(self.vocab), cell=config.model, embedding_dim=config.embedding_dim,
                             hidden_size=config.hidden_size, num_layers=config.num_layers, dropout=config.dropout)

    def training_module(self, model: LanguageModel) -> CarriedState:
        return CarriedState(model)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return lm_loss(outputs, targets)

    def train_batches(self, prepared: Corpus, epoch: int, generator: torch.Generator):
        """One epoch of stateful TBPTT batches; a random start offset in [0, bptt) moves the chunk cuts each epoch."""
        ids, batch_size, bptt = prepared.ids["train"], self.config.batch_size, self.config.bptt
        span = min(bptt, len(ids) // batch_size // 2)
        offset = int(torch.randint(0, span, (1,), generator=generator)) if span > 1 else 0
        return stream_batches(ids, batch_size, bptt, offset=offset)

    def val_batches(self, prepared: Corpus):
        return stream_batches(prepared.ids["val"], 1, EVAL_BPTT)

    # --- results ---------------------------------------------------------------------------------

    def score(self, model: nn.Module, prepared: Corpus) -> dict:
        """Perplexity and bits per character of the model and of the unigram baseline on the test split."""
        ids, characters = prepared.ids["test"], characters_covered(prepared, "test")
        model_nats, tokens = stream_nll(model, ids, bptt=EVAL_BPTT)
        unigram_nats, _ = unigram_nll(unigram_log_probs(self.counts), ids)
        return {"metrics": {"model": language_metrics(model_nats, tokens, characters),
                            "unigram": language_metrics(unigram_nats, tokens, characters)}}

    def generate(self, model: nn.Module, prompt: str, *, length: int | None = None, temperature: float = 0.8,
                 top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
        """The prompt followed by a sampled continuation (see `sampling.continue_text`)."""
        length = default_length(self.config.level) if length is None else length
        return continue_text(model, self.tokenizer, self.vocab, prompt, length=length, temperature=temperature,
                             top_k=top_k, top_p=top_p, seed=seed)

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Corpus, evaluation: dict) -> Outputs:
        config, metrics = self.config, evaluation["metrics"]
        samples = self._write_samples(run_dir / "samples.txt", model, prepared)
        names = ["perplexity", "bits_per_character", "cross_entropy", "bits_per_token"]
        table = Table(columns=["model", *names], rows=[[m, *(v[n] for n in names)] for m, v in metrics.items()],
                      caption=f"Test split: {metrics['model']['tokens']} predicted {config.level} tokens, "
                              f"{metrics['model']['characters']} characters")
        sections = [
            Section(heading="Test metrics", paragraphs=[
                "Cross-entropy is in nats per predicted token and perplexity is its exponential; bits per character "
                "divide the total bits by the characters the predicted tokens cover. The unigram baseline predicts "
                "every token from its training frequency, with add-one smoothing."], tables=[table]),
            Section(heading="Samples", paragraphs=[p for heading, text in samples
                                                   for p in (heading + ":", text.replace("\n", " ⏎ "))])]
        return Outputs(
            title=f"rnnlab generate: {config.level}-level model of {name_of(config.data)}", sections=sections,
            training=["Loss: cross-entropy in nats per token (validation read as one stream with the state carried)."],
            configuration=[f"Tokenizer: {self.tokenizer.kind} level, lowercase {self.tokenizer.lowercase}; vocabulary "
                           f"of {len(self.vocab)} tokens built on the training split."])

    def _write_samples(self, path: Path, model: nn.Module, corpus: Corpus) -> list[tuple[str, str]]:
        """A few continuations of the test split's first line, one per temperature; returns (heading, text) pairs."""
        prompt = next((line for line in corpus.texts["test"].split("\n") if corpus.tokenizer(line)), "\n")[:60]
        seed, length = self.config.seed, default_length(self.config.level)
        samples = [(f"temperature {t:g}{' (greedy)' if t == 0 else ''}, seed {seed}, {length} tokens",
                    self.generate(model, prompt, length=length, temperature=t, seed=seed))
                   for t in SAMPLE_TEMPERATURES]
        write_text(path, "".join(f"=== {heading}\n{text}\n\n" for heading, text in samples))
        return samples

    def describe(self) -> str:
        return f"{self.config.model.upper()} {self.config.level}-level language model on {quoted(self.config.data)}"

    def metrics_text(self, metrics: dict) -> str:
        rows = [f"{'':10}" + "".join(f"{name:>20}" for name in METRICS)]
        rows += [f"{model:10}" + "".join(f"{values[n]:>20.4f}" for n in METRICS) for model, values in metrics.items()]
        return "\n".join(rows)

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """Test-split metrics of the model and the unigram baseline; `data` replaces the run's text (same split)."""
        corpus = self.own_data() if data is None else self.prepare(data)
        metrics = self.score(model, corpus)["metrics"]
        return {"data": name_of(self.config.data if data is None else data), "level": self.config.level,
                "test_tokens": metrics["model"]["tokens"], "test_characters": metrics["model"]["characters"],
                "metrics": metrics}

    def evaluate_text(self, result: dict) -> str:
        return (f"{result['data']}: {result['level']} level, test split: {result['test_tokens']} predicted tokens "
                f"covering {result['test_characters']} characters\n" + self.metrics_text(result["metrics"]))

    def probe(self, model: nn.Module, prepared: Corpus, rows: int) -> Probe:
        """The language model and `rows` streams of the test split, with the training loss (`lm_loss`).

        The test split is cut into `rows` streams as training cuts its split (`stream_batches`), and
        the batch is their first chunk of `bptt` tokens, read from a zero state as each epoch's first
        training batch is. A test split too short for `rows` chunks of `bptt` + 1 tokens gives fewer
        streams (at least one, of fewer tokens if need be).
        """
        ids, bptt = prepared.ids["test"], self.config.bptt
        streams = max(1, min(rows, len(ids) // (bptt + 1)))  # each stream holds a whole first chunk
        batch, targets = next(stream_batches(ids, streams, bptt))  # (B, T) each
        model.eval()  # scoring restores the mode training left (dropout on); a probe measures the model as it predicts
        device = next(model.parameters()).device
        tokens, targets = batch.tokens.to(device), targets.to(device)
        steps = tokens.shape[1]
        unit = "characters" if self.config.level == "char" else "words"
        return Probe(model=model, loss=lambda: lm_loss(model(tokens)[0], targets), batch_size=streams, steps=steps,
                     description=f"{streams} test streams of {steps} {unit}")

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """tokens (B, T), h_0[, c_0] (L, B, H) -> logits (B, T, V), h_n[, c_n]."""
        model.eval()  # a fitted model may still be in training mode: the graph must not hold its dropout
        return [stateful_graph(model, torch.zeros(2, 3, dtype=torch.int64), "tokens", "logits")]

