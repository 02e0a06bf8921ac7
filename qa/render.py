"""Plain-text rendering of an Answer for the terminal (`qa ask` without --json)."""

from __future__ import annotations

import re

from .types import Answer


def to_terminal(answer: Answer) -> str:
    """The answer's markdown, lightly unmarked for reading in a terminal."""
    text = answer.answer_markdown
    text = re.sub(r"\\([\\`*_{}\[\]()#+!|~>-])", r"\1", text)  # markdown escapes
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"(?m)^_(.+)_$", r"\1", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return text.strip()
