"""Metrics of the sink: rows by table and outcome, freshness, duplicates, errors.

Labels stay bounded: table names, a fixed set of outcomes, verdicts and reasons.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

ROWS = Counter(
    "wiredesk_sink_rows_total",
    "Rows the sink inserted, updated, left unchanged (replays), skipped as stale (an older "
    "version than the row: fetched earlier) or deleted, by table",
    ["table", "outcome"],
)
ARTICLES = Counter(
    "wiredesk_sink_articles_total",
    "New articles stored, by dedup verdict (original or duplicate)",
    ["verdict"],
)
ENTITY_MENTIONS = Counter(
    "wiredesk_sink_entity_mentions_total", "Entity mentions stored with new or changed articles"
)
DB_ERRORS = Counter(
    "wiredesk_sink_db_errors_total",
    "Failed sink transactions by kind (unavailable = retried; rejected = a record refused)",
    ["kind"],
)
SANITISED = Counter(
    "wiredesk_sink_sanitised_total",
    "Text values changed to be storable (nul: NUL removed; surrogate: lone surrogate replaced)",
    ["kind"],
)
TRANSACTION_SECONDS = Histogram(
    "wiredesk_sink_transaction_seconds",
    "Time of one sink transaction (one batch)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
FRESHNESS_SECONDS = Histogram(
    "wiredesk_freshness_seconds",
    "End-to-end freshness: from when an article was published/discovered/fetched to when "
    "its row was first written",
    ["since"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600, 86400, 7 * 86400),
)

REVISIONS = Counter(
    "wiredesk_sink_revisions_total",
    "Verdict revision records: applied (newer than the row's), stale (not newer), waiting "
    "(before the article's row; applied when it is written)",
    ["outcome"],
)

UPDATES = Counter(
    "wiredesk_article_updates_total",
    "New versions of stored articles (their title or text changed), by source host",
    ["source"],
)
CORRECTIONS = Counter(
    "wiredesk_correction_notices_total",
    "Article versions stored with a correction or update notice (wiredesk.corrections)",
)

TABLES = ("sources", "articles", "entities", "article_entities", "stories")
OUTCOMES = ("inserted", "updated", "unchanged", "stale", "deleted")
FRESHNESS_SINCE = ("published", "discovered", "fetched")


def initialise() -> None:
    """Create every labelled series at zero so dashboards show 0 rather than no data."""
    for table in TABLES:
        for outcome in OUTCOMES:
            ROWS.labels(table, outcome)
    for verdict in ("original", "duplicate"):
        ARTICLES.labels(verdict)
    for outcome in ("applied", "stale", "waiting"):
        REVISIONS.labels(outcome)
    for kind in ("unavailable", "rejected"):
        DB_ERRORS.labels(kind)
    for kind in ("nul", "surrogate"):
        SANITISED.labels(kind)
    for since in FRESHNESS_SINCE:
        FRESHNESS_SECONDS.labels(since)
