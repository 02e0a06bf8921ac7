"""`qa eval` on the repo's labelled questions (with regression thresholds) and on the
tiny BEIR-format fixture."""

import shutil
import subprocess
import sys

import pytest

from .conftest import REPO, SEEDS

pytestmark = pytest.mark.slow


def _qa():
    exe = shutil.which("qa")
    return [exe] if exe else [sys.executable, "-m", "qa.cli"]


def test_eval_on_default_corpus_meets_regression_thresholds(tmp_path):
    shutil.copytree(SEEDS, tmp_path / "corpus")
    out = subprocess.run([*_qa(), "eval", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"),
                          "--min-ndcg", "0.95", "--min-route-accuracy", "0.85", "--min-quote-precision", "0.7",
                          "--min-flag-precision", "0.9", "--min-flag-recall", "0.9",
                          "--min-regulator-recall", "0.9", "--max-regulator-unexpected", "2"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    for field in ("hit@1", "MRR", "nDCG@10", "route accuracy", "quotes verified", "regulator section", "claim flags"):
        assert field in out.stdout
    verified = next(line for line in out.stdout.splitlines() if line.startswith("quotes verified"))
    done, total = verified.split()[2].split("/")
    assert done == total and int(total) > 50


def test_beir_fixture_prints_dense_bm25_and_hybrid():
    out = subprocess.run([*_qa(), "eval", "--beir", str(REPO / "tests/data/beir_tiny")],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    rows = {line.split()[0]: line.split()[1:] for line in out.stdout.splitlines()[1:]}
    assert set(rows) == {"dense", "sparse", "rrf", "normalized"}
    assert float(rows["normalized"][0]) == pytest.approx(1.0)  # every query's one relevant doc ranked first


def test_beir_on_a_folder_that_is_not_beir_is_a_clear_error(tmp_path):
    out = subprocess.run([*_qa(), "eval", "--beir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "not a BEIR folder" in out.stderr and "Traceback" not in out.stderr


def test_eval_fails_when_the_claim_detector_misses_what_the_labels_say(tmp_path):
    """A bar no detector can meet is a failure that names the reason, not a silent pass."""
    shutil.copytree(SEEDS, tmp_path / "corpus")
    out = subprocess.run([*_qa(), "eval", "--corpus", str(tmp_path / "corpus"), "--index", str(tmp_path / "index"),
                          "--min-flag-precision", "1.01", "--max-regulator-unexpected", "-1"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1
    assert "claim-flag precision" in out.stderr and "regulator section shown for" in out.stderr


@pytest.mark.parametrize("option", ["--questions", "--flag-labels"])
def test_unreadable_label_files_are_a_clear_error(tmp_path, option):
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"text": "no classes here"}\n{not json\n')
    for path in (bad, tmp_path / "missing.jsonl"):
        out = subprocess.run([*_qa(), "eval", option, str(path), "--corpus", str(tmp_path), "--index",
                              str(tmp_path / "index")], capture_output=True, text=True, timeout=300)
        assert out.returncode == 2 and f"cannot read {path}" in out.stderr and "JSON Lines" in out.stderr
        assert "Traceback" not in out.stderr
