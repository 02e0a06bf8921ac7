"""Loading: find the corpus files, decode them, read the curator's manifest.

Bad files are skipped with a warning (the rest still index); a missing or empty corpus
folder is a `CorpusError`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .clean import clean_text
from .types import Document, SourceMeta

SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm"}
MANIFEST = "sources.toml"
MAX_FILE_BYTES = 50 * 1024 * 1024
_BLOCK_TAGS = [
    "p", "div", "section", "article", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6",
    "tr", "table", "blockquote", "pre", "header", "footer", "main", "aside", "dd", "dt", "figcaption",
]
_DROP_TAGS = ["script", "style", "noscript", "template", "iframe", "svg", "nav", "form", "head"]


class CorpusError(Exception):
    """The corpus cannot be indexed at all (missing folder, nothing readable, bad manifest)."""


@dataclass(frozen=True)
class FileStat:
    """What identifies a file's content cheaply (stat) and exactly (hash)."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class LoadResult:
    documents: list[Document]
    warnings: list[str]


def list_files(corpus: Path) -> list[Path]:
    """Corpus files we know how to read, sorted; raises CorpusError if there is no folder."""
    if not corpus.exists():
        raise CorpusError(f"corpus folder not found: {corpus}")
    if not corpus.is_dir():
        raise CorpusError(f"corpus path is not a folder: {corpus}")
    files = []
    for root, dirs, names in os.walk(corpus):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if not name.startswith("."):
                files.append(Path(root) / name)
    return files


def file_stats(corpus: Path) -> dict[str, FileStat]:
    """Cheap fingerprint of every corpus file (and the manifest), keyed by relative path."""
    out = {}
    for path in list_files(corpus):
        rel = path.relative_to(corpus).as_posix()
        try:
            st = path.stat()
            out[rel] = FileStat(rel, st.st_size, st.st_mtime_ns)
        except OSError:  # a broken link or a file we may not read: recorded, skipped at load
            out[rel] = FileStat(rel, -1, 0)
    return out


def read_manifest(corpus: Path) -> dict[str, SourceMeta]:
    path = corpus / MANIFEST
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"cannot read {path}: {exc}") from exc
    out = {}
    for name, entry in data.items():
        if name == "description" and isinstance(entry, str):
            continue
        if not isinstance(entry, dict):
            raise CorpusError(f"{path}: entry {name!r} must be a table of fields")
        fields = {k: str(entry.get(k, "") or "") for k in ("title", "publisher", "date", "url", "kind")}
        fields["kind"] = fields["kind"] or "unknown"
        out[name] = SourceMeta(**fields)
    return out


def read_description(corpus: Path) -> str:
    """The corpus's one-line description (top-level `description` in the manifest), or ""."""
    path = corpus / MANIFEST
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("description", "")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return ""
    return value if isinstance(value, str) else ""


def decode(data: bytes) -> tuple[str, str]:
    """Bytes to text: UTF-8 first, else the encoding charset-normalizer finds.
    Returns (text, encoding); raises ValueError for binary data."""
    if b"\x00" in data[:8192]:
        raise ValueError("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ValueError("not text in any known encoding")
    # Short texts make single-byte code pages hard to tell apart; Western European
    # (cp1252) is the likeliest of them, so prefer it when the bytes allow.
    if best.encoding.startswith(("cp125", "latin", "iso8859")):
        try:
            return data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            pass
    return str(best), best.encoding


def html_to_text(html: str) -> tuple[str, str]:
    """Visible text of an HTML page, one block element per paragraph; returns (text, title).
    Scripts, styles and forms are removed, never kept as text."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("h1") or soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else ""
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    lines = [" ".join(line.split()) for line in soup.get_text().split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip(), title


def doc_id_for(rel: str) -> str:
    return rel.rsplit(".", 1)[0]


def load_document(corpus: Path, path: Path, manifest: dict[str, SourceMeta], notes: list[str]) -> Document:
    """Read and clean one file. Raises ValueError/OSError with a readable reason;
    appends to `notes` what the user should know about a file that did load."""
    rel = path.relative_to(corpus).as_posix()
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
    data = path.read_bytes()
    text, encoding = decode(data)
    if encoding != "utf-8":
        notes.append(f"read {rel} as {encoding} (it is not UTF-8)")
    html_title = ""
    if path.suffix.lower() in {".html", ".htm"}:
        text, html_title = html_to_text(text)
    cleaned = clean_text(text)
    if not cleaned.text.strip():
        raise ValueError("no text after cleaning")
    meta = manifest.get(rel) or SourceMeta(
        title=html_title or cleaned.title or path.stem, url=cleaned.source_url, kind="unknown"
    )
    if not meta.title:
        meta = SourceMeta(cleaned.title or path.stem, meta.publisher, meta.date, meta.url, meta.kind)
    return Document(
        id=doc_id_for(rel),
        path=rel,
        meta=meta,
        text=cleaned.text,
        raw_sha256=hashlib.sha256(data).hexdigest(),
    )


def load_corpus(corpus: Path) -> LoadResult:
    """Every readable document in the folder; unreadable ones become warnings."""
    corpus = Path(corpus)
    manifest = read_manifest(corpus)
    docs: list[Document] = []
    warnings: list[str] = []
    for path in list_files(corpus):
        rel = path.relative_to(corpus).as_posix()
        if rel == MANIFEST:
            continue
        if path.suffix.lower() not in SUFFIXES:
            warnings.append(f"skipped {rel}: unsupported file type (use {', '.join(sorted(SUFFIXES))})")
            continue
        try:
            docs.append(load_document(corpus, path, manifest, warnings))
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            warnings.append(f"skipped {rel}: {reason}")
    ids = [d.id for d in docs]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        # a.txt and a.md in one folder: fall back to the full relative path as the id
        docs = [Document(d.path, d.path, d.meta, d.text, d.raw_sha256) if d.id in dupes else d for d in docs]
    for name in manifest:
        if not (corpus / name).exists():
            warnings.append(f"{MANIFEST}: entry {name!r} has no file")
    if not docs:
        raise CorpusError(f"no readable documents in {corpus} (looked for {', '.join(sorted(SUFFIXES))})")
    return LoadResult(docs, warnings)
