"""Write an eval run to a folder: ``results.json``, ``report.md`` (failures first) and ``metrics.png``.

>>> write_reports(run, "runs/2024-06-01")  # doctest: +SKIP
[PosixPath('runs/2024-06-01/results.json'), PosixPath('runs/2024-06-01/report.md'), ...]
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.runner import EvalRun
from evals.scoring import CaseResult

LABELS = {
    "hit_at_1": "hit@1", "hit_at_k": "hit@k", "hit_at_k_strict": "hit@k (strict match)", "mrr": "MRR@k",
    "ndcg": "nDCG@k", "faithfulness": "faithfulness", "draft_faithfulness": "draft faithfulness",
    "claim_faithfulness": "claim faithfulness (RAGAS)",
    "citation_recall": "citation recall", "citation_precision": "citation precision", "answer_f1": "answer F1",
    "evidence_containment": "evidence in answer", "evidence_containment_strict": "evidence in answer (strict)",
    "evidence_words": "evidence words in answer",
    "evidence_answered": "answers holding the evidence", "refusal_accuracy": "refusal accuracy",
    "wrong_refusal_rate": "wrong refusals",
}
_OVER = {
    "hit_at_1": "answerable cases with evidence", "hit_at_k": "answerable cases with evidence",
    "mrr": "answerable cases with evidence", "ndcg": "answerable cases with evidence",
    "hit_at_k_strict": "answerable cases with evidence (spaces and punctuation must match too)",
    "faithfulness": "answers given (share of sentences supported)",
    "draft_faithfulness": "answers drafted, withdrawn drafts included (share of drafted sentences supported)",
    "claim_faithfulness": "answers given, LLM judge only (share of the answer's statements the retrieved passages "
                          "support)",
    "citation_recall": "answers given (ALCE: cited passages together support the sentence)",
    "citation_precision": "answers given (ALCE: citations not made superfluous by the others)",
    "evidence_containment_strict": "answerable cases with evidence (spaces and punctuation must match too)",
    "answer_f1": "answerable cases with a reference answer", "evidence_containment": "answerable cases with evidence",
    "evidence_words": "answerable cases with evidence (share of the span's content words in the answer)",
    "evidence_answered": "answerable cases with evidence (share with >= 0.6 of its content words in the answer)",
    "refusal_accuracy": "unanswerable cases (share refused)", "wrong_refusal_rate": "answerable cases (share refused)",
}


def write_reports(run: EvalRun, out_dir: str | Path) -> list[Path]:
    """Write the three files into ``out_dir`` (created if needed); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    # Written whole, then renamed into place: a run stopped while writing leaves the previous file or none,
    # never a cut one that 'rag eval --compare' cannot read.
    partial = out / "results.json.partial"
    partial.write_text(json.dumps(run.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, results)
    report = out / "report.md"
    report.write_text(render_markdown(run, chart="metrics.png"), encoding="utf-8")
    chart = out / "metrics.png"
    write_chart(run.summary, chart)
    return [results, report, chart]


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _cell(text: str, limit: int = 0) -> str:
    """Table-safe text: one line, pipes escaped, optionally shortened."""
    text = " ".join(str(text).split())
    if limit and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text.replace("|", "\\|")


def summary_table(summary: dict[str, Any]) -> list[str]:
    lines = ["| metric | value | over |", "|---|---:|---|"]
    for key, label in LABELS.items():
        shown = label.replace("@k", f"@{summary.get('k')}")
        lines.append(f"| {shown} | {_fmt(summary.get(key))} | {_OVER[key]} |")
    for stage, values in (summary.get("latency_ms") or {}).items():
        if values.get("n"):
            lines.append(f"| latency {stage} p50 / p95 | {values['p50']:.0f} / {values['p95']:.0f} ms | "
                         f"{values['n']} answers |")
    return lines


def render_markdown(run: EvalRun, chart: str | None = None) -> str:
    s, meta = run.summary, run.meta
    failed = [c for c in run.cases if c.failed]
    passed = [c for c in run.cases if not c.failed]
    lines = [
        f"# Eval report: {Path(str(meta.get('dataset') or 'dataset')).name}", "",
        f"{s['n_cases']} cases ({s['n_answerable']} answerable, {s['n_unanswerable']} unanswerable) over "
        f"`{meta.get('docs', '')}` · backend `{s['backend']}` · support judged by `{s['judge']}` · k={s['k']} · "
        f"refusal threshold {s.get('refusal_threshold')} · {meta.get('started_at', '')} · "
        f"{meta.get('seconds', 0):.1f} s", "",
        "## Summary", "", *summary_table(s), "",
        f"**Refusals**: {s.get('n_refused', 0)} of {s['n_cases']} answers were refusals; "
        f"{s.get('n_withdrawn', 0)} of them withdrew a drafted answer (each case gives its refusal reason; "
        "those drafts count in draft faithfulness, not in faithfulness).", "",
        f"**Refusal calibration**: {run.calibration.describe()}.", "",
    ]
    lines += dataset_section(run)
    if chart:
        lines += [f"![metrics]({chart})", ""]
    lines += [f"## Failures ({len(failed)} of {len(run.cases)})", ""]
    if not failed:
        lines += ["None.", ""]
    for number, case in enumerate(sorted(failed, key=_severity), 1):
        lines += render_failure(number, case)
    lines += [f"## Passed ({len(passed)})", "", "| id | question | evidence rank | answer F1 |", "|---|---|---:|---:|"]
    for case in passed:
        rank = next((p.rank for p in case.retrieved if p.relevant), None)
        lines.append(f"| {_cell(case.id)} | {_cell(case.question, 80)} | "
                     f"{rank if rank else ('refused' if case.refused else '-')} | {_fmt(case.metrics['answer_f1'])} |")
    return "\n".join(lines) + "\n"


def dataset_section(run: EvalRun) -> list[str]:
    """The dataset's own faults: lines skipped (not run, so in no figure above) and cases whose
    evidence or source the documents do not have (run, and counted)."""
    skipped = run.meta.get("skipped_lines") or []
    flawed = [c for c in run.cases if c.dataset_problems]
    failed = (run.meta.get("ingest") or {}).get("files_failed") or []
    if not skipped and not flawed and not failed:
        return []
    lines = ["## Problems in the dataset and documents", ""]
    lines += [f"- document `{_cell(Path(f['path']).name)}` could not be indexed: {_cell(f['error'])}" for f in failed]
    lines += [f"- line {s['line']}: skipped, not run: {_cell(s['problem'])}" for s in skipped]
    lines += [f"- line {c.line} (`{_cell(c.id)}`): {_cell(p)}" for c in flawed for p in c.dataset_problems]
    return [*lines, ""]


def _severity(case: CaseResult) -> tuple[int, str]:
    first = case.problems[0]
    order = ("answered a question", "refused an answerable", "retrieval miss", "the evidence was retrieved")
    return next((i for i, p in enumerate(order) if first.startswith(p)), len(order)), case.id


def render_failure(number: int, case: CaseResult) -> list[str]:
    """One failed case: what went wrong, what was expected, what was retrieved, what was answered."""
    kind = "answerable" if case.answerable else "unanswerable"
    lines = [f"### {number}. `{case.id}` ({kind}): {case.question}", ""]
    lines += [f"- **{p}**" for p in case.problems]
    lines += [f"- dataset line {case.line}: {n}" for n in case.dataset_problems]
    lines += [f"- {n}" for n in case.notes]
    lines.append("")
    if case.evidence:
        where = f" in `{case.source}`" if case.source else ""
        lines.append(f"**Expected evidence**{where}:")
        lines += [f"> {_cell(span)}" for span in case.evidence]
        lines.append("")
    if case.reference:
        lines += [f"**Reference answer**: {_cell(case.reference)}", ""]
    lines += [f"**Retrieved** (top dense score {case.top_dense:.3f}):", "",
              "| rank | file | holds evidence | dense | dense # | keyword # | first words |",
              "|---:|---|:---:|---:|---:|---:|---|"]
    for p in case.retrieved:
        dense = "-" if p.dense_score is None else f"{p.dense_score:.3f}"
        lines.append(f"| {p.rank} | {_cell(p.where)} | {'yes' if p.relevant else ''} | {dense} | "
                     f"{p.dense_rank or '-'} | {p.keyword_rank or '-'} | {_cell(p.text, 110)} |")
    lines.append("")
    lines += render_answer(case)
    return lines


def render_answer(case: CaseResult) -> list[str]:
    if case.refused and not case.sentences:
        return [f"**Answer**: refused (\"{_cell(case.answer)}\")", ""]
    if case.refused:  # a withdrawn draft: what the generator wrote is what a faithfulness eval is about
        lines = [f"**Answer**: refused (\"{_cell(case.answer)}\"); the withdrawn draft, sentence by sentence with "
                 "the judge's verdicts:", ""]
    else:
        lines = ["**Answer**, sentence by sentence with the judge's verdicts:", ""]
    for i, s in enumerate(case.sentences, 1):
        marks = "".join(f"[{c.n}]" for c in s.citations)
        lines.append(f"{i}. {_cell(s.text)} {marks} — **{s.support}** ({s.score:.2f})")
        for reason in s.reasons[:3]:
            lines.append(f"   - {_cell(reason)}")
        for c in s.citations:
            page = f" p.{c.page}" if c.page else ""
            lines.append(f"   - [{c.n}] passage #{c.rank or '?'}, {Path(c.source).name}{page}: {c.support} "
                         f"({c.score:.2f}), quote \"{_cell(c.quote, 140)}\"")
    if not case.sentences:
        lines.append("(no sentences)")
    lines.append("")
    return lines


def write_chart(summary: dict[str, Any], path: str | Path) -> None:
    """Bars of the quality metrics and of p50/p95 latency per stage (Agg canvas, no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    keys = [k for k in LABELS if summary.get(k) is not None]
    values = [float(summary[k]) for k in keys]
    fig = Figure(figsize=(11, 5), dpi=110)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    labels = [LABELS[k].replace("@k", f"@{summary.get('k')}") for k in keys]
    colors = ["#c0504d" if k == "wrong_refusal_rate" else "#4f81bd" for k in keys]
    left.barh(labels[::-1], values[::-1], color=colors[::-1])
    left.set_xlim(0, 1.08)
    for y, v in enumerate(values[::-1]):
        left.text(min(v, 1.0) + 0.01, y, f"{v:.2f}", va="center", fontsize=8)
    left.set_title(f"quality ({summary.get('n_cases')} cases, red: lower is better)", fontsize=10)
    _latency_bars(right, summary.get("latency_ms") or {})
    fig.suptitle(f"rag eval · backend {summary.get('backend')} · judge {summary.get('judge')}", fontsize=11)
    fig.tight_layout()
    fig.savefig(str(path))


def _latency_bars(ax: Any, latency: dict[str, dict[str, Any]]) -> None:
    stages: Sequence[str] = [s for s, v in latency.items() if v.get("n")]
    xs = range(len(stages))
    ax.bar([x - 0.2 for x in xs], [latency[s]["p50"] for s in stages], width=0.4, label="p50")
    ax.bar([x + 0.2 for x in xs], [latency[s]["p95"] for s in stages], width=0.4, label="p95")
    ax.set_xticks(list(xs), list(stages))
    ax.set_ylabel("ms")
    ax.set_title("latency per stage", fontsize=10)
    ax.legend(fontsize=8)
