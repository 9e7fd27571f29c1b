"""The runtime of the workbench: the facade pages, CLI, bench and tests call (`workbench.api`), flow building,
configuration, the catalog, executors, lifecycle adapters, DAG drawing and the command line."""

import os

# Hamilton imports every data library it has an extension for (LanceDB, scikit-learn, ...) when it is first
# imported, ~5 s of CPU at app start; the workbench uses none of those extensions.
os.environ.setdefault("HAMILTON_AUTOLOAD_EXTENSIONS", "0")
