"""How often an LLM's prompt holds the evidence, by context window: no model is run.

For each answerable question of a dataset, the passages are retrieved as an answer retrieves them
(the refusal gate's retrieval: a question it refuses reaches no model) and packed into the window as
``LLMGenerator`` packs them (``select_sources``); a question counts when one of its evidence spans
is inside the text sent. A model cannot quote what it was not given, so this bounds every LLM
backend's answers, and it shows what a smaller window (a sooner first token on a CPU) costs.

    python -m evals.prompt_evidence evals/datasets/pydocs.jsonl --docs DIR [--index DIR]
        [--contexts 8192,4096,2048,1536] [--max-tokens 512]
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from evals.dataset import EvalCase, load_dataset
from evals.metrics import letters_and_digits
from evals.runner import open_eval_assistant
from rag.answer.prompting import TokenBudget, fixed_prompt_text, prompt_source_blocks, select_sources
from rag.assistant import Assistant
from rag.retrieve.refusal_gate import gate
from rag.tokens import count_tokens


@dataclass(frozen=True)
class PromptEvidence:
    """One window and widening: the share of questions whose prompt held their evidence, and the
    mean prompt size in tiktoken (cl100k_base) tokens."""

    context: int
    widen: int
    evidence_in_prompt: float
    mean_prompt_tokens: float


def measure(assistant: Assistant, cases: Sequence[EvalCase], contexts: Sequence[int], widths: Sequence[int],
            max_tokens: int = 512) -> list[PromptEvidence]:
    """``PromptEvidence`` for every window in ``contexts`` and widening in ``widths``, over the
    answerable ``cases`` that name evidence."""
    asked = [c for c in cases if c.answerable and c.evidence]
    if not asked:
        raise ValueError("the dataset has no answerable case with evidence")
    results = []
    for widen in widths:
        # The retrieval an answer gets: the refusal gate's (its second search may add passages, and a
        # question it refuses reaches no model), with the retriever's widening set to ``widen``.
        retriever = copy.copy(assistant.retriever)
        retriever.config = replace(retriever.config, widen=widen)
        k = assistant.settings.k
        gated = [(case, gate(retriever, case.question, k, None, assistant.refusal_threshold)) for case in asked]
        retrieved = [(case, [] if g.refusal_reason else list(g.retrieval.hits)) for case, g in gated]
        for context in contexts:
            held, tokens = 0, 0
            for case, hits in retrieved:
                chosen = select_sources(case.question, hits, TokenBudget(context, max_tokens), count_tokens)
                sent = letters_and_digits(" ".join(hit.chunk.text for _, hit in chosen))
                held += any(letters_and_digits(span) in sent for span in case.evidence)
                tokens += count_tokens(fixed_prompt_text(case.question)) + count_tokens(prompt_source_blocks(chosen))
            results.append(PromptEvidence(context, widen, held / len(asked), tokens / len(asked)))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.prompt_evidence", description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="JSONL dataset with evidence spans")
    parser.add_argument("--docs", required=True, help="the documents it is about (indexed idempotently)")
    parser.add_argument("--index", help="index folder (default: the eval cache folder for --docs)")
    parser.add_argument("--contexts", default="8192,4096,2048,1536", help="windows to measure, comma-separated")
    parser.add_argument("--max-tokens", type=int, default=512, help="answer budget kept free (RAG_LLM_MAX_TOKENS)")
    args = parser.parse_args(argv)
    if not Path(args.docs).is_dir():
        parser.error(f"--docs {args.docs} is not a folder")
    assistant = open_eval_assistant(args.docs, args.index)
    assistant.add(args.docs)
    contexts = [int(c) for c in args.contexts.split(",")]
    print("| context | widened | evidence in prompt | mean prompt tokens |\n|---|---|---|---|")
    for r in measure(assistant, load_dataset(args.dataset), contexts, widths=(1, 0)):
        widened = "yes" if r.widen else "no"
        print(f"| {r.context} | {widened} | {r.evidence_in_prompt:.3f} | {r.mean_prompt_tokens:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
