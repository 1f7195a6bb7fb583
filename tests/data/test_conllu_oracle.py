"""rnnlab's CoNLL-U reader against the `conllu` package: the same sentences, forms and UPOS tags.

`rnnlab.data.text.read_conllu` reads what the tagger needs: per sentence, the FORM (column 2) and
UPOS (column 4) of each syntactic word, skipping comments, multiword-token lines (ID ``1-2``) and
empty nodes (ID ``1.1``). The `conllu` package parses every column; its tokens whose ID is an
integer are those words. Both must agree on the bundled Portuguese treebank (3,000 sentences) and
on generated valid CoNLL-U that uses the format's corners (multiword tokens, empty nodes,
comments, ``_`` in every column but UPOS, a form that is ``_`` or holds a space or a ``#``).

Why: an oracle written by others catches what tests written from rnnlab's own reading of the
format cannot, such as a form taken from the wrong column or a multiword line read as a word.

Counts: the bundled file (about 1 s, most of it conllu's parsing), and 60 generated files (the
"rnnlab" hypothesis profile) of 1–4 sentences.
"""

from __future__ import annotations

import gzip

import pytest

conllu = pytest.importorskip("conllu")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnnlab.data.bundled import bundled_file  # noqa: E402
from rnnlab.data.text import read_conllu  # noqa: E402

UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"]


def oracle(text: str) -> list[tuple[list[str], list[str]]]:
    """Each sentence's (forms, UPOS tags) of its syntactic words, as the conllu package parses them."""
    sentences = []
    for sentence in conllu.parse(text):
        words = [token for token in sentence if isinstance(token["id"], int)]
        if words:
            sentences.append(([token["form"] for token in words], [token["upos"] for token in words]))
    return sentences


def test_the_bundled_treebank_reads_as_conllu_parses_it():
    path = bundled_file("porttinari")
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    expected = oracle(text)
    assert len(expected) == 3000
    assert read_conllu(path) == expected


# --- generated CoNLL-U -----------------------------------------------------------------------------

FORM_CHARACTERS = "abcxyzÁçãõéü日本0123.,;!?'\"()-_#"
forms = st.one_of(st.sampled_from(["_", "#", "a b", "São Paulo", "1.5", "1-2"]),
                  st.text(alphabet=FORM_CHARACTERS, min_size=1, max_size=6))
underscore_or = lambda *values: st.sampled_from(["_", *values])  # noqa: E731


@st.composite
def sentences(draw) -> list[str]:
    """One sentence's lines: comments, then its words, with multiword tokens and empty nodes among them."""
    lines = draw(st.lists(st.sampled_from(["# sent_id = s", "# text = um texto", "# newpar", "# newdoc id = d",
                                           "#"]), max_size=3, unique=True))
    count = draw(st.integers(1, 6))
    for number in range(1, count + 1):
        if number < count and draw(st.booleans()):  # a multiword token over this word and the next
            lines.append(f"{number}-{number + 1}\t{draw(forms)}" + "\t_" * 8)
        fields = [str(number), draw(forms), draw(underscore_or("lemma", "de")), draw(st.sampled_from(UPOS)),
                  draw(underscore_or("NN", "PREP")), draw(underscore_or("Case=Nom", "Gender=Fem|Number=Sing")),
                  draw(underscore_or("0", str(max(1, number - 1)))), draw(underscore_or("root", "nmod")),
                  draw(underscore_or(f"{number}:nsubj")), draw(underscore_or("SpaceAfter=No"))]
        lines.append("\t".join(fields))
        if draw(st.integers(0, 4)) == 0:  # an empty node after this word
            lines.append(f"{number}.1\t{draw(forms)}\t_\t{draw(underscore_or(*UPOS[:3]))}" + "\t_" * 6)
    return lines


@given(blocks=st.lists(sentences(), min_size=1, max_size=4), final=st.sampled_from(["\n", "\n\n"]))
def test_generated_conllu_reads_as_conllu_parses_it(blocks, final, tmp_path):
    text = "\n\n".join("\n".join(lines) for lines in blocks) + final
    path = tmp_path / "generated.conllu"
    path.write_text(text, encoding="utf-8")
    expected = oracle(text)
    assert len(expected) == len(blocks)
    assert read_conllu(path) == expected
