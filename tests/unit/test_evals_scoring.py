"""Scoring one Answer against its case, the summary, calibration and the Markdown/PNG report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.calibrate import ScoredCase, accuracy, best_threshold, calibrate, half_of
from evals.dataset import EvalCase
from evals.report import render_markdown, write_reports
from evals.runner import EvalRun, default_index_dir
from evals.scoring import score_case, summarise
from index.records import Chunk
from rag.records import Answer, AnswerSentence, Citation, Hit

EVIDENCE = "Zelenskyy refused to give up any Ukrainian land to Russia"
TEXTS = {
    "a": "The talks were held in Berlin over two days.",
    "b": "Zelenskyy refused to give up any Ukrainian land to Russia. He offered to drop the NATO bid.",
    "c": "Witkoff and Kushner joined the talks.",
}


def chunk(cid: str) -> Chunk:
    return Chunk(chunk_id=cid, doc_id="d", source=f"/docs/{cid}.md", text=TEXTS[cid], start=0,
                 end=len(TEXTS[cid]), index=0)


def hits(*ids: str, dense: float = 0.6) -> tuple[Hit, ...]:
    return tuple(Hit(chunk(cid), score=1.0 / i, rank=i, dense_score=dense - 0.1 * i, dense_rank=i, keyword_rank=i)
                 for i, cid in enumerate(ids, 1))


def answer(sentences: list[tuple[str, list[tuple[str, str]]]], retrieved: tuple[Hit, ...],
           refused: bool = False) -> Answer:
    """sentences: (text, [(chunk id, verdict), ...]); citation numbers follow first use."""
    numbers: dict[str, int] = {}
    out_sentences, citations = [], []
    for i, (text, cites) in enumerate(sentences):
        for cid, verdict in cites:
            n = numbers.setdefault(cid, len(numbers) + 1)
            citations.append(Citation(n=n, sentence_index=i, chunk_id=cid, source=f"/docs/{cid}.md", page=None,
                                      quote=TEXTS[cid][:40], start=0, end=40, support=verdict,  # type: ignore[arg-type]
                                      score=0.9 if verdict == "supported" else 0.3))
        verdicts = [v for _, v in cites]
        support = "supported" if "supported" in verdicts else ("weak" if "weak" in verdicts else "unsupported")
        out_sentences.append(AnswerSentence(text, tuple(numbers[c] for c, _ in cites), support,  # type: ignore[arg-type]
                                            0.9 if support == "supported" else 0.3))
    text = "The documents do not say." if refused else " ".join(
        s.text + "".join(f" [{n}]" for n in s.citations) for s in out_sentences)
    return Answer(question="q", text=text, sentences=() if refused else tuple(out_sentences),
                  citations=() if refused else tuple(citations), refused=refused, hits=retrieved,
                  backend="extractive", judge="heuristic:lexical",
                  timings={"retrieve": 0.01, "total": 0.05} if refused else
                  {"retrieve": 0.01, "generate": 0.02, "check": 0.01, "total": 0.05})


CASE = EvalCase(id="ukr-01", question="What did Zelenskyy reject?", evidence=(EVIDENCE,),
                answer="He refused to give up any Ukrainian land", source="b.md")
UNANSWERABLE = EvalCase(id="none-01", question="Capital of Canada?", answerable=False)


def test_score_case_good_answer() -> None:
    ans = answer([(TEXTS["b"].split(". ")[0] + ".", [("b", "supported")])], hits("a", "b", "c"))
    r = score_case(CASE, ans, k=3, n_relevant=1)
    assert r.metrics["hit_at_1"] == 0.0
    assert r.metrics["hit_at_k"] == 1.0
    assert r.metrics["mrr"] == 0.5
    assert r.metrics["ndcg"] == pytest.approx(0.6309, abs=1e-4)
    assert r.metrics["faithfulness"] == 1.0
    assert r.metrics["citation_recall"] == 1.0
    assert r.metrics["citation_precision"] == 1.0
    assert r.metrics["evidence_containment"] == 1.0
    assert r.metrics["answer_f1"] is not None and r.metrics["answer_f1"] > 0.5
    assert [p.relevant for p in r.retrieved] == [False, True, False]
    assert r.sentences[0].citations[0].rank == 2  # the cited passage's rank among the hits
    assert r.top_dense == pytest.approx(0.5)
    assert r.problems == []


def test_score_case_explains_a_retrieval_miss_and_unsupported_sentences() -> None:
    ans = answer([("The talks were in Berlin.", [("a", "supported")]),
                  ("Kushner led them.", [("c", "weak"), ("a", "unsupported")])], hits("a", "c"))
    r = score_case(CASE, ans, k=2, n_relevant=1)
    assert r.metrics["hit_at_k"] == 0.0 and r.metrics["mrr"] == 0.0 and r.metrics["ndcg"] == 0.0
    assert r.metrics["faithfulness"] == 0.5
    assert r.metrics["citation_precision"] == pytest.approx(1 / 3)
    assert r.problems[0] == "retrieval miss: no passage in the top 2 contains an evidence span"
    assert "1 of 2 sentences not supported by their citations" in r.problems
    assert any(p.startswith("citation precision 0.33") for p in r.problems)


def test_score_case_evidence_retrieved_but_not_quoted() -> None:
    ans = answer([("The talks were held in Berlin.", [("a", "supported")])], hits("b", "a"))
    r = score_case(CASE, ans, k=2)
    assert r.metrics["evidence_containment"] == 0.0
    assert r.problems == ["the evidence was retrieved (passage #1) but the answer does not contain it: "
                          "it quotes passage #2 instead"]
    same = answer([("He offered to drop the NATO bid.", [("b", "supported"), ("c", "weak")])], hits("b", "c"))
    assert score_case(CASE, same, k=2).problems[0].endswith(
        "it quotes other sentences of passage #1 and passage #2")


def test_refusals() -> None:
    wrong = score_case(CASE, answer([], hits("b", dense=0.3), refused=True), k=5, refusal_threshold=0.3)
    assert wrong.metrics["refused"] == 1.0
    assert wrong.metrics["evidence_containment"] == 0.0 and wrong.metrics["answer_f1"] == 0.0
    assert wrong.metrics["faithfulness"] is None
    assert wrong.problems[0] == "refused an answerable question (top dense score 0.200 < refusal threshold 0.3)"
    other_gate = score_case(CASE, answer([], hits("b", dense=0.6), refused=True), k=5, refusal_threshold=0.3)
    assert other_gate.problems[0].startswith("refused an answerable question (top dense score 0.500 >= refusal "
                                             "threshold 0.3; refused before generating by another retrieval gate")
    right = score_case(UNANSWERABLE, answer([], hits("a", dense=0.3), refused=True), k=5)
    assert right.problems == [] and right.metrics["hit_at_k"] is None
    answered = score_case(UNANSWERABLE, answer([("Berlin.", [("a", "supported")])], hits("a")), k=5,
                          refusal_threshold=0.3)
    assert answered.problems == ["answered a question the documents do not answer (top dense score 0.500 >= "
                                 "refusal threshold 0.3)"]


def _results() -> list:
    good = score_case(CASE, answer([(EVIDENCE + ".", [("b", "supported")])], hits("b", "a")), k=2)
    miss = score_case(CASE, answer([("Berlin.", [("a", "supported")])], hits("a", "c")), k=2)
    refused_ok = score_case(UNANSWERABLE, answer([], hits("a"), refused=True), k=2)
    answered = score_case(UNANSWERABLE, answer([("Berlin.", [("a", "supported")])], hits("a")), k=2)
    return [good, miss, refused_ok, answered]


def test_summarise_averages_over_the_cases_each_metric_applies_to() -> None:
    s = summarise(_results(), k=2, backend="extractive", judge="heuristic:lexical")
    assert (s["n_cases"], s["n_answerable"], s["n_unanswerable"], s["n_failed"]) == (4, 2, 2, 2)
    assert s["hit_at_1"] == 0.5 and s["hit_at_k"] == 0.5 and s["mrr"] == 0.5
    assert s["faithfulness"] == 1.0  # three answers given, every sentence supported
    assert s["refusal_accuracy"] == 0.5
    assert s["wrong_refusal_rate"] == 0.0
    assert s["evidence_containment"] == 0.5
    assert s["latency_ms"]["total"] == {"p50": 50.0, "p95": 50.0, "n": 4}
    assert s["latency_ms"]["generate"]["n"] == 3  # the refusal never generated
    assert (s["backend"], s["judge"], s["k"]) == ("extractive", "heuristic:lexical", 2)


def test_summary_metric_is_none_when_no_case_applies() -> None:
    s = summarise(_results()[:2], k=2)
    assert s["refusal_accuracy"] is None


# ---- calibration -------------------------------------------------------------------------------


def test_best_threshold_maximises_accuracy_with_a_margin() -> None:
    scores = [(0.2, False), (0.25, False), (0.45, True), (0.6, True)]
    assert best_threshold(scores) == (0.35, 1.0)
    assert accuracy(scores, 0.5) == 0.75
    # Overlapping classes: one mistake is unavoidable.
    threshold, acc = best_threshold([(0.2, False), (0.5, False), (0.4, True), (0.7, True)])
    assert acc == 0.75
    assert threshold in (0.3, 0.6)  # either side of the 0.5 outlier


def test_half_of_is_stable_and_splits() -> None:
    assert half_of("ukr-01") == half_of("ukr-01")
    halves = {half_of(f"case-{i}") for i in range(20)}
    assert halves == {0, 1}


def test_calibrate_reports_held_out_accuracy() -> None:
    cases = [ScoredCase(f"a{i}", True, 0.4 + 0.02 * i) for i in range(10)] + \
            [ScoredCase(f"u{i}", False, 0.1 + 0.02 * i) for i in range(6)]
    cal = calibrate(cases, current_threshold=0.3)
    assert cal.accuracy == 1.0
    assert cal.highest_unanswerable < cal.threshold <= cal.lowest_answerable  # type: ignore[operator]
    assert len(cal.folds) == 2
    assert sum(f.n_fit for f in cal.folds) == len(cases)
    assert cal.heldout_accuracy is not None and cal.heldout_accuracy > 0.8
    assert cal.current_accuracy == 1.0
    assert cal.misclassified == ()
    assert "held-out" in cal.describe()


# ---- reports -----------------------------------------------------------------------------------


def _run() -> EvalRun:
    results = _results()
    return EvalRun(summary=summarise(results, k=2, backend="extractive", judge="heuristic:lexical"), cases=results,
                   calibration=calibrate([ScoredCase(r.id, r.answerable, r.top_dense) for r in results]),
                   meta={"dataset": "cases.jsonl", "docs": "/docs", "seconds": 1.0})


def test_markdown_report_lists_failures_first_with_what_was_retrieved() -> None:
    md = render_markdown(_run())
    failures = md.index("## Failures (2 of 4)")
    passed = md.index("## Passed (2)")
    assert md.index("## Summary") < failures < passed
    miss = md[failures:passed]
    # The unanswerable-but-answered case comes before the retrieval miss.
    assert miss.index("none-01") < miss.index("ukr-01")
    assert "retrieval miss" in miss
    assert "> " + EVIDENCE in miss  # expected evidence quoted
    assert "| 1 | a.md |" in miss  # retrieved: rank and file
    assert "**supported**" in miss  # the answer with its verdicts


def test_write_reports_creates_json_markdown_and_png(tmp_path: Path) -> None:
    paths = write_reports(_run(), tmp_path / "out")
    assert [p.name for p in paths] == ["results.json", "report.md", "metrics.png"]
    data = json.loads(paths[0].read_text())
    assert data["summary"]["n_cases"] == 4
    assert len(data["cases"]) == 4 and data["cases"][1]["failed"] is True
    assert "calibration" in data
    assert paths[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_index_dir_is_keyed_by_docs_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    one, two = default_index_dir(tmp_path / "docs"), default_index_dir(tmp_path / "other" / "docs")
    assert one != two
    assert one.parent == tmp_path / "cache" / "rag" / "eval-index"
    assert default_index_dir(tmp_path / "docs") == one
