"""Answers: pick the sentences that answer the question from the retrieved chunks, group
the ones that make the same claim, verify every quote against the stored document text,
number citations by source, and render the markdown the user reads.

Nothing here writes a claim of its own: the text shown is quotes, or the fixed messages
in `messages.py`.
"""

from __future__ import annotations

import heapq
import html
import re
from dataclasses import dataclass, replace

import numpy as np

from . import messages
from .chunk import ends_sentence
from .claims import TIMING, claims_to_count, flags_of, kind_of, timings_differ
from .types import Agreement, Answer, Document, Hit, Quote, RegulatorFact, Source

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


@dataclass(frozen=True)
class Selection:
    # max_claims, window and same_claim were chosen on the labelled questions for the F1 of
    # cited sources against the labelled ones (precision 0.90, recall 0.86; was 0.73 / 0.91)
    max_claims: int = 3  # distinct claims shown
    max_agreements: int = 5  # flagged claims counted across sources, per answer
    max_per_claim: int = 5  # quotes (one per source) under one claim
    window: float = 0.05  # sentences scoring within this of the best are candidates
    same_claim: float = 0.85  # sentence cosine at which two quotes may make the same claim...
    same_words: float = 0.4  # ...if they also share this share of their (stemmed) words
    lexical_weight: float = 0.15  # weight of question-word overlap added to the cosine
    sentence_search: int = 20  # sentences nearest the question, searched directly, join the candidates
    min_words: int = 5  # shorter sentences are not quoted alone
    heading_words: int = 12  # a line this short without closing punctuation is a heading


@dataclass(frozen=True)
class Candidate:
    sentence: int
    score: float


def escape(text: str) -> str:
    """Corpus text is untrusted: shown as text, never as HTML or markdown."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def is_quotable(sentence: str, sel: Selection) -> bool:
    """Whole sentences only: not fragments, not headings ("How Ketamine Works in the Brain")."""
    words = len(sentence.split())
    heading = words <= sel.heading_words and not ends_sentence(sentence)
    return words >= sel.min_words and not heading


def score_sentences(index, hits: list[Hit], query_vector: np.ndarray, query_terms: set[str],
                    sel: Selection, documents: frozenset[str] | None = None, skipped: int = 0) -> list[Candidate]:
    """The sentences of the retrieved chunks, and the sentences nearest the question
    anywhere in `documents` (default: the whole corpus; `skipped` sentences are outside it, so
    the search looks that much further), scored by cosine to the question plus a bonus for sharing its
    (stemmed, typo-corrected) words; best first."""
    from .sparse import stems

    ids = {s for h in hits for s in range(index.chunks[h.chunk].first_sentence, index.chunks[h.chunk].last_sentence)}
    if sel.sentence_search and len(index.sentences):
        _, nearest = index.sentence_dense.search(np.asarray(query_vector, dtype=np.float32).reshape(1, -1),
                                                 min(sel.sentence_search + skipped, len(index.sentences)))
        ids |= {int(i) for i in nearest[0] if i >= 0}
    ids = sorted(ids)
    ids = [i for i in ids if is_quotable(index.sentences[i].text, sel)
           and (documents is None or index.sentences[i].doc_id in documents)]
    if not ids:
        return []
    cos = np.asarray(index.sentence_vectors[ids]) @ query_vector
    if query_terms:
        overlap = np.array([len(query_terms & set(stems(index.sentences[i].text))) / len(query_terms) for i in ids])
    else:
        overlap = np.zeros(len(ids))
    # the passage a sentence sits in is evidence too: a sentence inside the best-matching
    # passage is more likely to answer than an equally similar one elsewhere
    scores = cos + sel.lexical_weight * overlap
    return sorted((Candidate(i, float(s)) for i, s in zip(ids, scores)), key=lambda c: (-c.score, c.sentence))


def group_claims(index, candidates: list[Candidate], floor: float, sel: Selection) -> list[list[Candidate]]:
    """Greedy grouping, best first: a candidate joins the claim whose lead sentence it
    nearly repeats (one quote per source per claim), else opens a new claim while there
    is room. Repeats inside one source are dropped, so copies do not crowd out evidence.
    "Nearly repeats" needs both a close embedding and shared words: sentences embedded with
    their document's title are close whenever they share a subject, which is not a claim."""
    from .sparse import stems

    words: dict[int, set[str]] = {}

    def words_of(sentence: int) -> set[str]:
        if sentence not in words:
            words[sentence] = set(stems(index.sentences[sentence].text))
        return words[sentence]

    def same(a: int, b: int) -> bool:
        if float(np.asarray(index.sentence_vectors[a]) @ np.asarray(index.sentence_vectors[b])) < sel.same_claim:
            return False
        wa, wb = words_of(a), words_of(b)
        return bool(wa | wb) and len(wa & wb) / len(wa | wb) >= sel.same_words

    groups: list[list[Candidate]] = []
    for cand in candidates:
        if cand.score < floor:
            break
        doc = index.sentences[cand.sentence].doc_id
        home = next((g for g in groups if same(g[0].sentence, cand.sentence)), None)
        if home is not None:
            if doc not in {index.sentences[c.sentence].doc_id for c in home} and len(home) < sel.max_per_claim:
                home.append(cand)
        elif len(groups) < sel.max_claims:
            groups.append([cand])
    return groups


def verify(quote: Quote, docs: dict[str, Document]) -> bool:
    """A quote is shown only if it is exactly the stored text at its offsets."""
    doc = docs.get(quote.source_id)
    return bool(doc is not None and quote.text and 0 <= quote.start < quote.end <= len(doc.text)
                and doc.text[quote.start:quote.end] == quote.text)


def build_quotes(index, groups: list[list[Candidate]], hits: list[Hit]) -> tuple[list[Quote], list[list[int]]]:
    """Quotes numbered by source (first cited source is [1]), with the passage each came
    from; quotes that fail verification are dropped here, before anything is shown."""
    chunk_of = {}
    for h in hits:
        c = index.chunks[h.chunk]
        for s in range(c.first_sentence, c.last_sentence):
            chunk_of.setdefault(s, c)
    for group in groups:  # sentences found by sentence search: the passage around them
        for cand in group:
            if cand.sentence not in chunk_of:
                chunk_of[cand.sentence] = index.chunks[index.chunk_of_sentence(cand.sentence)]
    citations: dict[str, int] = {}
    quotes: list[Quote] = []
    layout: list[list[int]] = []
    for group in groups:
        members = []
        for cand in group:
            s = index.sentences[cand.sentence]
            chunk = chunk_of[cand.sentence]
            quote = Quote(s.text, 0, s.doc_id, s.start, s.end, round(cand.score, 4), chunk.text, chunk.start,
                          flags=flags_of(s.text, index.claim_matches(cand.sentence)))
            if not verify(quote, index.doc_by_id):
                continue
            citation = citations.setdefault(s.doc_id, len(citations) + 1)
            quotes.append(replace(quote, citation=citation))
            members.append(len(quotes) - 1)
        if members:
            layout.append(members)
    return quotes, layout


def add_agreement(index, quotes: list[Quote], known: dict, total: int,
                  sel: Selection) -> tuple[list[Quote], list[Agreement], tuple[str, ...]]:
    """For each flagged claim the quotes make, every marketing source that makes it too,
    counted by document: the sources already quoted, then others, each with a verified
    quote of its own (up to `max_per_claim` shown; the count covers all). Also says
    whether the sources give different timings."""
    quotes = list(quotes)
    citations = {q.source_id: q.citation for q in quotes}
    said = [_claim_words(index, q) for q in quotes]  # in each quote, the first words that make each claim
    claims = claims_to_count([f for q in quotes if q.role == "answer" for f in q.flags], known, sel.max_agreements)
    out: list[Agreement] = []
    for claim in claims:
        docs = known[claim]
        # the sources already quoted first; a partial sort, as thousands of sources may make a claim
        order = heapq.nsmallest(sel.max_per_claim, docs, key=lambda d: (citations.get(d, len(index.docs) + 1), d))
        members, words, shown = [], [], []
        for doc in order:
            i = next((k for k, q in enumerate(quotes) if q.source_id == doc and claim in said[k]), None)
            if i is None:
                where = docs[doc]
                s = index.sentences[where.sentence]
                chunk = index.chunks[index.chunk_of_sentence(where.sentence)]
                quote = Quote(s.text, 0, doc, s.start, s.end, 0.0, chunk.text, chunk.start,
                              flags_of(s.text, index.claim_matches(where.sentence)), role="agreement")
                if not verify(quote, index.doc_by_id):
                    continue
                quotes.append(replace(quote, citation=citations.setdefault(doc, len(citations) + 1)))
                said.append(_claim_words(index, quotes[-1]))
                i = len(quotes) - 1
            members.append(i)
            shown.append(doc)
            words.append(said[i][claim])
        out.append(Agreement(claim, kind_of(claim), len(docs), total, tuple(shown), tuple(members), tuple(words)))
    differ = ("timing",) if any(c in TIMING for c in claims) and timings_differ(known) else ()
    return quotes, out, differ


def _claim_words(index, quote: Quote, context: int = 3) -> dict[str, str]:
    """claim -> the words of `quote` that make it, with a few words either side ("…" where
    the quote goes on), from the index's stored matches: all the words a claim spans, so a
    list of conditions is shown whole."""
    row = index.sentences.find(quote.source_id, quote.start)
    spans: dict[str, tuple[int, int]] = {}
    for m in index.claim_matches(row) if row is not None else []:
        if m.claim:
            s, e = spans.get(m.claim, (m.start, m.end))
            # the first match of a claim; a many-conditions claim runs from its first to last condition
            spans[m.claim] = (s, max(e, m.end)) if m.kind == "many_conditions" else (s, e)
    return {claim: _in_context(quote.text, s, e, context) for claim, (s, e) in spans.items()}


def _in_context(text: str, start: int, end: int, words: int) -> str:
    """text[start:end] with up to `words` words either side, and "…" where text is cut."""
    left, right = text[:start].split(" "), text[end:].split(" ")
    cut_left, cut_right = len(left) > words + 1, len(right) > words + 1
    head = " ".join(left[-(words + 1):]) if cut_left else text[:start]
    tail = " ".join(right[:words + 1]) if cut_right else text[end:]
    return ("…" if cut_left else "") + head + text[start:end] + tail + ("…" if cut_right else "")


def sources_for(quotes: list[Quote], docs: dict[str, Document]) -> list[Source]:
    seen: dict[int, Source] = {}
    for q in quotes:
        if q.citation not in seen:
            m = docs[q.source_id].meta
            seen[q.citation] = Source(q.citation, q.source_id, m.title, m.publisher, m.date, m.url, m.kind)
    return [seen[c] for c in sorted(seen)]


def render_source(s: Source) -> str:
    parts = [f"**[{s.citation}]** {escape(s.title)}"]
    details = ", ".join(escape(x) for x in (s.publisher, s.date) if x)
    if details:
        parts.append(f" — {details}")
    if s.url.startswith(("http://", "https://")):
        parts.append(f" — <{html.escape(s.url, quote=True)}>")
    if s.kind == "marketing":
        parts.append(f" · **{messages.MARKETING_LABEL}**")
    elif s.kind and s.kind != "unknown":
        parts.append(f" · {escape(s.kind)}")
    return "".join(parts)


def render_flags(flags) -> str:
    """The footnote under a flagged quote: each class, and the words that raised it."""
    parts = [f"{escape(f.label)} ({', '.join(f'“{escape(w)}”' for w in f.words)})" for f in flags]
    return f"⚑ **{messages.FLAGGED}** " + " · ".join(parts)


def render_agreement(quotes: list[Quote], agreement, differ) -> list[str]:
    """One line per flagged claim, starting with who makes it: how many sources, then each
    one's words (with a little context) and citation. Timings are listed together, under a
    line saying the sources give different ones when they do."""
    if not agreement:
        return []

    def line(a) -> str:
        n = a.count
        count = messages.ONLY_ONE.format(total=a.total) if n == 1 else messages.MANY.format(n=n, total=a.total)
        refs = " · ".join(f"“{escape(w)}” [{quotes[i].citation}]" for i, w in zip(a.quotes, a.words))
        more = " " + messages.AND_MORE.format(n=n - len(a.quotes)) if n > len(a.quotes) else ""
        return f"**{messages.CLAIMED_BY.format(count=count)}** {escape(a.claim)} — {refs}{more}"

    timings = [a for a in agreement if a.claim in TIMING]
    nested = len(timings) > 1
    lines = [f"**{messages.AGREEMENT_HEADING}**", ""]
    lines += [f"- {line(a)}" for a in agreement if not (nested and a in timings)]
    if nested:
        lines.append(f"- **{messages.DIFFER_TIMING if 'timing' in differ else messages.SAME_TIMING}**")
        lines += [f"  - {line(a)}" for a in timings]
    return lines + [""]


def render_regulator(facts) -> list[str]:
    """The project's own summary of regulator pages (not quotes of them), each with its link."""
    if not facts:
        return []
    lines = [f"**{messages.REGULATOR_HEADING}**", "", f"_{messages.REGULATOR_NOTE}_", ""]
    for f in facts:
        link = f", <{html.escape(f.url, quote=True)}>" if f.url.startswith(("http://", "https://")) else ""
        lines.append(f"- {escape(f.quote.text)} ({messages.FROM} {escape(f.source)}{link})")
    return lines + [""]


def render(quotes: list[Quote], layout: list[list[int]], sources: list[Source], total_sources: int,
           disclaimer: str, agreement=(), differ=(), regulator=()) -> str:
    lines = [messages.ANSWER_INTRO, ""]
    for members in layout:
        distinct = {quotes[i].source_id for i in members}
        if len(distinct) > 1:
            lines.append(f"**{len(distinct)} of {total_sources} sources say:**")
            lines.append("")
        for i in members:
            q = quotes[i]
            lines.append(f"> “{escape(q.text)}” [{q.citation}]")
            lines.append("")
            if q.flags:
                lines += [render_flags(q.flags), ""]
    lines += render_agreement(quotes, agreement, differ)
    lines += render_regulator(regulator)
    lines.append("**Sources**")
    lines.append("")
    for s in sources:
        lines.append(f"- {render_source(s)}")
    lines += ["", f"_{disclaimer}_"]
    return "\n".join(lines)


def fixed_answer(question: str, route: str, text: str, disclaimer: str, message: str = "",
                 regulator: tuple[RegulatorFact, ...] = ()) -> Answer:
    parts = [text] + (["\n".join(render_regulator(regulator)).strip()] if regulator else []) + \
        ([f"_{disclaimer}_"] if disclaimer else [])
    return Answer(question=question, route=route, answer_markdown="\n\n".join(parts), disclaimer=disclaimer,
                  message=message, regulator=tuple(regulator))


def compose(question: str, index, quotes: list[Quote], layout: list[list[int]], disclaimer: str, total: int,
            agreement=(), differ=(), regulator=()) -> Answer:
    sources = sources_for(quotes, index.doc_by_id)
    markdown = render(quotes, layout, sources, total, disclaimer, agreement, differ, regulator)
    return Answer(question=question, route="answer", answer_markdown=markdown, quotes=tuple(quotes),
                  sources=tuple(sources), disclaimer=disclaimer, groups=tuple(tuple(g) for g in layout),
                  agreement=tuple(agreement), differ_on=tuple(differ), regulator=tuple(regulator))
