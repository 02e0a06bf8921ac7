"""The load test (`bench/load.py`): its answer checks, and a short run against a real `qa chat`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench" / "load.py"


def _bench():
    spec = importlib.util.spec_from_file_location("qa_bench_load", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


ANSWER = {"question": "q", "route": "answer", "answer_markdown": "> “quote” [1]", "quotes": [], "sources": [],
          "groups": [], "disclaimer": "Not medical advice.", "message": ""}


def test_a_complete_answer_passes_and_a_truncated_one_is_an_error():
    load = _bench()
    assert load._complete(json.dumps([ANSWER])) == ANSWER
    for broken in ([{k: v for k, v in ANSWER.items() if k != "sources"}], [{**ANSWER, "answer_markdown": ""}],
                   [{**ANSWER, "quotes": None}], [ANSWER, ANSWER], {"route": "answer"}):
        with pytest.raises(load.RequestFailed) as exc:
            load._complete(json.dumps(broken))
        assert exc.value.kind == "incomplete"
    with pytest.raises(load.RequestFailed) as exc:
        load._complete('[{"route": "answer", ')
    assert exc.value.kind == "invalid_json"


def test_latency_percentiles_are_nearest_rank():
    load = _bench()
    values = [float(v) for v in range(1, 101)]
    assert [load.percentile(values, p) for p in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert load.percentile([7.0], 95) == 7.0


@pytest.mark.slow
def test_short_load_run_gives_every_client_the_single_user_answer(tmp_path):
    """4 clients for 5 s against `qa chat` on a fresh index of the default corpus (built by the
    server, so the test does not depend on the checkout's index)."""
    run = subprocess.run([sys.executable, str(BENCH), "--clients", "4", "--seconds", "5", "--json",
                          "--corpus", str(REPO / "corpus"), "--index", str(tmp_path / "index")],
                         cwd=REPO, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout)
    assert summary["errors"] == 0 and summary["mismatches"] == 0, summary["samples"]
    assert summary["requests"] == summary["ok"] >= 4 * 5  # far more in practice: ~30 req/s on 2 cores
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99", "max"}
    assert summary["server_peak_rss_mb"] > 100  # torch and the model are resident
    # the mix reaches the safety routes as well as retrieval (these routes are pattern-based, stable)
    assert {"answer", "crisis", "medical_advice"} <= {q["route"] for q in summary["questions"]}
