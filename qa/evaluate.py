"""Evaluation: retrieval metrics (hit@k, MRR, nDCG@10, Recall@k), route accuracy and quote
verification on a labelled question set; threshold calibration; BEIR-format benchmarks."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

ROUTES = ("answer", "no_answer", "out_of_scope", "crisis", "medical_advice", "invalid")
FUSIONS = ("dense", "sparse", "rrf", "normalized")


# ---- metrics (pure) -------------------------------------------------------------------

def hit_at_k(ranking: list[str], relevant: set[str], k: int) -> float:
    return float(any(d in relevant for d in ranking[:k]))


def reciprocal_rank(ranking: list[str], relevant: set[str]) -> float:
    for i, d in enumerate(ranking, start=1):
        if d in relevant:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranking: list[str], gains: dict[str, float], k: int = 10) -> float:
    """nDCG with graded gains (BEIR's definition: gain / log2(rank + 1))."""
    dcg = sum(gains.get(d, 0.0) / math.log2(i + 2) for i, d in enumerate(ranking[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at_k(ranking: list[str], relevant: set[str], k: int) -> float:
    return len(set(ranking[:k]) & relevant) / len(relevant) if relevant else 0.0


def doc_ranking(index, hits, documents: frozenset[str] | None = None) -> list[str]:
    """Documents (of `documents`, default all) in the order of their best-ranked chunk."""
    seen: dict[str, None] = {}
    for h in hits:
        doc = index.chunks[h.chunk].doc_id
        if documents is None or doc in documents:
            seen.setdefault(doc, None)
    return list(seen)


# ---- the labelled question set --------------------------------------------------------

@dataclass(frozen=True)
class Labelled:
    id: str
    question: str
    route: str
    sources: tuple[str, ...]
    regulator: bool | None = None  # should the answer have a "What regulators say" section?


def load_questions(path: Path | None = None) -> list[Labelled]:
    text = Path(path).read_text() if path else \
        resources.files("qa").joinpath("data/eval_questions.jsonl").read_text()
    out = []
    for line in text.splitlines():
        if line.strip():
            r = json.loads(line)
            out.append(Labelled(r["id"], r["question"], r["route"], tuple(r.get("sources", ())), r.get("regulator")))
    return out


@dataclass
class Report:
    retrieval: dict[str, dict[str, float]] = field(default_factory=dict)  # fusion -> metric -> value
    route_accuracy: float = 0.0
    routes: dict[str, dict[str, int]] = field(default_factory=dict)  # expected -> got -> count
    quotes_total: int = 0
    quotes_verified: int = 0
    quotes_on_source: int = 0  # quotes (answerable questions) from a document labelled as answering
    quotes_answerable: int = 0
    wrong: list[tuple[str, str, str]] = field(default_factory=list)  # (id, expected, got)
    regulator_expected: int = 0  # questions labelled as wanting the regulator section...
    regulator_shown: int = 0  # ...and how many of them got it
    regulator_unexpected: list[str] = field(default_factory=list)  # ids that got it but should not
    regulator_missed: list[str] = field(default_factory=list)
    regulator_labelled: int = 0
    flags: dict[str, dict[str, float]] = field(default_factory=dict)  # class -> precision, recall, ...

    def as_dict(self) -> dict:
        return {"retrieval": self.retrieval, "route_accuracy": self.route_accuracy, "routes": self.routes,
                "quotes_total": self.quotes_total, "quotes_verified": self.quotes_verified,
                "quote_verified_share": self.quotes_verified / self.quotes_total if self.quotes_total else 1.0,
                "quote_source_precision": self.quotes_on_source / self.quotes_answerable
                if self.quotes_answerable else None,
                "wrong_routes": self.wrong,
                "regulator": {"labelled": self.regulator_labelled, "expected": self.regulator_expected,
                              "shown_where_expected": self.regulator_shown,
                              "shown_where_not": len(self.regulator_unexpected),
                              "missed": self.regulator_missed, "unexpected": self.regulator_unexpected},
                "flags": self.flags}


def retrieval_metrics(rankings: list[list[str]], relevant: list[set[str]]) -> dict[str, float]:
    n = len(rankings) or 1
    return {
        "hit@1": sum(hit_at_k(r, g, 1) for r, g in zip(rankings, relevant)) / n,
        "hit@3": sum(hit_at_k(r, g, 3) for r, g in zip(rankings, relevant)) / n,
        "MRR": sum(reciprocal_rank(r, g) for r, g in zip(rankings, relevant)) / n,
        "nDCG@10": sum(ndcg_at_k(r, {d: 1.0 for d in g}) for r, g in zip(rankings, relevant)) / n,
    }


def evaluate(qa, questions: list[Labelled], corpus: Path | None = None,
             flag_labels: list[tuple[str, set[str]]] | None = None) -> Report:
    """Run every question through `qa.ask` (routes, quotes) and every answerable one
    through each fusion method (retrieval). Quotes are re-checked against the corpus
    files themselves, loaded afresh, when `corpus` is given. The claim detector is measured
    on `flag_labels`, (sentence, classes) pairs (default: the default corpus's sentences,
    labelled by hand)."""
    from .load import load_corpus
    from .retrieve import search

    report = Report()
    fresh = {d.id: d.text for d in load_corpus(corpus).documents} if corpus else \
        {d.id: d.text for d in qa.index.docs}
    answerable = [q for q in questions if q.route == "answer" and q.sources]
    vectors = qa.embedder.embed([q.question for q in questions])
    by_id = {q.id: v for q, v in zip(questions, vectors)}
    for method in FUSIONS:
        rankings = []
        for q in answerable:
            terms = qa.index.sparse.analyze(q.question, qa.known_words)
            hits = search(qa.index, by_id[q.id], q.question, k=len(qa.index.chunks), method=method, terms=terms)
            rankings.append(doc_ranking(qa.index, hits, qa.sources))  # the reference note is not a source
        report.retrieval[method] = retrieval_metrics(rankings, [set(q.sources) for q in answerable])

    correct = 0
    for q in questions:
        answer = qa.ask(q.question)
        report.routes.setdefault(q.route, {}).setdefault(answer.route, 0)
        report.routes[q.route][answer.route] += 1
        if answer.route == q.route:
            correct += 1
        else:
            report.wrong.append((q.id, q.route, answer.route))
        if q.regulator is not None:
            report.regulator_labelled += 1
            if q.regulator:
                report.regulator_expected += 1
                report.regulator_shown += bool(answer.regulator)
                if not answer.regulator:
                    report.regulator_missed.append(q.id)
            elif answer.regulator:
                report.regulator_unexpected.append(q.id)
        for quote in answer.quotes + tuple(f.quote for f in answer.regulator):
            if q.route == "answer" and q.sources and quote.role == "answer":
                report.quotes_answerable += 1
                report.quotes_on_source += int(quote.source_id in q.sources)
            report.quotes_total += 1
            text = fresh.get(quote.source_id, "")
            report.quotes_verified += int(text[quote.start:quote.end] == quote.text)
    report.route_accuracy = correct / len(questions) if questions else 0.0
    report.flags = flag_metrics(flag_labels if flag_labels is not None else load_flag_labels())
    return report


# ---- claim flags ----------------------------------------------------------------------

def load_flag_labels(path: Path | None = None) -> list[tuple[str, set[str]]]:
    """(sentence, classes) pairs labelled by hand: every sentence of the default corpus's
    marketing documents, or another file of the same JSON Lines shape."""
    text = Path(path).read_text() if path else \
        resources.files("qa").joinpath("data/claim_labels.jsonl").read_text()
    return [(r["text"], set(r["classes"])) for r in map(json.loads, filter(str.strip, text.splitlines()))]


def flag_metrics(labelled: list[tuple[str, set[str]]]) -> dict[str, dict[str, float]]:
    """Precision and recall of the claim detector per class, and over all (class, sentence)
    pairs ("all"); "sentences" counts a sentence as flagged when it has any flag."""
    from .claims import LABELS, detect

    counts = {k: [0, 0, 0] for k in list(LABELS) + ["all", "sentences"]}  # tp, fp, fn
    for text, expected in labelled:
        got = {f.kind for f in detect(text)}
        for kind in LABELS:
            for key in (kind, "all"):
                counts[key][0] += kind in got and kind in expected
                counts[key][1] += kind in got and kind not in expected
                counts[key][2] += kind in expected and kind not in got
        counts["sentences"][0] += bool(got) and bool(expected)
        counts["sentences"][1] += bool(got) and not expected
        counts["sentences"][2] += bool(expected) and not got
    out = {}
    for key, (tp, fp, fn) in counts.items():
        out[key] = {"precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
                    "tp": tp, "fp": fp, "fn": fn}
    return out


def format_report(report: Report) -> str:
    lines = ["retrieval (document level, questions with route=answer):",
             f"  {'fusion':<11}" + "".join(f"{m:>9}" for m in ("hit@1", "hit@3", "MRR", "nDCG@10"))]
    for method, m in report.retrieval.items():
        lines.append(f"  {method:<11}" + "".join(f"{m[k]:>9.3f}" for k in ("hit@1", "hit@3", "MRR", "nDCG@10")))
    total = sum(sum(v.values()) for v in report.routes.values())
    lines.append(f"route accuracy: {report.route_accuracy:.3f} ({round(report.route_accuracy * total)}/{total})")
    for expected, got in sorted(report.routes.items()):
        lines.append(f"  {expected:<15} -> " + ", ".join(f"{k}: {v}" for k, v in sorted(got.items())))
    share = report.quotes_verified / report.quotes_total if report.quotes_total else 1.0
    lines.append(f"quotes verified: {report.quotes_verified}/{report.quotes_total} ({share:.3f})")
    if report.quotes_answerable:
        lines.append(f"quotes from a labelled source: {report.quotes_on_source}/{report.quotes_answerable} "
                     f"({report.quotes_on_source / report.quotes_answerable:.3f})")
    if report.wrong:
        lines.append("misrouted: " + ", ".join(f"{i} ({e}->{g})" for i, e, g in report.wrong))
    if report.regulator_labelled:
        lines.append(f"regulator section: shown for {report.regulator_shown}/{report.regulator_expected} questions "
                     f"that should have it, and for {len(report.regulator_unexpected)}/"
                     f"{report.regulator_labelled - report.regulator_expected} that should not")
        if report.regulator_missed or report.regulator_unexpected:
            lines.append(f"  missed: {', '.join(report.regulator_missed) or '-'}; "
                         f"unexpected: {', '.join(report.regulator_unexpected) or '-'}")
    if report.flags:
        lines.append("claim flags on the hand-labelled sentences:")
        lines.append(f"  {'class':<16}{'precision':>10}{'recall':>8}{'tp':>5}{'fp':>4}{'fn':>4}")
        for kind, m in report.flags.items():
            lines.append(f"  {kind:<16}{m['precision']:>10.3f}{m['recall']:>8.3f}{m['tp']:>5}{m['fp']:>4}{m['fn']:>4}")
    return "\n".join(lines)


# ---- calibration ----------------------------------------------------------------------

def _balanced_accuracy(pos: np.ndarray, neg: np.ndarray, threshold: float) -> float:
    """Positives should score >= threshold, negatives below it."""
    tpr = float(np.mean(pos >= threshold)) if len(pos) else 1.0
    tnr = float(np.mean(neg < threshold)) if len(neg) else 1.0
    return (tpr + tnr) / 2


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    """Threshold maximising balanced accuracy, placed midway between neighbouring scores."""
    values = np.unique(np.concatenate([pos, neg]))
    cuts = np.concatenate([[values[0] - 1e-3], (values[1:] + values[:-1]) / 2, [values[-1] + 1e-3]])
    scored = [(_balanced_accuracy(pos, neg, c), -abs(c - np.median(cuts)), c) for c in cuts]
    acc, _, cut = max(scored)
    return float(cut), acc


def calibrate(qa, questions: list[Labelled]) -> dict:
    """Fit the scope and answer thresholds (and the weight of absent question words) on
    the labelled questions; also report leave-one-out accuracy of the answer decision, an
    honest estimate for questions the calibration has not seen."""
    in_scope, out = [], []
    answer_feats, no_feats = [], []
    for q in questions:
        if q.route not in ("answer", "no_answer", "out_of_scope"):
            continue
        vector = qa.embedder.embed([q.question])[0]
        ev = qa.evidence(q.question, vector)
        (out if q.route == "out_of_scope" else in_scope).append(ev.scope)
        best = ev.candidates[0].score if ev.candidates else 0.0
        if q.route == "answer":
            answer_feats.append((best, ev.missing_share))
        elif q.route == "no_answer":
            no_feats.append((best, ev.missing_share))
    scope_min, scope_acc = best_threshold(np.array(in_scope), np.array(out))

    def fit(pos_f, neg_f):
        best = None
        for w in np.round(np.arange(0.0, 3.01, 0.1), 2):
            pos = np.array([b - w * m for b, m in pos_f])
            neg = np.array([b - w * m for b, m in neg_f])
            cut, acc = best_threshold(pos, neg)
            if best is None or acc > best[2] + 1e-9:
                best = (float(w), cut, acc)
        return best

    weight, answer_min, answer_acc = fit(answer_feats, no_feats)
    # leave-one-out: refit without each labelled question, then classify it
    loo = {True: [], False: []}
    items = [(f, True) for f in answer_feats] + [(f, False) for f in no_feats]
    for i, (feat, is_answer) in enumerate(items):
        rest = items[:i] + items[i + 1:]
        w, cut, _ = fit([f for f, a in rest if a], [f for f, a in rest if not a])
        loo[is_answer].append(((feat[0] - w * feat[1]) >= cut) == is_answer)
    loo_balanced = (np.mean(loo[True]) + np.mean(loo[False])) / 2 if loo[True] and loo[False] else None
    return {
        "scope_min": round(scope_min, 4), "scope_balanced_accuracy": round(scope_acc, 4),
        "answer_min": round(answer_min, 4), "miss_weight": weight,
        "answer_balanced_accuracy": round(answer_acc, 4),
        "answer_leave_one_out_balanced_accuracy": round(float(loo_balanced), 4) if loo_balanced else None,
        "labelled": {"answer": len(answer_feats), "no_answer": len(no_feats), "out_of_scope": len(out)},
    }


# ---- BEIR -----------------------------------------------------------------------------

def load_beir(folder: Path, split: str = "test"):
    """(documents, queries, qrels) from a BEIR folder: corpus.jsonl, queries.jsonl,
    qrels/<split>.tsv."""
    from .clean import clean_text
    from .types import Document, SourceMeta

    folder = Path(folder)
    docs = []
    with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            raw = "\n\n".join(x for x in (r.get("title", ""), r.get("text", "")) if x)
            cleaned = clean_text(raw)
            if cleaned.text:
                docs.append(Document(str(r["_id"]), str(r["_id"]), SourceMeta(r.get("title") or str(r["_id"])),
                                     cleaned.text, ""))
    qrels: dict[str, dict[str, float]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            parts = line.rstrip("\n").split("\t")
            if i == 0 and not parts[-1].lstrip("-").isdigit():
                continue  # header
            qid, did, score = parts[0], parts[1], float(parts[2])
            if score > 0:
                qrels.setdefault(qid, {})[did] = score
    queries = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                r = json.loads(line)
                if str(r["_id"]) in qrels:
                    queries[str(r["_id"])] = r["text"]
    return docs, queries, qrels


def evaluate_beir(folder: Path, embedder, progress: bool = False) -> dict[str, dict[str, float]]:
    """nDCG@10 and Recall@100 for dense only, BM25 only and the hybrids, on one index
    built by the same pipeline as `qa index`."""
    from .index import Index
    from .retrieve import search

    docs, queries, qrels = load_beir(folder)
    index, _ = Index.from_documents(docs, embedder, progress=progress)
    qids = list(queries)
    vectors = embedder.embed([queries[q] for q in qids], progress=progress)
    out = {}
    for method in FUSIONS:
        ndcg, recall = [], []
        for qid, vec in zip(qids, vectors):
            hits = search(index, vec, queries[qid], k=min(1000, len(index.chunks)), candidates=1000, method=method)
            ranking = doc_ranking(index, hits)
            ndcg.append(ndcg_at_k(ranking, qrels[qid], 10))
            recall.append(recall_at_k(ranking, set(qrels[qid]), 100))
        out[method] = {"nDCG@10": float(np.mean(ndcg)), "Recall@100": float(np.mean(recall)),
                       "queries": len(qids), "documents": len(docs)}
    return out
