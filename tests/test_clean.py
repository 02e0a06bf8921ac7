"""Cleaning, checked on the real seed documents and on made-up hostile input."""

from qa.clean import clean_text, paragraphs
from qa.load import html_to_text, load_corpus

from .conftest import SEEDS


def seeds():
    return {d.id: d for d in load_corpus(SEEDS).documents}


def test_mojibake_in_seed_is_repaired():
    doc = seeds()["001_acdd03870cfba1cc"]
    assert "â€" not in doc.text
    assert "7:00 AM Eastern — Depression's" in doc.text


def test_curly_apostrophes_are_kept_as_written():
    assert "haven’t responded" in seeds()["002_b51635c51d346f00"].text


def test_boilerplate_is_dropped_from_seeds():
    docs = seeds()
    joined = "\n".join(d.text for d in docs.values())
    for junk in ("Blockchain Registration", "qrcode", "![", "Exit mobile version", "Site icon",
                 "Newsramp.com TLDR", "reddit.com", "Original/Source Press Release", "---"):
        assert junk not in joined, junk
    # content right next to the junk survives
    assert docs["003_ba761e9293dbb2d4"].text.startswith("5 Surprising Facts About Ketamine Therapy")
    assert "help you on your path to recovery." in docs["003_ba761e9293dbb2d4"].text


def test_repeated_paragraphs_are_removed_once():
    text = seeds()["002_b51635c51d346f00"].text
    assert text.count("Novel Mechanism: Ketamine works differently") == 1
    assert text.count("Neuroplasticity: Early research suggests") == 1
    assert text.count("Effectiveness in Treatment-Resistant Cases") == 1
    assert text.count("This process seems to allow for the formation of new, healthier neural connections") == 1
    # the first bullet, which is not repeated, is still there
    assert "Rapid Relief: Unlike traditional antidepressants" in text


def test_titles_come_from_first_heading_or_line():
    docs = load_corpus(SEEDS).documents
    assert [d.meta.title for d in docs][3] == "5 Surprising Facts About Ketamine Therapy for Overcoming Depression"
    cleaned = clean_text("Site icon Example\n\n## The Real Title\n\nBody text here.")
    assert cleaned.title == "The Real Title"


def test_hard_wrapped_lines_join_but_lists_stay_apart():
    assert paragraphs("Ketamine is an\nanesthetic used in surgery.\n\n• One\n• Two") == [
        "Ketamine is an anesthetic used in surgery.", "• One", "• Two"]


def test_original_link_becomes_source_url_and_inline_links_keep_their_words():
    cleaned = clean_text("Read [the study](https://x.org/s) today.\n\n[Original/Source Press Release](https://news.example/1)")
    assert cleaned.text == "Read the study today."
    assert cleaned.source_url == "https://news.example/1"


def test_html_script_and_style_are_removed_and_blocks_become_paragraphs():
    text, title = html_to_text(
        "<html><head><title>T</title><style>p{}</style></head><body><h1>Heading</h1>"
        "<p>First <b>bold</b> para.</p><script>alert('x')</script><p>Second &lt;script&gt; para.</p></body></html>")
    assert title == "Heading"
    assert "alert" not in text
    assert text.split("\n\n") == ["Heading", "First bold para.", "Second <script> para."]
