"""Chunk and sentence tables backed by integer arrays: spans into the document texts,
materialised as `Chunk` / `Sentence` only when one is read. A million chunks cost a few
arrays (memory-mapped from disk) instead of a million Python objects."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .types import Chunk, Document, Sentence


class _SpanTable(Sequence):
    columns = 3

    def __init__(self, docs: list[Document], spans: np.ndarray):
        spans = np.asarray(spans)
        if spans.ndim != 2 or spans.shape[1] != self.columns:
            raise ValueError(f"span table must have {self.columns} columns, has shape {spans.shape}")
        self.docs = docs
        self.spans = spans
        self._doc_index = {d.id: i for i, d in enumerate(docs)}

    def __len__(self) -> int:
        return len(self.spans)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        row = self.spans[i]
        return self._make(self.docs[int(row[0])], row)

    def validate(self) -> None:
        """Every span lies inside its document; raises ValueError otherwise."""
        if not len(self.spans):
            return
        doc = self.spans[:, 0]
        if doc.min() < 0 or doc.max() >= len(self.docs):
            raise ValueError("a span points to a missing document")
        lengths = np.array([len(d.text) for d in self.docs])
        if (self.spans[:, 1] < 0).any() or (self.spans[:, 1] >= self.spans[:, 2]).any() \
                or (self.spans[:, 2] > lengths[doc]).any():
            raise ValueError("a span lies outside its document")


class SentenceTable(_SpanTable):
    """Rows: document number, start, end."""

    columns = 3

    @staticmethod
    def _make(doc: Document, row) -> Sentence:
        start, end = int(row[1]), int(row[2])
        return Sentence(doc.id, start, end, doc.text[start:end])

    def rows_of(self, doc_id: str) -> range:
        """The rows of one document's sentences (rows are in document order)."""
        d = self._doc_index.get(doc_id)
        if d is None:
            return range(0)
        lo, hi = np.searchsorted(self.spans[:, 0], [d, d + 1])
        return range(int(lo), int(hi))

    def find(self, doc_id: str, start: int) -> int | None:
        """The row of the sentence of `doc_id` that starts at `start` (in text order within
        its document), or None."""
        rows = self.rows_of(doc_id)
        i = rows.start + int(np.searchsorted(self.spans[rows.start:rows.stop, 1], start))
        return i if i < rows.stop and int(self.spans[i, 1]) == start else None

    def __setitem__(self, i: int, s: Sentence) -> None:
        if not self.spans.flags.writeable:
            self.spans = np.array(self.spans)
        self.spans[i] = (self._doc_index[s.doc_id], s.start, s.end)

    @classmethod
    def of(cls, docs: list[Document], sentences: list[Sentence]) -> "SentenceTable":
        index = {d.id: i for i, d in enumerate(docs)}
        spans = np.array([(index[s.doc_id], s.start, s.end) for s in sentences], dtype=np.int64).reshape(-1, 3)
        return cls(docs, spans)


class ChunkTable(_SpanTable):
    """Rows: document number, start, end, first sentence, last sentence (exclusive)."""

    columns = 5

    @staticmethod
    def _make(doc: Document, row) -> Chunk:
        start, end = int(row[1]), int(row[2])
        return Chunk(doc.id, start, end, doc.text[start:end], int(row[3]), int(row[4]))

    @classmethod
    def of(cls, docs: list[Document], chunks: list[Chunk]) -> "ChunkTable":
        index = {d.id: i for i, d in enumerate(docs)}
        spans = np.array([(index[c.doc_id], c.start, c.end, c.first_sentence, c.last_sentence) for c in chunks],
                         dtype=np.int64).reshape(-1, 5)
        return cls(docs, spans)

    def doc_ids(self) -> np.ndarray:
        return self.spans[:, 0]
