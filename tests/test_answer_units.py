"""Quote verification, escaping and rendering, with the tiny deterministic embedder."""

from dataclasses import replace

import numpy as np

from qa.answer import Candidate, Selection, build_quotes, escape, group_claims, render, verify
from qa.index import Index
from qa.types import Hit, Quote, Sentence, Source


def _index(corpus, embedder):
    index, _ = Index.build(corpus, embedder)
    return index


def test_quote_is_verified_against_the_stored_text_at_its_offsets(tiny_corpus, embedder):
    index = _index(tiny_corpus, embedder)
    s = index.sentences[1]
    good = Quote(s.text, 1, s.doc_id, s.start, s.end, 1.0)
    assert verify(good, index.doc_by_id)
    assert not verify(replace(good, start=s.start + 1, end=s.end + 1), index.doc_by_id)
    assert not verify(replace(good, text=s.text.replace("red", "blue")), index.doc_by_id)
    assert not verify(replace(good, source_id="nope"), index.doc_by_id)


def test_a_tampered_offset_is_dropped_before_anything_is_shown(tiny_corpus, embedder):
    index = _index(tiny_corpus, embedder)
    hits = [Hit(i, 1.0, 0.9, 0.0) for i in range(len(index.chunks))]
    target = next(i for i, s in enumerate(index.sentences) if "cellar" in s.text)
    other = next(i for i, s in enumerate(index.sentences) if "yellow" in s.text)
    s = index.sentences[target]
    index.sentences[target] = Sentence(s.doc_id, s.start + 3, s.end + 3, s.text)  # offsets no longer match
    quotes, layout = build_quotes(index, [[Candidate(target, 0.9)], [Candidate(other, 0.8)]], hits)
    assert [q.text for q in quotes] == [index.sentences[other].text]
    assert quotes[0].citation == 1 and layout == [[0]]


def test_same_claim_from_two_sources_is_grouped_and_counted(tiny_corpus, embedder):
    (tiny_corpus / "c.txt").write_text("# Cherries\n\nApples are red or green. Cherries are small.\n")
    index = _index(tiny_corpus, embedder)
    same = [i for i, s in enumerate(index.sentences) if s.text == "Apples are red or green."]
    assert len(same) == 2
    cands = [Candidate(same[0], 0.9), Candidate(same[1], 0.89)]
    groups = group_claims(index, cands, floor=0.5, sel=Selection())
    assert len(groups) == 1 and len(groups[0]) == 2
    hits = [Hit(i, 1.0, 0.9, 0.0) for i in range(len(index.chunks))]
    quotes, layout = build_quotes(index, groups, hits)
    sources = [Source(q.citation, q.source_id, "T", "", "", "", "marketing") for q in quotes]
    md = render(quotes, layout, sources, total_sources=3, disclaimer="D")
    assert "**2 of 3 sources say:**" in md
    assert md.count("Apples are red or green.") == 2 and "[1]" in md and "[2]" in md
    assert "marketing source" in md


def test_untrusted_text_is_escaped_for_markdown_and_html():
    shown = escape('<script>alert(1)</script> **bold** [x](javascript:alert(1))')
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert "**" not in shown and "](" not in shown


def test_sentences_on_one_subject_but_with_different_words_are_not_one_claim(tiny_corpus, embedder):
    (tiny_corpus / "c.txt").write_text("# Cherries\n\nApples are red or green. Apples keep their colour in winter storage.\n")
    index = _index(tiny_corpus, embedder)
    ids = {s.text: i for i, s in enumerate(index.sentences)}
    close_enough = Selection(same_claim=-1.0)  # any embedding counts as close: only the words decide
    a = ids["Apples are red or green."]
    b = ids["Apples keep their colour in winter storage."]
    groups = group_claims(index, [Candidate(a, 0.9), Candidate(b, 0.8)], floor=0.5, sel=close_enough)
    assert [len(g) for g in groups] == [1, 1]
