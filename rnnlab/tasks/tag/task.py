"""Tagging as a task: sentences → seeded split → vocabularies → `TaggerNetwork` → a tag per word.

The sentences (a CoNLL-U file, a bundled treebank, or (words, tags) pairs in memory) are split at
random (seeded) into training, validation and test sets; the word, tag and character vocabularies
come from the training sentences only and are saved in config.json with the word settings
(whitespace tokens, lowercasing), so a run reloaded in another process tags exactly as the one
that trained. Held-out metrics are the per-word accuracy, overall and on words never seen in
training, beside the most-frequent-tag baseline.

A run directory holds, beside the pipeline's files, predictions.tsv: the test sentences, one word
a line, with the gold tag, the model's and the baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from rnnlab.data.splits import split_sentences
from rnnlab.data.text import PAD, UNK
from rnnlab.metrics.tagging import per_tag_accuracy, tagging_accuracy
from rnnlab.report.atomic import write_text
from rnnlab.report.html import Section, Table
from rnnlab.tasks.api import Graph, Headline, Outputs, Probe, RunConfig, SavedState, Task
from rnnlab.tasks.tag.baselines import MostFrequentTag
from rnnlab.tasks.tag.model import EncodedSentence, TaggerInputs, TaggerNetwork, tagging_loss
from rnnlab.data.frames import name_of, quoted
from rnnlab.tasks.tag.sentences import Sentence, read_sentences
from rnnlab.tasks.tag.vocabularies import Vocabularies, batches, build_vocabularies, check_tags, encode

BASELINE = "most_frequent_tag"


@dataclass(frozen=True)
class TagConfig(RunConfig):
    """Everything a tagging run depends on; saved in the run's config.json."""

    POSITIVE = RunConfig.POSITIVE + ("embedding_dim", "char_embedding_dim", "min_freq", "max_word_chars")
    DATA = ("data",)

    bidirectional: bool = field(default=True, metadata={"help": "read each sentence in both directions"})
    dropout: float = field(default=0.3, metadata={"help": "dropout on word features, between layers and before "
                                                          "the output layer"})
    batch_size: int = field(default=32, metadata={"help": "sentences per batch"})
    epochs: int = field(default=12, metadata={"help": "training epochs (early stopping may end sooner)"})
    patience: int = field(default=3, metadata={"help": "early-stopping patience in epochs (0 disables)"})
    data: str | None = field(default="porttinari", metadata={"type": str, "help": "a CoNLL-U file with UPOS tags, "
                                                             "or a bundled name"})
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
        if self.char_hidden_size < 0:
            raise ValueError(f"char_hidden_size must be an integer >= 0; received {self.char_hidden_size!r}")
        if self.max_word_chars < 2:
            raise ValueError(f"max_word_chars must be at least 2; received {self.max_word_chars!r}")
        for name in ("val_fraction", "test_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"{name} must be in (0, 1); received {getattr(self, name)!r}")
        if self.val_fraction + self.test_fraction >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must be below 1 (training needs the rest); received "
                             f"{self.val_fraction} + {self.test_fraction}")


class Prepared(NamedTuple):
    """The data of a run: its sentences split by the seed, their numbers, and the sentences the trainer reads."""

    splits: dict[str, list[Sentence]]  # "train", "val", "test" → sentences
    numbers: dict[str, np.ndarray]  # the same, as 1-based sentence numbers in their data
    encoded: dict[str, list[EncodedSentence]]  # "train", "val" → the sentences as ids


class TagTask(Task):
    name = "tag"
    help = "tag each word of a sentence with its part of speech (CoNLL-U UPOS)"
    config_class = TagConfig
    headline = Headline("accuracy", True, BASELINE)
    supervised = True

    def __init__(self, config: TagConfig) -> None:
        super().__init__(config)
        self.vocabs: Vocabularies | None = None

    def state_dict(self) -> dict:
        return self.vocabs.to_dict()

    def load_state_dict(self, saved: dict) -> None:
        state = SavedState(saved)
        tags = state.strings("tags", ordered=True)
        baseline, tokenizer = state.object("baseline"), state.object("tokenizer")
        tokenizer.string("split", among=["whitespace"])
        self.vocabs = Vocabularies(state.vocabulary("words", (PAD, UNK)), tags, state.vocabulary("chars", (PAD, UNK)),
                                   MostFrequentTag(baseline.mapping("table", among=tags),
                                                   baseline.string("default", among=tags)),
                                   tokenizer.boolean("lowercase"))

    # --- training --------------------------------------------------------------------------------

    def prepare(self, data: Any, validation_data: Any = None) -> Prepared:
        """Reads and splits `data`; builds the vocabularies (unless fitted or loaded); checks the tags.

        With `validation_data`, its sentences validate and the validation split of `data` trains
        too; the test split is the one `data` gives without it.
        """
        config = self.config
        sentences = read_sentences(data)
        indices = split_sentences(len(sentences), config.val_fraction, config.test_fraction, config.seed)
        if validation_data is not None:
            indices["train"] = np.sort(np.concatenate([indices["train"], indices.pop("val")]))
        splits = {name: [sentences[i] for i in chosen] for name, chosen in indices.items()}
        numbers = {name: chosen + 1 for name, chosen in indices.items()}
        wheres = {name: f"data {quoted(data)} ({name} split)" for name in ("val", "test")}
        if validation_data is not None:
            splits["val"] = read_sentences(validation_data, "validation_data")
            numbers["val"] = np.arange(1, len(splits["val"]) + 1)
            wheres["val"] = f"validation_data {quoted(validation_data)}"
        vocabs = self.vocabs or build_vocabularies(splits["train"], min_freq=config.min_freq,
                                                   lowercase=config.lowercase)
        for name, where in wheres.items():
            check_tags(splits[name], numbers[name], vocabs.tags, where)
        self.vocabs = vocabs
        encoded = {name: encode(splits[name], vocabs, config.max_word_chars) for name in ("train", "val")}
        return Prepared(splits, numbers, encoded)

    def build_model(self) -> TaggerNetwork:
        config, vocabs = self.config, self.vocabs
        return TaggerNetwork(len(vocabs.words), len(vocabs.tags), cell=config.model,
                             embedding_dim=config.embedding_dim, hidden_size=config.hidden_size,
                             num_layers=config.num_layers, bidirectional=config.bidirectional,
                             dropout=config.dropout, padding_idx=vocabs.words.pad_id,
                             num_chars=len(vocabs.chars) if config.char_hidden_size else 0,
                             char_embedding_dim=config.char_embedding_dim, char_hidden_size=config.char_hidden_size,
                             char_padding_idx=vocabs.chars.pad_id)

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return tagging_loss(outputs, targets)

    def train_batches(self, prepared: Prepared, epoch: int, generator: torch.Generator):
        return batches(prepared.encoded["train"], self.vocabs, self.config.batch_size, generator)

    def val_batches(self, prepared: Prepared):
        return batches(prepared.encoded["val"], self.vocabs, self.config.batch_size, None)

    # --- tags ------------------------------------------------------------------------------------

    def tag(self, model: nn.Module, words: list[list[str]]) -> list[list[str]]:
        """The model's tags for the words of each sentence."""
        model.eval()
        device = next(model.parameters()).device
        encoded = encode([(forms, []) for forms in words], self.vocabs, self.config.max_word_chars)
        predicted = []
        with torch.no_grad():
            for inputs, _ in batches(encoded, self.vocabs, self.config.batch_size, None):
                inputs = TaggerInputs(*(tensor.to(device) for tensor in inputs))
                best = model(inputs).argmax(dim=-1).cpu()  # (B, T)
                rows = zip(best.tolist(), inputs.lengths.tolist())
                predicted += [[self.vocabs.tags[i] for i in row[:length]] for row, length in rows]
        return predicted

    def report(self, model: nn.Module, sentences: list[Sentence]) -> dict:
        """The model's and the baseline's tags for `sentences`, and their accuracies: overall, on OOV words, per tag."""
        vocabs, gold = self.vocabs, [tags for _, tags in sentences]
        words = [vocabs.normalise(forms) for forms, _ in sentences]
        known = [[word in vocabs.baseline for word in sentence] for sentence in words]
        tagged = {"model": self.tag(model, [forms for forms, _ in sentences]),
                  BASELINE: [vocabs.baseline(sentence) for sentence in words]}
        return {"tagged": tagged, "known": known, "gold": gold,
                "metrics": {name: tagging_accuracy(gold, tags, known) for name, tags in tagged.items()},
                "per_tag": {name: per_tag_accuracy(gold, tags) for name, tags in tagged.items()}}

    def score(self, model: nn.Module, prepared: Prepared) -> dict:
        return self.report(model, prepared.splits["test"])

    # --- outputs ---------------------------------------------------------------------------------

    def write_outputs(self, run_dir: Path, model: nn.Module, prepared: Prepared, evaluation: dict) -> Outputs:
        _write_predictions(run_dir / "predictions.tsv", prepared, evaluation)
        metrics, per_tag, vocabs = evaluation["metrics"], evaluation["per_tag"], self.vocabs
        table = Table(columns=["tagger", "accuracy", "OOV accuracy", "words", "OOV words"],
                      rows=[[name, v["accuracy"], "n/a" if v["oov_accuracy"] is None else v["oov_accuracy"],
                             v["tokens"], v["oov_tokens"]] for name, v in metrics.items()],
                      caption=f"{len(prepared.splits['test'])} test sentences")
        tags = Table(columns=["tag", "test words", "model", BASELINE],
                     rows=[[tag, v["tokens"], v["accuracy"], per_tag[BASELINE][tag]["accuracy"]]
                           for tag, v in per_tag["model"].items()], caption="Accuracy per gold tag (its recall)")
        section = Section(heading="Test accuracy", paragraphs=[
            "Per-word accuracy on the held-out test sentences. OOV words are those never seen in training. The "
            "baseline gives each training word its most frequent training tag and any other word the most "
            "frequent tag overall."], tables=[table, tags])
        sizes = {name: len(prepared.splits[name]) for name in ("train", "val", "test")}
        return Outputs(title=f"rnnlab tag: {name_of(self.config.data)}", sections=[section], configuration=[
            f"Sentences: {sizes}. Vocabularies from the training sentences: {len(vocabs.words)} words, "
            f"{len(vocabs.chars)} characters, tags {vocabs.tags}."])

    def describe(self) -> str:
        return f"{self.config.model.upper()} tagger on {quoted(self.config.data)}"

    def metrics_text(self, metrics: dict) -> str:
        lines = [f"{'':20}{'accuracy':>10}{'oov_acc':>10}{'tokens':>8}{'oov':>6}"]
        for name, values in metrics.items():
            oov = "n/a" if values["oov_accuracy"] is None else f"{values['oov_accuracy']:.4f}"
            lines.append(f"{name:20}{values['accuracy']:>10.4f}{oov:>10}{values['tokens']:>8}{values['oov_tokens']:>6}")
        return "\n".join(lines)

    def evaluate(self, model: nn.Module, data: Any = None) -> dict:
        """Accuracies of the model and the baseline: on the run's test sentences, or on every sentence of `data`."""
        if data is None:
            sentences = self.own_data().splits["test"]
        else:
            sentences = read_sentences(data)
            check_tags(sentences, range(1, len(sentences) + 1), self.vocabs.tags, f"data {quoted(data)}")
        report = self.report(model, sentences)
        return {"data": name_of(self.config.data if data is None else data), "split": "test" if data is None else "all",
                "sentences": len(sentences), "metrics": report["metrics"], "per_tag": report["per_tag"]}

    def evaluate_text(self, result: dict) -> str:
        return (f"{result['data']} ({result['split']} sentences: {result['sentences']}):\n"
                + self.metrics_text(result["metrics"]))

    def probe(self, model: nn.Module, prepared: Prepared, rows: int) -> Probe:
        """The tagger and its first `rows` test sentences, batched and padded as in training, with `tagging_loss`."""
        sentences = prepared.splits["test"][:rows]
        inputs, targets = batches(encode(sentences, self.vocabs, self.config.max_word_chars), self.vocabs, rows,
                                  None)[0]
        model.eval()  # a probe measures the model as it predicts (no dropout)
        device = next(model.parameters()).device
        inputs, targets = TaggerInputs(*(t.to(device) for t in inputs)), targets.to(device)
        steps = inputs.words.shape[1]  # (B, T)
        return Probe(model=model, loss=lambda: tagging_loss(model(inputs), targets), batch_size=len(targets),
                     steps=steps, description=f"{len(targets)} test sentences, up to {steps} words")

    def export_graphs(self, model: nn.Module) -> list[Graph]:
        """words (B, T), lengths (B,)[, chars (B, T, W)] -> scores (B, T, K)."""
        model.eval()  # a fitted model may still be in training mode: the graph must not hold its dropout
        # at least 2 on every dynamic axis, or export fixes it; lengths unequal and below T, so that
        # a check on them while tracing does not tie T to their values
        inputs = (torch.zeros(2, 3, dtype=torch.int64), torch.tensor([2, 1]))
        names, axes = ["words", "lengths"], {"words": {0: "batch", 1: "time"}, "lengths": {0: "batch"}}
        if model.chars is not None:
            inputs += (torch.ones(2, 3, 2, dtype=torch.int64),)  # every word 2 characters long
            names.append("chars")
            axes["chars"] = {0: "batch", 1: "time", 2: "characters"}
        return [Graph(_SpreadInputs(model), inputs, names, ["scores"], axes)]


class _SpreadInputs(nn.Module):
    """The tagger with its `TaggerInputs` spread into tensors (what an ONNX graph takes): words, lengths[, chars]."""

    def __init__(self, model: TaggerNetwork) -> None:
        super().__init__()
        self.model = model

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        return self.model(TaggerInputs(words, lengths, chars))



def _write_predictions(path: Path, prepared: Prepared, report: dict) -> None:
    """predictions.tsv: one test word a line, with its sentence's number in the data."""
    lines = ["sentence\tposition\tword\tgold\tmodel\t" + BASELINE + "\toov"]
    rows = zip(prepared.numbers["test"], prepared.splits["test"], report["tagged"]["model"],
               report["tagged"][BASELINE], report["known"])
    for number, (words, gold), model, baseline, known in rows:
        lines += [f"{number}\t{t + 1}\t{words[t]}\t{gold[t]}\t{model[t]}\t{baseline[t]}\t{int(not known[t])}"
                  for t in range(len(words))]
    write_text(path, "\n".join(lines) + "\n")
