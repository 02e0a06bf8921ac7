"""Named result types that travel between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SourceMeta:
    """What the curator's manifest (or the document itself) says about a source."""

    title: str
    publisher: str = ""
    date: str = ""
    url: str = ""
    kind: str = "unknown"


@dataclass(frozen=True)
class Document:
    """One cleaned document. `text` is the stored text every span points into."""

    id: str
    path: str
    meta: SourceMeta
    text: str
    raw_sha256: str


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences; `text == document.text[start:end]`."""

    doc_id: str
    start: int
    end: int
    text: str
    first_sentence: int  # index into the index's sentence table
    last_sentence: int  # exclusive


@dataclass(frozen=True)
class Hit:
    """A chunk found by retrieval, with the scores that found it."""

    chunk: int  # row in the index
    score: float  # fused score used for ranking
    dense: float  # cosine similarity to the question
    sparse: float  # BM25 score (0 when BM25 did not find it)


@dataclass(frozen=True)
class Quote:
    text: str
    citation: int
    source_id: str
    start: int
    end: int
    score: float
    chunk_text: str = ""  # the retrieved passage the quote was taken from
    chunk_start: int = 0


@dataclass(frozen=True)
class Source:
    citation: int
    id: str
    title: str
    publisher: str
    date: str
    url: str
    kind: str


@dataclass(frozen=True)
class Answer:
    question: str
    route: str  # answer | no_answer | crisis | medical_advice | out_of_scope | invalid
    answer_markdown: str
    quotes: tuple[Quote, ...] = ()
    sources: tuple[Source, ...] = ()
    disclaimer: str = ""
    message: str = ""  # a note for the user, e.g. that the question was truncated
    groups: tuple[tuple[int, ...], ...] = field(default=())  # quote indices that make one claim
