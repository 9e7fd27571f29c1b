"""Exception types with messages a user can act on, raised where the cause is known.

The CLI and the UI catch `WorkbenchError` at the edge and show its message once; anything
else is a bug and keeps its traceback. A message is redacted as it is made (`ragkit.redaction`): a service
that echoes the request's key into its error text cannot put the key into ours.
"""

from __future__ import annotations

from typing import Any

from ragkit.redaction import redact


class WorkbenchError(Exception):
    """Base class: the message is meant for the person running the tool; every secret in it is redacted."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigError(WorkbenchError):
    """A setting is missing or has a value the tool cannot use."""


class MissingApiKeyError(ConfigError):
    """A hosted service was chosen but no API key was found for it."""

    def __init__(self, service: str, env_var: str) -> None:
        super().__init__(
            f"No API key for {service}. Set the environment variable {env_var}, add {env_var} to "
            f".streamlit/secrets.toml, or enter it in the app's password field."
        )
        self.service = service
        self.env_var = env_var


class ServiceError(WorkbenchError):
    """A hosted embedding or generation service refused or failed a request."""


class StoreUnavailableError(WorkbenchError):
    """The vector store cannot be reached or written."""


class DiskFullError(StoreUnavailableError):
    """The disk holding the data folder or the store filled up mid-run."""


class IndexNotFoundError(WorkbenchError):
    """The index (table, collection) asked for does not exist, or has no manifest."""


class DocumentNotFoundError(WorkbenchError):
    """The document asked for (by id or source name) is not stored in the index."""


class IndexDamagedError(WorkbenchError):
    """The index's files in the store are damaged (unreadable, truncated); `check` and `repair` say and fix what."""


class IndexMismatchError(WorkbenchError):
    """The index was built with another embedding service, model or dimension."""


class SourceUnavailableError(WorkbenchError):
    """A document source (the SQuAD dataset, a folder) could not be read."""


class CatalogError(WorkbenchError):
    """The data folder's catalog (run records, manifests) cannot be opened or read."""


class FileParseError(WorkbenchError):
    """One input file could not be read; the run records it and goes on with the others."""
