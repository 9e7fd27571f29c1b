"""Backend specs: what each swappable component declares about itself, read by settings, the CLI, pages and checks.

A backend kind (vector stores, embedding services, LLMs, rerankers) has one registry: a `Registry` of
`BackendSpec`s, each naming the Hamilton module that holds its nodes. Settings validation, CLI choices,
the UI pickers and their fields, API-key checks and service checks all read the spec, so adding a
backend is its node module plus one `Registry.register(BackendSpec(...))` entry, and nothing else.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ragkit.errors import ConfigError

# Capabilities a backend may declare (a store: which retrieval modes it serves, whether it is embedded, ...).
EMBEDDED = "embedded"  # runs in this process on local files: no server, works offline
OFFLINE = "offline"  # needs no network at all
LEXICAL = "lexical"  # serves BM25 full-text search (`lexical_hits`)
HYBRID = "hybrid"  # serves fused dense + full-text search (`hybrid_hits`)
NAMESPACES = "namespaces"  # one index holds several namespaces
INDEX_UPKEEP = "index_upkeep"  # `maintained_index` does real work (ANN index, full-text index, compaction)
EXTRACTS = "extracts"  # an LLM service that quotes the sources instead of generating: its answers are "extracted"
INDEX_EMBEDDINGS = "index_embeddings"  # an LLM service whose nodes embed text with the index's own model and term figures


@dataclass(frozen=True)
class SettingField:
    """One setting of a backend: a key of its settings dict (a store's `vector_db_config`) or a top-level config key.

    `default` may hold `{data_dir}`, filled in with the data folder. `choices` makes it a pick list. `env_var`
    names an environment variable whose value, when set, is the default (read when a config is resolved).
    """

    name: str
    label: str
    default: Any = ""
    help: str = ""
    choices: tuple[str, ...] = ()
    env_var: str = ""

    def default_for(self, data_dir: str) -> Any:
        """The default: the environment variable's value when it is set, else `default` with `{data_dir}` filled in."""
        if self.env_var and os.environ.get(self.env_var):
            return os.environ[self.env_var]
        return self.default.format(data_dir=data_dir) if isinstance(self.default, str) else self.default


@dataclass(frozen=True)
class ApiKey:
    """An API key a backend takes: the driver input it arrives as, its environment variable, who it is for."""

    input_name: str
    env_var: str
    service: str  # "OpenAI", "Pinecone": how a person names the account the key belongs to
    required: bool = True


@dataclass(frozen=True)
class BackendSpec:
    """What a backend declares: name, label, its Hamilton module, settings, API key, capabilities, readiness check.

    `readiness(settings)` returns "" when the backend looks usable with these settings, else one sentence
    saying what is missing and what to do; it makes at most one short request (pages cache it briefly).
    """

    name: str
    label: str
    module: str
    settings: tuple[SettingField, ...] = ()
    api_key: ApiKey | None = None
    capabilities: frozenset[str] = frozenset()
    readiness: Callable[[dict[str, Any]], str] | None = None
    default_model: str = ""
    index_label: str = "Index name"  # what the index is called in this store ("LanceDB table")
    description: str = ""  # what must run for it: "a Weaviate server", "a Pinecone account"
    packages: tuple[str, ...] = ()  # the Python distributions its client is (licences are read from their metadata)
    service_licence: str = ""  # the licence of what runs outside this process: "Weaviate server: BSD-3-Clause"

    def has(self, capability: str) -> bool:
        """Whether the backend declares a capability."""
        return capability in self.capabilities

    def load(self) -> ModuleType:
        """The backend's Hamilton node module."""
        return importlib.import_module(self.module)

    def default_settings(self, data_dir: str) -> dict[str, Any]:
        """Every setting at its default."""
        return {setting.name: setting.default_for(data_dir) for setting in self.settings}

    def problem(self, settings: dict[str, Any]) -> str:
        """The readiness check's sentence ("" when ready, or when the backend has no check)."""
        return self.readiness(settings) if self.readiness else ""


@dataclass
class Registry:
    """The backends of one kind, in registration order (the first is the default)."""

    kind: str  # "vector store", "embedding service": for messages
    config_key: str  # the config key that picks one: "vector_db", "embedding_service"
    _specs: dict[str, BackendSpec] = field(default_factory=dict)

    def register(self, spec: BackendSpec) -> BackendSpec:
        """Add a backend; a second one of the same name replaces the first."""
        self._specs[spec.name] = spec
        return spec

    def unregister(self, name: str) -> None:
        """Remove a backend (tests register throwaway ones)."""
        self._specs.pop(name, None)

    def names(self) -> tuple[str, ...]:
        """The backend names, in registration order."""
        return tuple(self._specs)

    def get(self, name: str) -> BackendSpec:
        """The spec of a backend; ConfigError naming the choices for an unknown one."""
        if name not in self._specs:
            raise ConfigError(f"{self.config_key} must be one of {', '.join(self._specs)} (got {name!r}: no such {self.kind}).")
        return self._specs[name]

    def __iter__(self) -> Iterator[BackendSpec]:
        return iter(list(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def api_keys(self) -> dict[str, ApiKey]:
        """Every API key the backends of this kind take, by driver input name."""
        return {spec.api_key.input_name: spec.api_key for spec in self if spec.api_key}
