"""A tagging run, end to end: CoNLL-U → sentence split → vocabularies → tagger → trainer → run directory.

The sentences are split at random (seeded) into training, validation and test sets; the word, tag
and character vocabularies come from the training sentences only and are saved in config.json with
the word settings (whitespace tokens, lowercasing), so a run reloaded in another process tags
exactly as the one that trained. A run directory holds config.json, model.safetensors,
metrics.jsonl, test_metrics.json, predictions.tsv (the test sentences, one word a line), loss.png
and report.html.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from rnnlab.data.errors import DataError
from rnnlab.data.splits import split_sentences
from rnnlab.data.text import PAD, UNK, Vocabulary, pad_batch, read_conllu, resolve_text_data
from rnnlab.report.html import Section, Table, write_report
from rnnlab.report.plots import plot_losses
from rnnlab.tasks.registry import Headline, Task
from rnnlab.tasks.run import (loaded_device, Probe, RunConfig, Stage, fit, load_weights, num_parameters, read_run,
                              resolve_device, save_run, write_json, write_text)
from rnnlab.tasks.tag import (EncodedSentence, MostFrequentTag, Tagger, TaggerInputs, char_ids, collate,
                              per_tag_accuracy, tagging_accuracy, tagging_loss)
from rnnlab.train import distributed

TASK = "tag"
BASELINE = "most_frequent_tag"
Sentence = tuple[list[str], list[str]]  # (words, tags)


@dataclass(frozen=True)
class TagConfig(RunConfig):
    """Everything a tagging run depends on; saved as the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("embedding_dim", "char_embedding_dim", "min_freq", "max_word_chars")

    bidirectional: bool = field(default=True, metadata={"help": "read each sentence in both directions"})
    dropout: float = field(default=0.3, metadata={"help": "dropout on word features, between layers and before "
                                                          "the output layer"})
    batch_size: int = field(default=32, metadata={"help": "sentences per batch"})
    epochs: int = field(default=12, metadata={"help": "training epochs (early stopping may end sooner)"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    out: str = field(default="runs/tag", metadata={"help": "run directory to write"})
    data: str = field(default="porttinari", metadata={"help": "a CoNLL-U file with UPOS tags, or a bundled name"})
    lowercase: bool = field(default=True, metadata={"help": "lowercase words before looking them up"})
    min_freq: int = field(default=2, metadata={"help": "keep training words seen this often; rarer ones are <unk>"})
    embedding_dim: int = field(default=64, metadata={"help": "word embedding features"})
    char_embedding_dim: int = field(default=16, metadata={"help": "character embedding features"})
    char_hidden_size: int = field(default=32, metadata={"help": "character encoder units per direction (0: "
                                                                "no character feature)"})
    max_word_chars: int = field(default=16, metadata={"help": "characters read per word (a longer one keeps its ends)"})
    val_fraction: float = field(default=0.1, metadata={"help": "share of the sentences for validation"})
    test_fraction: float = field(default=0.1, metadata={"help": "share of the sentences for testing"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.char_hidden_size, bool) or not isinstance(self.char_hidden_size, int) \
                or self.char_hidden_size < 0:
            raise ValueError(f"char_hidden_size must be an integer >= 0; received {self.char_hidden_size!r}")
        if self.max_word_chars < 2:
            raise ValueError(f"max_word_chars must be at least 2; received {self.max_word_chars!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in (0, 1); received {getattr(self, name)!r}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must be below 1 (training needs the rest); received "
                             f"{self.val_fraction} + {self.test_fraction}")


class Vocabularies(NamedTuple):
    """What turns words into model inputs and tag ids back into tags; built from training sentences."""

    words: Vocabulary  # normalised words, with <pad> and <unk>
    tags: list[str]  # tag id → tag, sorted
    chars: Vocabulary  # characters as written, with <pad> and <unk>
    baseline: MostFrequentTag  # on normalised words; its table holds every training word (the non-OOV ones)
    lowercase: bool

    def normalise(self, words: list[str]) -> list[str]:
        return [word.lower() for word in words] if self.lowercase else list(words)

    def to_dict(self) -> dict:
        return {"words": self.words.to_dict(), "tags": self.tags, "chars": self.chars.to_dict(),
                "baseline": self.baseline.to_dict(), "tokenizer": {"split": "whitespace", "lowercase": self.lowercase}}

    @classmethod
    def from_dict(cls, d: dict) -> Vocabularies:
        return cls(Vocabulary.from_dict(d["words"]), list(d["tags"]), Vocabulary.from_dict(d["chars"]),
                   MostFrequentTag.from_dict(d["baseline"]), bool(d["tokenizer"]["lowercase"]))


def read_sentences(data: str) -> list[Sentence]:
    """The (words, tags) sentences of a CoNLL-U file or bundled set (DataError if malformed or untagged)."""
    return read_conllu(resolve_text_data(data, "conllu"))


def build_vocabularies(train: list[Sentence], config: TagConfig) -> Vocabularies:
    """Word, tag and character vocabularies and the baseline, from the training sentences only."""
    normalise = str.lower if config.lowercase else str
    words = [[normalise(word) for word in forms] for forms, _ in train]
    baseline = MostFrequentTag.fit(zip(words, (tags for _, tags in train)))
    # characters seen once stand for <unk>, so its embedding is trained on rare characters
    chars = Vocabulary.build(([c for word in forms for c in word] for forms, _ in train), min_freq=2)
    return Vocabularies(Vocabulary.build(words, min_freq=config.min_freq, specials=(PAD, UNK)),
                        sorted({tag for _, tags in train for tag in tags}), chars, baseline, config.lowercase)


def check_tags(sentences: list[Sentence], numbers: Iterable[int], tags: list[str], where: str) -> None:
    """DataError naming the first tag of `sentences` (numbered `numbers` in their file) unseen in training."""
    known = set(tags)
    for number, (_, sentence_tags) in zip(numbers, sentences):
        unseen = sorted(set(sentence_tags) - known)
        if unseen:
            raise DataError(f"{where}: sentence {number} has tag {unseen[0]!r}, which the training sentences never "
                            f"have (they have {tags}), so the model cannot predict it")


def encode(sentences: list[Sentence], vocabs: Vocabularies, max_chars: int) -> list[EncodedSentence]:
    """Each sentence as ids (tags empty for an untagged sentence, given as (words, []))."""
    tag_ids = {tag: i for i, tag in enumerate(vocabs.tags)}
    char_index = {c: i for i, c in enumerate(vocabs.chars.tokens)}
    unknown, pad = vocabs.chars.unk_id, vocabs.chars.pad_id
    return [EncodedSentence(vocabs.words.encode(vocabs.normalise(forms)),
                            pad_batch([char_ids(word, char_index, unknown, max_chars) for word in forms], pad)[0],
                            [tag_ids[tag] for tag in tags]) for forms, tags in sentences]


def batches(encoded: list[EncodedSentence], vocabs: Vocabularies, batch_size: int,
            generator: torch.Generator | None) -> list[tuple[TaggerInputs, torch.Tensor]]:
    """Padded batches of `encoded` in order, or shuffled by `generator`."""
    order = torch.randperm(len(encoded), generator=generator).tolist() if generator else list(range(len(encoded)))
    return [collate([encoded[i] for i in order[start:start + batch_size]], word_padding_idx=vocabs.words.pad_id,
                    char_padding_idx=vocabs.chars.pad_id) for start in range(0, len(order), batch_size)]


def build_tagger(config: TagConfig, vocabs: Vocabularies) -> Tagger:
    """The only place a `TagConfig` becomes a model."""
    return Tagger(len(vocabs.words), len(vocabs.tags), cell=config.model, embedding_dim=config.embedding_dim,
                  hidden_size=config.hidden_size, num_layers=config.num_layers, bidirectional=config.bidirectional,
                  dropout=config.dropout, padding_idx=vocabs.words.pad_id,
                  num_chars=len(vocabs.chars) if config.char_hidden_size else 0,
                  char_embedding_dim=config.char_embedding_dim, char_hidden_size=config.char_hidden_size,
                  char_padding_idx=vocabs.chars.pad_id)


def tag_sentences(model: Tagger, sentences: list[Sentence], vocabs: Vocabularies, config: TagConfig) -> list[list[str]]:
    """The model's tags for each sentence's words."""
    model.eval()
    device = next(model.parameters()).device
    encoded, predicted = encode(sentences, vocabs, config.max_word_chars), []
    with torch.no_grad():
        for inputs, _ in batches(encoded, vocabs, config.batch_size, None):
            inputs = TaggerInputs(*(tensor.to(device) for tensor in inputs))
            best = model(inputs).argmax(dim=-1).cpu()  # (B, T)
            rows = zip(best.tolist(), inputs.lengths.tolist())
            predicted += [[vocabs.tags[i] for i in row[:length]] for row, length in rows]
    return predicted


def test_report(model: Tagger, sentences: list[Sentence], vocabs: Vocabularies, config: TagConfig) -> dict:
    """Tags of the model and the baseline for `sentences`, with their accuracies overall, on OOV words and per tag."""
    gold = [tags for _, tags in sentences]
    words = [vocabs.normalise(forms) for forms, _ in sentences]
    known = [[word in vocabs.baseline for word in sentence] for sentence in words]
    tagged = {"model": tag_sentences(model, sentences, vocabs, config),
              BASELINE: [vocabs.baseline(sentence) for sentence in words]}
    return {"tagged": tagged, "known": known, "gold": gold,
            "metrics": {name: tagging_accuracy(gold, tags, known) for name, tags in tagged.items()},
            "per_tag": {name: per_tag_accuracy(gold, tags) for name, tags in tagged.items()}}


class Prepared(NamedTuple):
    """The data of a run: its sentences split by the seed, and the vocabularies of the training set."""

    splits: dict[str, list[Sentence]]  # "train", "val", "test" → sentences
    numbers: dict[str, np.ndarray]  # the same, as 1-based sentence numbers in the data file
    vocabs: Vocabularies


def prepare(config: TagConfig, vocabs: Vocabularies | None = None) -> Prepared:
    """Reads and splits `config.data`; builds the vocabularies (unless a saved run gives its own); checks tags."""
    sentences = read_sentences(config.data)
    indices = split_sentences(len(sentences), config.val_fraction, config.test_fraction, config.seed)
    splits = {name: [sentences[i] for i in chosen] for name, chosen in indices.items()}
    vocabs = vocabs or build_vocabularies(splits["train"], config)
    for name in ("val", "test"):
        check_tags(splits[name], indices[name] + 1, vocabs.tags, f"data {config.data!r} ({name} split)")
    return Prepared(splits, {name: chosen + 1 for name, chosen in indices.items()}, vocabs)


def train_tagger(config: TagConfig, *, resume: bool = False, quiet: bool = False, command: str = "") -> dict:
    """Trains a tagger as `config` says and writes its run directory.

    Everything that can be wrong with the input is checked before anything is written; the run is
    built in `<out>.partial` and renamed to `<out>` when complete.

    Returns:
        {"metrics": test accuracies of the model and the baseline, "text": a printable summary,
         "run_dir": the run directory, "seconds": training time, "parameters": model size}.
    """
    distributed.init_from_env()  # under torchrun: every rank trains on its share, rank 0 alone writes
    stage = Stage(config.out, resume=resume)
    torch.manual_seed(config.seed)
    prepared = prepare(config)
    vocabs = prepared.vocabs
    train, val = (encode(prepared.splits[name], vocabs, config.max_word_chars) for name in ("train", "val"))
    model = build_tagger(config, vocabs).to(resolve_device(config.device))
    stage.open()
    result, seconds = fit(model, tagging_loss, config.trainer_options(), stage, batch_size=config.batch_size,
                          train_batches=lambda epoch, generator: batches(train, vocabs, config.batch_size, generator),
                          val_batches=lambda: batches(val, vocabs, config.batch_size, None), quiet=quiet)
    report = test_report(model, prepared.splits["test"], vocabs, config)
    summary = {"metrics": report["metrics"], "run_dir": str(stage.out), "seconds": seconds,
               "parameters": num_parameters(model)}
    if not distributed.is_main():
        return {**summary, "text": ""}
    save_run(stage.path, model, TASK, {"config": dataclasses.asdict(config), **vocabs.to_dict()})
    write_json(stage.path / "test_metrics.json", report["metrics"])
    _write_predictions(stage.path / "predictions.tsv", prepared, report)
    _write_report(stage.path, config, prepared, report, result.history, command)
    out = stage.finish()
    text = (f"{config.model.upper()} tagger on {config.data!r}: {summary['parameters']} parameters, trained in "
            f"{seconds:.1f} s; test sentences:\n" + _metrics_text(report["metrics"]))
    return {**summary, "run_dir": str(out), "text": text}


def load_run(run_dir: str | Path) -> tuple[TagConfig, Tagger, Vocabularies]:
    """A finished run's config, model (in eval mode, on the CPU) and vocabularies."""
    saved = read_run(run_dir, TASK)
    config, vocabs = TagConfig(**saved["config"]), Vocabularies.from_dict(saved)
    return config, load_weights(build_tagger(config, vocabs), run_dir), vocabs


def probe(run_dir: str | Path, *, rows: int = 64) -> Probe:
    """The trained tagger and the first `rows` of its test sentences, with the training loss (`tagging_loss`).

    The test sentences are those `evaluate` tags (the split is fixed by the seed), batched and padded
    with their lengths as in training; the model and batch sit on the run's device (the CPU when the
    run named a GPU this machine lacks).
    """
    config, model, vocabs = load_run(run_dir)
    sentences = prepare(config, vocabs).splits["test"][:rows]
    inputs, targets = batches(encode(sentences, vocabs, config.max_word_chars), vocabs, rows, None)[0]
    # the run's device; the CPU for a run that named a GPU this machine lacks (as translate's load_run)
    device = loaded_device(config.device)
    model, inputs, targets = model.to(device), TaggerInputs(*(t.to(device) for t in inputs)), targets.to(device)
    steps = inputs.words.shape[1]  # (B, T)
    return Probe(model=model, loss=lambda: tagging_loss(model(inputs), targets), batch_size=len(targets),
                 steps=steps, description=f"{len(targets)} test sentences, up to {steps} words")


def evaluate_run(run_dir: str | Path, data: str | None = None) -> dict:
    """Accuracies of the model and the baseline: on the run's test sentences, or on every sentence of `data`."""
    config, model, vocabs = load_run(run_dir)
    if data is None:
        sentences = prepare(config, vocabs).splits["test"]
    else:
        sentences = read_sentences(data)
        check_tags(sentences, range(1, len(sentences) + 1), vocabs.tags, f"data {data!r}")
    report = test_report(model, sentences, vocabs, config)
    return {"data": data or config.data, "split": "test" if data is None else "all", "sentences": len(sentences),
            "metrics": report["metrics"], "per_tag": report["per_tag"]}


def evaluate_text(result: dict) -> str:
    """The printable form of `evaluate_run`'s result."""
    return (f"{result['data']} ({result['split']} sentences: {result['sentences']}):\n"
            + _metrics_text(result["metrics"]))


def predict_lines(run_dir: str | Path, *, data: str | None = None, text: str | None = None) -> list[str]:
    """`rnnlab predict`'s output: one line of `word/TAG` per sentence.

    `text` is one sentence, split into words on whitespace only, like the CoNLL-U words the model
    was trained on: write punctuation apart ("Uma frase .") and, for a treebank that splits
    contractions (Porttinari: "do" is "de o"), split them too. `data` is a CoNLL-U file (or bundled
    name) whose sentences are tagged; its own tags must be there (the reader requires UPOS) but are
    not used.
    """
    if (data is None) == (text is None):
        raise ValueError("a tagger predicts from either --text (one sentence) or --data (a CoNLL-U file); "
                         f"received {'both' if text is not None else 'neither'}")
    if text is not None:
        if not text.split():
            raise ValueError(f"text must hold at least one word; received {text!r}")
        sentences = [(text.split(), [])]
    else:
        sentences = [(words, []) for words, _ in read_sentences(data)]
    config, model, vocabs = load_run(run_dir)
    tagged = tag_sentences(model, sentences, vocabs, config)
    return [" ".join(f"{word}/{tag}" for word, tag in zip(words, tags)) for (words, _), tags in zip(sentences, tagged)]


def _metrics_text(metrics: dict) -> str:
    lines = [f"{'':20}{'accuracy':>10}{'oov_acc':>10}{'tokens':>8}{'oov':>6}"]
    for name, values in metrics.items():
        oov = "n/a" if values["oov_accuracy"] is None else f"{values['oov_accuracy']:.4f}"
        lines.append(f"{name:20}{values['accuracy']:>10.4f}{oov:>10}{values['tokens']:>8}{values['oov_tokens']:>6}")
    return "\n".join(lines)


def _write_predictions(path: Path, prepared: Prepared, report: dict) -> None:
    """predictions.tsv: one test word a line, with its sentence's number in the data file."""
    lines = ["sentence\tposition\tword\tgold\tmodel\t" + BASELINE + "\toov"]
    rows = zip(prepared.numbers["test"], prepared.splits["test"], report["tagged"]["model"],
               report["tagged"][BASELINE], report["known"])
    for number, (words, gold), model, baseline, known in rows:
        lines += [f"{number}\t{t + 1}\t{words[t]}\t{gold[t]}\t{model[t]}\t{baseline[t]}\t{int(not known[t])}"
                  for t in range(len(words))]
    write_text(path, "\n".join(lines) + "\n")


def _write_report(run_dir: Path, config: TagConfig, prepared: Prepared, report: dict, history, command: str) -> None:
    plot_losses(history, run_dir / "loss.png")
    metrics, per_tag, vocabs = report["metrics"], report["per_tag"], prepared.vocabs
    table = Table(columns=["tagger", "accuracy", "OOV accuracy", "words", "OOV words"],
                  rows=[[name, v["accuracy"], "n/a" if v["oov_accuracy"] is None else v["oov_accuracy"], v["tokens"],
                         v["oov_tokens"]] for name, v in metrics.items()],
                  caption=f"{len(prepared.splits['test'])} test sentences")
    tags = Table(columns=["tag", "test words", "model", BASELINE],
                 rows=[[tag, v["tokens"], v["accuracy"], per_tag[BASELINE][tag]["accuracy"]]
                       for tag, v in per_tag["model"].items()], caption="Accuracy per gold tag (its recall)")
    settings = config.settings_table()
    sizes = {name: len(sentences) for name, sentences in prepared.splits.items()}
    sections = [
        Section(heading="Test accuracy", paragraphs=[
            "Per-word accuracy on the held-out test sentences. OOV words are those never seen in training. The "
            "baseline gives each training word its most frequent training tag and any other word the most "
            "frequent tag overall."], tables=[table, tags]),
        Section(heading="Training", images=[run_dir / "loss.png"]),
        Section(heading="Configuration", paragraphs=[
            f"Sentences: {sizes}. Vocabularies from the training sentences: {len(vocabs.words)} words, "
            f"{len(vocabs.chars)} characters, tags {vocabs.tags}."], tables=[settings]),
    ]
    write_report(run_dir / "report.html", title=f"rnnlab tag: {config.data}", sections=sections,
                 command=command or "rnnlab train tag ...")


SPEC = Task(name=TASK, help="tag each word of a sentence with its part of speech (CoNLL-U UPOS)", config=TagConfig,
            train=train_tagger, evaluate=evaluate_run, evaluate_text=evaluate_text, predict=predict_lines,
            headline=Headline('accuracy', True, 'most_frequent_tag'), probe=probe)
