"""Build what the default local model needs before anyone clicks: `python -m ragkit.prepare_models` (run by `make install`).

The default embedder is the packaged all-MiniLM-L6-v2 weights as int8 ONNX, exported and quantised into the model cache
(`$WORKBENCH_MODEL_CACHE`, see `ragkit/onnx_embedder.py`). Export takes about a minute; doing it at install time keeps it
off a user's first ingestion or query (the app would otherwise do it in the background at server start). A cache that
already holds a whole file is left as it is.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings

from ragkit.local_models import without_library_progress_bars
from ragkit.onnx_embedder import int8_model_path, model_cache_dir


def main() -> int:
    """Export the default model's int8 ONNX file if it is missing or damaged; print where it is and how long it took."""
    started = time.perf_counter()
    warnings.simplefilter("ignore")  # the exporter's tracer and quantiser warnings say nothing a user can act on
    logging.basicConfig(level=logging.ERROR)
    without_library_progress_bars()
    try:
        path = int8_model_path()
    except Exception as error:  # one line, not a traceback; make stops: the default model would not work either
        print(f"The int8 ONNX model could not be built in {model_cache_dir()}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(f"int8 ONNX model ready: {path} ({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
