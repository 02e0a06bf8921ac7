"""The index: documents, sentences, chunks, their vectors, FAISS and BM25, and a manifest
saying what built them. One object with build(), save(dir) and load(dir).

On disk, `dir/CURRENT` names the live build in `dir/builds/`. A build is written aside
and CURRENT is swapped with an atomic rename, so a rebuild killed half way leaves the
old index in service.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import claims as claim_rules
from .chunk import ChunkParams, split_document
from .embed import Embedder, ModelIdentity
from .load import file_stats, load_corpus, read_description
from .sparse import SparseIndex
from .tables import ChunkTable, SentenceTable
from .types import Chunk, Document, Sentence, SourceMeta

SCHEMA_VERSION = 4
EXACT_LIMIT = 50_000  # above this many rows the dense index is approximate (IVF), not exact


class IndexMissing(Exception):
    """No index has been built in this folder yet."""


class IndexCorrupt(Exception):
    """The index files cannot be read or do not agree with each other."""


class IndexStale(Exception):
    """The index was built by another model, other chunking, or an older corpus."""


@dataclass(frozen=True)
class BuildReport:
    documents: int
    chunks: int
    sentences: int
    reused: int  # texts (chunks + sentences) whose vectors came from the previous index
    embedded: int
    seconds: float
    warnings: tuple[str, ...]

    def summary(self) -> str:
        return (f"indexed {self.documents} documents, {self.chunks} chunks, {self.sentences} sentences "
                f"(reused {self.reused}, embedded {self.embedded}) in {self.seconds:.1f}s")


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def sentence_context(title: str, sentence: str) -> str:
    """What a sentence is embedded as: prefixed by its document's title, so that a sentence
    like "relief within just a few hours" still knows it is about the document's subject."""
    return f"{title}: {sentence}" if title else sentence


def _library_versions() -> dict:
    from importlib import metadata

    out = {}
    for name in ("faiss-cpu", "sentence-transformers", "torch", "bm25s", "ftfy", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


IVF_NPROBE = 64  # lists searched per query: recall@10 vs exact >= 0.95 in bench/bench.py


def dense_index(vectors: np.ndarray, exact_limit: int | None = None):
    """Exact inner-product search up to `exact_limit` rows (default EXACT_LIMIT); beyond,
    an inverted-file index (IVF, about 4 * sqrt(n) lists), which builds in minutes on two
    cores where HNSW takes far longer, and answers in milliseconds at a million rows."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    if n <= (EXACT_LIMIT if exact_limit is None else exact_limit):
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = int(4 * np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(n, size=min(n, 40 * nlist), replace=False)]
        index.train(sample)
        index.nprobe = IVF_NPROBE
    index.add(vectors)
    return index


def dense_kind(n: int) -> str:
    return "flat-ip" if n <= EXACT_LIMIT else "ivf-ip"


class Index:
    def __init__(self, manifest: dict, docs: list[Document], sentences, chunks,
                 chunk_vectors: np.ndarray, sentence_vectors: np.ndarray, dense, sparse: SparseIndex,
                 sentence_dense=None, path: Path | None = None, claims: np.ndarray | None = None):
        self.manifest = manifest
        self.docs = docs
        self.doc_by_id = {d.id: d for d in docs}
        self.sentences = sentences if isinstance(sentences, SentenceTable) else SentenceTable.of(docs, sentences)
        self.chunks = chunks if isinstance(chunks, ChunkTable) else ChunkTable.of(docs, chunks)
        self.chunk_vectors = chunk_vectors
        self.sentence_vectors = sentence_vectors
        self.dense = dense
        self.sparse = sparse
        self.sentence_dense = sentence_dense if sentence_dense is not None else dense_index(sentence_vectors)
        self.path = path
        # (class, claim, sentence, start, end): where each sentence's promotional wording is
        self.claims = claims if claims is not None else claim_rules.match_rows(s.text for s in self.sentences)
        # chunk i covers sentences [first[i], last[i]); chunks are in sentence order
        self._chunk_first = np.asarray(self.chunks.spans[:, 3])

    def claim_matches(self, sentence: int) -> list:
        """The promotional-claim matches stored for one sentence (offsets in its text)."""
        lo, hi = np.searchsorted(self.claims[:, 2], [sentence, sentence + 1])
        return claim_rules.rows_to_matches(self.claims[lo:hi])

    def chunk_of_sentence(self, sentence: int) -> int:
        """A chunk (the first one) that contains `sentence`."""
        i = int(np.searchsorted(self._chunk_first, sentence, side="right")) - 1
        while i > 0 and self.chunks[i - 1].last_sentence > sentence:
            i -= 1
        return i

    # ---- build -------------------------------------------------------------------------

    @classmethod
    def build(cls, corpus: Path, embedder: Embedder, params: ChunkParams = ChunkParams(),
              previous: "Index | None" = None, progress: bool = False) -> tuple["Index", BuildReport]:
        """Read, clean, chunk and embed `corpus`. Vectors of texts unchanged since
        `previous` (built by the same model) are reused, not embedded again."""
        started = time.perf_counter()
        corpus = Path(corpus)
        loaded = load_corpus(corpus)
        corpus_info = {
            "files": {rel: {"size": st.size, "mtime_ns": st.mtime_ns} for rel, st in file_stats(corpus).items()},
            "hashes": corpus_hashes(corpus),
            "description": read_description(corpus),
            "name": corpus.resolve().name,
        }
        return cls.from_documents(loaded.documents, embedder, params, previous, progress, corpus_info,
                                  loaded.warnings, started)

    @classmethod
    def from_documents(cls, documents: list[Document], embedder: Embedder, params: ChunkParams = ChunkParams(),
                       previous: "Index | None" = None, progress: bool = False, corpus_info: dict | None = None,
                       warnings: list[str] = (), started: float | None = None) -> tuple["Index", BuildReport]:
        """Chunk and embed documents that are already loaded (a folder, or a benchmark)."""
        started = time.perf_counter() if started is None else started
        sentences: list[Sentence] = []
        chunks: list[Chunk] = []
        for doc in documents:
            doc_sentences, doc_chunks = split_document(doc, params, len(sentences))
            sentences.extend(doc_sentences)
            chunks.extend(doc_chunks)

        identity = embedder.identity
        cache: dict[str, np.ndarray] = {}
        if (previous is not None and previous.manifest["model"] == identity.as_dict()
                and previous.manifest["chunking"] == params.as_dict()):  # same recipe for the embedded texts
            cache = previous.vectors_by_hash()
        known_claims = previous.claims_by_text() if previous is not None else {}
        titles = {d.id: d.meta.title for d in documents}
        texts = [c.text for c in chunks] + [sentence_context(titles[s.doc_id], s.text) for s in sentences]
        hashes = [text_hash(t) for t in texts]
        todo = sorted({h: i for i, h in enumerate(hashes) if h not in cache}.values())
        fresh = embedder.embed([texts[i] for i in todo], progress=progress)
        vectors = np.zeros((len(texts), identity.dim), dtype=np.float32)
        new_by_hash = {hashes[i]: fresh[n] for n, i in enumerate(todo)}
        for i, h in enumerate(hashes):
            vectors[i] = cache[h] if h in cache else new_by_hash[h]
        chunk_vectors, sentence_vectors = vectors[: len(chunks)], vectors[len(chunks):]

        manifest = {
            "schema_version": SCHEMA_VERSION,
            "model": identity.as_dict(),
            "chunking": params.as_dict(),
            "corpus": corpus_info or {"files": {}, "hashes": {}, "description": ""},
            "documents": {d.id: {"path": d.path, "raw_sha256": d.raw_sha256, "text_sha256": text_hash(d.text)}
                          for d in documents},
            "libraries": _library_versions(),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "warnings": list(warnings),
        }
        index = cls._assemble(manifest, documents, sentences, chunks, chunk_vectors, sentence_vectors, known_claims)
        report = BuildReport(len(documents), len(chunks), len(sentences),
                             len(texts) - len(todo), len(todo), time.perf_counter() - started,
                             tuple(warnings))
        return index, report

    @classmethod
    def merge(cls, shards: list["Index"]) -> "Index":
        """One index from shards built separately (say, one per sub-folder of a corpus, on
        different workers). Document ids and file names are prefixed with each shard's corpus
        folder name, so the result matches a single build of the parent folder. Shards must
        share model and chunking; vectors are concatenated, not embedded again."""
        if not shards:
            raise ValueError("nothing to merge")
        first = shards[0].manifest
        for shard in shards[1:]:
            for key in ("model", "chunking"):
                if shard.manifest[key] != first[key]:
                    raise IndexStale(f"cannot merge shards built with different {key}: "
                                     f"{first[key]} and {shard.manifest[key]}")
        docs: list[Document] = []
        chunk_spans, sentence_spans, files, hashes, documents = [], [], {}, {}, {}
        for shard in shards:
            prefix = shard.manifest["corpus"].get("name", "")
            prefix = f"{prefix}/" if prefix else ""
            chunk = np.array(shard.chunks.spans, dtype=np.int64)
            sent = np.array(shard.sentences.spans, dtype=np.int64)
            chunk[:, 0] += len(docs)
            chunk[:, 3:5] += sum(len(x) for x in sentence_spans)
            sent[:, 0] += len(docs)
            chunk_spans.append(chunk)
            sentence_spans.append(sent)
            for d in shard.docs:
                docs.append(Document(prefix + d.id, prefix + d.path, d.meta, d.text, d.raw_sha256))
            corpus = shard.manifest["corpus"]
            files.update({prefix + k: v for k, v in corpus.get("files", {}).items()})
            hashes.update({prefix + k: v for k, v in corpus.get("hashes", {}).items()})
            documents.update({prefix + k: {**v, "path": prefix + v["path"]}
                              for k, v in shard.manifest["documents"].items()})
        ids = [d.id for d in docs]
        if len(ids) != len(set(ids)):
            raise IndexStale("cannot merge shards whose documents share ids; give each shard its own folder name")
        chunk_vectors = np.vstack([np.asarray(s.chunk_vectors) for s in shards])
        sentence_vectors = np.vstack([np.asarray(s.sentence_vectors) for s in shards])
        chunks = ChunkTable(docs, np.vstack(chunk_spans))
        sentences = SentenceTable(docs, np.vstack(sentence_spans))
        manifest = {
            **first,
            "corpus": {"files": files, "hashes": hashes, "name": "",
                       "description": next((s.manifest["corpus"].get("description") for s in shards
                                            if s.manifest["corpus"].get("description")), "")},
            "documents": documents,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "merged_from": [s.manifest["corpus"].get("name", "") for s in shards],
            "warnings": [w for s in shards for w in s.manifest.get("warnings", [])],
        }
        return cls._assemble(manifest, docs, sentences, chunks, chunk_vectors, sentence_vectors)

    @classmethod
    def _assemble(cls, manifest: dict, docs: list[Document], sentences, chunks, chunk_vectors: np.ndarray,
                  sentence_vectors: np.ndarray, known_claims: dict | None = None) -> "Index":
        """A new index from its parts: records their sizes and index kinds in the manifest,
        and builds the dense and BM25 search structures and the claim matches over them."""
        manifest.update({
            "counts": {"documents": len(docs), "chunks": len(chunks), "sentences": len(sentences)},
            "dense": dense_kind(len(chunks)),
            "dense_sentences": dense_kind(len(sentences)),
            "claims": {"detector": claim_rules.FINGERPRINT},
        })
        sentences = sentences if isinstance(sentences, SentenceTable) else SentenceTable.of(docs, sentences)
        claims = claim_rules.match_rows((s.text for s in sentences), known_claims)
        return cls(manifest, docs, sentences, chunks, chunk_vectors, sentence_vectors,
                   dense_index(chunk_vectors), SparseIndex.build([c.text for c in chunks]), claims=claims)

    def claims_by_text(self) -> dict[str, list[tuple]]:
        """sentence text -> its claim matches (class, claim, start, end), for a rebuild by the
        same rules; empty when other rules built this index."""
        if self.manifest.get("claims", {}).get("detector") != claim_rules.FINGERPRINT:
            return {}
        rows: dict[int, list[tuple]] = {}
        for k, c, i, s, e in np.asarray(self.claims).tolist():
            rows.setdefault(i, []).append((k, c, s, e))
        return {self.sentences[i].text: rows.get(i, []) for i in range(len(self.sentences))}

    def vectors_by_hash(self) -> dict[str, np.ndarray]:
        out = {text_hash(c.text): v for c, v in zip(self.chunks, self.chunk_vectors)}
        out.update({text_hash(sentence_context(self.doc_by_id[s.doc_id].meta.title, s.text)): v
                    for s, v in zip(self.sentences, self.sentence_vectors)})
        return out

    # ---- save / load -------------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        """Write the index as a new build under `folder` and make it current atomically."""
        import faiss

        folder = Path(folder)
        builds = folder / "builds"
        builds.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{os.getpid()}-{time.time_ns() % 10**6}"
        tmp = builds / f".partial-{name}"
        tmp.mkdir()
        _write_jsonl(tmp / "docs.jsonl", (
            {"id": d.id, "path": d.path, "title": d.meta.title, "publisher": d.meta.publisher,
             "date": d.meta.date, "url": d.meta.url, "kind": d.meta.kind, "raw_sha256": d.raw_sha256,
             "text": d.text} for d in self.docs))
        _write_jsonl(tmp / "chunks.jsonl", (
            {"doc": c.doc_id, "start": c.start, "end": c.end, "sentences": [c.first_sentence, c.last_sentence],
             "text": c.text} for c in self.chunks))
        np.save(tmp / "chunk_spans.npy", np.asarray(self.chunks.spans, dtype=np.int64))
        np.save(tmp / "sentence_spans.npy", np.asarray(self.sentences.spans, dtype=np.int64))
        np.save(tmp / "chunk_vectors.npy", np.asarray(self.chunk_vectors, dtype=np.float32))
        np.save(tmp / "sentence_vectors.npy", np.asarray(self.sentence_vectors, dtype=np.float32))
        np.save(tmp / "claims.npy", np.asarray(self.claims, dtype=np.int64))
        faiss.write_index(self.dense, str(tmp / "dense.faiss"))
        faiss.write_index(self.sentence_dense, str(tmp / "sentences.faiss"))
        self.sparse.save(tmp / "bm25")
        (tmp / "manifest.json").write_text(json.dumps(self.manifest, indent=2, sort_keys=True))
        _fsync_tree(tmp)
        final = builds / name
        tmp.rename(final)
        pointer = folder / "CURRENT.tmp"
        pointer.write_text(name + "\n")
        _fsync_file(pointer)
        os.replace(pointer, folder / "CURRENT")  # the switch: atomic on POSIX
        for old in builds.iterdir():
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)
        self.path = final
        return final

    @staticmethod
    def current_build(folder: Path) -> Path:
        folder = Path(folder)
        if (folder / "manifest.json").exists():  # a build folder given directly
            return folder
        pointer = folder / "CURRENT"
        if not pointer.exists():
            raise IndexMissing(f"no index in {folder}; build it with `qa index`")
        build = folder / "builds" / pointer.read_text().strip()
        if not build.is_dir():
            raise IndexCorrupt(f"index in {folder} points to a missing build; rebuild it with `qa index`")
        return build

    @classmethod
    def read_manifest(cls, folder: Path) -> dict:
        build = cls.current_build(folder)
        try:
            manifest = json.loads((build / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise IndexCorrupt(f"index manifest in {build} is unreadable ({exc}); rebuild it with `qa index`")
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise IndexStale(f"index in {folder} has format version {manifest.get('schema_version')}, "
                             f"this qa reads version {SCHEMA_VERSION}; rebuild it with `qa index`")
        return manifest

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> "Index":
        """Load the current build; vectors are memory-mapped. Raises IndexMissing,
        IndexCorrupt or IndexStale (format) with a message that names the fix."""
        import faiss

        build = cls.current_build(folder)
        manifest = cls.read_manifest(folder)
        try:
            docs = [Document(r["id"], r["path"], SourceMeta(r["title"], r["publisher"], r["date"], r["url"], r["kind"]),
                             r["text"], r["raw_sha256"]) for r in _read_jsonl(build / "docs.jsonl")]
            mode = "r" if mmap else None
            # chunks.jsonl is the readable export of the chunks; the spans are what is loaded
            chunks = ChunkTable(docs, np.load(build / "chunk_spans.npy", mmap_mode=mode, allow_pickle=False))
            sentences = SentenceTable(docs, np.load(build / "sentence_spans.npy", mmap_mode=mode, allow_pickle=False))
            chunks.validate()
            sentences.validate()
            chunk_vectors = np.load(build / "chunk_vectors.npy", mmap_mode=mode, allow_pickle=False)
            sentence_vectors = np.load(build / "sentence_vectors.npy", mmap_mode=mode, allow_pickle=False)
            dense = _read_faiss(build / "dense.faiss", mmap)
            sentence_dense = _read_faiss(build / "sentences.faiss", mmap)
            sparse = SparseIndex.load(build / "bm25", mmap=mmap)
            claims = np.load(build / "claims.npy", allow_pickle=False)
            if claims.ndim != 2 or claims.shape[1] != 5 or (len(claims) and not (
                    np.all(np.diff(claims[:, 2]) >= 0) and 0 <= claims[:, 2].min()
                    and claims[:, 2].max() < len(sentences) and claims[:, 0].max() < len(claim_rules.KINDS)
                    and claims[:, 1].max() < len(claim_rules.CLAIMS))):
                raise ValueError("claims.npy does not fit the sentences")
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise IndexCorrupt(f"index in {build} is damaged ({type(exc).__name__}: {str(exc)[:200]}); "
                               f"rebuild it with `qa index`") from exc
        counts = manifest.get("counts", {})
        if not (len(chunks) == len(chunk_vectors) == dense.ntotal == counts.get("chunks")
                and len(sentences) == len(sentence_vectors) == sentence_dense.ntotal == counts.get("sentences")
                and sparse.model.scores["num_docs"] == len(chunks)):
            raise IndexCorrupt(f"index in {build} is damaged (its parts disagree in size); rebuild it with `qa index`")
        return cls(manifest, docs, sentences, chunks, chunk_vectors, sentence_vectors, dense, sparse,
                   sentence_dense, build, claims)

    # ---- freshness ---------------------------------------------------------------------

    def problems(self, corpus: Path | None, model: ModelIdentity | None, params: ChunkParams | None) -> list[str]:
        return staleness(self.manifest, corpus, model, params)


def _read_faiss(path: Path, mmap: bool):
    """A FAISS index, memory-mapped where FAISS can map that index type."""
    import faiss

    if not path.exists():
        raise FileNotFoundError(f"missing {path.name}")
    if mmap:
        try:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
        except RuntimeError:
            pass  # this index type cannot be mapped: read it (a damaged file fails again below)
    index = faiss.read_index(str(path))
    if hasattr(index, "nprobe"):
        index.nprobe = IVF_NPROBE
    return index


def corpus_hashes(corpus: Path) -> dict[str, str]:
    out = {}
    for rel in file_stats(corpus):
        out[rel] = _file_sha256(corpus / rel)
    return out


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def staleness(manifest: dict, corpus: Path | None, model: ModelIdentity | None,
              params: ChunkParams | None) -> list[str]:
    """Reasons the index no longer matches the corpus, model or chunking (empty: fresh).
    Files whose size and mtime are unchanged are trusted; others are hashed."""
    reasons = []
    if manifest.get("claims", {}).get("detector") != claim_rules.FINGERPRINT:
        reasons.append("it was built with another version of the claim detector")
    if model is not None and manifest["model"] != model.as_dict():
        built = manifest["model"]
        reasons.append(f"it was built with model {built['name']} (weights {built['weights_sha256'][:12]}, "
                       f"dim {built['dim']}), but the model in use is {model.name} "
                       f"(weights {model.weights_sha256[:12]}, dim {model.dim})")
    if params is not None and manifest["chunking"] != params.as_dict():
        reasons.append(f"it was built with chunking {manifest['chunking']}, now {params.as_dict()}")
    if corpus is not None:
        recorded = manifest["corpus"]["files"]
        hashes = manifest["corpus"]["hashes"]
        try:
            current = file_stats(Path(corpus))
        except Exception as exc:  # the corpus folder itself is gone or unreadable
            return reasons + [str(exc)]
        added = sorted(set(current) - set(recorded))
        removed = sorted(set(recorded) - set(current))
        changed = []
        for rel in sorted(set(current) & set(recorded)):
            st, old = current[rel], recorded[rel]
            if (st.size, st.mtime_ns) != (old["size"], old["mtime_ns"]):
                if st.size != old["size"] or _file_sha256(Path(corpus) / rel) != hashes.get(rel):
                    changed.append(rel)
        for label, names in (("added", added), ("removed", removed), ("changed", changed)):
            if names:
                shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
                reasons.append(f"the corpus has {label} files since it was built: {shown}")
    return reasons


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False))
            fh.write("\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            _fsync_file(path)
