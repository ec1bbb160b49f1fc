"""``results.json`` is self-contained: trec_eval (through pytrec-eval-terrier, an implementation that
shares no code with ours) recomputes hit@1, hit@k, MRR and nDCG from it alone and agrees.

Ranking order is the order in ``retrieved`` (``rank``): fused score, ties broken by dense rank.
trec_eval orders by score and breaks ties by document id, so the run below scores each passage
by its rank, which gives trec_eval exactly our order.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.dataset import load_dataset
from evals.report import write_reports
from evals.runner import run_eval
from rag.assistant import Assistant
from rag.settings import Settings
from tests.conftest import EXAMPLES
from tests.fakes import WordEmbedder

pytrec_eval = pytest.importorskip("pytrec_eval", reason="pip install pytrec-eval-terrier (the dev extra)")
DATASET = Path(__file__).resolve().parents[2] / "evals" / "datasets" / "examples.jsonl"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    work = tmp_path_factory.mktemp("recompute")
    docs = work / "docs"
    shutil.copytree(EXAMPLES, docs, ignore=shutil.ignore_patterns("make_*.py"))
    # Passages as chunks: a widened passage holds its neighbours' text under the id of the chunk found,
    # so its relevance is by text and trec_eval's qrels (chunk ids) would not describe it.
    settings = Settings.load(env={"RAG_WIDEN": "0"}, config_file=work / "none.toml")
    assistant = Assistant(work / "index", embedder=WordEmbedder(), settings=settings)  # a fake that still ranks
    run = run_eval(load_dataset(DATASET), docs, assistant=assistant)
    write_reports(run, work / "out")
    return json.loads((work / "out" / "results.json").read_text(encoding="utf-8"))


def test_trec_eval_recomputes_the_retrieval_metrics_from_results_json(results: dict) -> None:
    k = results["summary"]["k"]
    scored = [c for c in results["cases"] if c["relevant_chunk_ids"]]
    assert len(scored) >= 30  # the answerable cases whose evidence some chunk holds
    qrels = {c["id"]: dict.fromkeys(c["relevant_chunk_ids"], 1) for c in scored}
    run = {c["id"]: {p["chunk_id"]: float(len(c["retrieved"]) - p["rank"] + 1) for p in c["retrieved"]}
           for c in scored}
    measures = {"success.1", f"success.{k}", "recip_rank", f"ndcg_cut.{k}"}
    theirs = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)
    for case in scored:
        ours, trec = case["metrics"], theirs[case["id"]]
        assert ours["hit_at_1"] == pytest.approx(trec["success_1"]), case["id"]
        assert ours["hit_at_k"] == pytest.approx(trec[f"success_{k}"]), case["id"]
        assert ours["mrr"] == pytest.approx(trec["recip_rank"]), case["id"]
        assert ours["ndcg"] == pytest.approx(trec[f"ndcg_cut_{k}"]), case["id"]
        # The relevance flags in results.json agree with the qrels it carries.
        assert [p["relevant"] for p in case["retrieved"]] == \
            [p["chunk_id"] in case["relevant_chunk_ids"] for p in case["retrieved"]], case["id"]


def test_results_json_carries_whole_passages_and_their_scores(results: dict) -> None:
    case = next(c for c in results["cases"] if c["retrieved"])
    passage = case["retrieved"][0]
    assert {"chunk_id", "text", "score", "dense_score", "keyword_score", "relevant", "relevant_strict"} <= set(passage)
    assert max(len(p["text"]) for c in results["cases"] for p in c["retrieved"]) > 240  # not cut to a preview
    assert case["n_relevant"] == len(case["relevant_chunk_ids"])
