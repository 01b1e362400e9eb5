"""`wiredesk run` against the local news site, as a real process. On SQLite (no Kafka or
PostgreSQL: the state is in two SQLite files): killed with SIGKILL mid-run, twice,
stopped with SIGTERM while busy, and restarted, it loses nothing and stores nothing
twice; pages that failed with a server error are dead letters that survive the kills
and, once the site is fixed, `dlq resend` gets them stored; `replay --stage extract`
then changes no row; SIGTERM exits 0. On PostgreSQL: the bus lives in the database and a
second `run` is refused."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from devserver.faults import Faults
from devserver.server import NewsServer, load_corpus
from tests.integration.conftest import Workers, free_port, wait_for
from tests.integration.test_ops_replay import wiredesk
from wiredesk.bus.sql_tables import heads, messages, offsets
from wiredesk.db.tables import ArticleRow

pytestmark = pytest.mark.integration

FAULTED = "/harbourherald/2026/*"  # this outlet's article pages answer 500 at first
STAGES = ("fetch_pages", "extract_articles", "enrich_articles", "write_articles")


def stored(db_url: str) -> dict[str, tuple[str, str | None, object]]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    ArticleRow.url,
                    ArticleRow.article_id,
                    ArticleRow.record_hash,
                    ArticleRow.updated_at,
                )
            ).all()
    except Exception:  # not migrated yet
        return {}
    finally:
        engine.dispose()
    return {r.url: (r.article_id, r.record_hash, r.updated_at) for r in rows}


def lag(bus_url: str) -> int:
    """Records on the bus that a stage's group has not committed yet."""
    engine = create_engine(bus_url)
    with engine.connect() as conn:
        query = select(heads.c.topic, func.sum(heads.c.next_seq)).group_by(heads.c.topic)
        ends = {topic: int(end) for topic, end in conn.execute(query).all()}
        done = {
            (r.grp, r.topic): r.seq
            for r in conn.execute(
                select(offsets.c.grp, offsets.c.topic, func.sum(offsets.c.seq).label("seq"))
                .where(offsets.c.grp.in_(STAGES))
                .group_by(offsets.c.grp, offsets.c.topic)
            )
        }
    engine.dispose()
    inputs = {"fetch_pages": "news.links", "extract_articles": "news.raw"}
    inputs |= {"enrich_articles": "news.articles", "write_articles": "news.enriched"}
    return sum(ends.get(topic, 0) - done.get((g, topic), 0) for g, topic in inputs.items())


def service_env(server: NewsServer, db_url: str, **extra: str) -> dict[str, str]:
    """`wiredesk run`'s settings for the local news site and ``db_url``."""
    return {
        "WIREDESK_DATABASE_URL": db_url,
        "WIREDESK_FEEDS": json.dumps(server.feed_urls()),
        "WIREDESK_FETCH_ALLOW_LOOPBACK_PORTS": str(server.port),
        "WIREDESK_FETCH_HOST_DELAY_S": "0",
        "WIREDESK_LOG_FORMAT": "json",
        **extra,
    }


def test_run_survives_kill_9_and_its_dead_letters_are_resent(tmp_path: Path) -> None:
    corpus = load_corpus()
    faults = Faults(fail_paths={FAULTED: 500}, feed_cache_control="max-age=0")
    with NewsServer(corpus, faults=faults, hold_back=4) as server:
        db_url = f"sqlite:///{tmp_path / 'news.db'}"
        bus_url = f"sqlite:///{tmp_path / 'news.bus.db'}"
        env = service_env(
            server,
            db_url,
            WIREDESK_FETCH_HOST_DELAY_S="0.3",  # slow enough to be killed mid-run
            WIREDESK_BATCH_SIZE="4",
            WIREDESK_POLL_ADAPTIVE="false",
            WIREDESK_POLL_INTERVAL_S="2",
            WIREDESK_POLL_MIN_INTERVAL_S="1",
        )
        workers = Workers(env, tmp_path)
        url = {a.id: server.base_url + a.path for a in corpus.articles}
        faulted = {a.id for a in corpus.articles if a.path.startswith("/harbourherald/2026/")}
        visible = {a.id for a in server.visible_articles()}
        assert faulted & visible and visible - faulted  # both kinds are served at first

        first = workers.start("run")
        wait_for(lambda: len(stored(db_url)) >= 2, 120, "the first articles stored")
        first.kill()  # SIGKILL, mid-run: links, pages and articles are still in flight
        assert first.wait(10) == -signal.SIGKILL
        assert len(stored(db_url)) < len(visible - faulted), "killed too late to test anything"
        again = workers.start("run")  # and once more, later in the run
        wait_for(lambda: len(stored(db_url)) >= 8, 120, "more articles stored")
        again.kill()
        assert again.wait(10) == -signal.SIGKILL
        graceful = workers.start("run")  # SIGTERM while busy: the batch in hand, then exit 0
        wait_for(lambda: len(stored(db_url)) >= 12, 120, "more articles stored")
        graceful.send_signal(signal.SIGTERM)
        assert graceful.wait(30) == 0, workers.logs()

        port = free_port()
        second = workers.start("run", WIREDESK_METRICS_PORT=str(port))
        server.release(4)  # new entries appear; the next scheduled poll finds them
        healthy = {url[a.id] for a in corpus.articles if a.id not in faulted}
        wait_for(lambda: set(stored(db_url)) >= healthy, 180, "every healthy article stored")
        wait_for(lambda: lag(bus_url) == 0, 60, "every stage caught up")

        sql = {"WIREDESK_BUS": "sql"}
        listed = wiredesk({**env, **sql}, "dlq", "list")
        assert listed.returncode == 0, listed.stderr
        assert "fetch_pages" in listed.stdout and "http_5xx" in listed.stdout
        server.faults.fail_paths = {}  # the outlet is fixed
        resent = wiredesk({**env, **sql}, "dlq", "resend", "--stage", "fetch_pages")
        assert resent.returncode == 0, resent.stderr
        # one letter per faulted page, or two if the kill came between a letter and its commit
        count = re.search(r"re-published (\d+) dead letters", resent.stdout)
        assert count and len(faulted) <= int(count[1]) <= 2 * len(faulted), resent.stdout
        everything = {url[a.id] for a in corpus.articles}
        wait_for(lambda: set(stored(db_url)) == everything, 120, "the resent articles stored")
        wait_for(lambda: lag(bus_url) == 0, 60, "every stage caught up")
        again = wiredesk({**env, **sql}, "dlq", "resend", "--stage", "fetch_pages")
        assert "re-published 0 dead letters" in again.stdout

        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        exposed = httpx.get(f"{base}/metrics").text
        for stage in STAGES:
            assert f'wiredesk_records_in_total{{stage="{stage}"}}' in exposed
        assert (
            'wiredesk_consumer_lag{partition="0",stage="fetch_pages",topic="news.links"} 0.0'
            in (exposed)
        )

        rows = stored(db_url)
        assert len(rows) == len(corpus.articles) == len({r[0] for r in rows.values()})

        for _ in range(2):  # re-extract every stored raw page: no row changes, twice
            replayed = wiredesk(
                {**env, **sql}, "replay", "--stage", "extract", "--from", "earliest"
            )
            assert replayed.returncode == 0, replayed.stderr
            done = re.search(r"replayed (\d+) of (\d+) records", replayed.stdout)
            assert done and int(done[1]) == int(done[2]) >= len(corpus.articles), replayed.stdout
            wait_for(lambda: lag(bus_url) == 0, 120, "the replayed pages went through")
            assert stored(db_url) == rows

        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, workers.logs()
        assert stored(db_url) == rows


def test_run_on_postgresql_keeps_its_bus_in_the_database(pg_url: str, tmp_path: Path) -> None:
    corpus = load_corpus()
    with NewsServer(corpus) as server:
        # the bus tables go in the same database; the raw archive under tmp_path
        env = service_env(server, pg_url, WIREDESK_ARCHIVE_URL=str(tmp_path / "warc"))
        workers = Workers(env, tmp_path)
        service = workers.start("run")
        everything = {server.base_url + a.path for a in corpus.articles}
        wait_for(lambda: set(stored(pg_url)) == everything, 120, "every article stored")
        wait_for(lambda: lag(pg_url) == 0, 60, "every stage caught up")
        second = wiredesk(env, "run")  # one `run` per bus: the second is refused
        assert second.returncode == 2 and "another `wiredesk run`" in second.stderr
        service.send_signal(signal.SIGTERM)
        assert service.wait(30) == 0, workers.logs()


def test_run_killed_between_its_output_and_its_commit_stores_each_article_once(
    tmp_path: Path,
) -> None:
    corpus = load_corpus()
    with NewsServer(corpus) as server:
        db_url = f"sqlite:///{tmp_path / 'news.db'}"
        bus_url = f"sqlite:///{tmp_path / 'news.bus.db'}"
        env = service_env(server, db_url)
        workers = Workers(env, tmp_path)
        # dies (exit 137) after the first batch's pages are on the bus, before its commit
        crashed = workers.start("run", WIREDESK_CRASH_AT="after_output")
        assert crashed.wait(120) == 137, workers.logs()
        service = workers.start("run")
        everything = {server.base_url + a.path for a in corpus.articles}
        wait_for(lambda: set(stored(db_url)) == everything, 120, "every article stored")
        wait_for(lambda: lag(bus_url) == 0, 60, "every stage caught up")
        service.send_signal(signal.SIGTERM)
        assert service.wait(30) == 0, workers.logs()
    engine = create_engine(bus_url)
    with engine.connect() as conn:
        raw = conn.scalar(select(func.count()).where(messages.c.topic == "news.raw"))
    engine.dispose()
    assert raw is not None and raw > len(corpus.articles)  # the batch was redelivered...
    assert len(stored(db_url)) == len(corpus.articles)  # ...and stored once
