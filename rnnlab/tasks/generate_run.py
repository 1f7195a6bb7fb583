"""A text-generation run, end to end: config → text → splits → vocabulary → model → trainer → run directory.

The text (a UTF-8 file, or the bundled "hamlet") is split by position into train, validation and
test: the last `test_fraction` of its characters is the test split, the `val_fraction` before it
the validation split, each cut moved forward to the next line start so no line is broken (the
split does not depend on the seed). The vocabulary is built on the training split alone and saved
with the tokenizer settings in config.json, so a reloaded run reads and writes text exactly as the
run that trained it.

A run directory holds config.json, model.safetensors, metrics.jsonl, test_metrics.json,
samples.txt, loss.png and report.html.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch

from rnnlab.data.errors import DataError
from rnnlab.data.splits import split_text
from rnnlab.data.text import UNK, Tokenizer, Vocabulary, read_text, resolve_text_data
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_losses
from rnnlab.tasks.generate import (CarriedState, LanguageModel, language_metrics, lm_loss, sample, stream_batches,
                                   stream_nll, unigram_log_probs, unigram_nll)
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, num_parameters, read_run, resolve_device,
                              save_run, write_json, write_text)
from rnnlab.train import distributed

TASK = "generate"
EVAL_BPTT = 1000  # evaluation reads one stream in chunks this long: fewer Python steps, same result
SAMPLE_TEMPERATURES = (0.0, 0.5, 0.8, 1.0)


@dataclass(frozen=True)
class GenerateConfig(RunConfig):
    """Everything a text-generation run depends on; saved as the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("bptt", "embedding_dim")

    hidden_size: int = field(default=256, metadata={"help": "hidden units per layer"})
    dropout: float = field(default=0.2, metadata={"help": "dropout on embeddings, between layers and before the head"})
    batch_size: int = field(default=16, metadata={"help": "parallel streams the training text is cut into"})
    epochs: int = field(default=20, metadata={"help": "training epochs (early stopping may end sooner)"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    learning_rate: float = field(default=5e-3, metadata={"help": "optimizer learning rate"})
    schedule: str | None = field(default="cosine", metadata={
        "type": str, "choices": ["constant", "cosine", "step", "linear"], "help": "learning-rate schedule"})
    out: str = field(default="runs/generate", metadata={"help": "run directory to write"})
    data: str = field(default="hamlet", metadata={"help": "a UTF-8 text file, or a bundled text's name"})
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
        if self.min_freq is not None and (isinstance(self.min_freq, bool) or self.min_freq < 1):
            raise ValueError(f"min_freq must be a positive integer; received {self.min_freq!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in (0, 0.5); received {getattr(self, name)!r}")

    def tokenizer(self) -> Tokenizer:
        lowercase = self.case == "lower" or (self.case == "auto" and self.level == "word")
        return Tokenizer(kind=self.level, lowercase=lowercase)

    def vocabulary_min_freq(self) -> int:
        return self.min_freq if self.min_freq is not None else (1 if self.level == "char" else 2)


class Corpus(NamedTuple):
    """A text made ready for the model: its splits as text and as ids, and what reads them."""

    tokenizer: Tokenizer
    vocab: Vocabulary
    texts: dict[str, str]  # "train" | "val" | "test" → raw text
    ids: dict[str, torch.Tensor]  # → (N,) int64 token ids


def read_corpus(data: str) -> str:
    """The text `data` names (a bundled text or a UTF-8 file); DataError if unreadable, empty or not UTF-8."""
    return read_text(resolve_text_data(data, "text"))


def encode_splits(config: GenerateConfig, text: str, tokenizer: Tokenizer, vocab: Vocabulary | None) -> Corpus:
    """Splits and tokenizes `text`; builds the vocabulary on the training split unless `vocab` is given."""
    texts = dict(zip(("train", "val", "test"), split_text(text, config.val_fraction, config.test_fraction)))
    tokens = {name: tokenizer(part) for name, part in texts.items()}
    if vocab is None:
        vocab = Vocabulary.build([tokens["train"]], min_freq=config.vocabulary_min_freq(), specials=(UNK,))
    for name, minimum in (("train", 2 * config.batch_size), ("val", 2), ("test", 2)):
        if len(tokens[name]) < minimum:
            raise DataError(f"data {config.data!r}: the {name} split has {len(tokens[name])} {config.level} tokens; "
                            f"it needs at least {minimum} (a longer text, other fractions or a smaller batch_size)")
    ids = {name: torch.tensor(vocab.encode(part), dtype=torch.int64) for name, part in tokens.items()}
    return Corpus(tokenizer, vocab, texts, ids)


def characters_covered(corpus: Corpus, split: str) -> int:
    """Characters of text that the predicted tokens (all but the first) of `split` stand for.

    Characters: one per predicted token. Words: the split's characters from the end of its first
    word to the end of its last (spaces and newlines between words counted), i.e. the stripped
    text less its first token: every non-space character belongs to a word-level token.
    """
    if corpus.tokenizer.kind == "char":
        return len(corpus.ids[split]) - 1
    first = corpus.tokenizer(corpus.texts[split])[0]
    return max(len(corpus.texts[split].strip()) - len(first), 1)


def build_model(config: GenerateConfig, vocab_size: int) -> LanguageModel:
    """The only place a `GenerateConfig` becomes a model."""
    return LanguageModel(vocab_size, cell=config.model, embedding_dim=config.embedding_dim,
                         hidden_size=config.hidden_size, num_layers=config.num_layers, dropout=config.dropout)


def train_batches(ids: torch.Tensor, batch_size: int, bptt: int, generator: torch.Generator):
    """One epoch of stateful TBPTT batches; a random start offset in [0, bptt) moves the chunk cuts each epoch."""
    span = min(bptt, len(ids) // batch_size // 2)
    offset = int(torch.randint(0, span, (1,), generator=generator)) if span > 1 else 0
    return stream_batches(ids, batch_size, bptt, offset=offset)


def split_metrics(model: LanguageModel, corpus: Corpus, counts: list[int], split: str = "test") -> dict:
    """Perplexity and bits per character of the model and of the unigram baseline on `split`."""
    ids, characters = corpus.ids[split], characters_covered(corpus, split)
    model_nats, tokens = stream_nll(model, ids, bptt=EVAL_BPTT)
    unigram_nats, _ = unigram_nll(unigram_log_probs(counts), ids)
    return {"model": language_metrics(model_nats, tokens, characters),
            "unigram": language_metrics(unigram_nats, tokens, characters)}


def encode_prompt(prompt: str, tokenizer: Tokenizer, vocab: Vocabulary) -> list[int]:
    """The prompt's ids; tokens never seen in training become <unk>, or (without <unk>) a ValueError naming them."""
    tokens = tokenizer(prompt)
    if not tokens:
        raise ValueError(f"prompt must hold at least one {tokenizer.kind} token; received {prompt!r}")
    unseen = sorted({token for token in tokens if token not in vocab})
    if unseen and vocab.unk_id is None:
        raise ValueError(f"prompt {prompt!r} has {tokenizer.kind}s never seen in training: {unseen}")
    return vocab.encode(tokens)


def continue_text(model: LanguageModel, tokenizer: Tokenizer, vocab: Vocabulary, prompt: str, *, length: int,
                  temperature: float, top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
    """The prompt as given followed by `length` generated tokens (never <unk>), deterministic given `seed`."""
    prompt_ids = encode_prompt(prompt, tokenizer, vocab)
    generator = torch.Generator().manual_seed(seed)
    exclude = [vocab.unk_id] if vocab.unk_id is not None else []
    new = vocab.decode(sample(model, prompt_ids, length, temperature=temperature, top_k=top_k, top_p=top_p,
                              generator=generator, exclude=exclude))
    read = vocab.decode(prompt_ids)
    # detokenize joins left to right, so the text of the prompt's tokens is a prefix of the whole
    return prompt + tokenizer.detokenize(read + new)[len(tokenizer.detokenize(read)):]


def default_length(level: str) -> int:
    """Tokens generated when no length is given: 300 characters or 60 words."""
    return 300 if level == "char" else 60


def load_run(run_dir: str | Path) -> tuple[GenerateConfig, LanguageModel, Tokenizer, Vocabulary, list[int]]:
    """A finished run's config, model (on the CPU, eval mode), tokenizer, vocabulary and unigram counts."""
    saved = read_run(run_dir, TASK)
    config = GenerateConfig(**saved["config"])
    vocab = Vocabulary.from_dict(saved["vocabulary"])
    model = load_weights(build_model(config, len(vocab)), run_dir)
    return config, model, Tokenizer.from_dict(saved["tokenizer"]), vocab, saved["unigram_counts"]


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained language model and `rows` streams of its test split, with the training loss.

    The test split is cut into `rows` streams as training cuts its split (`stream_batches`), and the
    batch is their first chunk of `bptt` tokens, read from a zero state as each epoch's first
    training batch is; the loss is `lm_loss`, nats per predicted token. A test split too short for
    `rows` chunks of `bptt` + 1 tokens gives fewer streams (at least one, of fewer tokens if need be).
    The model and batch sit on the run's device (the CPU when the run named a GPU this machine lacks).
    """
    config, model, tokenizer, vocab, _ = load_run(run_dir)
    corpus = encode_splits(dataclasses.replace(config, batch_size=1), read_corpus(config.data), tokenizer, vocab)
    ids = corpus.ids["test"]
    streams = max(1, min(rows, len(ids) // (config.bptt + 1)))  # each stream holds a whole first chunk
    batch, targets = next(stream_batches(ids, streams, config.bptt))  # (B, T) each
    # the run's device; the CPU for a run that named a GPU this machine lacks (as translate's load_run)
    device = loaded_device(config.device)
    model, tokens, targets = model.to(device), batch.tokens.to(device), targets.to(device)
    steps = tokens.shape[1]
    unit = "characters" if config.level == "char" else "words"
    return Probe(model=model, loss=lambda: lm_loss(model(tokens)[0], targets), batch_size=streams, steps=steps,
                 description=f"{streams} test streams of {steps} {unit}")


def generate_text(run_dir: str | Path, prompt: str, *, length: int | None = None, temperature: float = 0.8,
                  top_k: int = 0, top_p: float = 1.0, seed: int = 0) -> str:
    """The prompt followed by a continuation sampled from a trained run (see `continue_text`)."""
    config, model, tokenizer, vocab, _ = load_run(run_dir)
    return continue_text(model, tokenizer, vocab, prompt, length=default_length(config.level) if length is None else length,
                         temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)


def evaluate_generate(run_dir: str | Path, data: str | None = None) -> dict:
    """Test-split metrics of the model and the unigram baseline; `data` replaces the run's text (same split)."""
    config, model, tokenizer, vocab, counts = load_run(run_dir)
    config = dataclasses.replace(config, data=data) if data is not None else config
    corpus = encode_splits(dataclasses.replace(config, batch_size=1), read_corpus(config.data), tokenizer, vocab)
    metrics = split_metrics(model, corpus, counts)
    return {"data": config.data, "level": config.level, "test_tokens": metrics["model"]["tokens"],
            "test_characters": metrics["model"]["characters"], "metrics": metrics}


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_generate`'s result."""
    lines = [f"{result['data']}: {result['level']} level, test split: {result['test_tokens']} predicted tokens "
             f"covering {result['test_characters']} characters"]
    return "\n".join(lines + _metrics_rows(result["metrics"]))


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`: --text (or the text of the file --data) continued with the default sampling settings."""
    if (text is None) == (data is None):
        raise ValueError("generate predicts from exactly one of --text (a prompt) or --data (a file whose text "
                         "is the prompt)")
    prompt = text if text is not None else read_corpus(data)
    return generate_text(run_dir, prompt).split("\n")


def train_generate(config: GenerateConfig, *, resume: bool = False, quiet: bool = False, command: str = "") -> dict:
    """Trains a language model as `config` says and writes its run directory.

    The text is read, split, tokenized and checked before anything is written; the run is built in
    `<out>.partial` and renamed to `<out>` when complete.

    Returns:
        {"metrics": test metrics of the model and the unigram baseline, "text": a printable
         summary, "run_dir": the run directory, "seconds": training time, "parameters": model size}.
    """
    distributed.init_from_env()
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    corpus = encode_splits(config, read_corpus(config.data), config.tokenizer(), None)
    counts = torch.bincount(corpus.ids["train"], minlength=len(corpus.vocab)).tolist()
    model = build_model(config, len(corpus.vocab)).to(resolve_device(config.device))
    stage.open()
    result, seconds = fit(
        CarriedState(model), lm_loss, config.trainer_options(), stage, batch_size=config.batch_size, quiet=quiet,
        train_batches=lambda epoch, generator: train_batches(corpus.ids["train"], config.batch_size, config.bptt,
                                                             generator),
        val_batches=lambda: stream_batches(corpus.ids["val"], 1, EVAL_BPTT))
    metrics = split_metrics(model, corpus, counts)
    out = {"metrics": metrics, "run_dir": str(stage.out), "seconds": seconds, "parameters": num_parameters(model)}
    if not distributed.is_main():
        return {**out, "text": ""}
    save_run(stage.path, model, TASK, {"config": dataclasses.asdict(config), "tokenizer": corpus.tokenizer.to_dict(),
                                       "vocabulary": corpus.vocab.to_dict(), "unigram_counts": counts})
    write_json(stage.path / "test_metrics.json", metrics)
    samples = _write_samples(stage.path / "samples.txt", model, corpus, config)
    _write_report(stage.path, config, corpus, metrics, samples, result.history, command)
    out["run_dir"] = str(stage.finish())
    lines = [f"{config.model.upper()} {config.level}-level language model on {config.data!r}: "
             f"{out['parameters']} parameters, trained in {seconds:.1f} s; test split:"]
    return {**out, "text": "\n".join(lines + _metrics_rows(metrics))}


def _metrics_rows(metrics: dict) -> list[str]:
    names = ("perplexity", "bits_per_character", "cross_entropy")
    rows = [f"{'':10}" + "".join(f"{name:>20}" for name in names)]
    return rows + [f"{model:10}" + "".join(f"{values[n]:>20.4f}" for n in names) for model, values in metrics.items()]


def _write_samples(path: Path, model: LanguageModel, corpus: Corpus, config: GenerateConfig) -> list[tuple[str, str]]:
    """A few continuations of the test split's first line, one per temperature; returns (heading, text) pairs."""
    prompt = next((line for line in corpus.texts["test"].split("\n") if corpus.tokenizer(line)), "\n")[:60]
    length = default_length(config.level)
    samples = [(f"temperature {t:g}{' (greedy)' if t == 0 else ''}, seed {config.seed}, {length} tokens",
                continue_text(model, corpus.tokenizer, corpus.vocab, prompt, length=length, temperature=t,
                              seed=config.seed)) for t in SAMPLE_TEMPERATURES]
    write_text(path, "".join(f"=== {heading}\n{text}\n\n" for heading, text in samples))
    return samples


def _write_report(run_dir: Path, config: GenerateConfig, corpus: Corpus, metrics: dict, samples, history,
                  command: str) -> None:
    plot_losses(history, run_dir / "loss.png")
    names = ["perplexity", "bits_per_character", "cross_entropy", "bits_per_token"]
    table = Table(columns=["model", *names], rows=[[m, *(v[n] for n in names)] for m, v in metrics.items()],
                  caption=f"Test split: {metrics['model']['tokens']} predicted {config.level} tokens, "
                          f"{metrics['model']['characters']} characters")
    settings = config.settings_table()
    sections = [
        Section(heading="Test metrics", paragraphs=[
            "Cross-entropy is in nats per predicted token and perplexity is its exponential; bits per character "
            "divide the total bits by the characters the predicted tokens cover. The unigram baseline predicts "
            "every token from its training frequency, with add-one smoothing."], tables=[table]),
        Section(heading="Samples", paragraphs=[p for heading, text in samples
                                               for p in (heading + ":", text.replace("\n", " ⏎ "))]),
        Section(heading="Training", paragraphs=["Loss: cross-entropy in nats per token (validation read as one "
                                                "stream with the state carried)."], images=[run_dir / "loss.png"]),
        Section(heading="Configuration", paragraphs=[
            f"Tokenizer: {corpus.tokenizer.kind} level, lowercase {corpus.tokenizer.lowercase}; vocabulary of "
            f"{len(corpus.vocab)} tokens built on the training split."], tables=[settings]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab generate: {config.level}-level model of {config.data}",
                 sections=sections, command=command or "rnnlab train generate ...")


SPEC = Task(name=TASK, help="train a character- or word-level language model on a text and generate from it",
            config=GenerateConfig, train=train_generate, evaluate=evaluate_generate, evaluate_text=evaluate_text,
            predict=predict_lines,
            headline=Headline('bits_per_character', False, 'unigram'), probe=probe)
