"""What streaming ingestion passes between its outer flow and each batch: the job, a batch, a batch's report.

The job's `run_batch` is the runtime's per-batch function (`workbench.ingesting.ingest_batch`): the batch
node calls it, so the node module needs no import of the runtime, and a worker process gets it by reference.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ragkit.schema import NO_PROGRESS, FileError, InputFile, Progress, SquadParagraph

COUNT_KEYS = ("read", "chunked", "embedded", "embedded_by_model", "written", "skipped_unchanged", "skipped_files",
              "deleted_stale", "failed", "replaced_documents", "model_calls", "tokens_embedded", "tokens_estimated")


@dataclass(frozen=True)
class IngestJob:
    """What every batch of a run needs: the resolved config, run id and time, API keys, where to send its node
    events and progress (`events`, a sink that travels to workers), and — in this process only — the handles
    already opened (model, store), lifecycle adapters and a progress callback."""

    config: Mapping[str, Any]
    run_id: str
    ingested_at: str
    run_batch: Callable[[IngestJob, DocumentBatch], BatchReport]
    api_keys: dict[str, str] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)
    adapters: tuple[Any, ...] = ()
    progress: Progress = NO_PROGRESS
    events: Any = None

    def __reduce__(self) -> tuple:
        # Sent to a worker process: the recipe and the event sink travel, the in-process handles and callbacks stay here.
        return (IngestJob, (self.config, self.run_id, self.ingested_at, self.run_batch, self.api_keys, {}, (), NO_PROGRESS,
                            self.events))


@dataclass(frozen=True)
class DocumentBatch:
    """One batch of the corpus: input files (read inside the batch) or SQuAD paragraphs."""

    number: int
    files: tuple[InputFile, ...] = ()
    squad_paragraphs: tuple[SquadParagraph, ...] = ()

    @property
    def size(self) -> int:
        """Documents in the batch."""
        return len(self.files) + len(self.squad_paragraphs)


@dataclass(frozen=True)
class BatchReport:
    """What one batch did: its counts (the keys of `ingestion_counts`), failed files, node times, and where it ran."""

    number: int
    documents: int
    counts: dict[str, int]
    file_errors: tuple[FileError, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    worker: str = ""


def total_counts(reports: list[BatchReport]) -> dict[str, int]:
    """The batches' counts added up, in pipeline order (COUNT_KEYS first, then any others)."""
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report.counts)
    return {key: int(total[key]) for key in dict.fromkeys([*COUNT_KEYS, *total])}
