"""Chunking: split cleaned text into sentences (with character spans), then pack whole
sentences into overlapping chunks. Every span satisfies text[start:end] == piece."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Chunk, Document, Sentence


@dataclass(frozen=True)
class ChunkParams:
    max_chars: int = 500  # about 100-120 word pieces: inside MiniLM's 256-token window
    overlap_sentences: int = 1
    max_sentence_chars: int = 600  # longer "sentences" (lists without full stops) are cut at spaces
    sentence_context: str = "title"  # sentences are embedded prefixed with their document's title

    def as_dict(self) -> dict:
        return {
            "max_chars": self.max_chars,
            "overlap_sentences": self.overlap_sentences,
            "max_sentence_chars": self.max_sentence_chars,
            "sentence_context": self.sentence_context,
        }


_ABBREVIATIONS = {
    "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "no",
    "e.g", "i.e", "approx", "fig", "dept", "u.s", "u.k", "mt", "ph.d", "m.d",
}
# A sentence may end at . ! or ? (plus closing quotes/brackets) followed by a space.
SENTENCE_END = (".", "!", "?", '"', "”", "’", ")")


def ends_sentence(text: str) -> bool:
    """Closing punctuation: a sentence, not a heading or a fragment."""
    return text.rstrip().endswith(SENTENCE_END)


_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s)")
_LAST_WORD = re.compile(r"(\S+?)[.!?]*$")


def _is_break(line: str, m: re.Match) -> bool:
    """Whether the candidate end `m` inside `line` really ends a sentence."""
    following = line[m.end():].lstrip()
    if following[:1].islower():
        return False
    if m.group().startswith("."):
        word = _LAST_WORD.search(line[: m.start() + 1])
        token = word.group(1).lower().lstrip("(\"'“‘") if word else ""
        if token in _ABBREVIATIONS or len(token) == 1:
            return False
    return True


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Cut an over-long span at spaces into pieces of at most `limit` characters."""
    pieces = []
    while end - start > limit:
        space = text.rfind(" ", start + 1, start + limit)
        cut = space if space > start else start + limit
        pieces.append(_strip(text, start, cut))
        start = _strip(text, cut, end)[0]
    if end > start:
        pieces.append((start, end))
    return pieces


def sentence_spans(text: str, max_sentence_chars: int = 600) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`. A line break always ends a sentence;
    whitespace is never included at either edge."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        base, body = line.start(), line.group()
        cursor = 0
        bounds = [m.end() for m in _END.finditer(body) if _is_break(body, m)] + [len(body)]
        for stop in bounds:
            s, e = _strip(text, base + cursor, base + stop)
            if e > s:
                spans.extend(_cut(text, s, e, max_sentence_chars))
            cursor = stop
    return spans


def split_document(
    doc: Document, params: ChunkParams, first_sentence: int = 0
) -> tuple[list[Sentence], list[Chunk]]:
    """Sentences and chunks of one document. Sentence numbers start at `first_sentence`
    so that chunks can point into one table of sentences for the whole corpus."""
    spans = sentence_spans(doc.text, params.max_sentence_chars)
    sentences = [Sentence(doc.id, s, e, doc.text[s:e]) for s, e in spans]
    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j = i + 1
        while j < len(spans) and spans[j][1] - spans[i][0] <= params.max_chars:
            j += 1
        start, end = spans[i][0], spans[j - 1][1]
        chunks.append(Chunk(doc.id, start, end, doc.text[start:end], first_sentence + i, first_sentence + j))
        if j >= len(spans):
            break
        i = max(i + 1, j - params.overlap_sentences)
    return sentences, chunks
