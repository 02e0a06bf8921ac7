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
class Flag:
    """A promotional-claim class found in a quote, and the words that triggered it."""

    kind: str  # hype | speed | efficacy | safety | testimonial | many_conditions | exaggeration
    label: str  # the class's short name, shown on the badge
    words: tuple[str, ...]  # the triggering words, as written
    spans: tuple[tuple[int, int], ...]  # their offsets in the quote's text
    claims: tuple[str, ...] = ()  # what the words claim, for counting agreement across sources


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
    flags: tuple[Flag, ...] = ()
    role: str = "answer"  # answer | agreement (another source making a flagged claim) | regulator


@dataclass(frozen=True)
class RegulatorFact:
    """A quoted fact from a reference note, with the public page it comes from."""

    quote: Quote
    source: str  # e.g. "FDA news release, 5 March 2019"
    url: str


@dataclass(frozen=True)
class Agreement:
    """How many distinct sources make one flagged claim, counted by document."""

    claim: str  # e.g. "relief within hours"
    kind: str  # the flag class it belongs to
    count: int  # marketing sources that make it
    total: int  # marketing sources in the collection
    documents: tuple[str, ...]  # the sources shown making it (those already quoted first), up to a limit
    quotes: tuple[int, ...]  # indices into Answer.quotes: the quote shown for each of those sources
    words: tuple[str, ...]  # in each of those quotes, the words that make the claim


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
    agreement: tuple[Agreement, ...] = ()
    differ_on: tuple[str, ...] = ()  # what the sources give differently, e.g. ("timing",)
    regulator: tuple[RegulatorFact, ...] = ()  # "What regulators say", never from the marketing sources
