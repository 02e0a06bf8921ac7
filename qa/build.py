"""Index maintenance shared by `qa index`, `qa ask` and `qa chat`: rebuild incrementally
under a lock, and open an index only after checking it is fresh."""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path

from .chunk import ChunkParams
from .embed import Embedder
from .index import BuildReport, Index, IndexCorrupt, IndexMissing, IndexStale


@contextmanager
def _lock(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise IndexStale(f"another `qa index` is already writing {folder}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def rebuild(corpus: Path, folder: Path, embedder: Embedder, params: ChunkParams = ChunkParams(),
            progress: bool = False) -> tuple[Index, BuildReport, str]:
    """Build `corpus` into `folder`, reusing the vectors of the current index where the
    texts are unchanged. Returns the index, the report and a note about the old index."""
    folder = Path(folder)
    with _lock(folder):
        note = ""
        try:
            previous = Index.load(folder)
        except IndexMissing:
            previous = None
        except (IndexCorrupt, IndexStale) as exc:
            previous, note = None, f"previous index not reused: {exc}"
        index, report = Index.build(corpus, embedder, params, previous=previous, progress=progress)
        index.save(folder)
        return index, report, note


def merge_into(folder: Path, shard_folders: list[Path]) -> Index:
    """Merge the indexes in `shard_folders` into `folder` (atomically, under the lock)."""
    shards = [Index.load(Path(f)) for f in shard_folders]
    with _lock(Path(folder)):
        merged = Index.merge(shards)
        merged.save(Path(folder))
        return merged


def open_fresh(corpus: Path, folder: Path, embedder: Embedder, params: ChunkParams = ChunkParams()) -> Index:
    """The index in `folder`, if it matches the corpus, model and chunking in use;
    raises IndexMissing / IndexCorrupt / IndexStale (with the fix) otherwise."""
    manifest = Index.read_manifest(folder)
    from .index import staleness

    reasons = staleness(manifest, corpus, embedder.identity, params)
    if reasons:
        raise IndexStale(f"the index in {folder} is out of date: " + "; ".join(reasons) +
                         ". Rebuild it with `qa index`")
    return Index.load(folder)
