"""Cleaning: turn raw document text into the stored text that quotes point into.

Steps, in order: repair mojibake and control characters (ftfy), rebuild paragraphs
(joining hard-wrapped lines), drop boilerplate that is not content (image and QR-code
links, link-only lines, "Exit mobile version", "Site icon ..."), unwrap inline markdown
links and heading marks, and drop paragraphs repeated inside the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import ftfy

# A paragraph made only of these is navigation, tracking or decoration, not content.
_MD_IMAGE = r"!\[[^\]]*\]\([^)]*\)"
_MD_LINK = r"\[[^\]]*\]\([^)]*\)"
_BARE_URL = r"(?:https?://|www\.)\S+"
_LINK_ONLY = re.compile(rf"^(?:\s*(?:{_MD_IMAGE}|{_MD_LINK}|{_BARE_URL}|[|•·,;-])\s*)+$")
_RULE = re.compile(r"^\s*(?:[-*_=]\s*){3,}$")
_BOILERPLATE = re.compile(
    r"^(?:exit mobile version|skip to (?:main )?content|site icon\b.{0,60}|share this:?|"
    r"click to share.{0,40}|advertisement|related posts?:?|subscribe(?: now)?|print this page)$",
    re.IGNORECASE,
)
_INLINE_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]*)\)")
_HEADING = re.compile(r"^#{1,6}\s+")
_ORIGINAL_LINK = re.compile(r"\[[^\]]*(?:original|source)[^\]]*\]\((https?://[^)\s]+)\)", re.I)
_SENTENCE_END = ('.', '!', '?', ':', ';', '"', '”', '’', ')', ']')
_MIN_DEDUP_CHARS = 30


@dataclass(frozen=True)
class Cleaned:
    text: str
    title: str  # first heading, or first line, of the cleaned text
    source_url: str  # an "Original/Source" link found in the raw text, if any


def repair(text: str) -> str:
    """Fix mojibake ('â€”' -> '—') and stray control characters; keep curly quotes as written."""
    return ftfy.fix_text(text, uncurl_quotes=False)


def paragraphs(text: str) -> list[str]:
    """Split into paragraphs. Blank lines separate paragraphs; inside a block, a line that
    continues a sentence (previous line has no closing punctuation, this one starts in lower
    case) is joined to it, so hard-wrapped prose becomes one paragraph."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in block.split("\n"):
            line = " ".join(line.split())
            if not line:
                continue
            if current and not current[-1].endswith(_SENTENCE_END) and line[:1].islower():
                current[-1] = f"{current[-1]} {line}"
            else:
                current.append(line)
        out.extend(current)
    return out


def is_boilerplate(paragraph: str) -> bool:
    return bool(_LINK_ONLY.match(paragraph) or _RULE.match(paragraph) or _BOILERPLATE.match(paragraph))


def _dedup_key(paragraph: str) -> str:
    return " ".join(re.sub(r"^[•*\-–\d.)\s]+", "", paragraph).casefold().split())


def clean_text(raw: str) -> Cleaned:
    """Clean one document's raw text (plain text or markdown, or text extracted from HTML)."""
    text = repair(raw)
    url_match = _ORIGINAL_LINK.search(text)
    kept: list[str] = []
    seen: set[str] = set()
    heading = ""
    for para in paragraphs(text):
        if is_boilerplate(para):
            continue
        is_heading = bool(_HEADING.match(para))
        para = _INLINE_LINK.sub(r"\1", _HEADING.sub("", para)).strip()
        if not para:
            continue
        key = _dedup_key(para)
        if len(key) >= _MIN_DEDUP_CHARS:
            if key in seen:
                continue
            seen.add(key)
        if is_heading and not heading:
            heading = para
        kept.append(para)
    return Cleaned(
        text="\n\n".join(kept),
        title=(heading or (kept[0] if kept else ""))[:200],
        source_url=url_match.group(1) if url_match else "",
    )
