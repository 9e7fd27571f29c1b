"""End to end, all real: SQuAD dev paragraphs → all-MiniLM-L6-v2 → LanceDB on disk → questions find their paragraph."""

import random

import pytest

from ragkit.schema import Document
from ragkit.squad import read_squad_file
from tests.conftest import shared_squad_path
from workbench import api

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not shared_squad_path().exists(), reason="the shared SQuAD dev set is not beside the repo")
def test_gold_paragraph_in_top_5_for_at_least_80_percent_of_200_questions(tmp_path):
    config = {"source": "squad", "squad_path": str(shared_squad_path()), "data_dir": str(tmp_path), "index_name": "squad_dev"}
    record = api.ingest(config)
    assert record["counts"]["read"] == 2067
    assert record["counts"]["written"] == record["counts"]["chunked"] >= 2067

    paragraphs = read_squad_file(shared_squad_path())
    questions = [(q, Document.id_for("squad", p.context)) for p in paragraphs for _, q in p.questions]
    sample = random.Random(2024).sample(questions, 200)
    found = 0
    for question, gold in sample:
        hits = api.search(config, question, top_k=5)["hits"]
        found += any(hit["document_id"] == gold for hit in hits)
    recall_at_5 = found / len(sample)
    print(f"recall@5 over 200 sampled SQuAD dev questions: {recall_at_5:.3f}")
    assert recall_at_5 >= 0.80
