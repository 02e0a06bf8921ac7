"""The index: save/load round trip, incremental reuse, stale detection, corruption, and
a rebuild killed half way (the old index must keep working)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from qa.build import open_fresh, rebuild
from qa.chunk import ChunkParams
from qa.index import Index, IndexCorrupt, IndexMissing, IndexStale, staleness

from .conftest import REPO, HashEmbedder


def test_round_trip_keeps_spans_vectors_and_metadata(seed_corpus, tmp_path, embedder):
    index, report = Index.build(seed_corpus, embedder)
    index.save(tmp_path / "idx")
    loaded = Index.load(tmp_path / "idx")
    assert report.documents == 6 and report.chunks == len(loaded.chunks) > 20
    assert [c.text for c in loaded.chunks] == [c.text for c in index.chunks]
    for c in loaded.chunks:
        assert loaded.doc_by_id[c.doc_id].text[c.start:c.end] == c.text
    np.testing.assert_array_equal(np.asarray(loaded.chunk_vectors), index.chunk_vectors)
    assert loaded.doc_by_id["000_f90e8d2ee5f5b2e5"].meta.kind == "marketing"
    m = loaded.manifest
    assert m["model"]["name"] == "test-hash" and m["model"]["dim"] == 64
    assert m["chunking"] == ChunkParams().as_dict()
    assert set(m["documents"]) == {d.id for d in index.docs}
    assert m["libraries"]["faiss-cpu"] and m["built_at"]


def test_second_build_reuses_everything_and_a_changed_document_is_reembedded(seed_corpus, tmp_path):
    emb = HashEmbedder()
    _, first, _ = rebuild(seed_corpus, tmp_path / "idx", emb)
    assert first.reused == 0 and first.embedded == first.chunks + first.sentences
    _, second, _ = rebuild(seed_corpus, tmp_path / "idx", emb)
    assert (second.reused, second.embedded) == (first.embedded, 0)
    doc = seed_corpus / "003_ba761e9293dbb2d4.txt"
    doc.write_text(doc.read_text().replace("Wrapping it Up", "Wrapping it Up\n\nA brand new sentence about ketamine."))
    _, third, _ = rebuild(seed_corpus, tmp_path / "idx", emb)
    assert 1 <= third.embedded <= 4, third  # the new sentence and the chunk(s) around it
    assert third.reused >= first.embedded - 4
    assert "reused" in third.summary() and "embedded" in third.summary()


def test_fresh_index_opens_and_stale_reasons_are_named(seed_corpus, tmp_path, embedder):
    folder = tmp_path / "idx"
    rebuild(seed_corpus, folder, embedder)
    assert open_fresh(seed_corpus, folder, embedder).chunks

    with pytest.raises(IndexStale, match="built with model test-hash.*qa index"):
        open_fresh(seed_corpus, folder, HashEmbedder(name="other-model"))
    with pytest.raises(IndexStale, match="chunking"):
        open_fresh(seed_corpus, folder, embedder, ChunkParams(max_chars=300))

    (seed_corpus / "new.md").write_text("# New\n\nA new page.")
    with pytest.raises(IndexStale, match="added files.*new.md"):
        open_fresh(seed_corpus, folder, embedder)
    (seed_corpus / "new.md").unlink()
    (seed_corpus / "002_b51635c51d346f00.txt").unlink()
    with pytest.raises(IndexStale, match="removed files.*002_b51635c51d346f00.txt"):
        open_fresh(seed_corpus, folder, embedder)


def test_edited_file_or_manifest_is_stale_but_touched_file_is_not(seed_corpus, tmp_path, embedder):
    folder = tmp_path / "idx"
    rebuild(seed_corpus, folder, embedder)
    doc = seed_corpus / "000_f90e8d2ee5f5b2e5.txt"
    os.utime(doc, ns=(time.time_ns(), time.time_ns() + 10**9))  # same bytes, new mtime
    open_fresh(seed_corpus, folder, embedder)
    doc.write_text(doc.read_text().replace("Garden City", "Garden Town"))
    with pytest.raises(IndexStale, match="changed files.*000_f90e8d2ee5f5b2e5.txt"):
        open_fresh(seed_corpus, folder, embedder)
    rebuild(seed_corpus, folder, embedder)
    manifest = seed_corpus / "sources.toml"
    manifest.write_text(manifest.read_text().replace('publisher = "Wiz Article"', 'publisher = "Wiz"'))
    with pytest.raises(IndexStale, match="sources.toml"):
        open_fresh(seed_corpus, folder, embedder)


def test_missing_and_corrupt_indexes_say_how_to_fix(seed_corpus, tmp_path, embedder):
    with pytest.raises(IndexMissing, match="qa index"):
        Index.load(tmp_path / "nothing")
    folder = tmp_path / "idx"
    index, _ = Index.build(seed_corpus, embedder)
    build = index.save(folder)
    (build / "dense.faiss").write_bytes(b"not a faiss file")
    with pytest.raises(IndexCorrupt, match="damaged.*qa index"):
        Index.load(folder)
    build = index.save(folder)
    with (build / "docs.jsonl").open("a") as fh:
        fh.write("{broken json\n")
    with pytest.raises(IndexCorrupt, match="qa index"):
        Index.load(folder)
    build = index.save(folder)
    spans = np.load(build / "chunk_spans.npy")
    spans[3, 2] = 10**9  # a chunk reaching past the end of its document
    np.save(build / "chunk_spans.npy", spans)
    with pytest.raises(IndexCorrupt, match="outside its document"):
        Index.load(folder)
    build = index.save(folder)
    (build / "manifest.json").write_text("{")
    with pytest.raises(IndexCorrupt, match="manifest"):
        Index.load(folder)
    # a corrupt index is not reused by the next rebuild, which still succeeds
    _, report, note = rebuild(seed_corpus, folder, embedder)
    assert "not reused" in note and report.reused == 0
    assert Index.load(folder).chunks


_KILLED_BUILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from conftest import HashEmbedder
    from qa.build import rebuild
    import numpy as np

    corpus, folder, marker, stage = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
    emb = HashEmbedder()
    if stage == "embed":
        real = emb.embed
        def slow(texts, progress=False):
            marker.write_text("embedding")
            time.sleep(60)
            return real(texts)
        emb.embed = slow
    else:  # stop while the new build's files are being written
        real_save = np.save
        def slow_save(*a, **k):
            real_save(*a, **k)
            marker.write_text("saving")
            time.sleep(60)
        np.save = slow_save
    rebuild(corpus, folder, emb)
""")


@pytest.mark.parametrize("stage", ["embed", "save"])
def test_rebuild_killed_half_way_leaves_old_index_working(seed_corpus, tmp_path, stage):
    folder = tmp_path / "idx"
    rebuild(seed_corpus, folder, HashEmbedder())
    before = [c.text for c in Index.load(folder).chunks]
    (seed_corpus / "extra.txt").write_text("An extra document about ketamine clinics. " * 30)
    marker = tmp_path / "marker"
    script = tmp_path / "killed_build.py"
    script.write_text(_KILLED_BUILD.format(tests=str(REPO / "tests")))
    proc = subprocess.Popen([sys.executable, str(script), str(seed_corpus), str(folder), str(marker), stage],
                            cwd=REPO)
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert marker.exists(), "the build never reached the stage to interrupt"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survivor = Index.load(folder)
    assert [c.text for c in survivor.chunks] == before
    # the next rebuild cleans up the partial build and succeeds
    _, report, _ = rebuild(seed_corpus, folder, HashEmbedder())
    assert report.documents == 7
    assert len(list((folder / "builds").iterdir())) == 1


def test_every_sentence_maps_to_a_chunk_that_contains_it(seed_corpus, embedder):
    index, _ = Index.build(seed_corpus, embedder)
    for i in range(len(index.sentences)):
        c = index.chunks[index.chunk_of_sentence(i)]
        assert c.first_sentence <= i < c.last_sentence
        assert index.sentences[i].text in c.text


def test_shards_built_apart_merge_into_the_index_of_the_whole_folder(tmp_path):
    emb = HashEmbedder()
    whole = tmp_path / "corpus"
    for part, names in (("part1", ["a", "b"]), ("part2", ["c"])):
        (whole / part).mkdir(parents=True)
        for n in names:
            (whole / part / f"{n}.txt").write_text(
                f"# Doc {n}\n\nKetamine clinic {n} says relief comes fast. Patients in {n} report results.\n")
    single, _ = Index.build(whole, emb)
    shards = [Index.build(whole / p, emb)[0] for p in ("part1", "part2")]
    merged = Index.merge(shards)
    merged.save(tmp_path / "merged")
    loaded = Index.load(tmp_path / "merged")
    assert [d.id for d in loaded.docs] == [d.id for d in single.docs] == ["part1/a", "part1/b", "part2/c"]
    assert [c.text for c in loaded.chunks] == [c.text for c in single.chunks]
    assert [(s.doc_id, s.start, s.end) for s in loaded.sentences] == [(s.doc_id, s.start, s.end) for s in single.sentences]
    np.testing.assert_array_equal(np.asarray(loaded.chunk_vectors), single.chunk_vectors)
    for i in range(len(loaded.chunks)):
        c = loaded.chunks[i]
        assert all(loaded.sentences[j].text in c.text for j in range(c.first_sentence, c.last_sentence))
    # the merged index is fresh for the whole folder, and answers like the single build
    open_fresh(whole, tmp_path / "merged", emb)
    from qa.retrieve import search
    q = emb.embed(["relief fast clinic c"])[0]
    assert [h.chunk for h in search(loaded, q, "relief fast clinic c")] == \
        [h.chunk for h in search(single, q, "relief fast clinic c")]


def test_shards_of_different_models_do_not_merge(tiny_corpus):
    a, _ = Index.build(tiny_corpus, HashEmbedder())
    b, _ = Index.build(tiny_corpus, HashEmbedder(name="other"))
    with pytest.raises(IndexStale, match="different model"):
        Index.merge([a, b])


def test_claims_are_stored_and_an_index_from_another_detector_is_stale(seed_corpus, tmp_path, embedder):
    import json

    index, _ = Index.build(seed_corpus, embedder)
    folder = tmp_path / "idx"
    build = index.save(folder)
    loaded = Index.load(folder)
    assert np.array_equal(loaded.claims, index.claims) and len(loaded.claims) > 50
    row = next(i for i in range(len(loaded.sentences)) if "success rate unparalleled" in loaded.sentences[i].text)
    assert {m.kind for m in loaded.claim_matches(row)} >= {"hype", "efficacy"}
    assert staleness(loaded.manifest, seed_corpus, embedder.identity, ChunkParams()) == []
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["claims"]["detector"] = "0" * 16  # as if built by another version of the rules
    (build / "manifest.json").write_text(json.dumps(manifest))
    reasons = staleness(Index.read_manifest(folder), seed_corpus, embedder.identity, ChunkParams())
    assert reasons == ["it was built with another version of the claim detector"]
    bad = np.array(loaded.claims)
    bad[0, 2] = len(loaded.sentences) + 5  # a row pointing past the last sentence
    np.save(build / "claims.npy", bad)
    with pytest.raises(IndexCorrupt):
        Index.load(folder)


def test_rebuild_runs_the_claim_rules_only_on_new_sentences(seed_corpus, embedder, monkeypatch):
    from qa import claims

    first, _ = Index.build(seed_corpus, embedder)
    doc = seed_corpus / "004_31ebd1b01557a12b.txt"
    doc.write_text(doc.read_text(encoding="utf-8") + "\n\nA revolutionary new clinic gives immediate results.\n",
                   encoding="utf-8")
    seen: list[str] = []
    rules = claims.matches
    monkeypatch.setattr(claims, "matches", lambda text: seen.append(text) or rules(text))
    again, _ = Index.build(seed_corpus, embedder, previous=first)
    assert seen == ["A revolutionary new clinic gives immediate results."]
    monkeypatch.setattr(claims, "matches", rules)
    fresh, _ = Index.build(seed_corpus, embedder)
    assert np.array_equal(again.claims, fresh.claims)  # reuse gives what running every rule gives
    stored = again.doc_by_id["004_31ebd1b01557a12b"].text
    row = again.sentences.find("004_31ebd1b01557a12b", stored.index("A revolutionary"))
    assert {m.kind for m in again.claim_matches(row)} == {"hype", "speed"}


def test_sentence_rows_of_a_document_and_by_start(seed_corpus, embedder):
    index, _ = Index.build(seed_corpus, embedder)
    for doc in index.docs:
        rows = index.sentences.rows_of(doc.id)
        assert len(rows) > 0 and all(index.sentences[r].doc_id == doc.id for r in rows)
        assert [index.sentences.find(doc.id, index.sentences[r].start) for r in rows] == list(rows)
    assert sum(len(index.sentences.rows_of(d.id)) for d in index.docs) == len(index.sentences)
    assert index.sentences.rows_of("no-such-document") == range(0)
    assert index.sentences.find(index.docs[0].id, 10**9) is None
