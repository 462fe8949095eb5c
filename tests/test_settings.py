from pathlib import Path

import pytest

from qa.settings import Settings, SettingsError, load_settings


def test_precedence_defaults_file_env_overrides(tmp_path):
    config = tmp_path / "vraagbaak.toml"
    config.write_text('[vraagbaak]\ntop_k = 7\ncorpus = "uit-bestand"\nport = 9000\n', encoding="utf-8")
    env = {"VRAAGBAAK_CORPUS": "uit-omgeving", "VRAAGBAAK_PORT": "9100"}
    s = load_settings({"port": 9200, "index": None}, environ=env, config_file=config)
    assert s.top_k == 7                       # file beats default
    assert s.corpus == Path("uit-omgeving")   # environment beats file
    assert s.port == 9200                     # flag beats environment
    assert s.index == Settings().index        # a flag left out (None) changes nothing


def test_config_file_from_environment(tmp_path):
    config = tmp_path / "elders.toml"
    config.write_text("max_passage_chars = 300\n", encoding="utf-8")
    assert load_settings(environ={"VRAAGBAAK_CONFIG": str(config)}).max_passage_chars == 300


@pytest.mark.parametrize("env", [{"VRAAGBAAK_TOP_K": "veel"}, {"VRAAGBAAK_PORT": "1.5x"}])
def test_invalid_values_give_a_dutch_error(env):
    with pytest.raises(SettingsError, match="ongeldige waarde"):
        load_settings(environ=env)


def test_unreadable_config_file_is_reported(tmp_path):
    bad = tmp_path / "kapot.toml"
    bad.write_text("top_k = = 3", encoding="utf-8")
    with pytest.raises(SettingsError, match="kapot.toml"):
        load_settings(environ={}, config_file=bad)


def test_boolean_settings_accept_dutch_words():
    assert load_settings(environ={"VRAAGBAAK_RERANK": "nee"}).rerank is False
    assert load_settings(environ={"VRAAGBAAK_RERANK": "ja"}).rerank is True
