"""Settings: defaults < config file < RAG_* environment < explicit arguments, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings, SettingsError


def test_defaults_without_config_or_environment(tmp_path: Path) -> None:
    settings = Settings.load(env={}, config_file=tmp_path / "absent.toml")
    assert settings == Settings()
    assert (settings.k, settings.backend, settings.fusion, settings.strict) == (5, "extractive", "minmax", False)
    assert settings.max_bytes == 50 * 1024 * 1024
    assert settings.ui_host == "127.0.0.1"  # loopback unless the user says otherwise


def test_environment_values_are_coerced() -> None:
    settings = Settings.load(env={"RAG_K": "8", "RAG_STRICT": "yes", "RAG_MAX_FILE_MB": "1.5",
                                  "RAG_INDEX_DIR": "~/idx", "RAG_REFUSAL_THRESHOLD": "0.42",
                                  "RAG_FUSION": "rrf", "RAG_CHROMA_URL": "http://127.0.0.1:8000",
                                  "RAG_CHROMA_TIMEOUT": "2.5", "RAG_UNRELATED": "ignored", "OTHER": "x"})
    assert settings.k == 8 and settings.strict is True
    assert settings.max_bytes == int(1.5 * 1024 * 1024)
    assert settings.index_dir == Path("~/idx").expanduser()
    assert settings.refusal_threshold == 0.42
    assert settings.fusion == "rrf" and settings.chroma_url == "http://127.0.0.1:8000"
    assert settings.chroma_timeout == 2.5


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("true", True), ("ON", True), ("0", False),
                                            ("no", False), ("off", False)])
def test_booleans(raw: str, value: bool) -> None:
    assert Settings.load(env={"RAG_STRICT": raw}).strict is value


def test_empty_variable_means_unset() -> None:
    assert Settings.load(env={"RAG_K": ""}).k == 5


def test_precedence_file_then_environment_then_arguments(tmp_path: Path) -> None:
    config = tmp_path / "rag.toml"
    config.write_text('[rag]\nk = 3\ncollection = "from-file"\nbackend = "openai"\n')
    settings = Settings.load(env={"RAG_K": "7"}, config_file=config, backend=None, collection="from-arg")
    assert settings.k == 7  # environment beats the file
    assert settings.collection == "from-arg"  # arguments beat both
    assert settings.backend == "openai"  # None arguments do not override


def test_config_file_from_rag_config_variable_and_flat_keys(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text("k = 4\nstrict = true\n")
    assert Settings.load(env={"RAG_CONFIG": str(config)}).k == 4
    assert Settings.load(env={"RAG_CONFIG": str(config)}).strict is True


@pytest.mark.parametrize(("env", "message"), [
    ({"RAG_K": "many"}, "setting k (RAG_K) has the bad value 'many'"),
    ({"RAG_STRICT": "maybe"}, "setting strict (RAG_STRICT) has the bad value 'maybe'"),
    ({"RAG_BACKEND": "gpt"}, "unknown backend 'gpt'; choose one of: extractive, openai, gguf"),
    ({"RAG_FUSION": "sum"}, "unknown fusion 'sum'; choose rrf or minmax"),
    ({"RAG_EMBED_PRECISION": "fp8"}, "unknown embed_precision 'fp8'; choose auto, float32, bfloat16 or int8"),
    ({"RAG_UI_PORT": "http"}, "setting ui_port (RAG_UI_PORT) has the bad value 'http'"),
])
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.load(env=env)
    assert str(info.value) == message


def test_unknown_keys_and_broken_toml(tmp_path: Path) -> None:
    config = tmp_path / "rag.toml"
    config.write_text("[rag]\nkk = 3\n")
    with pytest.raises(SettingsError, match="unknown setting\\(s\\): kk"):
        Settings.load(env={}, config_file=config)
    config.write_text("k = = 3")
    with pytest.raises(SettingsError, match=r"config file .*rag\.toml"):
        Settings.load(env={}, config_file=config)


def test_replace_ignores_none() -> None:
    base = Settings(k=9)
    assert base.replace(k=None, collection="c") == Settings(k=9, collection="c")


@pytest.mark.parametrize("env", [{"RAG_K": "-1"}, {"RAG_MAX_FILE_MB": "-3"}, {"RAG_WIDEN": "-2"},
                                 {"RAG_CHROMA_TIMEOUT": "0"}])
def test_out_of_range_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.load(env=env)


def test_named_config_file_that_is_missing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError):
        Settings.load(env={"RAG_CONFIG": str(tmp_path / "typo.toml")})
