"""The bench tells machines apart: CPU flags, the precision of each run, the ratio per precision."""

from __future__ import annotations

from typing import Any

from bench.report import cpu_flags, headline_table, machine_line, summarise


def _raw(**extra: Any) -> dict[str, Any]:
    flags = cpu_flags("processor : 0\nflags : fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    return {
        "machine": {"cpu": "AMD EPYC", "cpu_flags": flags, "nproc": 2, "ram_gb": 8, "python": "3.11",
                    "load_avg_start": [0.1], "versions": {k: "1" for k in (
                        "torch", "sentence-transformers", "chromadb", "langchain-chroma", "langchain-huggingface",
                        "onnxruntime")}},
        "ours_ingest": [{"ingest_s": 50.0, "floor_s": 40.0, "chunks": 10, "tokens_embedded": 100,
                         "peak_rss_mb": 900, "embed_precision": "bfloat16"}],
        "peer_ingest": [{"ingest_s": 100.0, "chunks": 8, "tokens_embedded": 90, "chunks_truncated": 1,
                         "peak_rss_mb": 1200}],
        "ours_reingest": [{"reingest_s": 1.0}],
        "ours_query": {"peak_rss_mb": 700, "hit_at_5": 1.0, "retrieval_p95_ms": 20.0},
        "peer_query": {"hit_at_5": 0.9, "retrieval_p95_ms": 30.0},
        "ours_examples": {"examples_hit_at_5": 1.0},
        **extra,
    }


def test_the_cpu_flags_that_decide_embedding_speed_are_read() -> None:
    flags = cpu_flags("flags\t\t: fpu sse avx2 amx_tile amx_bf16\n")
    assert flags["amx_tile"] and flags["avx2"] and not flags["avx512_bf16"]
    assert not any(cpu_flags("no flags line here").values())


def test_the_summary_and_report_name_the_cpu_its_flags_and_the_precision() -> None:
    raw = _raw()
    summary = summarise(raw)
    assert summary["embed_precision"] == "bfloat16" and summary["cpu"] == "AMD EPYC"
    assert summary["cpu_flags"] == ["avx512_bf16", "avx512_vnni", "avx512f", "avx2"]
    assert "bfloat16" in headline_table(summary) and "float32" not in headline_table(summary)
    assert "avx512_bf16" in machine_line(raw["machine"])


def test_each_extra_precision_gets_its_own_ratio() -> None:
    summary = summarise(_raw(ours_ingest_by_precision={"float32": {"ingest_s": 80.0, "floor_s": 64.0}}))
    assert summary["ingest_ratio_vs_peer_float32"] == 0.8 and summary["overhead_vs_floor_float32"] == 0.25
    assert summary["ingest_ratio_vs_peer"] == 0.5
    assert "the same in float32" in headline_table(summary)


def test_precisions_ingests_in_every_other_fast_precision_int8_included_where_installed() -> None:
    from bench.__main__ import extra_precisions

    assert extra_precisions({"avx512_bf16": True}, "bfloat16", int8=True) == ["float32", "int8"]
    assert extra_precisions({"amx_tile": True}, "int8", int8=True) == ["float32", "bfloat16"]
    assert extra_precisions({"avx2": True}, "float32", int8=True) == ["int8"]
    assert extra_precisions({"avx2": True}, "float32", int8=False) == []


def test_the_table_has_a_row_for_each_extra_precision() -> None:
    runs = {"float32": {"ingest_s": 80.0, "floor_s": 64.0}, "int8": {"ingest_s": 30.0, "floor_s": 25.0}}
    table = headline_table(summarise(_raw(ours_ingest_by_precision=runs)))
    assert "the same in float32" in table and "the same in int8" in table


def test_the_work_beside_the_model_is_reported_per_1000_chunks_for_each_precision() -> None:
    runs = {"float32": {"ingest_s": 80.0, "floor_s": 64.0}}
    summary = summarise(_raw(ours_ingest_by_precision=runs))
    # 10 chunks: (50 - 40) s and (80 - 64) s beside the model
    assert summary["beyond_floor_s_per_1k_chunks"] == 1000.0
    assert summary["beyond_floor_s_per_1k_chunks_float32"] == 1600.0
    table = headline_table(summary)
    assert "beyond the encode floor, per 1,000 chunks" in table and "beyond it 1600" in table
