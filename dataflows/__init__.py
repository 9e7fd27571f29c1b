"""Hamilton node modules only: every public function is a node (helpers start with `_`).

`stores/` holds one module per vector store, plus their registry. The runtime that builds drivers from
these modules is the `workbench` package; `python -m dataflows` hands over to its command line.
"""
