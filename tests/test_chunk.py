from qa.chunk import ChunkParams, sentence_spans, split_document
from qa.load import load_corpus

from .conftest import SEEDS


def test_every_chunk_and_sentence_is_its_span_of_the_cleaned_text():
    offset = 0
    for doc in load_corpus(SEEDS).documents:
        sentences, chunks = split_document(doc, ChunkParams(), offset)
        assert chunks, doc.id
        for s in sentences:
            assert doc.text[s.start:s.end] == s.text and s.text == s.text.strip()
        for c in chunks:
            assert doc.text[c.start:c.end] == c.text
            assert len(c.text) <= ChunkParams().max_chars or c.last_sentence - c.first_sentence == 1
            inner = sentences[c.first_sentence - offset:c.last_sentence - offset]
            assert inner[0].start == c.start and inner[-1].end == c.end
        # chunks cover every sentence, and consecutive chunks share one sentence
        covered = {i for c in chunks for i in range(c.first_sentence, c.last_sentence)}
        assert covered == set(range(offset, offset + len(sentences)))
        for a, b in zip(chunks, chunks[1:]):
            assert b.first_sentence == a.last_sentence - 1 or b.first_sentence == a.first_sentence + 1
        offset += len(sentences)


def test_abbreviations_and_decimals_do_not_end_sentences():
    text = 'Dr. Johnson explains, "It works." It costs 2.5 times more. e.g. this one. Next.'
    parts = [text[s:e] for s, e in sentence_spans(text)]
    assert parts == ['Dr. Johnson explains, "It works."', "It costs 2.5 times more. e.g. this one.", "Next."]


def test_overlong_sentence_is_cut_at_spaces():
    text = " ".join(["word"] * 400)
    spans = sentence_spans(text, max_sentence_chars=100)
    assert all(e - s <= 100 for s, e in spans)
    assert " ".join(text[s:e] for s, e in spans) == text
