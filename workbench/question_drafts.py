"""Generated questions: an LLM writes one question per sampled chunk of an index; a person reviews each.

`generate_questions` runs the generation flow (`dataflows/question_generation.py`) and stores the
candidates as a *draft*: nothing in a draft counts. `review_questions` accepts, edits or rejects
candidates; after each review the question set of the draft's name holds exactly the accepted
questions (origin kind "generated", with the model, the LLM service and the prompt version), so every
figure that uses it says the questions were generated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from dataflows.question_generation import PROMPT_VERSION
from ragkit.errors import ConfigError, ServiceError
from ragkit.questions import RELEVANT, Label, Question, QuestionSet
from workbench.catalog import Catalog, now_iso
from workbench.config import public_config, resolve_config
from workbench.flows import QUESTION_GENERATION_TARGETS, driver_for, runtime_inputs
from workbench.indexes import index_key_for, query_config
from workbench.keys import check_api_keys, resolve_api_keys
from workbench.querying import shared_llm_client
from workbench.question_sets import valid_set_name

STATUSES = ("pending", "accepted", "rejected")
MAX_GENERATED = 500


def _data_dir(data_dir: str) -> str:
    return resolve_config({"data_dir": data_dir})["data_dir"]


def _candidate_id(chunk_id: str, seed: int) -> str:
    return "g" + hashlib.sha256(f"{chunk_id}:{seed}".encode()).hexdigest()[:10]


def generate_questions(
    config: Mapping[str, Any], count: int = 20, seed: int = 0, name: str = "", api_keys: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Have the configured LLM write one question for each of `count` sampled chunks of an index, stored as a draft
    to review (replacing a draft of that name). Returns the draft: name, index_key, origin, candidates, problems."""
    if not 1 <= int(count) <= MAX_GENERATED:
        raise ConfigError(f"Generate between 1 and {MAX_GENERATED} questions at a time, not {count}.")
    config, manifest = query_config(config)
    if config["llm_service"] == "extractive":
        raise ConfigError("Generating questions needs an LLM (OpenAI, Cohere, an OpenAI-compatible endpoint or the local "
                          "llama.cpp model); the offline extractive mode writes no text of its own.")
    name = valid_set_name(name or f"generated-{config['index_name']}")
    catalog = Catalog(config["data_dir"])
    existing = catalog.question_set(name)
    if existing and existing["origin"].get("kind") != "generated":
        raise ConfigError(f"Question set {name!r} exists and was not generated; pick another name for the generated set.")
    keys = resolve_api_keys(api_keys)
    check_api_keys(config, keys, "answer")
    key = index_key_for(config)
    inputs = runtime_inputs(keys, None, generation_count=int(count), generation_seed=int(seed))
    result = driver_for(config, "generate_questions").execute(QUESTION_GENERATION_TARGETS, inputs=inputs,
                                                             overrides=shared_llm_client(config, keys))
    written = result["generated_candidates"]
    if not written:
        raise ConfigError(f"Index {config['index_name']!r} has no chunk long enough to ask about.")
    usable = [c for c in written if not c["problem"]]
    if not usable:
        raise ServiceError(f"The LLM wrote no usable question for {len(written)} chunks: {written[0]['problem']}")
    candidates = [{**c, "id": _candidate_id(c["chunk_id"], int(seed)), "status": "pending", "edited": False}
                  for c in usable]
    origin = {"kind": "generated", "llm_service": config["llm_service"], "model": config["llm_model"], "prompt_version": PROMPT_VERSION, "seed": int(seed),
              "index_name": config["index_name"], "embedding_model": manifest["model_name"], "generated_at": now_iso(),
              "llm_config": {k: v for k, v in public_config(config).items() if k.startswith("llm_")}}
    catalog.save_draft(name, key, origin, candidates)
    return {"name": name, "index_key": key, "origin": origin, "candidates": candidates,
            "problems": [f"{c['document']} p.{c['page']} ({c['chunk_id']}): {c['problem']}" for c in written if c["problem"]]}


def _draft(catalog: Catalog, name: str) -> dict[str, Any]:
    draft = catalog.draft(name)
    if draft is None:
        names = [d["name"] for d in catalog.drafts()]
        raise ConfigError(f"No draft of generated questions {name!r}; drafts: {', '.join(names) or 'none'}.")
    return draft


def _published(draft: dict[str, Any]) -> QuestionSet:
    """The question set of a draft's accepted candidates."""
    questions = tuple(
        Question(c["id"], c["question"], (Label(document=c["document"], page=c["page"], answer=c["answer"], grade=RELEVANT)
                                          if c["answer"] else Label(chunk_ids=(c["chunk_id"],), grade=RELEVANT),),
                 "generated (edited)" if c["edited"] else "generated")
        for c in draft["candidates"] if c["status"] == "accepted"
    )
    counts = {status: sum(c["status"] == status for c in draft["candidates"]) for status in STATUSES}
    return QuestionSet(draft["name"], questions, {**draft["origin"], "review": counts}, draft["index_key"])


def review_questions(name: str, decisions: Mapping[str, Any], data_dir: str = "") -> dict[str, Any]:
    """Apply a review to a draft: candidate id → "accepted" | "rejected" | "pending", or {"status", "question", "answer"}
    for an edit (an edited answer must still occur in the chunk, or it is dropped to the chunk-id label). The question
    set `name` then holds exactly the accepted candidates (none accepted: no set). Returns the updated draft."""
    catalog = Catalog(_data_dir(data_dir))
    draft = _draft(catalog, name)
    by_id = {c["id"]: c for c in draft["candidates"]}
    unknown = sorted(set(decisions) - set(by_id))
    if unknown:
        raise ConfigError(f"Draft {name!r} has no candidate {', '.join(unknown[:5])}.")
    for candidate_id, decision in decisions.items():
        change = {"status": decision} if isinstance(decision, str) else dict(decision)
        candidate = by_id[candidate_id]
        if change.get("status", candidate["status"]) not in STATUSES:
            raise ConfigError(f"Review status must be one of {', '.join(STATUSES)}, not {change['status']!r}.")
        text = str(change.get("question", candidate["question"])).strip()
        if not text:
            raise ConfigError(f"Candidate {candidate_id}: the question is empty; reject it instead.")
        edited = text != candidate["question"] or str(change.get("answer", candidate["answer"])) != candidate["answer"]
        candidate.update(status=change.get("status", candidate["status"]), question=text,
                         answer=str(change.get("answer", candidate["answer"])).strip(), edited=candidate["edited"] or edited)
    catalog.save_draft(name, draft["index_key"], draft["origin"], draft["candidates"])
    published = _published(draft)
    if published.questions:
        catalog.save_question_set(published.to_json())
    else:
        catalog.delete_question_set(name)
    return {**draft, "accepted": len(published.questions)}


def question_drafts(data_dir: str = "") -> list[dict[str, Any]]:
    """Every draft of generated questions with its review counts, newest first."""
    return [{"name": d["name"], "index_key": d["index_key"], "origin": d["origin"], "updated_at": d["updated_at"],
             **{status: sum(c["status"] == status for c in d["candidates"]) for status in STATUSES}}
            for d in Catalog(_data_dir(data_dir)).drafts()]


def question_draft(name: str, data_dir: str = "") -> dict[str, Any]:
    """One draft with its candidates (id, question, answer, document, page, chunk id, excerpt, status, edited)."""
    return _draft(Catalog(_data_dir(data_dir)), name)


def delete_question_draft(name: str, data_dir: str = "") -> bool:
    """Forget a draft (the question set of its accepted questions stays); False when there was none."""
    return Catalog(_data_dir(data_dir)).delete_draft(name)
