import pytest

from wiredesk.app.cli import main
from wiredesk.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("WIREDESK_"):
            monkeypatch.delenv(name)


def test_defaults_run_embedded_with_no_setup():
    s = load_settings()
    assert s.bus == "memory"
    assert s.database_url.startswith("sqlite:")
    assert s.allow_private_addresses is False


def test_env_overrides_config_file_which_overrides_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "wd.toml"
    cfg.write_text('bus = "kafka"\nbatch_size = 7\npoll_interval_s = 60\n')
    monkeypatch.setenv("WIREDESK_CONFIG", str(cfg))
    monkeypatch.setenv("WIREDESK_BATCH_SIZE", "9")
    s = load_settings()
    assert (s.bus, s.batch_size, s.poll_interval_s) == ("kafka", 9, 60)


def test_config_file_may_use_a_wiredesk_table(tmp_path, monkeypatch):
    cfg = tmp_path / "wd.toml"
    cfg.write_text("[wiredesk]\nmetrics_port = 9400\n")
    monkeypatch.setenv("WIREDESK_CONFIG", str(cfg))
    assert load_settings().metrics_port == 9400


def test_bad_values_are_all_reported_with_their_env_names(monkeypatch):
    monkeypatch.setenv("WIREDESK_BUS", "rabbitmq")
    monkeypatch.setenv("WIREDESK_BATCH_SIZE", "0")
    monkeypatch.setenv("WIREDESK_KAFKA_BOOTSTRAP", "localhost")
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    assert "WIREDESK_BUS" in text and "rabbitmq" in text
    assert "WIREDESK_BATCH_SIZE" in text
    assert "WIREDESK_KAFKA_BOOTSTRAP" in text and "host:port" in text


def test_unknown_key_and_broken_file_are_refused(tmp_path, monkeypatch):
    cfg = tmp_path / "wd.toml"
    cfg.write_text("no_such_setting = 1\n")
    monkeypatch.setenv("WIREDESK_CONFIG", str(cfg))
    with pytest.raises(SettingsError, match="no_such_setting"):
        load_settings()
    cfg.write_text("bus = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings()
    monkeypatch.setenv("WIREDESK_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings()


def test_cli_exits_2_with_the_reason_on_bad_settings(monkeypatch, capsys):
    monkeypatch.setenv("WIREDESK_DATABASE_URL", "mysql://x")
    assert main(["config"]) == 2
    assert "WIREDESK_DATABASE_URL" in capsys.readouterr().err


def test_feeds_come_from_env_list_and_file(tmp_path, monkeypatch):
    listing = tmp_path / "feeds.txt"
    listing.write_text("# comment\nhttp://a.example/rss\n\nhttp://b.example/atom\n")
    monkeypatch.setenv("WIREDESK_FEEDS", '["http://c.example/feed"]')
    monkeypatch.setenv("WIREDESK_FEEDS_FILE", str(listing))
    assert load_settings().feed_urls() == [
        "http://c.example/feed",
        "http://a.example/rss",
        "http://b.example/atom",
    ]


def test_budgets_have_defaults_per_stage_and_extract_outlasts_its_sandbox(monkeypatch):
    settings = load_settings()
    assert settings.budget("enrich_articles") == (10.0, 20.0)
    assert settings.budget("fetch_pages")[1] > settings.fetch_timeout_s
    monkeypatch.setenv("WIREDESK_EXTRACT_BUDGET_WALL_S", "10")
    with pytest.raises(SettingsError, match="extract_budget_wall_s"):
        load_settings()
