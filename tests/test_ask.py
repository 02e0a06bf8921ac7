"""The answer path end to end with the real model: quotes, sources, abstention, the
JSON contract and `qa ask` from the command line."""

import json
import shutil
import subprocess
import sys

import pytest

from qa.answer import escape
from qa.load import load_corpus
from qa.pipeline import MAX_QUESTION_CHARS, QA, to_json

from .conftest import SEEDS

pytestmark = pytest.mark.slow


def test_answer_is_verbatim_quotes_with_marketing_sources(real_qa):
    a = real_qa.ask("How fast does ketamine work?")
    assert a.route == "answer"
    fresh = {d.id: d.text for d in load_corpus(SEEDS).documents}
    assert len({q.source_id for q in a.quotes}) >= 2
    for q in a.quotes:
        assert fresh[q.source_id][q.start:q.end] == q.text  # verbatim, at its offsets, in the corpus files
        assert q.chunk_text[q.start - q.chunk_start:q.end - q.chunk_start] == q.text
        assert f"[{q.citation}]" in a.answer_markdown
    assert any("hour" in q.text for q in a.quotes)  # the answer gives a time scale
    assert [s.citation for s in a.sources] == list(range(1, len(a.sources) + 1))
    assert {s.kind for s in a.sources} == {"marketing"}
    assert a.answer_markdown.count("marketing source") == len(a.sources)
    assert "not medical advice" in a.disclaimer.lower() or "nothing here is medical advice" in a.disclaimer.lower()
    assert a.disclaimer in a.answer_markdown


def test_typos_still_find_the_passage(real_qa):
    a = real_qa.ask("how fst does ketamin work")
    assert a.route == "answer"
    assert any(w in q.text.lower() for q in a.quotes for w in ("fast", "hours", "rapid"))


@pytest.mark.parametrize("question,missing", [
    ("Does insurance cover ketamine therapy for depression?", "insurance"),
    ("Is ketamine addictive?", "addictive"),
])
def test_abstains_when_the_corpus_is_silent(real_qa, question, missing):
    a = real_qa.ask(question)
    assert a.route == "no_answer" and not a.quotes and not a.sources
    assert "do not address" in a.answer_markdown and missing in a.answer_markdown


def test_out_of_scope_quotes_nothing_and_says_what_is_covered(real_qa):
    a = real_qa.ask("What is the capital of Australia?")
    assert a.route == "out_of_scope" and not a.quotes
    assert "ketamine therapy for depression" in a.answer_markdown


@pytest.mark.parametrize("question", ["", "   \n\t"])
def test_empty_question_is_invalid_with_a_message(real_qa, question):
    a = real_qa.ask(question)
    assert a.route == "invalid" and a.message == "Please type a question."


def test_huge_question_is_refused_with_a_message(real_qa):
    a = real_qa.ask("ketamine " * 1000)
    assert a.route == "invalid" and f"{MAX_QUESTION_CHARS:,}" in a.message and not a.quotes


def test_json_contract(real_qa):
    obj = to_json(real_qa.ask("What are the side effects?"))
    assert obj["route"] == "answer"
    assert set(obj) >= {"question", "route", "answer_markdown", "quotes", "sources", "disclaimer"}
    assert set(obj["quotes"][0]) >= {"text", "citation", "source_id", "start", "end", "score"}
    assert set(obj["sources"][0]) == {"citation", "id", "title", "publisher", "date", "url", "kind"}
    json.dumps(obj)  # serialisable as is


def test_three_copies_of_a_release_do_not_crowd_out_other_sources(tmp_path, real_embedder):
    corpus = tmp_path / "corpus"
    shutil.copytree(SEEDS, corpus)
    text = (corpus / "001_acdd03870cfba1cc.txt").read_text()
    for i in range(3):
        (corpus / f"copy{i}.txt").write_text(text)
    qa = QA.open(corpus, tmp_path / "index", build=True, embedder=real_embedder)
    a = qa.ask("How fast does ketamine work?")
    copies = {"001_acdd03870cfba1cc", "copy0", "copy1", "copy2"}
    others = {q.source_id for q in a.quotes} - copies
    assert len(others) >= 2, [q.source_id for q in a.quotes]
    # a claim repeated by the copies is shown once per source and counted
    assert len(a.quotes) == len({(q.source_id, q.text) for q in a.quotes})


def _qa_command():
    exe = shutil.which("qa")
    return [exe] if exe else [sys.executable, "-m", "qa.cli"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(SEEDS, root / "corpus")
    subprocess.run([*_qa_command(), "index", "--quiet", "--corpus", str(root / "corpus"),
                    "--index", str(root / "index")], check=True, capture_output=True, timeout=300)
    return root


def test_cli_json_lines_one_per_input_line_in_order(built):
    lines = ["How is ketamine given?", "", "I want to end it all", "x" * 5000, "What is the capital of Peru?"]
    out = subprocess.run([*_qa_command(), "ask", "--json", "-", "--corpus", str(built / "corpus"),
                          "--index", str(built / "index")],
                         input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(r) for r in out.stdout.splitlines()]
    assert [r["route"] for r in rows] == ["answer", "invalid", "crisis", "invalid", "out_of_scope"]
    assert rows[0]["question"] == lines[0]


def test_cli_readable_answer_and_stale_index_error(built):
    args = ["--corpus", str(built / "corpus"), "--index", str(built / "index")]
    out = subprocess.run([*_qa_command(), "ask", "How fast does ketamine work?", *args],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "marketing source" in out.stdout and "[1]" in out.stdout
    assert "**" not in out.stdout and "\\" not in out.stdout
    assert "Promotional wording: speed or certainty promise" in out.stdout and "Claimed by 5 of 5 sources" in out.stdout
    assert "What regulators say" in out.stdout and "https://www.fda.gov/" in out.stdout
    (built / "corpus" / "new.txt").write_text("A new clinic press release about ketamine.")
    stale = subprocess.run([*_qa_command(), "ask", "How fast does ketamine work?", *args],
                           capture_output=True, text=True, timeout=300)
    (built / "corpus" / "new.txt").unlink()
    assert stale.returncode == 2 and "out of date" in stale.stderr and "qa index" in stale.stderr
    assert "Traceback" not in stale.stderr


def test_flags_agreement_and_regulator_section(real_qa):
    a = real_qa.ask("How fast does ketamine work?")
    marketing = {d.id for d in real_qa.index.docs if d.meta.kind == "marketing"}
    flagged = [q for q in a.quotes if q.role == "answer" and q.flags]
    assert flagged, "a promise of speed is flagged"
    for q in flagged:
        for f in q.flags:
            assert all(q.text[s:e] == w for (s, e), w in zip(f.spans, f.words))
            assert escape(f.label) in a.answer_markdown
    hours = next(g for g in a.agreement if g.claim == "relief within hours")
    # counted by document: one source saying it twice counts once, and all five say it
    assert sorted(hours.documents) == sorted(marketing) and hours.total == 5
    assert "Claimed by 5 of 5 sources:** relief within hours" in a.answer_markdown
    for i, words in zip(hours.quotes, hours.words):  # each source's own words, a little context, "…" for cuts
        assert words.strip("…") in a.quotes[i].text and a.quotes[i].source_id in hours.documents
        assert any(w in words for w in ("hours", "hour"))
    assert "timing" in a.differ_on and "Claimed by only 1 of 5 sources:" in a.answer_markdown
    assert {q.source_id for q in a.quotes} <= marketing  # the reference note is never one of the sources
    assert a.regulator and "What regulators say" in a.answer_markdown
    for f in a.regulator:
        assert f.quote.source_id not in marketing and f.url.startswith("https://")
        assert real_qa.index.doc_by_id[f.quote.source_id].text[f.quote.start:f.quote.end] == f.quote.text
    data = to_json(a)
    assert data["quotes"][0]["flags"] is not None and data["agreement"][0]["documents"]
    assert data["regulator"][0]["url"].startswith("https://") and data["differ_on"] == ["timing"]


def test_regulator_section_only_where_the_question_touches_it(real_qa):
    plain = real_qa.ask("Which receptor does ketamine block?")
    assert plain.route == "answer" and not plain.regulator and "What regulators say" not in plain.answer_markdown
    fda = real_qa.ask("Is IV ketamine FDA-approved for treating depression?")
    # the marketing sources are silent on approval; the reference note is quoted apart, not as an answer
    assert fda.route == "no_answer" and not fda.quotes and "do not address" in fda.answer_markdown
    assert any("not FDA-approved" in f.quote.text for f in fda.regulator)
    addictive = real_qa.ask("Is ketamine addictive?")  # the fact on the question's own topic comes first
    assert addictive.route == "no_answer" and "abuse and misuse" in addictive.regulator[0].quote.text
    for question in ("I want to end it all.", "What dose of ketamine should I take?"):
        a = real_qa.ask(question)
        assert a.route in ("crisis", "medical_advice") and not a.regulator and not a.quotes
