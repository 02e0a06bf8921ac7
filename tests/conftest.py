"""Shared fixtures: a tiny deterministic embedder and small corpora made in tmp_path."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.embed import ModelIdentity

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "corpus"


class HashEmbedder:
    """Hashed bag of lower-cased words: texts sharing words get a high cosine.
    Counts how many texts it embedded, so tests can check reuse."""

    def __init__(self, dim: int = 64, name: str = "test-hash"):
        self.identity = ModelIdentity(name, hashlib.sha256(name.encode()).hexdigest(), dim)
        self.calls: list[int] = []

    def embed(self, texts, progress=False):
        self.calls.append(len(texts))
        out = np.zeros((len(texts), self.identity.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.identity.dim] += 1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else out[i]
            if not norm:
                out[i, 0] = 1.0
        return out

    @property
    def embedded(self) -> int:
        return sum(self.calls)


@pytest.fixture
def embedder():
    return HashEmbedder()


@pytest.fixture
def seed_corpus(tmp_path) -> Path:
    """A copy of the default corpus that a test may change."""
    dest = tmp_path / "corpus"
    shutil.copytree(SEEDS, dest)
    return dest


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    dest = tmp_path / "tiny"
    dest.mkdir()
    (dest / "a.txt").write_text(
        "# Apples\n\nApples are red or green. They grow on trees in orchards.\n\n"
        "Dr. Smith says apples keep well in a cold cellar for months.\n")
    (dest / "b.md").write_text(
        "# Bananas\n\nBananas are yellow when ripe. They grow in warm climates.\n")
    return dest


@pytest.fixture(scope="session")
def real_embedder():
    from qa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder()


@pytest.fixture(scope="session")
def real_qa(tmp_path_factory, real_embedder):
    """The real pipeline (bundled model) over a copy of the default corpus."""
    from qa.pipeline import QA

    root = tmp_path_factory.mktemp("real")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    return QA.open(corpus, root / "index", build=True, embedder=real_embedder)
