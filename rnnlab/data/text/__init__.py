"""Text for sequence models: tokenize, map tokens to ids, pad batches, and read text files.

A `Tokenizer` turns a string into tokens (words and punctuation, or characters); a `Vocabulary`
maps tokens to integer ids and back; `pad_batch` stacks id sequences of different lengths into one
batch-first tensor plus their lengths. The readers load the four file formats the text tasks use:
labelled CSV (classification), plain text (generation), CoNLL-U (tagging) and tab-separated pairs
(translation). Every reader accepts ``.gz`` files, and every problem in a file raises `DataError`
with one line naming the file, the line and the value.
"""

from rnnlab.data.text.readers import (
    TEXT_KINDS,
    read_conllu,
    read_labelled_csv,
    read_parallel_tsv,
    read_text,
    resolve_text_data,
)
from rnnlab.data.text.vocab import (
    BOS,
    EOS,
    PAD,
    UNK,
    Tokenizer,
    Vocabulary,
    char_tokenize,
    pad_batch,
    word_tokenize,
)

__all__ = [
    "BOS", "EOS", "PAD", "TEXT_KINDS", "UNK", "Tokenizer", "Vocabulary", "char_tokenize", "pad_batch",
    "read_conllu", "read_labelled_csv", "read_parallel_tsv", "read_text", "resolve_text_data", "word_tokenize",
]
