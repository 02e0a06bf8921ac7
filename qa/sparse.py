"""Sparse retrieval: BM25 (bm25s, Snowball stemming) over the chunk texts, with query
terms that are not in the vocabulary mapped to the nearest vocabulary term, so that
typos ("ketamin", "fst") still match."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str], as_ids: bool = True):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=as_ids, show_progress=False)


class SparseIndex:
    """BM25 over a list of texts; rows line up with the dense index's rows."""

    def __init__(self, model):
        self.model = model

    @classmethod
    def build(cls, texts: list[str]) -> "SparseIndex":
        import bm25s

        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        return cls(model)

    def save(self, folder: Path) -> None:
        self.model.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "SparseIndex":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False))

    @cached_property
    def _vocab(self) -> list[str]:
        return [term for term in self.model.vocab_dict if term]

    def correct(self, tokens: list[str]) -> list[str]:
        """Known tokens as they are; unknown ones replaced by the closest vocabulary term
        within a small edit distance (1 for short words, 2 for long), or dropped."""
        from rapidfuzz import distance, process

        vocab = self.model.vocab_dict
        out = []
        for tok in tokens:
            if tok in vocab:
                out.append(tok)
                continue
            if len(tok) < 3:
                continue
            limit = 1 if len(tok) <= 5 else 2
            match = process.extractOne(tok, self._vocab, scorer=distance.Levenshtein.distance,
                                       score_cutoff=limit)
            if match is not None:
                out.append(match[0])
        return out

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no term matches)."""
        tokens = self.correct(tokenize([query], as_ids=False)[0])
        n = self.model.scores["num_docs"]
        if not tokens:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)
