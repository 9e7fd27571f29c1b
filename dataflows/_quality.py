"""Hamilton data-quality validators for chunks and embeddings.

They attach to nodes with `@check_output_custom` and show in the DAG as validator nodes. Their
importance ("fail" or "warn") comes from the `data_quality` config key through `@resolve`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hamilton.data_quality.base import DataValidator, ValidationResult


class ChunksAreValid(DataValidator):
    """Every chunk has text and fits the embedding model's input limit."""

    def applies_to(self, datatype: type) -> bool:
        return True

    def description(self) -> str:
        return "Chunks are non-empty and within the embedding model's input limit."

    @classmethod
    def name(cls) -> str:
        return "chunks_are_valid"

    def validate(self, dataset: Any) -> ValidationResult:
        empty = [c.chunk_id for c in dataset if not c.text.strip()]
        too_long = [c.chunk_id for c in dataset if c.token_limit and c.token_count > c.token_limit]
        problems = []
        if empty:
            problems.append(f"{len(empty)} empty chunk(s)")
        if too_long:
            problems.append(f"{len(too_long)} chunk(s) over the model's input limit")
        return ValidationResult(
            passes=not problems,
            message="; ".join(problems) or f"{len(dataset)} chunks are non-empty and within the limit.",
            diagnostics={"empty": empty[:20], "too_long": too_long[:20]},
        )


class EmbeddingsAreUnitVectors(DataValidator):
    """Embeddings form a 2-D float32 matrix of finite, L2-normalised rows."""

    def applies_to(self, datatype: type) -> bool:
        return True

    def description(self) -> str:
        return "Embeddings are a 2-D float32 matrix of finite, unit-norm rows."

    @classmethod
    def name(cls) -> str:
        return "embeddings_are_unit_vectors"

    def validate(self, dataset: Any) -> ValidationResult:
        array = np.asarray(dataset)
        if array.ndim != 2 or array.dtype != np.float32:
            return ValidationResult(False, f"expected a 2-D float32 matrix, got {array.dtype} with shape {array.shape}")
        if array.shape[0] == 0:
            return ValidationResult(True, "no embeddings to check")
        finite = np.isfinite(array).all(axis=1)
        norms = np.linalg.norm(array, axis=1)
        off_unit = np.abs(norms - 1.0) > 1e-3
        problems = []
        if not finite.all():
            problems.append(f"{int((~finite).sum())} row(s) with NaN or infinite values")
        if off_unit.any():
            problems.append(f"{int(off_unit.sum())} row(s) not of unit norm")
        return ValidationResult(
            passes=not problems,
            message="; ".join(problems) or f"{array.shape[0]} finite unit vectors of dimension {array.shape[1]}.",
            diagnostics={"rows": int(array.shape[0]), "dimension": int(array.shape[1])},
        )
