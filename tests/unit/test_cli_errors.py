"""Configuration and connection failures end in one line naming the setting or the
server, with exit 2 (configuration) or 1 (a server that cannot be reached)."""

from __future__ import annotations

import os
import socket

import pytest

from wiredesk.app.cli import main
from wiredesk.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("WIREDESK_"):
            monkeypatch.delenv(name)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("service", ["poll", "fetch", "extract", "enrich", "sink"])
def test_separate_services_refuse_the_in_memory_bus(
    service: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([service]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "WIREDESK_BUS=kafka" in line and "wiredesk local" in line


def test_a_missing_feeds_file_is_one_line_and_exit_2(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIREDESK_FEEDS_FILE", str(tmp_path / "nowhere.txt"))
    assert main(["local"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "WIREDESK_FEEDS_FILE" in line and "No such file" in line


def test_an_empty_feeds_file_setting_means_no_file(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WIREDESK_FEEDS_FILE", "")
    monkeypatch.setenv("WIREDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    assert load_settings().feeds_file is None
    assert main(["local"]) == 2  # and with no feeds at all, says how to add one
    line = _one_line(capsys.readouterr().err)
    assert "no feeds" in line and "WIREDESK_FEEDS" in line


def test_an_unreachable_database_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    monkeypatch.setenv("WIREDESK_DATABASE_URL", f"postgresql+psycopg://u:secret@127.0.0.1:{port}/x")
    assert main(["db", "upgrade"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert f"127.0.0.1:{port}" in line and "WIREDESK_DATABASE_URL" in line
    assert "secret" not in line


def test_an_unreachable_broker_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _closed_port()
    monkeypatch.setenv("WIREDESK_BUS", "kafka")
    monkeypatch.setenv("WIREDESK_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    assert main(["topics", "create"]) == 1
    line = _one_line(capsys.readouterr().err)
    assert f"127.0.0.1:{port}" in line and "WIREDESK_KAFKA_BOOTSTRAP" in line


def test_debug_keeps_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "WIREDESK_DATABASE_URL", f"postgresql+psycopg://u:p@127.0.0.1:{_closed_port()}/x"
    )
    with pytest.raises(Exception, match="(?i)connect"):
        main(["--debug", "db", "upgrade"])


@pytest.mark.parametrize("value", ["8800", "8800,8801", "[8800, 8801]"])
def test_loopback_ports_take_plain_and_list_syntax(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS", value)
    assert load_settings().fetch_allow_loopback_ports[0] == 8800


def test_read_commands_that_find_nothing_all_exit_3_and_0_when_they_find(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy.orm import Session

    from wiredesk import db
    from wiredesk.db.tables import ArticleRow

    url = f"sqlite:///{tmp_path / 'w.db'}"
    monkeypatch.setenv("WIREDESK_DATABASE_URL", url)
    db.upgrade(url)
    assert main(["search", "harbour"]) == 3
    assert main(["stories"]) == 3
    assert main(["stories", "--story", "nosuch"]) == 3
    engine = db.make_engine(url)
    with Session(engine) as session, session.begin():
        session.add(
            ArticleRow(
                article_id="a" * 32,
                url="https://example.org/a",
                title="Harbour crane collapses",
                text="A crane collapsed in the harbour on Tuesday.",
                published_at=datetime(2026, 1, 5, tzinfo=UTC),
                content_hash="0" * 64,
                extractor_version="test",
                story_id="s" * 32,
            )
        )
    engine.dispose()
    assert main(["search", "harbour"]) == 0
    assert main(["stories", "--story", "s" * 32]) == 0


def test_a_bad_value_is_quoted_once(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.setenv("WIREDESK_KAFKA_BOOTSTRAP", "localhost")
    assert main(["config"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.count("'localhost'") == 1 and "WIREDESK_KAFKA_BOOTSTRAP" in line


@pytest.mark.parametrize(
    "command", [["run"], ["dlq", "list"], ["replay", "--stage", "sink", "--from", "1h"]]
)
def test_run_refuses_kafka_and_the_ops_commands_refuse_the_in_memory_bus(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if command == ["run"]:
        monkeypatch.setenv("WIREDESK_BUS", "kafka")  # run is the no-broker service
    assert main(command) == 2
    line = _one_line(capsys.readouterr().err)
    assert "WIREDESK_BUS" in line and "sql" in line
