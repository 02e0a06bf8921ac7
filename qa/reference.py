"""Regulator context: when a question touches approval, safety (abuse included), side
effects, speed or the strength of the evidence, quote what the collection's reference notes (documents of kind
"reference", written by the project from regulator pages) say, apart from the marketing.

A reference note is plain paragraphs: a line "Source: <name> — <https link>", then the facts
taken from that page, one paragraph each; every quoted fact carries its page's link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .types import Quote, RegulatorFact

REFERENCE_KIND = "reference"
MAX_FACTS = 2

TOPICS = {
    "approval": r"\b(?:fda|approv\w*|licen[cs]\w*|regulat\w*|legal\w*|off[- ]label|spravato|esketamine|rems"
                r"|certified|prescri(?:ption|bed)|nasal spray|at home|take[- ]home|compounded)\b",
    "safety": r"\b(?:safe\w*|unsafe|risks?|risky|danger\w*|harm(?:ful|s)?|addict\w*|abuse|misuse|warnings?"
              r"|toleran\w*|tolerated|pregnan\w*|dependen\w*|overdose|boxed)\b",
    "abuse": r"\b(?:addict\w*|abuse|misuse|dependen\w*|habit[- ]forming|recreational)\b",
    "side_effects": r"\bside[- ]?effects?\b|\b(?:adverse|dissociat\w*|nause\w*|dizz\w*|sedat\w*|vertigo"
                    r"|blood pressure|hallucinat\w*|drowsy|detached)\b",
    "speed": r"\b(?:fast\w*|quick\w*|rapid\w*|speed|soon|immediate\w*|instant\w*|onset|overnight|hours"
             r"|kick in|take effect|start(?:s)? (?:to )?work\w*|works? so fast)\b|\bhow long (?:until|before|does it take)",
    "evidence": r"\b(?:effective\w*|efficacy|success rates?|proven|evidence|studies|study|trials?|research\w*"
                r"|suicid\w*)\b",
}
_TOPICS = {name: re.compile(p, re.IGNORECASE) for name, p in TOPICS.items()}
_SOURCE_LINE = re.compile(r"^Source:\s*(?P<name>.+?)\s+[—–-]\s+(?P<url>https?://\S+)\s*$", re.MULTILINE)


def topics(text: str) -> tuple[str, ...]:
    """The regulator topics a question (or a fact) touches, in a fixed order."""
    return tuple(name for name, p in _TOPICS.items() if p.search(text))


@dataclass(frozen=True)
class Fact:
    doc_id: str
    start: int  # the fact's span in the note's text
    end: int
    source: str  # the page it comes from, e.g. "FDA news release, 5 March 2019"
    url: str


def facts_of(doc) -> list[Fact]:
    """Each paragraph after a "Source:" line, up to the next one, is a fact from that page
    (a note lists one page once: repeated paragraphs are dropped when documents are cleaned)."""
    out = []
    lines = list(_SOURCE_LINE.finditer(doc.text))
    for m, nxt in zip(lines, lines[1:] + [None]):
        end = nxt.start() if nxt else len(doc.text)
        for p in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", doc.text[m.end():end]):
            if p.group(0).strip():
                out.append(Fact(doc.id, m.end() + p.start(), m.end() + p.end(), m.group("name").strip(),
                                m.group("url")))
    return out


class Reference:
    """The reference notes of an index: their facts and the sentences inside them."""

    def __init__(self, index):
        self.index = index
        self.doc_ids = frozenset(d.id for d in index.docs if d.meta.kind == REFERENCE_KIND)
        self.facts = [f for d in index.docs if d.id in self.doc_ids for f in facts_of(d)]
        self.sentences: list[tuple[int, Fact]] = []  # (sentence row, the fact it belongs to)
        notes = [index.sentences.rows_of(d.id) for d in index.docs if d.id in self.doc_ids]
        for row in (r for rows in notes for r in rows):
            s = index.sentences[row]
            fact = next((f for f in self.facts if f.doc_id == s.doc_id and f.start <= s.start and s.end <= f.end), None)
            if fact is not None:
                self.sentences.append((row, fact))
        self.sentence_count = sum(len(rows) for rows in notes)  # every sentence of the notes, facts or not
        from .sparse import stems

        texts = [index.sentences[i].text for i, _ in self.sentences]
        self._topics = [set(topics(t)) for t in texts]  # worked out once, not per question
        self._stems = [set(stems(t)) for t in texts]

    def select(self, question_topics: tuple[str, ...], vector: np.ndarray, words: set[str] = frozenset(),
               lexical_weight: float = 0.0, limit: int = MAX_FACTS) -> list[RegulatorFact]:
        """The facts most like the question, preferring facts on its topics; none when the
        question touches no regulator topic or the collection has no reference note."""
        if not question_topics or not self.sentences:
            return []
        rows = [i for i, _ in self.sentences]
        scores = np.asarray(self.index.sentence_vectors[rows]) @ np.asarray(vector, dtype=np.float32)
        if words:  # as for the sources' sentences: sharing the question's words is evidence too
            scores = scores + lexical_weight * np.array([len(words & st) / len(words) for st in self._stems])
        wanted = set(question_topics)
        # facts sharing more of the question's topics first, then by likeness to the question
        ranked = sorted(((len(wanted & tp), float(sc), i, f)
                         for sc, tp, (i, f) in zip(scores, self._topics, self.sentences)),
                        key=lambda t: (-t[0], -t[1], t[2]))
        out: list[RegulatorFact] = []
        used: set[Fact] = set()
        for _, score, i, fact in ranked:
            if fact in used:
                continue
            s = self.index.sentences[i]
            quote = Quote(s.text, 0, s.doc_id, s.start, s.end, round(score, 4), role="regulator")
            out.append(RegulatorFact(quote, fact.source, fact.url))
            used.add(fact)
            if len(out) == limit:
                break
        return out
