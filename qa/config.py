"""Where things live by default: flags win, then environment variables, then the folders
beside the package (a source checkout), then the current directory."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def _default(env: str, name: str) -> Path:
    if os.environ.get(env):
        return Path(os.environ[env])
    beside = _REPO / name
    if (_REPO / "pyproject.toml").exists() and beside.exists():
        return beside
    return Path.cwd() / name


def default_corpus() -> Path:
    return _default("QA_CORPUS", "corpus")


def default_index() -> Path:
    return _default("QA_INDEX", "index")
