"""The chat server's API (`/ask`), called as a program would: gradio_client and plain HTTP.

The `chat_server` fixture (also used by the browser tests) builds an index of a copy of the
default corpus plus one hostile document, then runs `qa chat` on a free port.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from qa import messages
from qa.answer import escape

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 240  # seconds: imports, model load, first page

# A document whose text is HTML that must never run; every sentence of it carries both kinds.
HOSTILE_NAME = "zz_clinic_directory.md"
HOSTILE_SCRIPT, HOSTILE_IMG = "<script>window.__pwned=3</script>", '<img src=x onerror="window.__pwned=4">'
HOSTILE_TITLE = 'Springfield ketamine clinic directory <img src=x onerror="window.__pwned=5">'
HOSTILE_DOC = f"""# {HOSTILE_TITLE}

The Springfield ketamine clinics {HOSTILE_SCRIPT} offer ketamine infusion sessions {HOSTILE_IMG} for depression every weekday morning.

Each of the Springfield ketamine clinics {HOSTILE_SCRIPT} has a quiet recovery room {HOSTILE_IMG} with reclining chairs.
"""
HOSTILE_QUESTION = "Where are the Springfield ketamine clinics?"


@dataclass
class ChatServer:
    url: str
    corpus: Path
    index: Path
    feedback_log: Path
    log: Path
    startup_seconds: float


def _qa(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=600, **kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(base: Path) -> tuple[ChatServer, subprocess.Popen]:
    corpus, index = base / "corpus", base / "index"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / HOSTILE_NAME).write_text(HOSTILE_DOC, encoding="utf-8")
    built = _qa("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert built.returncode == 0, built.stderr

    port, log = _free_port(), base / "server.log"
    env = dict(os.environ, QA_FEEDBACK_LOG=str(base / "feedback.jsonl"))
    started = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "chat", "--corpus", str(corpus), "--index",
                                 str(index), "--port", str(port)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    while True:
        if proc.poll() is not None:
            pytest.fail(f"`qa chat` exited with {proc.returncode}:\n{log.read_text()}")
        if time.perf_counter() - started > START_TIMEOUT:
            proc.kill()
            pytest.fail(f"`qa chat` did not answer within {START_TIMEOUT} s:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    server = ChatServer(url, corpus, index, base / "feedback.jsonl", log, time.perf_counter() - started)
    return server, proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_KEY = pytest.StashKey[ChatServer]()


@pytest.fixture(scope="session")
def chat_server(request, tmp_path_factory) -> ChatServer:
    """One `qa chat` per test session, shared by every module that imports this fixture."""
    server = request.config.stash.get(_KEY, None)
    if server is None:
        server, proc = _start(tmp_path_factory.mktemp("chat"))
        request.config.stash[_KEY] = server
        request.config.add_cleanup(lambda: _stop(proc))
    return server


@pytest.fixture(scope="module")
def client(chat_server):
    from gradio_client import Client

    return Client(chat_server.url, verbose=False)


def _stored_texts(index: Path) -> dict[str, str]:
    from qa.index import Index

    return {d.id: d.text for d in Index.load(index).docs}


def test_api_answers_with_verified_quotes_and_marketing_sources(chat_server, client):
    result = client.predict("How fast does ketamine work?", api_name="/ask")
    assert result["route"] == "answer"
    assert result["quotes"], "an answered question quotes its sources"
    texts = _stored_texts(chat_server.index)
    for q in result["quotes"]:
        assert texts[q["source_id"]][q["start"]:q["end"]] == q["text"]  # verbatim at its offsets
        assert q["chunk_text"][q["start"] - q["chunk_start"]:q["end"] - q["chunk_start"]] == q["text"]
        if q["role"] == "answer":
            assert escape(q["text"]) in result["answer_markdown"]
    # another source making a flagged claim is cited with the words that make it
    for a in result["agreement"]:
        for i, words in zip(a["quotes"], a["words"]):
            q = result["quotes"][i]
            assert words.strip("…") in q["text"] and f"“{escape(words)}” [{q['citation']}]" in result["answer_markdown"]
    assert all(f["url"].startswith("https://") and escape(f["text"]) in result["answer_markdown"]
               for f in result["regulator"])
    cited = {s["id"] for s in result["sources"]}
    assert {q["source_id"] for q in result["quotes"]} == cited
    assert all(s["kind"] == "marketing" for s in result["sources"])
    assert messages.MARKETING_LABEL in result["answer_markdown"]
    assert result["disclaimer"] == messages.DISCLAIMER_MARKETING


def test_api_returns_the_same_json_as_qa_ask(chat_server, client):
    question = "How fast does ketamine work?"
    cli = _qa("ask", "--json", "--corpus", str(chat_server.corpus), "--index", str(chat_server.index), question)
    assert cli.returncode == 0, cli.stderr
    assert client.predict(question, api_name="/ask") == json.loads(cli.stdout)


def test_api_routes_empty_and_crisis_questions(client):
    empty = client.predict("   ", api_name="/ask")
    assert empty["route"] == "invalid" and messages.EMPTY in empty["answer_markdown"]
    crisis = client.predict("I want to end it all", api_name="/ask")
    assert crisis["route"] == "crisis"
    assert "988" in crisis["answer_markdown"] and not crisis["quotes"]


def test_plain_http_call(chat_server):
    """The documented two-step HTTP API: POST starts the call, GET streams the result."""
    base = chat_server.url + "gradio_api/call/ask"
    started = httpx.post(base, json={"data": ["How fast does ketamine work?"]}, timeout=30)
    assert started.status_code == 200
    event_id = started.json()["event_id"]
    with httpx.stream("GET", f"{base}/{event_id}", timeout=60) as stream:
        lines = list(stream.iter_lines())
    assert "event: complete" in lines, lines
    data = json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))
    assert data[0]["route"] == "answer" and data[0]["quotes"]


def test_only_the_ask_endpoint_is_public(client):
    assert list(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == ["/ask"]
