"""Fusion, top-k, de-duplication and metrics on hand-made data with known answers."""

import math

import numpy as np
import pytest

from qa.evaluate import best_threshold, hit_at_k, ndcg_at_k, recall_at_k, reciprocal_rank
from qa.index import Index
from qa.retrieve import diversify, normalized, rrf, search, top_k
from qa.types import Hit


def test_rrf_rewards_items_both_lists_rank_well():
    fused = rrf([np.array([1, 2, 3]), np.array([3, 1, 4])], k=60)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert sorted(fused, key=lambda i: -fused[i])[:2] == [1, 3]
    assert fused[4] < fused[2] or fused[4] == pytest.approx(1 / 63)


def test_normalized_fusion_scales_each_list_to_0_1():
    fused = normalized({1: 0.9, 2: 0.5}, {2: 12.0, 3: 2.0}, weight=0.5)
    assert fused == pytest.approx({1: 0.5, 2: 0.5, 3: 0.0})


def test_top_k_orders_best_first_and_breaks_ties_by_index():
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert list(top_k(scores, 3)) == [1, 3, 2]
    assert list(top_k(scores, 10)) == [1, 3, 2, 0, 4]


def test_metrics_match_hand_computed_values():
    ranking = ["a", "b", "c", "d"]
    assert hit_at_k(ranking, {"c"}, 2) == 0 and hit_at_k(ranking, {"c"}, 3) == 1
    assert reciprocal_rank(ranking, {"c", "d"}) == pytest.approx(1 / 3)
    assert recall_at_k(ranking, {"a", "d", "z"}, 2) == pytest.approx(1 / 3)
    expected = (1 / math.log2(2) + 1 / math.log2(4)) / (1 / math.log2(2) + 1 / math.log2(3))
    assert ndcg_at_k(ranking, {"a": 1, "c": 1}, 10) == pytest.approx(expected)
    assert ndcg_at_k(["a", "c"], {"a": 1, "c": 1}) == pytest.approx(1.0)


def test_best_threshold_separates_separable_scores():
    cut, acc = best_threshold(np.array([0.8, 0.7, 0.9]), np.array([0.2, 0.4]))
    assert acc == 1.0 and 0.4 < cut < 0.7


def test_copies_of_a_passage_collapse_and_sources_are_spread(tiny_corpus, embedder):
    for i in range(3):  # three copies of one press release
        (tiny_corpus / f"copy{i}.txt").write_text((tiny_corpus / "a.txt").read_text())
    index, _ = Index.build(tiny_corpus, embedder)
    q = embedder.embed(["apples trees orchards"])[0]
    hits = search(index, q, "apples trees orchards", k=20, method="rrf")
    kept = diversify(index, hits, limit=10)
    texts = [index.chunks[h.chunk].text for h in kept]
    assert len(texts) == len(set(texts)), "identical passages must collapse into one"
    assert len(kept) < len(hits)


def test_diversify_takes_at_most_two_per_source_before_the_rest(tiny_corpus, embedder):
    index, _ = Index.build(tiny_corpus, embedder)
    fake = [Hit(i, 1.0 - i / 10, 0.5, 0.0) for i in range(len(index.chunks))]
    kept = diversify(index, fake, limit=len(fake), per_source=1, same=1.01)
    first_docs = [index.chunks[h.chunk].doc_id for h in kept[:2]]
    assert len(set(first_docs)) == 2


def test_large_dense_index_is_ivf_with_high_recall_and_reloads(tmp_path):
    import faiss

    from qa.index import _read_faiss, dense_index

    rng = np.random.default_rng(0)
    centers = rng.standard_normal((50, 32)).astype(np.float32)
    x = centers[rng.integers(0, 50, 5000)] + 0.5 * rng.standard_normal((5000, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = dense_index(x, exact_limit=1000)
    assert isinstance(index, faiss.IndexIVFFlat)
    faiss.write_index(index, str(tmp_path / "d.faiss"))
    loaded = _read_faiss(tmp_path / "d.faiss", mmap=True)
    exact = dense_index(x, exact_limit=10**9)
    queries = x[:100]
    _, truth = exact.search(queries, 10)
    _, got = loaded.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, truth)])
    assert recall >= 0.95
