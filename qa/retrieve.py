"""Retrieval: dense (FAISS) and sparse (BM25) candidates fused into one ranking, then
near-duplicate passages collapsed and distinct sources preferred."""

from __future__ import annotations

import numpy as np

from .types import Hit

RRF_K = 60  # the constant from Cormack et al. (2009); damps the weight of top ranks


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest scores, best first (ties broken by lower index)."""
    k = min(k, len(scores))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def rrf(rankings: list[np.ndarray], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: each list adds 1 / (k + rank) to the items it ranks."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[int(item)] = fused.get(int(item), 0.0) + 1.0 / (k + rank)
    return fused


def normalized(dense: dict[int, float], sparse: dict[int, float], weight: float = 0.5) -> dict[int, float]:
    """Convex combination of min-max normalised scores; an item missing from one list
    scores 0 there."""

    def scale(scores: dict[int, float]) -> dict[int, float]:
        if not scores:
            return {}
        lo, hi = min(scores.values()), max(scores.values())
        span = hi - lo or 1.0
        return {i: (s - lo) / span for i, s in scores.items()}

    d, s = scale(dense), scale(sparse)
    return {i: weight * d.get(i, 0.0) + (1 - weight) * s.get(i, 0.0) for i in set(d) | set(s)}


def search(index, query_vector: np.ndarray, query: str, k: int = 10, candidates: int = 50,
           method: str = "rrf", terms=None) -> list[Hit]:
    """The best `k` chunks for a question. `method`: "rrf", "normalized", "dense" or "sparse"."""
    n = len(index.chunks)
    if n == 0:
        return []
    depth = min(candidates, n)
    q = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
    dense_scores, dense_ids = index.dense.search(q, depth)
    dense_ids = dense_ids[0][dense_ids[0] >= 0]
    dense_map = {int(i): float(s) for i, s in zip(dense_ids, dense_scores[0])}
    bm25 = index.sparse.scores(query, terms)
    sparse_ids = top_k(bm25, depth)
    sparse_ids = sparse_ids[bm25[sparse_ids] > 0]
    sparse_map = {int(i): float(bm25[i]) for i in sparse_ids}

    if method == "dense":
        fused = dense_map
    elif method == "sparse":
        fused = sparse_map
    elif method == "normalized":
        fused = normalized(dense_map, sparse_map)
    elif method == "rrf":
        fused = rrf([dense_ids, sparse_ids])
    else:
        raise ValueError(f"unknown fusion method {method!r}")

    ranked = sorted(fused, key=lambda i: (-fused[i], i))[:k]
    missing = [i for i in ranked if i not in dense_map]
    if missing:  # BM25-only hits still need their cosine, for abstention
        sims = np.asarray(index.chunk_vectors[missing]) @ q[0]
        dense_map.update({i: float(s) for i, s in zip(missing, sims)})
    return [Hit(i, fused[i], dense_map[i], sparse_map.get(i, 0.0)) for i in ranked]


def diversify(index, hits: list[Hit], limit: int, per_source: int = 2, same: float = 0.95) -> list[Hit]:
    """Drop hits whose passage is a near copy (cosine >= `same`) of a better one, and take
    at most `per_source` per document before filling up with the rest, so that several
    copies of one press release do not crowd out other evidence."""
    kept: list[Hit] = []
    vectors: list[np.ndarray] = []
    for hit in hits:
        v = np.asarray(index.chunk_vectors[hit.chunk])
        if any(float(v @ u) >= same for u in vectors):
            continue
        kept.append(hit)
        vectors.append(v)
    first, rest, counts = [], [], {}
    for hit in kept:
        doc = index.chunks[hit.chunk].doc_id
        counts[doc] = counts.get(doc, 0) + 1
        (first if counts[doc] <= per_source else rest).append(hit)
    return (first + rest)[:limit]
