"""`qa index` from the user's side: summaries, warnings for bad files, one-line errors."""

import os
import shutil
import subprocess
import sys

import pytest

from qa import cli
from qa.index import Index

from .conftest import HashEmbedder


@pytest.fixture
def fake_model(monkeypatch):
    monkeypatch.setattr("qa.embed.SentenceTransformerEmbedder", lambda spec=None: HashEmbedder())


def run(capsys, *args):
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_missing_and_empty_corpus_are_one_line_errors(fake_model, tmp_path, capsys):
    code, out, err = run(capsys, "index", "--corpus", str(tmp_path / "nope"), "--index", str(tmp_path / "i"))
    assert code == 2 and err.strip() == f"qa: error: corpus folder not found: {tmp_path / 'nope'}"
    (tmp_path / "empty").mkdir()
    code, out, err = run(capsys, "index", "--corpus", str(tmp_path / "empty"), "--index", str(tmp_path / "i"))
    assert code == 2 and "no readable documents" in err and len(err.strip().splitlines()) == 1


def test_bad_files_are_skipped_with_warnings_and_the_rest_indexed(fake_model, tiny_corpus, tmp_path, capsys):
    (tiny_corpus / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (tiny_corpus / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me au r\xe9sum\xe9 ketamine clinique.".encode("cp1252"))
    (tiny_corpus / "report.pdf").write_bytes(b"%PDF-1.4 ...")
    os.symlink(tiny_corpus / "gone.txt", tiny_corpus / "dangling.txt")
    (tiny_corpus / "blank.md").write_text("   \n\n")
    code, out, err = run(capsys, "index", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "i"), "--quiet")
    assert code == 0, err
    assert "warning: skipped photo.txt: binary file" in err
    assert "warning: skipped report.pdf: unsupported file type" in err
    assert "warning: skipped dangling.txt:" in err
    assert "warning: skipped blank.md: no text after cleaning" in err
    assert "warning: read latin1.txt as cp1252 (it is not UTF-8)" in err
    assert "Traceback" not in err
    assert "indexed 3 documents" in out
    docs = Index.load(tmp_path / "i").doc_by_id
    assert docs["latin1"].text == "Café crème au résumé ketamine clinique."
    assert docs["a"].meta.title == "Apples" and docs["a"].meta.kind == "unknown"


def test_broken_manifest_is_a_clear_error(fake_model, tiny_corpus, tmp_path, capsys):
    (tiny_corpus / "sources.toml").write_text('["a.txt"\ntitle = ')
    code, out, err = run(capsys, "index", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "i"))
    assert code == 2 and "sources.toml" in err and "Traceback" not in err


def test_environment_variables_choose_the_folders(fake_model, tiny_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("QA_CORPUS", str(tiny_corpus))
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "env-index"))
    code, out, err = run(capsys, "index", "--quiet")
    assert code == 0 and "indexed 2 documents" in out
    assert (tmp_path / "env-index" / "CURRENT").exists()


def test_unknown_model_is_a_clear_error(tiny_corpus, tmp_path, capsys):
    code, out, err = run(capsys, "index", "--corpus", str(tiny_corpus), "--index", str(tmp_path / "i"),
                         "--model", "no-such/model-anywhere")
    assert code == 2 and "nor in the local cache (offline)" in err


@pytest.mark.slow
def test_real_model_cold_then_warm_build(seed_corpus, tmp_path):
    """The real bundled model, through the installed `qa` command."""
    qa = shutil.which("qa") or f"{sys.executable} -m qa.cli"
    args = [*qa.split(), "index", "--corpus", str(seed_corpus), "--index", str(tmp_path / "i"), "--quiet"]
    cold = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert cold.returncode == 0, cold.stderr
    assert "indexed 6 documents" in cold.stdout and "reused 0," in cold.stdout
    warm = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert warm.returncode == 0 and "embedded 0)" in warm.stdout
    manifest = Index.load(tmp_path / "i").manifest
    assert manifest["model"]["name"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert manifest["model"]["dim"] == 384
    assert manifest["model"]["weights_sha256"].startswith("53aa5117")


def test_merge_command(fake_model, tmp_path, capsys):
    for part in ("p1", "p2"):
        (tmp_path / "c" / part).mkdir(parents=True)
        (tmp_path / "c" / part / "x.txt").write_text(f"# {part}\n\nSome text about {part} clinics here.\n")
        assert run(capsys, "index", "--quiet", "--corpus", str(tmp_path / "c" / part),
                   "--index", str(tmp_path / f"i-{part}"))[0] == 0
    code, out, err = run(capsys, "merge", str(tmp_path / "i-p1"), str(tmp_path / "i-p2"),
                         "--index", str(tmp_path / "merged"))
    assert code == 0 and "merged 2 shards: 2 documents" in out
    assert [d.id for d in Index.load(tmp_path / "merged").docs] == ["p1/x", "p2/x"]
    code, out, err = run(capsys, "merge", str(tmp_path / "nope"), "--index", str(tmp_path / "m2"))
    assert code == 2 and "no index in" in err
