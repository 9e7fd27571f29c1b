"""Hamilton node modules only: every public function is a node (helpers start with `_`).

`stores/` holds one module per vector store, plus their registry. The runtime that builds drivers from
these modules is the `workbench` package; `python -m dataflows` hands over to its command line.
"""

import os

# Hamilton imports every data library it has an extension for (LanceDB, scikit-learn, ...) when it is first
# imported, ~5 s of CPU at app start; the workbench uses none of those extensions.
os.environ.setdefault("HAMILTON_AUTOLOAD_EXTENSIONS", "0")
