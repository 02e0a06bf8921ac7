"""The chat page in a real headless Chromium: answers with sources, the crisis banner,
untrusted HTML shown as text, feedback, and the answer latency a user sees."""

from __future__ import annotations

import json
import re
import os
import socket
import statistics
import time
import tomllib
from pathlib import Path

import pytest

from qa import messages
from qa.types import Answer, Quote, Source
from tests.test_api import (  # noqa: F401 - chat_server: one server per session, shared
    HOSTILE_IMG, HOSTILE_QUESTION, HOSTILE_SCRIPT, HOSTILE_TITLE, REPO, chat_server)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
BOX = "#qa-question textarea"
BOTS = '#qa-chat [data-testid="bot"]'
ANSWER_TIMEOUT_MS = 30_000
CRISIS_RESOURCES = ("988", "988lifeline.org", "116 123", "findahelpline.com")


def browser_test(fn):
    """Marks a test that drives Chromium (and the real model behind `qa chat`)."""
    return pytest.mark.slow(pytest.mark.browser(fn))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install it with `apt-get install chromium` (scripts/test.sh does, as root)"
        if _in_ci():
            pytest.fail(reason)  # CI must run the browser tests, never skip them
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(ANSWER_TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector(BOX)
    return page


@pytest.fixture
def page(browser, chat_server):
    page = _open(browser, chat_server.url)
    yield page
    page.close()


def ask(page, question: str):
    """Type `question`, press Enter and wait for its answer; returns the answer's element."""
    from playwright.sync_api import expect

    bots = page.locator(BOTS)
    before = bots.count()
    page.fill(BOX, question)
    page.press(BOX, "Enter")
    expect(bots).to_have_count(before + 1)
    answer = bots.nth(before)
    expect(answer).not_to_contain_text("Searching the sources")
    return answer


def _titles() -> set[str]:
    manifest = tomllib.loads((REPO / "corpus" / "sources.toml").read_text())
    return {entry["title"] for entry in manifest.values() if isinstance(entry, dict)}


@browser_test
def test_answer_shows_quotes_sources_marketing_label_and_disclaimer(page):
    from playwright.sync_api import expect

    answer = ask(page, "how fast does ketamine work?")
    expect(answer).to_contain_text(messages.ANSWER_INTRO)
    expect(answer).to_contain_text(messages.DISCLAIMER_MARKETING)
    sources = page.locator("#qa-sources")
    marks = sources.locator("mark:not(.qa-agree)")
    expect(marks.first).to_be_visible()
    for quoted in marks.all_inner_texts():  # the highlighted span is a quote shown in the answer
        assert " ".join(quoted.split()) in " ".join(answer.inner_text().split())
    titles = [t.split("] ", 1)[1] for t in sources.locator(".qa-source:not(.qa-reference) .qa-source-title").all_inner_texts()]
    assert titles and set(titles) <= _titles()
    expect(sources.locator(".qa-label").first).to_have_text(messages.MARKETING_LABEL)
    expect(sources.locator(".qa-label").first).to_be_visible()
    expect(page.locator("#qa-disclaimer")).to_contain_text(messages.DISCLAIMER_MARKETING)
    expect(page.locator("body")).to_contain_text("marketing articles and press releases about ketamine therapy")

    (REPO / "docs").mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1280, "height": 1060})  # the whole page; resizing re-scrolls the chat
    page.wait_for_timeout(300)
    page.locator("#qa-chat .bubble-wrap").evaluate("e => { e.scrollTop = 0; }")  # the question, then the answer
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"))


@browser_test
def test_flags_agreement_and_regulator_section_on_the_page(page):
    from playwright.sync_api import expect

    answer = ask(page, "How fast does ketamine work?")
    expect(answer).to_contain_text(messages.FLAGGED)
    expect(answer).to_contain_text("speed or certainty promise")
    expect(answer).to_contain_text(messages.AGREEMENT_HEADING)
    expect(answer).to_contain_text(re.compile(r"Claimed by 5 of \d sources: relief within hours"))
    expect(answer).to_contain_text(messages.REGULATOR_HEADING)
    sources = page.locator("#qa-sources")
    badge = sources.locator(".qa-flag").first
    expect(badge).to_be_visible()
    tooltip = badge.get_attribute("title")
    assert tooltip and "Here: “" in tooltip  # the tooltip says why: the class, then the words
    expect(sources.locator("mark.qa-agree").first).to_be_visible()  # other sources' words for the same claim
    card = sources.locator(".qa-reference")
    expect(card).to_contain_text(messages.REGULATOR_HEADING)
    expect(card.locator(".qa-label")).to_have_text("reference note")
    links = card.locator("a")
    assert links.count() >= 1 and all(h.startswith("https://") for h in
                                      [links.nth(i).get_attribute("href") for i in range(links.count())])
    plain = ask(page, "Which receptor does ketamine block?")
    expect(plain).not_to_contain_text(messages.REGULATOR_HEADING)
    expect(sources.locator(".qa-reference")).to_have_count(0)


@browser_test
def test_crisis_resources_appear_and_stay_visible(page):
    from playwright.sync_api import expect

    banner = page.locator("#qa-crisis")
    expect(banner).to_be_hidden()
    answer = ask(page, "I want to end it all")
    for resource in CRISIS_RESOURCES:
        expect(banner).to_contain_text(resource)
        expect(answer).to_contain_text(resource)
    expect(banner).to_be_visible()

    later = ask(page, "How fast does ketamine work?")
    expect(later).to_contain_text(messages.ANSWER_INTRO)
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("988lifeline.org")


def _assert_nothing_ran(page) -> None:
    page.wait_for_timeout(500)  # an <img onerror> would fire by now
    assert page.evaluate("window.__pwned") is None
    assert page.locator('#qa-chat img[src="x"], #qa-sources img[src="x"], #qa-chat script, #qa-sources script'
                        ).count() == 0


@browser_test
def test_html_in_a_question_is_shown_as_text(page):
    from playwright.sync_api import expect

    hostile = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
    ask(page, hostile)
    expect(page.locator('#qa-chat [data-testid="user"]').last).to_contain_text(hostile)
    _assert_nothing_ran(page)


@browser_test
def test_html_in_a_document_is_shown_as_text(page):
    from playwright.sync_api import expect

    answer = ask(page, HOSTILE_QUESTION)
    sources = page.locator("#qa-sources")
    for shown in (answer, sources):
        expect(shown).to_contain_text(HOSTILE_SCRIPT)
        expect(shown).to_contain_text(HOSTILE_IMG)
    expect(sources.locator(".qa-source-title").first).to_contain_text(HOSTILE_TITLE)
    _assert_nothing_ran(page)


@browser_test
def test_empty_input_and_example_buttons(page):
    from playwright.sync_api import expect

    expect(ask(page, "   ")).to_contain_text(messages.EMPTY)
    bots = page.locator(BOTS)
    page.get_by_role("button", name="How fast does ketamine work?").click()
    expect(bots).to_have_count(2)
    expect(bots.nth(1)).to_contain_text(messages.ANSWER_INTRO)
    expect(page.locator('#qa-chat [data-testid="user"]').last).to_have_text("How fast does ketamine work?")


@browser_test
def test_feedback_is_recorded_when_the_operator_turned_it_on(page, chat_server):
    from playwright.sync_api import expect

    expect(page.locator("#qa-feedback-note")).to_contain_text("Feedback is on")
    question = "What are the side effects?"
    ask(page, question)
    page.get_by_role("button", name="Like", exact=True).last.click()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [json.loads(line) for line in chat_server.feedback_log.read_text().splitlines()] \
            if chat_server.feedback_log.exists() else []
        if any(r["question"] == question for r in rows):
            break
        time.sleep(0.2)
    row = next(r for r in rows if r["question"] == question)
    assert row["liked"] is True and row["route"] in {"answer", "no_answer"} and row["timestamp"]


@browser_test
def test_answer_latency_in_the_browser(page):
    """Median time from Enter to the finished answer, as the user sees it."""
    questions = ["How fast does ketamine work?", "What are the side effects?", "How is ketamine given?",
                 "Does ketamine help treatment-resistant depression?", "How long do the effects last?"]
    times = []
    for q in questions:
        started = time.perf_counter()
        ask(page, q)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"\nanswer latency in the browser: median {median * 1000:.0f} ms over {len(times)} questions "
          f"({', '.join(f'{t * 1000:.0f}' for t in times)} ms)")
    assert median < 5.0


# ---- a page with feedback off: served in-process around a stub, no model needed ----------

class _StubQA:
    disclaimer = messages.DISCLAIMER_MARKETING

    def description(self) -> str:
        return "a stub collection"

    def ask(self, question: str) -> Answer:
        quote = Quote("Stub text.", 1, "stub", 0, 10, 1.0, "Stub text. More.", 0)
        source = Source(1, "stub", "Stub title", "", "", "", "marketing")
        return Answer(question, "answer", "“Stub text.” [1]", (quote,), (source,), self.disclaimer)


@browser_test
def test_no_feedback_buttons_or_log_by_default(browser, monkeypatch):
    from argparse import Namespace

    from playwright.sync_api import expect

    from qa.app import build_app, feedback_log_path

    monkeypatch.delenv("QA_FEEDBACK_LOG", raising=False)
    log = feedback_log_path(Namespace(feedback_log=None))
    assert log is None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_app(_StubQA(), log)
    demo.queue().launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        page = _open(browser, f"http://127.0.0.1:{port}/")
        expect(page.locator("#qa-feedback-note")).to_contain_text("Feedback is off")
        expect(ask(page, "anything")).to_contain_text("Stub text.")
        expect(page.locator("#qa-sources mark")).to_have_text("Stub text.")
        assert page.get_by_role("button", name="Like", exact=True).count() == 0
        page.close()
    finally:
        demo.close()


def test_feedback_on_a_crisis_answer_keeps_the_rating_not_the_words(tmp_path):
    from qa.app import record_feedback

    log = tmp_path / "feedback.jsonl"
    record_feedback(log, "I want to end it all", "crisis", False)
    record_feedback(log, "How fast does ketamine work?", "answer", True)
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["question"], r["route"], r["liked"]) for r in rows] == [
        (None, "crisis", False), ("How fast does ketamine work?", "answer", True)]


def test_sources_panel_joins_overlapping_passages_and_escapes_everything():
    from qa.app import sources_html

    doc = "Ketamine <b>acts</b> fast. It is given by IV. Effects fade in days. Ask a doctor."
    def quote(start, end, chunk_start, chunk_end):
        return Quote(doc[start:end], 1, "d", start, end, 1.0, doc[chunk_start:chunk_end], chunk_start)
    first, second = doc.index("It is"), doc.index("Effects")
    quotes = (quote(0, first - 1, 0, second - 1), quote(second, doc.index(" Ask"), first, len(doc)))
    source = Source(1, "d", "<script>x()</script> Title", "Pub & Co", "2024-01-01", "javascript:alert(1)", "marketing")
    panel = sources_html(Answer("q", "answer", "", quotes, (source,), ""))
    assert panel.count('class="qa-passage"') == 1  # the two chunks overlap: one passage
    assert panel.count("<mark>") == 2
    assert "<mark>Ketamine &lt;b&gt;acts&lt;/b&gt; fast.</mark>" in panel
    assert "&lt;script&gt;x()&lt;/script&gt; Title" in panel and "Pub &amp; Co" in panel
    assert "javascript:" not in panel and "<script>" not in panel
    assert f'<span class="qa-label">{messages.MARKETING_LABEL}</span>' in panel
