"""The runtime of the workbench: the facade pages, CLI, bench and tests call (`workbench.api`), flow building,
configuration, the catalog, executors, lifecycle adapters, DAG drawing and the command line."""
