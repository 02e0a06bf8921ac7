"""The question-answering pipeline: one `QA.ask(question) -> Answer` used by the CLI,
the chat page and its API alike.

validate -> embed the question once -> safety route -> hybrid retrieval -> scope and
abstention checks -> sentence selection -> verified quotes -> rendered answer.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from . import messages
from .answer import (Selection, add_agreement, build_quotes, compose, escape, fixed_answer, group_claims,
                     score_sentences, verify)
from .reference import Reference, topics
from .retrieve import diversify, search
from .safety import SafetyRouter
from .types import Answer

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Thresholds:
    """Calibrated on the labelled questions by `qa eval --calibrate` (see qa/data)."""

    scope_min: float = 0.25  # best chunk cosine below this: the question is out of scope
    answer_min: float = 0.45  # evidence below this: the sources do not answer
    miss_weight: float = 0.0  # evidence = best sentence score - miss_weight * share of question words absent
    fusion: str = "normalized"

    @classmethod
    def for_model(cls, name: str) -> "Thresholds":
        data = json.loads(resources.files("qa").joinpath("data/thresholds.json").read_text())
        entry = data.get(name)
        return cls(**entry) if entry else cls()


class QA:
    def __init__(self, index, embedder, thresholds: Thresholds | None = None, selection: Selection = Selection()):
        self.index = index
        self.embedder = embedder
        self.thresholds = thresholds or Thresholds.for_model(embedder.identity.name)
        self.selection = selection
        self.router = SafetyRouter(embedder.embed)
        self.known_words = _known_words(embedder)
        kinds = {d.meta.kind for d in index.docs}
        self.disclaimer = messages.DISCLAIMER_MARKETING if "marketing" in kinds else messages.DISCLAIMER_GENERAL
        # reference notes are quoted apart ("What regulators say"), never as one of the sources
        self.reference = Reference(index)
        self.sources = frozenset(d.id for d in index.docs) - self.reference.doc_ids
        self._is_source = np.array([d.id in self.sources for d in index.docs], dtype=bool)  # by document number
        self._claims: dict | None = None

    @classmethod
    def open(cls, corpus: Path, folder: Path, model: str | None = None, build: bool = False,
             progress: bool = False, embedder=None) -> "QA":
        """Open the index in `folder` for `corpus`. With `build`, a missing or stale
        index is (re)built first; otherwise it is an error that names the fix."""
        from .build import open_fresh, rebuild
        from .embed import SentenceTransformerEmbedder
        from .index import IndexCorrupt, IndexMissing, IndexStale

        embedder = embedder or SentenceTransformerEmbedder(model)
        try:
            index = open_fresh(corpus, folder, embedder)
        except (IndexMissing, IndexStale, IndexCorrupt):
            if not build:
                raise
            index, report, note = rebuild(corpus, folder, embedder, progress=progress)
            if progress:  # the person starting `qa chat` should see what was skipped, and why
                import sys

                for line in ([f"note: {note}"] if note else []) + [f"warning: {w}" for w in report.warnings]:
                    print(line, file=sys.stderr)
                print(report.summary(), file=sys.stderr)
        return cls(index, embedder)

    def warm_up(self) -> None:
        """Load the model and the prototypes now rather than on the first question."""
        self.router.prototypes  # noqa: B018 - embeds the prototypes
        self.claims  # noqa: B018 - finds the flagged claims of every source

    @property
    def claims(self) -> dict:
        """claim -> source -> where it makes it, over every sentence of the sources."""
        if self._claims is None:
            from .claims import claims_by_source

            self._claims = claims_by_source(self.index.claims, self.index.sentences, self.sources)
        return self._claims

    # ---- the one code path ----------------------------------------------------------

    def ask(self, question: str) -> Answer:
        text = (question or "").strip()
        if not text:
            return fixed_answer(question or "", "invalid", messages.EMPTY, "", messages.EMPTY)
        if len(text) > MAX_QUESTION_CHARS:
            note = messages.TOO_LONG.format(n=len(text), limit=MAX_QUESTION_CHARS)
            return fixed_answer(text[:MAX_QUESTION_CHARS], "invalid", note, "", note)

        vector = self.embedder.embed([text])[0]
        decision = self.router.decide(text, vector)
        if decision.route == "crisis":
            return Answer(text, "crisis", messages.CRISIS, disclaimer=self.disclaimer)
        if decision.route == "medical_advice":
            return fixed_answer(text, "medical_advice", messages.MEDICAL_ADVICE, self.disclaimer)

        t = self.thresholds
        evidence = self.evidence(text, vector)
        if evidence.scope < t.scope_min:
            return fixed_answer(text, "out_of_scope", messages.OUT_OF_SCOPE.format(
                description=self.description()), self.disclaimer)
        regulator = self.regulator(text, vector, evidence)
        candidates = evidence.candidates
        best = candidates[0].score if candidates else 0.0
        if evidence.score(t.miss_weight) < t.answer_min:
            return self.no_answer(text, evidence.missing, regulator)
        hits = evidence.hits
        groups = group_claims(self.index, candidates, max(t.answer_min, best - self.selection.window),
                              self.selection)
        quotes, layout = build_quotes(self.index, groups, hits)
        if not quotes:
            return self.no_answer(text, (), regulator)
        quotes, agreement, differ = add_agreement(self.index, quotes, self.claims, len(self.sources), self.selection)
        return compose(text, self.index, quotes, layout, self.disclaimer, len(self.sources), agreement, differ,
                       regulator)

    def regulator(self, text: str, vector, evidence: "Evidence") -> tuple:
        """What the reference notes say on the question's regulator topics, verified."""
        facts = self.reference.select(topics(" ".join((text,) + evidence.corrected)), vector, set(evidence.terms),
                                      self.selection.lexical_weight)
        return tuple(f for f in facts if verify(f.quote, self.index.doc_by_id))

    def evidence(self, text: str, vector) -> "Evidence":
        """Everything the abstention decisions look at, computed once per question."""
        terms = self.index.sparse.analyze(text, self.known_words)
        found = search(self.index, vector, text, k=20, method=self.thresholds.fusion, terms=terms)
        scope = max((h.dense for h in found), default=0.0)  # a question the reference note covers is in scope
        hits = diversify(self.index, [h for h, ok in zip(found, self._from_sources([h.chunk for h in found])) if ok],
                         limit=6)
        matched = {t.matched for t in terms if t.matched}
        candidates = score_sentences(self.index, hits, vector, matched, self.selection, self.sources,
                                     self.reference.sentence_count) if hits else []
        # a word only the reference note uses is still one the sources never mention
        missing = tuple(dict.fromkeys(t.word for t in terms if not t.matched or not self._in_sources(t.matched)))
        corrected = tuple(t.matched for t in terms if t.matched and t.matched != t.word)
        return Evidence(hits, candidates, scope, missing, len(missing) / len(terms) if terms else 0.0, corrected,
                        tuple(matched))

    def _from_sources(self, chunk_rows) -> np.ndarray:
        """For each chunk row, whether it belongs to one of the sources (not a reference note)."""
        return self._is_source[np.asarray(self.index.chunks.doc_ids())[np.asarray(chunk_rows, dtype=np.int64)]]

    def _in_sources(self, term: str) -> bool:
        if not self.reference.doc_ids:
            return True
        return bool(self._from_sources(self.index.sparse.rows_with(term)).any())

    def no_answer(self, text: str, missing: tuple[str, ...] = (), regulator: tuple = ()) -> Answer:
        body = messages.NO_ANSWER.format(n=len(self.sources))
        if missing:
            words = ", ".join(f"“{escape(w)}”" for w in missing[:5])
            body += " " + messages.NOT_MENTIONED.format(words=words)
        return fixed_answer(text, "no_answer", body, self.disclaimer, regulator=regulator)

    def description(self) -> str:
        desc = self.index.manifest["corpus"].get("description") or f"{len(self.sources)} documents"
        return escape(desc)


@dataclass(frozen=True)
class Evidence:
    hits: list
    candidates: list
    scope: float  # best chunk cosine: is the question about what the corpus covers at all?
    missing: tuple[str, ...]  # question words that occur nowhere in the corpus
    missing_share: float
    corrected: tuple[str, ...] = ()  # corpus words that typos in the question were corrected to
    terms: tuple[str, ...] = ()  # the question's (stemmed) words found in the collection

    def score(self, miss_weight: float) -> float:
        best = self.candidates[0].score if self.candidates else 0.0
        return best - miss_weight * self.missing_share


def _known_words(embedder) -> frozenset[str]:
    """Whole words of the embedding model's tokenizer vocabulary, used as a dictionary:
    a question word found there is a real word, not a typo to be corrected."""
    path = getattr(embedder, "path", None)
    vocab = Path(path) / "vocab.txt" if path else None
    if not vocab or not vocab.exists():
        return frozenset()
    words = (line.strip() for line in vocab.read_text(encoding="utf-8").splitlines())
    return frozenset(w for w in words if w.isalpha() and len(w) > 2)


def to_json(answer: Answer) -> dict:
    """The JSON object of `qa ask --json` and of the chat page's API."""
    return {
        "question": answer.question,
        "route": answer.route,
        "answer_markdown": answer.answer_markdown,
        "quotes": [asdict(q) for q in answer.quotes],
        "sources": [asdict(s) for s in answer.sources],
        "groups": [list(g) for g in answer.groups],
        "agreement": [asdict(a) for a in answer.agreement],
        "differ_on": list(answer.differ_on),
        "regulator": [{**asdict(f.quote), "page": f.source, "url": f.url} for f in answer.regulator],
        "disclaimer": answer.disclaimer,
        "message": answer.message,
    }
