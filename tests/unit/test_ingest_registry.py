"""The feed registry: feeds files (lines, TOML, OPML), OPML round trip, the database
table, the `wiredesk feeds` commands, and the poller reading the registry."""

from __future__ import annotations

import json

import pytest

from ingest import registry
from ingest.registry import FeedSpec, RegistryError
from wiredesk.app.cli import main

OPML = b"""<?xml version="1.0" encoding="utf-8"?>
<opml version="2.0"><head><title>My feeds</title></head><body>
<outline text="World">
  <outline type="rss" text="Harbour Herald" xmlUrl="https://herald.example/feed.xml"
           category="/ports,/shipping"/>
  <outline text="Europe"><outline type="rss" text="Ledger" xmlUrl="https://ledger.example/rss"
           wiredeskInterval="900" wiredeskEnabled="false"/></outline>
</outline>
<outline type="rss" text="Bare" xmlUrl="http://bare.example/atom"/>
</body></opml>"""


def test_opml_import_keeps_folders_as_tags_and_round_trips():
    specs = registry.read_opml(OPML)
    assert specs == [
        FeedSpec(
            "https://herald.example/feed.xml",
            None,
            True,
            ("World", "ports", "shipping"),
            "Harbour Herald",
        ),
        FeedSpec("https://ledger.example/rss", 900, False, ("World", "Europe"), "Ledger"),
        FeedSpec("http://bare.example/atom", None, True, (), "Bare"),
    ]
    assert registry.read_opml(registry.write_opml(specs)) == specs


def test_opml_with_entities_or_not_opml_is_refused():
    laughs = OPML.replace(b"<opml", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><opml', 1)
    with pytest.raises(RegistryError, match="entit"):
        registry.read_opml(laughs)
    with pytest.raises(RegistryError, match="OPML"):
        registry.read_opml(b"<rss><channel/></rss>")


def test_feeds_files_in_every_format(tmp_path):
    lines = tmp_path / "feeds.txt"
    lines.write_text(
        "# my feeds\nhttps://a.example/rss interval=600 tags=world,europe\n\n"
        "https://b.example/atom disabled\n"
    )
    toml = tmp_path / "feeds.toml"
    toml.write_text('[[feeds]]\nurl = "https://c.example/feed"\ninterval_s = 120\ntags = ["x"]\n')
    opml = tmp_path / "feeds.opml"
    opml.write_bytes(OPML)
    assert registry.read_feeds_file(lines) == [
        FeedSpec("https://a.example/rss", 600, True, ("world", "europe")),
        FeedSpec("https://b.example/atom", None, False),
    ]
    assert registry.read_feeds_file(toml) == [FeedSpec("https://c.example/feed", 120, True, ("x",))]
    assert len(registry.read_feeds_file(opml)) == 3
    bad = tmp_path / "bad.txt"
    bad.write_text("https://a.example/rss every=5\n")
    with pytest.raises(RegistryError, match="bad.txt:1"):
        registry.read_feeds_file(bad)
    with pytest.raises(RegistryError, match="not an http"):
        FeedSpec("file:///etc/passwd")


def test_feeds_commands_manage_the_registry(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WIREDESK_DATABASE_URL", f"sqlite:///{tmp_path / 'reg.db'}")
    opml = tmp_path / "in.opml"
    opml.write_bytes(OPML)
    assert main(["feeds", "import", str(opml)]) == 0
    assert main(["feeds", "add", "https://d.example/rss", "--interval", "300", "--tag", "t"]) == 0
    assert main(["feeds", "disable", "https://d.example/rss"]) == 0
    assert main(["feeds", "enable", "https://ledger.example/rss"]) == 0
    assert main(["feeds", "remove", "http://bare.example/atom"]) == 0
    assert main(["feeds", "remove", "http://never.example/"]) == 1
    capsys.readouterr()
    assert main(["feeds", "list", "--json"]) == 0
    rows = {r["url"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert set(rows) == {
        "https://herald.example/feed.xml",
        "https://ledger.example/rss",
        "https://d.example/rss",
    }
    assert rows["https://d.example/rss"]["enabled"] is False
    assert rows["https://d.example/rss"]["tags"] == ["t"]
    assert rows["https://ledger.example/rss"]["enabled"] is True
    assert rows["https://ledger.example/rss"]["added_from"] == "opml"
    out = tmp_path / "out.opml"
    assert main(["feeds", "export", str(out)]) == 0
    exported = {s.url: s for s in registry.read_opml(out.read_bytes())}
    assert exported["https://d.example/rss"] == FeedSpec(
        "https://d.example/rss", 300, False, ("t",)
    )
    assert main(["feeds", "list"]) == 0
    assert "herald.example" in capsys.readouterr().out
    assert main(["feeds", "import", str(tmp_path / "missing.opml")]) == 2


def test_config_feeds_are_synced_and_disabled_feeds_are_not_polled(sqlite_engine):
    from devserver.server import NewsServer, load_corpus
    from ingest.feeds import FeedPoller
    from ingest.http import make_client
    from tests.ingest_support import options

    with NewsServer(load_corpus()) as server:
        first, second, *_ = server.feed_urls()
        registry.upsert(sqlite_engine, [FeedSpec(second, enabled=False)], "cli")
        opts = options([server.port])
        poller = FeedPoller(sqlite_engine, make_client(opts), opts, config=[FeedSpec(first)])
        links = poller.poll()
        poller.confirm(links)
        assert {p for _, p, _ in server.requests_log} == {"/harbourherald/feed.xml"}
        assert links and {link.feed_url for link in links} == {first}
    assert {r.url for r in registry.all_feeds(sqlite_engine)} == {first, second}
