"""Licences of the parts of a stack: of embedding models (declared here, where known) and of Python packages (read from
their own metadata: License-Expression, else License, else the licence classifiers)."""

from __future__ import annotations

from importlib import metadata
from typing import Any

# service -> model -> licence; "*" for every model of a hosted service. A model not listed: "not declared here".
MODEL_LICENCES: dict[str, dict[str, str]] = {
    "sentence_transformers": {
        "all-MiniLM-L6-v2": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2 model card)",
        "all-MiniLM-L6-v2-onnx-int8": "Apache-2.0 (the all-MiniLM-L6-v2 weights, converted to int8 ONNX here)",
    },
    "openai": {"*": "proprietary: OpenAI's model, used through its API under OpenAI's terms; the vectors are yours"},
    "cohere": {"*": "proprietary: Cohere's model, used through its API under Cohere's terms; the vectors are yours"},
}


def model_licence(embedding_service: str, model_name: str) -> str:
    """The licence of an embedding model, as declared in `MODEL_LICENCES`, or a sentence saying it is not declared."""
    models = MODEL_LICENCES.get(embedding_service, {})
    return models.get(model_name) or models.get("*") or "not declared here: check the model card"


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0].strip() if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def package_licence(distribution: str) -> dict[str, Any]:
    """A package's version and licence as its metadata states it (and which field said so); "not installed" when absent."""
    try:
        meta = metadata.metadata(distribution)
    except metadata.PackageNotFoundError:
        return {"package": distribution, "version": "", "licence": "not installed", "source": ""}
    expression = meta.get("License-Expression") or ""
    if expression.strip():
        return {"package": distribution, "version": meta.get("Version", ""), "licence": _first_line(expression),
                "source": "License-Expression"}
    declared = meta.get("License") or ""
    if declared.strip() and declared.strip().upper() != "UNKNOWN":
        return {"package": distribution, "version": meta.get("Version", ""), "licence": _first_line(declared), "source": "License"}
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return {"package": distribution, "version": meta.get("Version", ""), "licence": ", ".join(classifiers),
                "source": "classifier"}
    return {"package": distribution, "version": meta.get("Version", ""), "licence": "not stated in the package metadata",
            "source": ""}
