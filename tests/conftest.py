"""Shared fixtures. Tests run offline: a hub look-up that cannot succeed would cost ~25 s."""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.pop("WORKBENCH_SQUAD_PATH", None)
os.environ.pop("WORKBENCH_DATA_DIR", None)

import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SQUAD_SAMPLE = Path(__file__).resolve().parent / "data" / "squad_sample.json"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on once this returns (for a fake server, or a refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_squad_path() -> Path:
    """The full SQuAD v1.1 dev set in ../shared (or $SQUAD_DEV_PATH)."""
    return Path(os.environ.get("SQUAD_DEV_PATH", REPO.parent / "shared" / "data" / "squad" / "dev-v1.1.json.gz"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A fresh data folder (catalog, embedding cache, LanceDB) per test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def squad_config(data_dir: Path) -> dict:
    """Ingest the bundled SQuAD sample with the embedded default stack into a fresh folder."""
    return {"source": "squad", "squad_path": str(SQUAD_SAMPLE), "data_dir": str(data_dir), "index_name": "squad"}


@pytest.fixture
def files_config(data_dir: Path) -> dict:
    """Ingest files with the embedded default stack into a fresh folder."""
    return {"source": "files", "data_dir": str(data_dir), "index_name": "files"}
