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


def cmd_merge(args) -> int:
    from .build import merge_into

    folder = args.index or default_index()
    merged = merge_into(folder, args.shards)
    counts = merged.manifest["counts"]
    print(f"merged {len(args.shards)} shards: {counts['documents']} documents, {counts['chunks']} chunks, "
          f"{counts['sentences']} sentences -> {folder}")
    return 0


def _open_qa(args, build: bool = False):
    from .pipeline import QA

    corpus, folder = _paths(args)
    return QA.open(corpus, folder, args.model, build=build, progress=build)


def cmd_ask(args) -> int:
    import json

    from .pipeline import to_json

    if args.question == "-":
        qa = _open_qa(args)
        for line in sys.stdin:
            answer = qa.ask(line.rstrip("\n"))
            print(json.dumps(to_json(answer), ensure_ascii=False), flush=True)
        return 0
    qa = _open_qa(args)
    answer = qa.ask(args.question)
    if args.json:
        print(json.dumps(to_json(answer), ensure_ascii=False, indent=None))
    else:
        from .render import to_terminal

        print(to_terminal(answer))
    return 0 if answer.route != "invalid" else 2


def _labelled(load, path, fields: str):
    """A labelled file read by `load`, or a usage error that names the file and the fix."""
    try:
        return load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else f"{type(exc).__name__}: {exc}"
        raise UsageError(f"cannot read {path} ({reason}); it must be JSON Lines with {fields} on each line")


def cmd_eval(args) -> int:
    import json

    from .evaluate import calibrate, evaluate, evaluate_beir, format_report, load_flag_labels, load_questions

    if args.beir:
        from .embed import SentenceTransformerEmbedder

        if not (args.beir / "corpus.jsonl").exists():
            raise UsageError(f"{args.beir} is not a BEIR folder (no corpus.jsonl)")
        results = evaluate_beir(args.beir, SentenceTransformerEmbedder(args.model), progress=True)
        print(f"{'fusion':<11}{'nDCG@10':>9}{'Recall@100':>12}")
        for method, m in results.items():
            print(f"{method:<11}{m['nDCG@10']:>9.3f}{m['Recall@100']:>12.3f}")
        return 0
    questions = _labelled(load_questions, args.questions, "id, question, route")
    flag_labels = _labelled(load_flag_labels, args.flag_labels, "text, classes")
    qa = _open_qa(args, build=True)
    if args.calibrate:
        print(json.dumps(calibrate(qa, questions), indent=2))
        return 0
    report = evaluate(qa, questions, corpus=_paths(args)[0], flag_labels=flag_labels)
    print(json.dumps(report.as_dict(), indent=2) if args.json else format_report(report))
    failures = []
    ndcg = report.retrieval[qa.thresholds.fusion]["nDCG@10"]
    if args.min_ndcg is not None and ndcg < args.min_ndcg:
        failures.append(f"nDCG@10 ({qa.thresholds.fusion}) {ndcg:.3f} < {args.min_ndcg}")
    if args.min_route_accuracy is not None and report.route_accuracy < args.min_route_accuracy:
        failures.append(f"route accuracy {report.route_accuracy:.3f} < {args.min_route_accuracy}")
    if args.min_quote_precision is not None and report.quotes_answerable:
        precision = report.quotes_on_source / report.quotes_answerable
        if precision < args.min_quote_precision:
            failures.append(f"quotes from a labelled source {precision:.3f} < {args.min_quote_precision}")
    flags = report.flags.get("all")
    if flags and args.min_flag_precision is not None and flags["precision"] < args.min_flag_precision:
        failures.append(f"claim-flag precision {flags['precision']:.3f} < {args.min_flag_precision}")
    if flags and args.min_flag_recall is not None and flags["recall"] < args.min_flag_recall:
        failures.append(f"claim-flag recall {flags['recall']:.3f} < {args.min_flag_recall}")
    if args.min_regulator_recall is not None and report.regulator_expected:
        recall = report.regulator_shown / report.regulator_expected
        if recall < args.min_regulator_recall:
            failures.append(f"regulator section shown for {recall:.3f} of its questions < {args.min_regulator_recall}")
    if args.max_regulator_unexpected is not None and len(report.regulator_unexpected) > args.max_regulator_unexpected:
        failures.append(f"regulator section shown for {len(report.regulator_unexpected)} questions that should not "
                        f"have it > {args.max_regulator_unexpected}")
    if report.quotes_verified != report.quotes_total:
        failures.append(f"{report.quotes_total - report.quotes_verified} quotes failed verification")
    for failure in failures:
        print(f"qa: eval below threshold: {failure}", file=sys.stderr)
    return 1 if failures else 0


def cmd_chat(args) -> int:
    from .app import serve

    return serve(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Answer questions about a folder of documents with verified, cited quotes.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("index", help="build or update the index of the corpus (incremental)")
    _common(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("merge", help="merge indexes built apart (shards) into one, without embedding again")
    p.add_argument("shards", nargs="+", type=Path, help="index folders built with `qa index` (one per sub-folder)")
    p.add_argument("--index", type=Path, default=None, help="folder for the merged index [env QA_INDEX]")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("ask", help="answer one question (or one per line from stdin with `-`)")
    _common(p)
    p.add_argument("question", help='the question, or "-" to read one question per line from stdin (JSON Lines out)')
    p.add_argument("--json", action="store_true", help="print one JSON object instead of readable text")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("eval", help="measure retrieval, routing and quote verification on labelled questions")
    _common(p)
    p.add_argument("--questions", type=Path, default=None,
                   help="labelled questions (JSON Lines: id, question, route, sources, regulator); default: the "
                        "built-in set")
    p.add_argument("--beir", type=Path, default=None, metavar="DIR",
                   help="instead, index a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv) and print "
                        "nDCG@10 and Recall@100 for dense, BM25 and hybrid retrieval")
    p.add_argument("--calibrate", action="store_true",
                   help="fit the abstention thresholds on the labelled questions and print them")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--min-ndcg", type=float, default=None, help="exit 1 if hybrid nDCG@10 is below this")
    p.add_argument("--min-route-accuracy", type=float, default=None, help="exit 1 if route accuracy is below this")
    p.add_argument("--min-quote-precision", type=float, default=None,
                   help="exit 1 if the share of quotes taken from a document labelled as answering is below this")
    p.add_argument("--flag-labels", type=Path, default=None, metavar="FILE",
                   help="measure the claim detector on these hand-labelled sentences (JSON Lines: text, classes); "
                        "default: every sentence of the default corpus's marketing documents")
    p.add_argument("--min-flag-precision", type=float, default=None,
                   help="exit 1 if the claim detector's precision on the hand-labelled sentences is below this")
    p.add_argument("--min-flag-recall", type=float, default=None,
                   help="exit 1 if the claim detector's recall on the hand-labelled sentences is below this")
    p.add_argument("--min-regulator-recall", type=float, default=None,
                   help="exit 1 if the regulator section is missing from more questions labelled as needing it")
    p.add_argument("--max-regulator-unexpected", type=int, default=None,
                   help="exit 1 if more questions than this get a regulator section they should not have")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("chat", help="serve the chat page (builds the index first if missing or stale)")
    _common(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.add_argument("--feedback-log", type=Path, default=None,
                   help="append helpful/not helpful feedback to this JSON Lines file [env QA_FEEDBACK_LOG]; "
                        "off by default: nothing is logged")
    p.set_defaults(func=cmd_chat)
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
    except BrokenPipeError:  # the reader went away (e.g. `| head`): not an error of ours
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
