"""Streaming ingestion: the corpus in batches of documents, each batch through the whole ingestion flow.

    document_batches  Parallelizable: the corpus cut into batches of `ingest_batch_documents`
                      documents — file names and paths, or SQuAD paragraphs; never chunks or vectors
    batch_report      one batch parsed, chunked, embedded and written by the per-batch flow
                      (sources → chunking → embeddings → ingestion → store); one Hamilton task, run
                      wherever the configured executor puts it (workbench/executors.py)
    batch_reports     Collect: every batch's counts, file errors and node times
    run_counts, run_file_errors, run_timings: the run's totals

Only a small report comes back from each batch, so a process holds one batch's chunks and vectors
at a time whatever the corpus size, and after each batch the memory it freed goes back to the system.
A document lives in exactly one batch, so the per-batch skip-unchanged and replace logic of
`ingestion.py` stays correct. What crosses to another process (the processes and Ray executors) is
the recipe — config, run id, API keys, the batch's file paths or paragraphs — never a loaded model
or an open store handle: workers load and open their own.
"""

from __future__ import annotations

from collections import Counter

from hamilton.function_modifiers import config
from hamilton.htypes import Collect, Parallelizable

from ragkit.batches import BatchReport, DocumentBatch, IngestJob, total_counts
from ragkit.native_memory import release_freed_memory
from ragkit.schema import FileError, InputFile, SquadParagraph, source_path


def _file_groups(input_files: list[InputFile]) -> list[list[InputFile]]:
    """Files grouped by their source path, first-seen order: files of one path stay in one batch, where parsing reports the clash."""
    groups: dict[str, list[InputFile]] = {}
    for input_file in input_files:
        groups.setdefault(source_path(input_file.name), []).append(input_file)
    return list(groups.values())


@config.when(source="files")
def document_batches__files(input_files: list[InputFile], ingest_batch_documents: int = 256) -> Parallelizable[DocumentBatch]:
    """The input files in batches of `ingest_batch_documents` (names and paths only: each batch reads and parses its own files)."""
    batch: list[InputFile] = []
    number = 0
    for group in _file_groups(input_files):
        if batch and len(batch) + len(group) > ingest_batch_documents:
            yield DocumentBatch(number, files=tuple(batch))
            batch, number = [], number + 1
        batch.extend(group)
    if batch:
        yield DocumentBatch(number, files=tuple(batch))


@config.when(source="squad")
def document_batches__squad(squad_paragraphs: list[SquadParagraph], ingest_batch_documents: int = 256) -> Parallelizable[DocumentBatch]:
    """The SQuAD paragraphs in batches of `ingest_batch_documents` (one document per paragraph)."""
    for number, start in enumerate(range(0, len(squad_paragraphs), ingest_batch_documents)):
        yield DocumentBatch(number, squad_paragraphs=tuple(squad_paragraphs[start : start + ingest_batch_documents]))


def batch_report(document_batches: DocumentBatch, ingest_job: IngestJob) -> BatchReport:
    """Parse, chunk, embed and write one batch with the per-batch ingestion flow; runs wherever the executor puts this task."""
    report = ingest_job.run_batch(ingest_job, document_batches)
    release_freed_memory()  # the batch's buffers, freed by native threads, go back to the system
    return report


def batch_reports(batch_report: Collect[BatchReport]) -> list[BatchReport]:
    """Every batch's report, in batch order."""
    return sorted(batch_report, key=lambda report: report.number)


def run_counts(batch_reports: list[BatchReport]) -> dict[str, int]:
    """The run's counts: each batch's counts (read, chunked, embedded, written, skipped, deleted, failed) added up."""
    return total_counts(batch_reports)


def run_file_errors(batch_reports: list[BatchReport]) -> list[FileError]:
    """The files that failed, over all batches."""
    return [error for report in batch_reports for error in report.file_errors]


def run_timings(batch_reports: list[BatchReport]) -> dict[str, float]:
    """Seconds in each node of the per-batch flow, summed over batches (work time: parallel batches overlap in wall time)."""
    total: Counter[str] = Counter()
    for report in batch_reports:
        total.update(report.timings)
    return {name: round(seconds, 4) for name, seconds in total.items()}
