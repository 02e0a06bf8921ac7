"""Sparse retrieval: BM25 (bm25s, Snowball stemming) over the chunk texts, with query
terms that are not in the vocabulary mapped to the nearest vocabulary term, so that
typos ("ketamin", "fst") still match."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

_WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class QueryTerm:
    word: str  # as typed, lower-cased
    stem: str
    matched: str | None  # the vocabulary term it matches (itself, or a typo correction); None: absent


@lru_cache(maxsize=1)
def _content_stopwords() -> frozenset[str]:
    """Function words and question words, which say nothing about what is asked."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _bm25_stopwords() | {
        "does", "did", "doing", "what", "whats", "how", "hows", "why", "who", "whos", "which", "can", "could",
        "would", "should", "tell", "know", "like", "want", "need", "say", "says", "said", "explain", "ll",
        "ve", "re", "don", "doesn", "isn", "aren", "didn", "won", "im", "ive"}


_local = threading.local()


def _stemmer():
    """One Snowball stemmer per thread (a stemmer keeps a cache and is not thread-safe)."""
    if not hasattr(_local, "stemmer"):
        import Stemmer

        _local.stemmer = Stemmer.Stemmer("english")
    return _local.stemmer


@lru_cache(maxsize=1)
def _bm25_stopwords() -> frozenset[str]:
    import bm25s.stopwords

    return frozenset(bm25s.stopwords.STOPWORDS_EN)


def stems(text: str) -> list[str]:
    """The BM25 terms of one text (as `tokenize` makes them), without its per-call overhead:
    for the few sentences scored per question."""
    stop = _bm25_stopwords()
    return _stemmer().stemWords([w for w in _WORD.findall(text.lower()) if w not in stop])


def tokenize(texts: list[str], as_ids: bool = True):
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=as_ids, show_progress=False)


class SparseIndex:
    """BM25 over a list of texts; rows line up with the dense index's rows."""

    def __init__(self, model, words: list[str]):
        self.model = model
        self.words = words  # the corpus's words as written (lower-cased), for typo correction

    @classmethod
    def build(cls, texts: list[str]) -> "SparseIndex":
        import bm25s

        model = bm25s.BM25()
        model.index(tokenize(texts), show_progress=False)
        words = sorted({w for t in texts for w in _WORD.findall(t.lower()) if not w.isdigit()})
        return cls(model, words)

    def save(self, folder: Path) -> None:
        import json

        self.model.save(str(folder), show_progress=False)
        (Path(folder) / "words.json").write_text(json.dumps(self.words, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "SparseIndex":
        import json

        import bm25s

        words = json.loads((Path(folder) / "words.json").read_text(encoding="utf-8"))
        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False), words)

    def nearest_term(self, word: str) -> str | None:
        """The vocabulary term of the corpus word within a small edit distance of `word`
        (1 for words of up to 5 letters, 2 for longer ones), or None."""
        from rapidfuzz import distance, process

        if len(word) < 3:
            return None
        limit = 1 if len(word) <= 5 else 2
        match = process.extractOne(word, self.words, scorer=distance.Levenshtein.distance, score_cutoff=limit)
        if match is None:
            return None
        stem = _stemmer().stemWord(match[0])
        return stem if stem in self.model.vocab_dict else None

    def analyze(self, query: str, known_words: frozenset[str] = frozenset()) -> list[QueryTerm]:
        """The content words of a question and the vocabulary terms they match. A word
        in `known_words` (a dictionary) is taken as meant and never 'corrected': only
        unknown words, likely typos, are mapped to the nearest vocabulary term."""
        stop = _content_stopwords()
        words = [w for w in _WORD.findall(query.lower()) if w not in stop]
        stems = _stemmer().stemWords(words)
        vocab = self.model.vocab_dict
        terms = []
        for word, stem in zip(words, stems):
            if stem in vocab:
                matched = stem
            elif word in known_words:
                matched = None
            else:
                matched = self.nearest_term(word)
            terms.append(QueryTerm(word, stem, matched))
        return terms

    def rows_with(self, term: str) -> np.ndarray:
        """The rows whose text contains the vocabulary term `term`."""
        return np.flatnonzero(np.asarray(self.model.get_scores([term])) > 0)

    def scores(self, query: str, terms: list[QueryTerm] | None = None) -> np.ndarray:
        """BM25 score of every row for `query` (zeros when no term matches)."""
        terms = self.analyze(query) if terms is None else terms
        tokens = [t.matched for t in terms if t.matched]
        n = self.model.scores["num_docs"]
        if not tokens:
            return np.zeros(n, dtype=np.float32)
        return np.asarray(self.model.get_scores(tokens), dtype=np.float32)
