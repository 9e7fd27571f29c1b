"""Hamilton dataflows of the workbench: sources, chunking, embeddings, stores, ingestion, retrieval.

Import `dataflows.driver` for the functions the UI and the CLI call.
"""
