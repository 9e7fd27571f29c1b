"""The runtime of the workbench: the facade pages, CLI, bench and tests call (`workbench.api`), flow building,
configuration, the catalog, executors, lifecycle adapters, DAG drawing and the command line."""

import os

from ragkit.native_memory import limit_malloc_arenas

# Hamilton imports every data library it has an extension for (LanceDB, scikit-learn, ...) when it is first
# imported, ~5 s of CPU at app start; the workbench uses none of those extensions.
os.environ.setdefault("HAMILTON_AUTOLOAD_EXTENSIONS", "0")
# Before LanceDB's, Arrow's and the tokenizer's threads start: a few malloc arenas, not 8 per core, so the pages they
# free are reused rather than kept per thread (a 100k-chunk ingestion's memory grew with its batches).
limit_malloc_arenas()
