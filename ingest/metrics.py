"""Prometheus metrics of the ingest stages.

Labels are bounded: ``kind`` (feed, page, robots, tdmrep), ``reason`` (a fixed
vocabulary of short codes, see the modules that raise them), ``status_class`` (2xx..5xx),
``outcome``, ``field``, ``signal``/``value`` and ``action``. Never a URL, a host or a feed
id: per-feed health lives in the ``feeds`` table, and the gauges here aggregate it.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

FETCH_BLOCKED = Counter(
    "wiredesk_fetch_blocked_total",
    "Requests refused before connecting (scheme, forbidden address classes)",
    ["kind", "reason"],
)
FETCH_REJECTED = Counter(
    "wiredesk_fetch_rejected_total",
    "Fetches abandoned or refused after connecting (too_large, timeout, redirects, "
    "truncated_body, bad_redirect, bad_response, connect_error, ...)",
    ["kind", "reason"],
)
FETCH_RESPONSES = Counter(
    "wiredesk_fetch_responses_total", "HTTP responses received", ["kind", "status_class"]
)
FETCH_SECONDS = Histogram(
    "wiredesk_fetch_seconds",
    "Wall-clock time of one guarded fetch (all redirect hops)",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
FETCH_STALE_RETRIES = Counter(
    "wiredesk_fetch_stale_retries_total",
    "GETs sent again on a fresh connection because their pooled connection failed before "
    "any answer (closed by the server or the pool meanwhile)",
)
POLITENESS_WAIT = Counter(
    "wiredesk_politeness_wait_seconds_total",
    "Time fetches waited for a host's delay, Crawl-delay or Retry-After",
    ["kind"],
)
ROBOTS = Counter(
    "wiredesk_robots_total",
    "robots.txt verdicts (allowed, disallowed, unavailable) and fetches (fetched)",
    ["outcome"],
)
FEED_POLLS = Counter(
    "wiredesk_feed_polls_total",
    "Feed polls by outcome: changed, not_modified (304), unchanged, failed",
    ["outcome"],
)
FEED_NOT_MODIFIED = Counter(
    "wiredesk_feed_not_modified_total", "Feed polls answered 304 Not Modified"
)
FEED_PARSE_ERRORS = Counter(
    "wiredesk_feed_parse_error_total",
    "Feeds rejected or unparseable (dtd, exception, timeout, not_a_feed, too_large, ...)",
    ["reason"],
)
FEED_EMPTY = Counter("wiredesk_feed_empty_total", "Feed responses with no entries")
FEED_ENCODING_OVERRIDE = Counter(
    "wiredesk_feed_encoding_override_total",
    "Feeds whose declared character encoding was wrong and overridden by the parser",
)
FEED_ENTRIES = Counter(
    "wiredesk_feed_entries_total",
    "Feed entries by outcome: new, seen, no_link, refused_scheme, bad_link, over_cap, bad_date",
    ["outcome"],
)
FEED_ITEMS_PARSED = Counter(
    "wiredesk_feed_items_parsed_total",
    "Feed items by how their entry was had: parsed (feedparser read it), reused (its exact "
    "bytes were parsed at an earlier poll of the feed, ingest.feeditems)",
    ["how"],
)
FEEDS = Gauge(
    "wiredesk_poller_feeds",
    "Registered feeds by state (ok, failing, disabled), as the poller sees them",
    ["state"],
)
SANITIZED = Counter(
    "wiredesk_sanitized_total",
    "Characters or fields changed by the ingest normaliser (nul, control, truncated, markup; "
    "capped: an article text cut to fit the broker limit; char_ref: a reference to a "
    "character XML forbids, removed from a page; userinfo: credentials dropped from a URL)",
    ["kind"],
)
PAGE_CHARSET = Counter(
    "wiredesk_page_charset_total",
    "How page bytes were decoded: declared, utf8 (declared Latin-1 but valid UTF-8), "
    "utf8_undeclared, bom, detected",
    ["source"],
)
EXTRACT_REJECTED = Counter(
    "wiredesk_extract_rejected_total",
    "Pages the extractor could not turn into an article (too_short, depth_or_empty, ...)",
    ["reason"],
)
EXTRACT_SECONDS = Histogram(
    "wiredesk_extract_seconds",
    "Time to extract one page (sandboxed worker round trip)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SANDBOX_RESTARTS = Counter(
    "wiredesk_sandbox_restarts_total",
    "Sandbox worker processes replaced (timeout, memory, crashed)",
    ["reason"],
)
BACKFILL_RECORDS = Counter(
    "wiredesk_backfill_records_total",
    "WARC records seen by the backfill: published, skipped_* reasons",
    ["outcome"],
)
TDMREP = Counter(
    "wiredesk_tdmrep_total",
    "/.well-known/tdmrep.json fetches by outcome: found, absent (4xx), invalid, unknown",
    ["outcome"],
)
RIGHTS_ARTICLES = Counter(
    "wiredesk_rights_articles_total",
    "Articles extracted (or skipped by the rights policy) by rights signal (paywalled, "
    "tdm_reserved, ai_opt_out) and its value (true, false, unknown)",
    ["signal", "value"],
)
RIGHTS_POLICY = Counter(
    "wiredesk_rights_policy_total",
    "Articles whose publisher opted out (TDM reservation or AI opt-out), by the action the "
    "rights policy took: store (text kept), metadata (text withheld), skip (not stored)",
    ["action"],
)


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


ARCHIVE_PAGES = Counter(
    "wiredesk_archive_pages_total",
    "Fetched pages written to the raw WARC archive: archived, failed (not archived; "
    "the page still went on), index_waiting (in a WARC file, its archive_pages row "
    "waits for the database, retried every 30 s), index_dropped (over 10,000 waiting)",
    ["outcome"],
)
ARCHIVE_FILES = Counter(
    "wiredesk_archive_files_total",
    "WARC files of the raw archive: opened, closed, uploaded, upload_failed (kept in "
    "the spool directory and indexed there)",
    ["outcome"],
)
ARCHIVE_BYTES = Counter(
    "wiredesk_archive_bytes_total", "Bytes written to the raw WARC archive (gzip members)"
)
ARCHIVE_READS = Counter(
    "wiredesk_archive_reads_total",
    "Pages read back from the raw archive by replays: read, missing, corrupt",
    ["outcome"],
)

# -- updates (ingest.recheck) -------------------------------------------------------------
RECHECKS = Counter(
    "wiredesk_recheck_requests_total",
    "Re-fetches of published articles by outcome: not_modified (304), changed (a new body, "
    "published to news.raw), unchanged (200 with the same body), error",
    ["reason", "outcome"],
)
RECHECKS_SCHEDULED = Counter(
    "wiredesk_recheck_links_total",
    "Re-fetch links the poller published: schedule (a scheduled re-check is due) or feed "
    "(the article's feed entry changed)",
    ["reason"],
)


def initialise_archive() -> None:
    """The archive's outcome series at zero, so its panels and alert show 0, not no data."""
    for outcome in ("archived", "failed", "index_waiting", "index_dropped"):
        ARCHIVE_PAGES.labels(outcome)
    for outcome in ("opened", "closed", "uploaded", "upload_failed"):
        ARCHIVE_FILES.labels(outcome)
