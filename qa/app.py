"""The chat page (`qa chat`): layout, and a `respond` that calls `QA.ask`. No retrieval here.

Everything the page shows from the corpus or from a question is untrusted: the answer's
markdown arrives escaped from the pipeline, the question is escaped here, and the sources
panel is HTML built with `html.escape` on every string. The chat also sanitises HTML.
"""

from __future__ import annotations

import html
import json
import os
import sys
import threading
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr  # at module level: Gradio resolves the gr.LikeData hint in these globals

from . import messages
from .answer import escape
from .types import Answer, Quote, Source

EXAMPLES = ("How fast does ketamine work?", "What are the side effects?", "How is ketamine given?")
SEARCHING = "_Searching the sources…_"
FAILED = "Sorry, something went wrong while searching. Please try again."
NO_SOURCES = '<p class="qa-muted">The sources of each answer, with the quoted passage highlighted, appear here.</p>'

# system fonts: the default theme would fetch Google Fonts, which an offline machine cannot
THEME_FONTS = {"font": ["ui-sans-serif", "system-ui", "sans-serif"], "font_mono": ["ui-monospace", "monospace"]}

CSS = """
#qa-disclaimer { border-left: 4px solid #b45309; background: #fffbeb; color: #1f2937; padding: 8px 12px;
                 border-radius: 6px; }
#qa-crisis { border: 3px solid #b91c1c; background: #fef2f2; color: #111827; padding: 8px 16px;
             border-radius: 8px; font-size: 1.05rem; }
.qa-source { border: 1px solid #d1d5db; border-radius: 8px; padding: 8px 12px; margin-bottom: 10px; }
.qa-source-title { font-weight: 600; }
.qa-meta { font-size: 0.9rem; color: #4b5563; }
.qa-label { display: inline-block; background: #fde68a; color: #78350f; font-weight: 600; font-size: 0.8rem;
            border-radius: 4px; padding: 0 6px; margin-left: 6px; }
.qa-passage { white-space: pre-wrap; border-left: 3px solid #d1d5db; margin: 6px 0 0 0; padding: 4px 10px;
              font-size: 0.92rem; color: #1f2937; }
.qa-passage mark { background: #fef08a; color: #111827; padding: 0 1px; }
.qa-passage mark.qa-agree { background: #e0e7ff; }
.qa-muted { color: #6b7280; }
.qa-flags { list-style: none; margin: 6px 0 0 0; padding: 0; font-size: 0.88rem; color: #374151; }
.qa-flag { display: inline-block; background: #fee2e2; color: #7f1d1d; font-weight: 600; font-size: 0.78rem;
           border-radius: 4px; padding: 0 6px; margin-right: 4px; cursor: help; }
.qa-reference { border-color: #2563eb; background: #eff6ff; }
.qa-reference .qa-label { background: #bfdbfe; color: #1e3a8a; }
.qa-facts { margin: 6px 0 0 0; padding-left: 18px; font-size: 0.92rem; color: #1f2937; }
"""


# ---- the sources panel ---------------------------------------------------------------------

def highlight(passage: str, spans: list[tuple]) -> str:
    """`passage` as escaped HTML with each (start, end[, css class]) span inside <mark>."""
    out, pos = [], 0
    for start, end, *css in sorted(spans):
        start, end = max(start, pos), min(end, len(passage))
        if start >= end:
            continue
        tag = f'<mark class="{css[0]}">' if css and css[0] else "<mark>"
        out += [html.escape(passage[pos:start]), tag, html.escape(passage[start:end]), "</mark>"]
        pos = end
    out.append(html.escape(passage[pos:]))
    return "".join(out)


def _passages(quotes: list[Quote]) -> list[str]:
    """The retrieved passages of one source, overlapping ones joined (they are slices of one
    document), each quote's span marked. Spans are document offsets until the end."""
    pieces = sorted({(q.chunk_start, q.chunk_text) if q.chunk_text else (q.start, q.text) for q in quotes})
    merged: list[tuple[int, str]] = []
    for start, text in pieces:
        if merged and start <= merged[-1][0] + len(merged[-1][1]):
            prev_start, prev = merged[-1]
            merged[-1] = (prev_start, prev + text[prev_start + len(prev) - start:])
        else:
            merged.append((start, text))
    out = []
    for start, text in merged:
        # quotes in the answer are marked; another source's words for a claim it shares, in a second colour
        spans = [(q.start - start, q.end - start, "qa-agree" if q.role == "agreement" else "")
                 for q in quotes if start <= q.start and q.end <= start + len(text)]
        out.append(highlight(text, spans))
    return out


def source_html(source: Source, quotes: list[Quote]) -> str:
    esc = html.escape
    head = f'<span class="qa-source-title">[{source.citation}] {esc(source.title)}</span>'
    if source.kind == "marketing":
        head += f'<span class="qa-label">{esc(messages.MARKETING_LABEL)}</span>'
    elif source.kind and source.kind != "unknown":
        head += f'<span class="qa-label">{esc(source.kind)}</span>'
    meta = [esc(x) for x in (source.publisher, source.date) if x]
    if source.url.startswith(("http://", "https://")):
        meta.append(f'<a href="{esc(source.url, quote=True)}" target="_blank" rel="noopener noreferrer nofollow">'
                    f'{esc(source.url)}</a>')
    body = "".join(f'<blockquote class="qa-passage">{p}</blockquote>' for p in _passages(quotes)) + flags_html(quotes)
    meta_html = f'<div class="qa-meta">{" · ".join(meta)}</div>' if meta else ""
    return f'<article class="qa-source"><div>{head}</div>{meta_html}{body}</article>'


def flags_html(quotes: list[Quote]) -> str:
    """Under a source's passages: each flagged quote's badges (the class, with a tooltip that
    explains it) and the words that raised them."""
    from .claims import DESCRIPTIONS

    esc = html.escape
    rows = []
    for q in sorted(quotes, key=lambda q: q.start):
        if not q.flags:
            continue
        badges = " ".join(
            f'<span class="qa-flag" title="{esc(DESCRIPTIONS[f.kind], quote=True)} Here: '
            f'{esc(", ".join(f"“{w}”" for w in f.words), quote=True)}">{esc(f.label)}</span>'
            f' {esc(", ".join(f"“{w}”" for w in f.words))}' for f in q.flags)
        rows.append(f"<li>“{esc(_opening(q.text))}” {badges}</li>")
    return f'<ul class="qa-flags">{"".join(rows)}</ul>' if rows else ""


def _opening(text: str, words: int = 6) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def regulator_html(answer: Answer) -> str:
    """The regulator facts, in a card of their own: never one of the sources."""
    if not answer.regulator:
        return ""
    esc = html.escape
    items = []
    for f in answer.regulator:
        page = (f'<a href="{esc(f.url, quote=True)}" target="_blank" rel="noopener noreferrer nofollow">'
                f'{esc(f.source)}</a>') if f.url.startswith(("http://", "https://")) else esc(f.source)
        items.append(f"<li>{esc(f.quote.text)} <span class=\"qa-meta\">({messages.FROM} {page})</span></li>")
    return (f'<article class="qa-source qa-reference"><div><span class="qa-source-title">'
            f'{esc(messages.REGULATOR_HEADING)}</span><span class="qa-label">reference note</span></div>'
            f'<div class="qa-meta">{esc(messages.REGULATOR_NOTE)}</div><ul class="qa-facts">{"".join(items)}</ul>'
            f'</article>')


def sources_html(answer: Answer) -> str:
    """The panel beside the chat: each cited source with its passages, quotes highlighted,
    flagged wording badged; then what regulators say, apart."""
    if not answer.sources and not answer.regulator:
        return NO_SOURCES
    return "".join(source_html(s, [q for q in answer.quotes if q.source_id == s.id])
                   for s in answer.sources) + regulator_html(answer)


# ---- feedback ------------------------------------------------------------------------------

_log_lock = threading.Lock()


def feedback_log_path(args) -> Path | None:
    """--feedback-log, else QA_FEEDBACK_LOG, else None: nothing is recorded."""
    path = getattr(args, "feedback_log", None) or os.environ.get("QA_FEEDBACK_LOG")
    return Path(path) if path else None


def record_feedback(log: Path | None, question: str, route: str, liked) -> None:
    """Append one JSON line; does nothing unless the operator named a log file.
    `liked` is True (helpful), False (not helpful) or what Gradio sent for an undo."""
    if log is None:
        return
    # a crisis message is the most sensitive thing anyone types here: keep the rating, not the words
    row = {"timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "question": None if route == "crisis" else question, "route": route, "liked": liked}
    with _log_lock:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def feedback_note(log: Path | None) -> str:
    if log is None:
        return "Feedback is off on this server: nothing you ask is recorded."
    return ("Feedback is on: the thumbs up / down under an answer are recorded by this server's operator "
            "(the time, your question, the kind of answer and your rating).")


# ---- the page ------------------------------------------------------------------------------

def build_app(qa, feedback_log: Path | None = None):
    """The Blocks app around `qa` (anything with `ask`, `disclaimer` and `description()`)."""
    from .pipeline import to_json

    def respond(message: str, history: list, crisis_seen: bool, asked: dict):
        history = list(history or [])
        asked = dict(asked or {})
        text = (message or "").strip()
        if text:
            history.append({"role": "user", "content": escape(text)})
            # the question shows at once; the answer replaces the placeholder
            yield "", history + [{"role": "assistant", "content": SEARCHING}], gr.update(), \
                gr.update(visible=crisis_seen), crisis_seen, asked
        try:
            answer = qa.ask(message or "")
        except Exception:  # keep the page usable; the operator sees the traceback
            traceback.print_exc()
            history.append({"role": "assistant", "content": FAILED})
            yield message or "", history, gr.update(), gr.update(visible=crisis_seen), crisis_seen, asked
            return
        crisis_seen = crisis_seen or answer.route == "crisis"
        asked[len(history)] = {"question": answer.question, "route": answer.route}
        history.append({"role": "assistant", "content": answer.answer_markdown})
        yield "", history, sources_html(answer), gr.update(visible=crisis_seen), crisis_seen, asked

    def on_like(asked: dict, data: gr.LikeData):
        entry = (asked or {}).get(data.index if isinstance(data.index, int) else data.index[0])
        if entry:
            record_feedback(feedback_log, entry["question"], entry["route"], data.liked)

    def ask(question: str) -> dict:
        """Answer one question: the JSON object of `qa ask --json`."""
        return to_json(qa.ask(question))

    with gr.Blocks(title="qa: ask the sources", analytics_enabled=False) as demo:
        gr.Markdown(f"# Ask the sources\n\nThis searches {qa.description()}. Every answer is made of "
                    "word-for-word quotes from them, each with its source; it writes nothing of its own.")
        gr.Markdown(f"**Please read:** {qa.disclaimer}", elem_id="qa-disclaimer")
        banner = gr.Markdown(messages.CRISIS, visible=False, elem_id="qa-crisis")
        crisis_seen = gr.State(False)
        asked = gr.State({})
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Answers", height=600, sanitize_html=True, render_markdown=True,
                                  allow_tags=False, elem_id="qa-chat", buttons=["copy", "copy_all"],
                                  group_consecutive_messages=False,  # one feedback button pair per answer
                                  feedback_options=("Like", "Dislike") if feedback_log else None)
                with gr.Row():
                    box = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False,
                                     scale=5, max_lines=4, elem_id="qa-question", autofocus=True)
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="qa-send")
                with gr.Row():
                    buttons = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                panel = gr.HTML(NO_SOURCES, elem_id="qa-sources", js_on_load=None, max_height=640)
        gr.Markdown(f"{feedback_note(feedback_log)} Programs can ask too: see “Use via API” below "
                    "(endpoint `/ask`, the same JSON as `qa ask --json`).", elem_id="qa-feedback-note")

        outputs = [box, chat, panel, banner, crisis_seen, asked]
        for trigger, source in [(box.submit, box), (send.click, box)] + [(b.click, b) for b in buttons]:
            trigger(respond, [source, chat, crisis_seen, asked], outputs, api_visibility="private",
                    show_progress="hidden")
        if feedback_log:
            chat.like(on_like, [asked], None, api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def serve(args) -> int:
    """`qa chat`: open (building if needed) the index, load the model, serve the page."""
    from .config import default_corpus, default_index
    from .pipeline import QA

    corpus, folder = args.corpus or default_corpus(), args.index or default_index()
    started = time.perf_counter()
    print(f"Opening the index in {folder} (building it from {corpus} first if missing or stale)…", flush=True)
    qa = QA.open(corpus, folder, args.model, build=True, progress=True)
    qa.warm_up()
    print(f"Index and model ready in {time.perf_counter() - started:.1f} s", flush=True)

    log = feedback_log_path(args)
    print(f"Feedback log: {log}" if log else "Feedback log: off (nothing is recorded)", flush=True)
    demo = build_app(qa, log)
    # Four answers at once measured best (`python bench/load.py --concurrency-limit N`: 20 clients x 60 s, 2 cores
    # shared with other work, 3 runs each): 4 gave 26.5-32.9 answers/s, p95 686-1048 ms; 2 gave 25.3-31.0/s,
    # p95 708-1108 ms; 1 gave 21.6-22.0/s, p95 1153-1253 ms. The answer is mostly numpy/FAISS/torch, which
    # release the GIL, so answers overlap each other and Gradio's own work. A long queue rather than dropped
    # requests: 20 clients never came near max_size, and nothing was rejected.
    demo.queue(default_concurrency_limit=4, max_size=512)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=bool(args.share), css=CSS,
                    theme=gr.themes.Default(**THEME_FONTS),
                    footer_links=["api"], ssr_mode=False,
                    # each API call is a session with its own state (~45 KB): keep the newest 2,000
                    # rather than Gradio's 10,000, so memory levels off near 0.8 GB, not 1.1 GB
                    state_session_capacity=2000)
    except OSError as exc:
        print(f"qa: error: cannot serve on {args.host}:{args.port} ({exc}); pick another --port", file=sys.stderr)
        return 2
    return 0
