"""A PostgreSQL outage pauses the sink: it stays in its consumer group, commits nothing,
reports not-ready and counts the errors; when the database returns it resumes and
loses nothing. The outage is a TCP proxy we cut, never the shared server."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request

import pytest
from kafka import KafkaAdminClient
from sqlalchemy import create_engine, func, make_url, select

from tests.integration.conftest import free_port, group_progress, wait_for
from tests.integration.tcp_proxy import TcpProxy
from tests.integration.test_sink_delivery import enriched, produce
from wiredesk.db.tables import ArticleRow
from wiredesk.topics import ENRICHED

pytestmark = pytest.mark.integration


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def sample(body: str, name: str, labels: str = "") -> float:
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", body, re.M)
    return float(m.group(1)) if m else 0.0


def members(bootstrap: str, group: str) -> tuple[str, list[str]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        info = admin.describe_groups([group])[group]
    finally:
        admin.close()
    return info["group_state"], sorted(m["member_id"] for m in info["members"])


def test_postgres_outage_pauses_the_sink_and_it_resumes_without_loss(
    workers, kafka_bootstrap, pg_url, unique
):
    ns = f"t{unique}."
    group, topic = f"{ns}write_articles", f"{ns}{ENRICHED.name}"
    upstream = make_url(pg_url)
    proxy = TcpProxy(upstream.host or "127.0.0.1", upstream.port or 5432).start()
    proxied = upstream.set(port=proxy.port).render_as_string(hide_password=False)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    produce(kafka_bootstrap, ns, [(r.key(), r.encode()) for r in map(enriched, range(40))])
    workers.start(
        "sink",
        WIREDESK_DATABASE_URL=proxied,
        WIREDESK_METRICS_PORT=str(port),
        WIREDESK_BATCH_SIZE="10",
        WIREDESK_RETRY_MAX_BACKOFF_S="2",
    )
    wait_for(lambda: group_progress(kafka_bootstrap, group, topic) == (40, 40), 90, "40 written")
    state, before = members(kafka_bootstrap, group)
    assert state == "Stable" and len(before) == 1

    proxy.cut()
    produce(kafka_bootstrap, ns, [(r.key(), r.encode()) for r in map(enriched, range(40, 80))])
    wait_for(lambda: get(f"{base}/readyz")[0] == 503, 60, "readiness to turn false")
    time.sleep(15)  # longer than the 10 s session timeout: a dead member would be gone
    _, body = get(f"{base}/metrics")
    assert sample(body, "wiredesk_paused", '{stage="write_articles"}') == 1
    assert sample(body, "wiredesk_sink_db_errors_total", '{kind="unavailable"}') >= 2
    assert sample(body, "wiredesk_retries_total", '{stage="write_articles",step="deliver"}') >= 2
    assert get(f"{base}/healthz")[0] == 200  # alive, just waiting
    assert members(kafka_bootstrap, group) == ("Stable", before)  # same member, never left
    assert group_progress(kafka_bootstrap, group, topic) == (40, 80)  # nothing committed

    proxy.restore()
    wait_for(lambda: group_progress(kafka_bootstrap, group, topic) == (80, 80), 90, "resumed")
    wait_for(lambda: get(f"{base}/readyz")[0] == 200, 30, "readiness to return")
    _, body = get(f"{base}/metrics")
    assert sample(body, "wiredesk_paused", '{stage="write_articles"}') == 0
    assert workers.stop_all()["sink-0"] == 0, workers.logs()
    proxy.cut()

    engine = create_engine(pg_url)
    with engine.connect() as conn:
        total = conn.scalar(select(func.count()).select_from(ArticleRow))
        distinct = conn.scalar(select(func.count(func.distinct(ArticleRow.article_id))))
    engine.dispose()
    assert total == distinct == 80
