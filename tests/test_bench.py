"""The benchmark script runs and its figures hold together (small sizes, so CI can afford it)."""

import json
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow


def _bench(*args):
    out = subprocess.run([sys.executable, str(REPO / "bench/bench.py"), "--json", *args],
                         capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_corpus_figures_and_baseline_ratio():
    r = _bench("--only", "default", "--runs", "1")
    d = r["default"]
    assert r["machine"]["cores"] >= 1
    assert d["chunks"] > 20 and d["build_cold_s"] > 0 and d["index_size_mb"] > 0
    assert "embedded 0)" not in d["build_summary"]
    assert "embedded" in d["rebuild_one_doc_summary"] and d["rebuild_warm_s"] < d["build_cold_s"]
    assert 0 < d["ask_p50_ms"] <= d["ask_p95_ms"]
    # hybrid retrieval, sentence selection and verification cost well under twice the baseline
    assert d["ratio_p50"] < 2.0


def test_retrieval_path_at_a_small_scale():
    r = _bench("--only", "scale", "--scale", "5000", "--runs", "1")
    s = r["scale_5000"]
    assert s["chunks"] == 5000 and s["sentences"] == 10000 and s["dense_index"] == "flat-ip"
    assert 0 < s["retrieval_p50_ms"] <= s["retrieval_p95_ms"]
