"""The answer path end to end with the real model: quotes, sources, abstention, the
JSON contract and `qa ask` from the command line."""

import json
import shutil
import subprocess
import sys

import pytest

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
    (built / "corpus" / "new.txt").write_text("A new clinic press release about ketamine.")
    stale = subprocess.run([*_qa_command(), "ask", "How fast does ketamine work?", *args],
                           capture_output=True, text=True, timeout=300)
    (built / "corpus" / "new.txt").unlink()
    assert stale.returncode == 2 and "out of date" in stale.stderr and "qa index" in stale.stderr
    assert "Traceback" not in stale.stderr
