"""The `qa` command: one sub-command per verb; handlers import their heavy parts when run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import default_corpus, default_index


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, default=None,
                   help="folder of documents (.txt, .md, .html) [env QA_CORPUS; default: ./corpus]")
    p.add_argument("--index", type=Path, default=None,
                   help="folder where the index lives [env QA_INDEX; default: ./index]")
    p.add_argument("--model", default=None,
                   help="embedding model: a folder or a locally cached name "
                        "[env QA_MODEL; default: the bundled all-MiniLM-L6-v2]")


def _paths(args) -> tuple[Path, Path]:
    return args.corpus or default_corpus(), args.index or default_index()


def cmd_index(args) -> int:
    from .build import rebuild
    from .embed import SentenceTransformerEmbedder

    corpus, folder = _paths(args)
    embedder = SentenceTransformerEmbedder(args.model)
    _index, report, note = rebuild(corpus, folder, embedder, progress=not args.quiet)
    if note:
        print(f"note: {note}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{report.summary()} -> {folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Answer questions about a folder of documents with verified, cited quotes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("index", help="build or update the index of the corpus (incremental)")
    _common(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .embed import ModelError
    from .index import IndexCorrupt, IndexMissing, IndexStale
    from .load import CorpusError

    try:
        return args.func(args)
    except (UsageError, CorpusError, ModelError, IndexMissing, IndexCorrupt, IndexStale) as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
