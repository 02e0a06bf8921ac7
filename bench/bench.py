"""Benchmark: build, rebuild, question latency, start-up, memory and size, against a plain
baseline (sentence-transformers + a flat FAISS index, no hybrid, no quotes) on the same data.

    python bench/bench.py                          # default corpus + a generated ~10k-chunk corpus
    python bench/bench.py --gen-chunks 2000        # a smaller generated corpus
    python bench/bench.py --scale 100000 1000000   # the retrieval path alone at 100k and 1M chunks
    python bench/bench.py --only default --runs 5 --json

Every figure is the median of --runs runs. The scale runs use generated unit vectors (a
mixture of clusters, as real embeddings are clustered) with real BM25 text built from the
default corpus's sentences; the question embedding is the real model's.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as qa/__init__.py: before FAISS and torch load

import argparse
import json
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "How fast does ketamine work?", "What are the side effects?", "How is ketamine given?",
    "how fst does ketamin work", "Does ketamine help with PTSD?", "Who is Dr. Hannah Johnson?",
    "Does insurance cover ketamine therapy?", "What is the capital of Australia?",
    "How often are maintenance infusions given?", "Can ketamine reduce suicidal thoughts?",
]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(xs, p):
    return float(np.percentile(xs, p)) if xs else float("nan")


def qa_cmd():
    exe = shutil.which("qa", path=str(Path(sys.executable).parent)) or shutil.which("qa")
    return [exe] if exe else [sys.executable, "-m", "qa.cli"]


def peak_rss_of(args, **kw) -> tuple[float, int, subprocess.CompletedProcess]:
    """Wall seconds and peak RSS (KiB; 0 if GNU time is missing) of one child process."""
    timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
    t = time.perf_counter()
    out = subprocess.run([*timer, *args], capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(map(str, args))}\n{out.stderr}")
    rss = int(out.stderr.strip().splitlines()[-1]) if timer else 0
    return wall, rss, out


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def machine() -> dict:
    flags = []
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                flags = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "amx_tile") if f in have]
                break
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import faiss
    import torch

    return {"cores": os.cpu_count(), "cpu": model, "flags": flags, "python": platform.python_version(),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "faiss": faiss.__version__}


# ---- one corpus, end to end ---------------------------------------------------------------

def bench_corpus(corpus: Path, runs: int, label: str) -> dict:
    from qa.pipeline import QA

    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    try:
        own = work / "corpus"
        shutil.copytree(corpus, own)
        index = work / "index"
        base = [*qa_cmd(), "index", "--quiet", "--corpus", str(own), "--index", str(index)]
        cold, cold_rss = [], []
        for _ in range(runs):
            shutil.rmtree(index, ignore_errors=True)
            wall, rss, out = peak_rss_of(base)
            cold.append(wall)
            cold_rss.append(rss)
        summary = out.stdout.strip()
        warm = [peak_rss_of(base)[0] for _ in range(runs)]
        incremental = []
        victim = sorted(p for p in own.rglob("*") if p.suffix in {".txt", ".md"})[0]
        for i in range(runs):
            with victim.open("a") as fh:
                fh.write(f"\n\nA new paragraph number {i} about ketamine clinics and their patients.\n")
            wall, _, out = peak_rss_of(base)
            incremental.append((wall, out.stdout.strip()))

        qa = QA.open(own, index)
        qa.warm_up()
        from qa.claims import match_rows

        t = time.perf_counter()
        match_rows(s.text for s in qa.index.sentences)  # done once per build: every sentence's flagged words
        claims_s = time.perf_counter() - t
        n_chunks = len(qa.index.chunks)
        n_texts = n_chunks + len(qa.index.sentences)
        # embedding throughput of a build, measured in-process on the index's own texts
        texts = [c.text for c in qa.index.chunks][:2000]
        t = time.perf_counter()
        qa.embedder.embed(texts)
        chunk_rate = len(texts) / (time.perf_counter() - t)

        ours, baseline = ask_latency(qa, runs)
        start_to_answer, ask_rss = [], []
        for _ in range(runs):
            wall, rss, _ = peak_rss_of([*qa_cmd(), "ask", "--json", "--corpus", str(own), "--index", str(index),
                                        "How fast does ketamine work?"])
            start_to_answer.append(wall)
            ask_rss.append(rss)
        return {
            "corpus": label, "chunks": n_chunks, "texts_embedded": n_texts, "build_summary": summary,
            "build_cold_s": median(cold), "build_cold_peak_rss_mb": median(cold_rss) / 1024,
            "build_throughput_texts_per_s": n_texts / median(cold),
            "embed_chunks_per_s": chunk_rate,
            "claim_rules_per_build_s": claims_s, "sentences": len(qa.index.sentences),
            "rebuild_warm_s": median(warm),
            "rebuild_one_doc_changed_s": median([w for w, _ in incremental]),
            "rebuild_one_doc_summary": incremental[-1][1],
            "ask_p50_ms": pct(ours, 50), "ask_p95_ms": pct(ours, 95),
            "baseline_p50_ms": pct(baseline, 50), "baseline_p95_ms": pct(baseline, 95),
            "ratio_p50": pct(ours, 50) / pct(baseline, 50), "ratio_p95": pct(ours, 95) / pct(baseline, 95),
            "process_start_to_first_answer_s": median(start_to_answer),
            "ask_process_peak_rss_mb": median(ask_rss) / 1024,
            "index_size_mb": du(index) / 2**20,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ask_latency(qa, runs: int) -> tuple[list[float], list[float]]:
    """Warm per-question latency of the full ask path, and of the plain baseline on the same
    index: embed the question, search a flat FAISS index of the chunk vectors, return the
    top 5 chunks (no BM25, no fusion, no sentences, no verification)."""
    import faiss

    flat = faiss.IndexFlatIP(qa.index.chunk_vectors.shape[1])
    flat.add(np.ascontiguousarray(qa.index.chunk_vectors, dtype=np.float32))
    model = qa.embedder.model
    ours, base = [], []
    for q in QUESTIONS:  # warm both paths
        qa.ask(q)
        flat.search(model.encode([q], normalize_embeddings=True), 5)
    for _ in range(runs):
        for q in QUESTIONS:
            t = time.perf_counter()
            v = model.encode([q], normalize_embeddings=True, convert_to_numpy=True)
            _, ids = flat.search(np.asarray(v, dtype=np.float32), 5)
            _ = [qa.index.chunks[int(i)].text for i in ids[0] if i >= 0]
            base.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            qa.ask(q)
            ours.append((time.perf_counter() - t) * 1000)
    return ours, base


# ---- a generated corpus -------------------------------------------------------------------

def seed_sentences() -> list[str]:
    from qa.chunk import sentence_spans
    from qa.load import load_corpus

    out = []
    for d in load_corpus(REPO / "corpus").documents:
        if d.meta.kind == "reference":  # generated documents are made of the marketing text
            continue
        out += [d.text[s:e] for s, e in sentence_spans(d.text) if len(d.text[s:e].split()) >= 5]
    return out


def generate_corpus(folder: Path, chunks: int, seed: int = 0) -> None:
    """Documents made of shuffled seed sentences, each with a made-up clinic name and
    number so that texts are unique (and embedded, not reused); about 4 chunks each."""
    rng = random.Random(seed)
    sentences = seed_sentences()
    folder.mkdir(parents=True, exist_ok=True)
    towns = ["Springfield", "Riverton", "Lakeside", "Fairview", "Georgetown", "Ashland", "Milton", "Clayton"]
    for i in range(max(1, chunks // 4)):
        town = rng.choice(towns)
        body = " ".join(rng.sample(sentences, 9))
        text = (f"# {town} Ketamine Clinic report {i}\n\n{town} clinic {i} says: {body}\n\n"
                f"Clinic {i} in {town} serves {rng.randint(10, 999)} patients a year.\n")
        (folder / f"gen_{i:06d}.md").write_text(text)


# ---- the retrieval path at scale ----------------------------------------------------------

def clustered_unit_vectors(n: int, dim: int, rng, centers: np.ndarray) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        x = centers[rng.integers(0, len(centers), m)] + 0.6 * rng.standard_normal((m, dim)).astype(np.float32)
        out[s:s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def bench_scale(n_chunks: int, runs: int, embedder, profile: bool = False) -> dict:
    """The per-question retrieval path (question embedding, dense + BM25 search, fusion,
    de-duplication, sentence search and scoring, quote verification) on a synthetic index."""
    import faiss

    from qa.answer import Selection, build_quotes, group_claims, score_sentences
    from qa.index import Index, dense_index, dense_kind
    from qa.retrieve import diversify, search
    from qa.sparse import SparseIndex
    from qa.tables import ChunkTable, SentenceTable
    from qa.types import Document, SourceMeta

    rng = np.random.default_rng(0)
    sentences = seed_sentences()
    per_chunk, per_doc = 2, 10  # sentences per chunk, chunks per document
    t0 = time.perf_counter()
    docs, chunk_rows, sent_rows = [], [], []
    for d in range(n_chunks // per_doc):
        parts, pos, text = [], 0, []
        for c in range(per_doc):
            first = len(sent_rows)
            c_start = pos
            for _ in range(per_chunk):
                s = sentences[int(rng.integers(len(sentences)))]
                sent_rows.append((d, pos, pos + len(s)))
                text.append(s)
                pos += len(s) + 1
            chunk_rows.append((d, c_start, pos - 1, first, len(sent_rows)))
        docs.append(Document(f"gen{d}", f"gen{d}.txt", SourceMeta(f"Generated {d}", kind="marketing"),
                             " ".join(text), ""))
    chunks = ChunkTable(docs, np.array(chunk_rows, dtype=np.int64))
    sents = SentenceTable(docs, np.array(sent_rows, dtype=np.int64))
    gen_s = time.perf_counter() - t0

    dim = embedder.identity.dim
    centers = rng.standard_normal((max(64, n_chunks // 500), dim)).astype(np.float32)
    t0 = time.perf_counter()
    chunk_vectors = clustered_unit_vectors(len(chunks), dim, rng, centers)
    sentence_vectors = clustered_unit_vectors(len(sents), dim, rng, centers)
    t1 = time.perf_counter()
    vectors_s = t1 - t0
    dense = dense_index(chunk_vectors)
    sentence_dense = dense_index(sentence_vectors)
    dense_s = time.perf_counter() - t1
    t1 = time.perf_counter()
    sparse = SparseIndex.build([c.text for c in chunks])
    bm25_s = time.perf_counter() - t1
    manifest = {"model": embedder.identity.as_dict(), "corpus": {"description": "generated"},
                "dense": dense_kind(len(chunks)), "dense_sentences": dense_kind(len(sents))}
    index = Index(manifest, docs, sents, chunks, chunk_vectors, sentence_vectors, dense, sparse, sentence_dense)

    # recall@10 of the dense index against exact search, on held-out query vectors
    queries = clustered_unit_vectors(200, dim, rng, centers)
    recall = None
    if manifest["dense"] != "flat-ip":
        exact = faiss.IndexFlatIP(dim)
        exact.add(chunk_vectors)
        _, truth = exact.search(queries, 10)
        _, got = dense.search(queries, 10)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth)]))
        del exact

    sel = Selection()
    latencies = []
    questions = QUESTIONS * runs
    embedder.embed(["warm up"])
    for q in questions:
        t = time.perf_counter()
        v = embedder.embed([q])[0]
        terms = sparse.analyze(q)
        hits = diversify(index, search(index, v, q, k=20, method="normalized", terms=terms), limit=6)
        cands = score_sentences(index, hits, v, {t.matched for t in terms if t.matched}, sel)
        groups = group_claims(index, cands, (cands[0].score - sel.window) if cands else 0, sel)
        build_quotes(index, groups, hits)
        latencies.append((time.perf_counter() - t) * 1000)
    return {
        "chunks": len(chunks), "sentences": len(sents), "dense_index": manifest["dense"],
        "generate_s": gen_s, "vectors_s": vectors_s, "dense_build_s": dense_s, "bm25_build_s": bm25_s,
        "recall_at_10_vs_exact": recall, "nprobe": getattr(dense, "nprobe", None),
        "retrieval_p50_ms": pct(latencies, 50), "retrieval_p95_ms": pct(latencies, 95),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ---- report -------------------------------------------------------------------------------

def show(title: str, d: dict) -> None:
    print(f"\n== {title}")
    for k, v in d.items():
        print(f"  {k:<34} {v:.3f}" if isinstance(v, float) else f"  {k:<34} {v}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="runs per figure; the median is printed")
    ap.add_argument("--gen-chunks", type=int, default=10_000, help="size of the generated corpus (0: skip)")
    ap.add_argument("--scale", type=int, nargs="*", default=[], help="chunk counts for the retrieval-only runs")
    ap.add_argument("--only", choices=["default", "generated", "scale"], default=None)
    ap.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    results = {"machine": machine()}
    show("machine", results["machine"])
    if args.only in (None, "default"):
        results["default"] = bench_corpus(REPO / "corpus", args.runs, "default corpus")
        show("default corpus", results["default"])
    if args.only in (None, "generated") and args.gen_chunks:
        folder = Path(tempfile.mkdtemp(prefix="qa-gen-"))
        try:
            generate_corpus(folder / "corpus", args.gen_chunks)
            results["generated"] = bench_corpus(folder / "corpus", 1 if args.gen_chunks > 2000 else args.runs,
                                                f"generated ({args.gen_chunks} chunks asked)")
            show("generated corpus", results["generated"])
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if args.only in (None, "scale") and args.scale:
        from qa.embed import SentenceTransformerEmbedder

        embedder = SentenceTransformerEmbedder()
        for n in args.scale:
            results[f"scale_{n}"] = bench_scale(n, args.runs, embedder)
            show(f"retrieval path at {n:,} chunks", results[f"scale_{n}"])
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
