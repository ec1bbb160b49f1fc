"""``rag eval`` end to end over a tiny corpus the project has never seen (real model, real Chroma)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from evals.dataset import load_dataset
from evals.runner import run_eval
from index.embedding import MiniLMEmbedder
from rag.cli import main
from rag.settings import Settings

DOCS = {
    "lighthouse.md": (
        "# The Harrow Point Lighthouse\n\n"
        "The Harrow Point lighthouse was built in 1871 from local granite. Its lamp sits 38 metres above the sea "
        "and can be seen from 22 nautical miles away on a clear night.\n\n"
        "## Keepers\n\n"
        "The last keeper, Agnes Moll, left in 1994 when the light was automated. "
        "Visitors can climb the 164 steps to the gallery between April and October.\n"),
    "tea.txt": (
        "Brewing green tea\n\n"
        "Green tea turns bitter when the water is too hot. Brew it with water at about 75 to 80 degrees Celsius "
        "for two to three minutes. The leaves can usually be steeped a second time.\n\n"
        "Black tea, by contrast, takes water just off the boil and four to five minutes.\n"),
    "bikes.html": (
        "<html><head><title>Chain care</title></head><body><nav>Home | Shop</nav>"
        "<h1>Looking after a bicycle chain</h1>"
        "<p>Clean and lubricate the chain every 300 kilometres, or after any ride in the rain.</p>"
        "<p>A chain that has stretched by 0.5 percent should be replaced, or it will wear out the cassette "
        "“much faster” than normal.</p></body></html>"),
}
CASES: list[dict[str, Any]] = [
    {"id": "light-1", "question": "When did the last lighthouse keeper leave?",
     "answer": "Agnes Moll left in 1994.", "evidence": ["The last keeper, Agnes Moll, left in 1994"],
     "source": "lighthouse.md"},
    {"id": "tea-1", "question": "What water temperature is right for green tea?",
     "answer": "About 75 to 80 degrees Celsius.",
     "evidence": ["Brew it with water at about 75 to 80 degrees Celsius"], "source": "tea.txt"},
    # Straight quotes in the dataset, curly ones in the page: still the same span.
    {"id": "bike-1", "question": "When should a bicycle chain be replaced?",
     "evidence": ['stretched by 0.5 percent should be replaced, or it will wear out the cassette "much faster"'],
     "source": "bikes.html"},
    {"id": "none-1", "question": "Who won the 1998 football World Cup?", "answerable": False},
]
KEYS = ("hit_at_1", "hit_at_k", "mrr", "ndcg", "faithfulness", "citation_recall", "citation_precision",
        "refusal_accuracy", "wrong_refusal_rate", "n_cases", "answer_f1", "evidence_containment", "latency_ms",
        "judge", "backend", "k")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("eval-corpus")
    docs = root / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    dataset = root / "cases.jsonl"
    dataset.write_text("\n".join(json.dumps(c) for c in CASES) + "\n", encoding="utf-8")
    return docs, dataset


def test_cli_eval_on_unseen_corpus_writes_reports(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    docs, dataset = corpus
    out = io.StringIO()
    code = main(["eval", str(dataset), "--docs", str(docs), "--index", str(tmp_path / "index"),
                 "--out", str(tmp_path / "run"), "--json", "--calibrate"], out=out)
    assert code == 0
    summary = json.loads(out.getvalue())
    assert set(KEYS) <= set(summary)
    assert summary["n_cases"] == 4
    assert summary["hit_at_k"] == 1.0
    assert summary["refusal_accuracy"] == 1.0
    assert summary["wrong_refusal_rate"] == 0.0
    assert summary["faithfulness"] == 1.0  # the extractive answerer quotes its passages
    assert summary["judge"] == "heuristic:lexical+minilm" and summary["backend"] == "extractive"
    assert summary["latency_ms"]["total"]["n"] == 4 and summary["latency_ms"]["total"]["p50"] > 0
    assert summary["calibration"]["n_unanswerable"] == 1

    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [c["id"] for c in results["cases"]] == [c["id"] for c in CASES]
    assert results["meta"]["ingest"]["files_added"] == 3
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Summary" in report and "## Failures" in report and "light-1" in report
    assert (tmp_path / "run" / "metrics.png").stat().st_size > 5000


def test_runner_api_reuses_the_index_and_explains_misses(corpus: tuple[Path, Path], tmp_path: Path) -> None:
    docs, dataset = corpus
    cases = load_dataset(dataset)
    embedder = MiniLMEmbedder()
    first = run_eval(cases, docs, index_dir=tmp_path / "index", settings=Settings(), embedder=embedder, k=2)
    again = run_eval(cases, docs, index_dir=tmp_path / "index", settings=Settings(), embedder=embedder, k=2)
    assert again.meta["ingest"]["files_unchanged"] == 3 and again.meta["ingest"]["chunks_added"] == 0
    assert first.summary["hit_at_k"] == again.summary["hit_at_k"] == 1.0
    assert first.summary["k"] == 2
    by_id = {c.id: c for c in first.cases}
    assert by_id["none-1"].refused and not by_id["none-1"].failed
    assert all(len(c.retrieved) <= 2 for c in first.cases)

    # A span that is in no document is reported as such, with the rank the search fell to.
    from evals.dataset import EvalCase

    wrong = EvalCase(id="bad-1", question="When was the lighthouse built?", evidence=("built in 1066 from marble",),
                     source="lighthouse.md")
    run = run_eval([wrong], docs, index_dir=tmp_path / "index", settings=Settings(), embedder=embedder)
    result = run.cases[0]
    assert result.problems[0].startswith("retrieval miss")
    assert any("is in no indexed chunk" in note for note in result.dataset_problems)
    assert any("not in the fused top" in note for note in result.notes)
