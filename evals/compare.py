"""Compare two eval runs (``rag eval --compare OLD NEW``): deltas per metric, regressions flagged.

>>> old = {"hit_at_1": 0.80, "wrong_refusal_rate": 0.05}
>>> new = {"hit_at_1": 0.75, "wrong_refusal_rate": 0.02}
>>> [(d.metric, d.regressed) for d in compare_summaries(old, new, threshold=0.02)][:1]
[('hit_at_1', True)]
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evals.scoring import LOWER_IS_BETTER, QUALITY_METRICS, STAGES
from rag.errors import UsageError


class CompareError(UsageError):
    """A results file that is missing or unreadable (bad usage: exit status 2)."""


@dataclass(frozen=True)
class Delta:
    metric: str
    old: float | None
    new: float | None
    delta: float | None
    regressed: bool
    lower_is_better: bool = False


def load_summary(path: str | Path) -> dict[str, Any]:
    """The summary of a results folder (or of a ``results.json`` given directly)."""
    summary = load_results(path).get("summary")
    if not isinstance(summary, dict):
        raise CompareError(f"{path} has no 'summary' object")
    return summary


def load_results(path: str | Path) -> dict[str, Any]:
    """The whole ``results.json`` of a results folder (or the file given directly)."""
    path = Path(path)
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        raise CompareError(f"no results.json in {path} (run 'rag eval ... --out {path}' first)")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CompareError(f"{file} is cut short or is not JSON ({exc.msg}, line {exc.lineno}): a run that stopped "
                           "while writing it leaves it so; run 'rag eval DATASET --docs DIR --out FOLDER' "
                           "again") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CompareError(f"{file} is not a readable results file ({exc})") from None
    if not isinstance(data, dict):
        raise CompareError(f"{file} is not a results object")
    return data


def compare_summaries(old: Mapping[str, Any], new: Mapping[str, Any], threshold: float = 0.02) -> list[Delta]:
    """Quality metrics side by side; a metric regresses when it worsens by more than ``threshold``
    (for ``wrong_refusal_rate`` a rise is the worse direction), or when it had a value and now has
    none (every answer it scored was refused: a generator whose every sentence is wrong turns
    faithfulness into None, which must not pass for "no regression")."""
    deltas = []
    for metric in QUALITY_METRICS:
        a, b = _number(old.get(metric)), _number(new.get(metric))
        lower = metric in LOWER_IS_BETTER
        if a is None or b is None:
            deltas.append(Delta(metric, a, b, None, a is not None and b is None and metric in new, lower))
            continue
        change = round(b - a, 4)
        worse = change > threshold if lower else -change > threshold
        deltas.append(Delta(metric, a, b, change, worse, lower))
    return deltas


def newly_refused(old_cases: Sequence[Mapping[str, Any]], new_cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """Ids of the cases answered in the old run and refused in the new one (a regression each)."""
    answered = {c.get("id") for c in old_cases if not c.get("refused")}
    return sorted(str(c.get("id")) for c in new_cases if c.get("refused") and c.get("id") in answered)


def latency_deltas(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Delta]:
    """p50 latency per stage (informational: timings depend on the machine, so they never gate)."""
    out = []
    for stage in STAGES:
        a = _number(((old.get("latency_ms") or {}).get(stage) or {}).get("p50"))
        b = _number(((new.get("latency_ms") or {}).get(stage) or {}).get("p50"))
        out.append(Delta(f"latency_ms.{stage}.p50", a, b, None if a is None or b is None else round(b - a, 1),
                         False, True))
    return out


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def format_deltas(deltas: list[Delta], latency: list[Delta], warnings: list[str], threshold: float,
                  differences: Sequence[str] = ()) -> str:
    def show(v: float | None, signed: bool = False) -> str:
        return "n/a" if v is None else (f"{v:+.3f}" if signed else f"{v:.3f}")

    width = max(len(d.metric) for d in [*deltas, *latency]) + 2 if deltas or latency else 26
    lines = [f"the runs differ in {len(differences)} setting(s); each delta below includes their effect:",
             *(f"  {d}" for d in differences)] if differences else []
    lines.append(f"{'metric':<{width}}{'old':>9}{'new':>9}{'delta':>9}")
    for d in deltas:
        flag = "" if not d.regressed else "  REGRESSION (now unmeasured: no case it applies to)" if d.delta is None \
            else f"  REGRESSION (worse by more than {threshold:g})"
        hint = " (lower is better)" if d.lower_is_better else ""
        lines.append(f"{d.metric:<{width}}{show(d.old):>9}{show(d.new):>9}{show(d.delta, True):>9}{flag}{hint}")
    for d in latency:
        lines.append(f"{d.metric:<{width}}{_ms(d.old):>9}{_ms(d.new):>9}{_ms(d.delta, True):>9}")
    lines.extend(f"note: {w}" for w in warnings)
    regressed = [d.metric for d in deltas if d.regressed]
    lines.append(f"{len(regressed)} regression(s): {', '.join(regressed)}" if regressed else
                 f"no metric dropped by more than {threshold:g}")
    return "\n".join(lines)


def _ms(value: float | None, signed: bool = False) -> str:
    return "n/a" if value is None else (f"{value:+.0f}ms" if signed else f"{value:.0f}ms")


SETTINGS = ("k", "backend", "judge", "fusion", "widen", "strict", "refusal_threshold")
"""What a run was made with; two runs that differ in one are compared, and the difference said first."""


def _settings(data: Mapping[str, Any]) -> dict[str, Any]:
    summary, meta = data.get("summary") or {}, data.get("meta") or {}
    known = {**(meta.get("settings") or {}), **{key: summary[key] for key in ("k", "backend", "judge")
                                                if key in summary}}
    known["documents"] = meta.get("docs")
    known["chunks indexed"] = meta.get("chunks_indexed")
    return known


def setting_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Each setting the two results files both record and that differs, as "name: old -> new"."""
    a, b = _settings(old), _settings(new)
    return [f"{key}: {a[key]!r} -> {b[key]!r}" for key in (*SETTINGS, "documents", "chunks indexed")
            if a.get(key) is not None and b.get(key) is not None and a[key] != b[key]]


def _ids(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(c.get("id")) for c in cases]


def _some(ids: Sequence[str]) -> str:
    return ", ".join(ids[:5]) + (" …" if len(ids) > 5 else "")


def check_same_cases(old_path: str | Path, new_path: str | Path, old_cases: Sequence[Mapping[str, Any]],
                     new_cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """Refuse (``CompareError``) two runs of different case sets: their means are over different
    questions, so a delta says nothing about the change. Returns a note per case whose question,
    evidence or answerability was edited between the runs (same id: the same case, revised).
    Results files without cases (summaries only) cannot be checked and pass."""
    if not old_cases or not new_cases:
        return []
    old_ids, new_ids = _ids(old_cases), _ids(new_cases)
    only_old = [i for i in old_ids if i not in set(new_ids)]
    only_new = [i for i in new_ids if i not in set(old_ids)]
    if only_old or only_new:
        parts = [f"{len(only_old)} case(s) only in {old_path} ({_some(only_old)})" if only_old else "",
                 f"{len(only_new)} only in {new_path} ({_some(only_new)})" if only_new else ""]
        raise CompareError(f"the two runs are of different datasets: {'; '.join(p for p in parts if p)}; compare "
                           "two runs of the same dataset file (every line run in both)")
    fields = ("question", "evidence", "answerable")
    before = {str(c.get("id")): [c.get(f) for f in fields] for c in old_cases}
    edited = [str(c.get("id")) for c in new_cases if before[str(c.get("id"))] != [c.get(f) for f in fields]]
    return [f"{len(edited)} case(s) have another question, evidence or answerability than in the old run: "
            f"{_some(edited)}"] if edited else []


def compare_runs(old_path: str | Path, new_path: str | Path,
                 threshold: float = 0.02) -> tuple[int, str, dict[str, Any]]:
    """(exit status, text, JSON-ready deltas): status 1 when any metric regressed, else 0;
    ``CompareError`` (exit 2) for a missing or unreadable file, or runs of different datasets."""
    old_data, new_data = load_results(old_path), load_results(new_path)
    old, new = old_data.get("summary"), new_data.get("summary")
    if not isinstance(old, dict) or not isinstance(new, dict):
        raise CompareError(f"{old_path if not isinstance(old, dict) else new_path} has no 'summary' object")
    old_cases, new_cases = old_data.get("cases") or [], new_data.get("cases") or []
    warnings = check_same_cases(old_path, new_path, old_cases, new_cases)
    if old.get("n_cases") != new.get("n_cases"):
        warnings.append(f"n_cases differs: {old.get('n_cases')!r} -> {new.get('n_cases')!r}")
    differences = setting_differences(old_data, new_data)
    deltas = compare_summaries(old, new, threshold)
    latency = latency_deltas(old, new)
    refused = newly_refused(old_cases, new_cases)
    if refused:
        warnings.append(f"{len(refused)} case(s) answered before are refused now (a regression): "
                        + ", ".join(refused[:10]) + (" …" if len(refused) > 10 else ""))
    status = 1 if any(d.regressed for d in deltas) or refused else 0
    data = {"threshold": threshold, "regressed": [d.metric for d in deltas if d.regressed],
            "newly_refused": refused, "settings_differ": differences,
            "metrics": [asdict(d) for d in deltas], "latency": [asdict(d) for d in latency], "warnings": warnings}
    return status, format_deltas(deltas, latency, warnings, threshold, differences), data
