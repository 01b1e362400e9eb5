"""The feeds-health dashboard's panels (fetching, extraction, rights, the raw archive,
re-checks); the other dashboards are in ``panels.py``. Edit, then run
`python deploy/grafana/generate.py`.
"""

from __future__ import annotations

R = "$__rate_interval"

DASHBOARDS: dict[str, tuple[str, list]] = {
    "wiredesk-feeds": (
        "wiredesk: feeds health",
        [
            (
                "Feeds by status",
                "short",
                "stat",
                [("{{status}}", "max by (status) (wiredesk_feeds)")],
            ),
            (
                "Consecutive failed polls per feed",
                "short",
                "table",
                [("{{feed_id}}", "max by (feed_id) (wiredesk_feed_consecutive_failures)")],
            ),
            (
                "Time since last successful poll",
                "s",
                "table",
                [
                    (
                        "{{feed_id}}",
                        "time() - max by (feed_id) (wiredesk_feed_last_success_timestamp_seconds)",
                    )
                ],
            ),
            (
                "Links published by the poller",
                "ops",
                "timeseries",
                [("links", f'sum(rate(wiredesk_records_out_total{{stage="poll_feeds"}}[{R}]))')],
            ),
            (
                "Pages fetched",
                "ops",
                "timeseries",
                [("pages", f'sum(rate(wiredesk_records_out_total{{stage="fetch_pages"}}[{R}]))')],
            ),
            (
                "Fetch and extract dead letters by reason",
                "ops",
                "timeseries",
                [
                    (
                        "{{stage}} {{reason}}",
                        "sum by (stage, reason) (rate(wiredesk_dlq_total"
                        f'{{stage=~"fetch_pages|extract_articles"}}[{R}]))',
                    )
                ],
            ),
            (
                "Feed polls by outcome",
                "ops",
                "timeseries",
                [("{{outcome}}", f"sum by (outcome) (rate(wiredesk_feed_polls_total[{R}]))")],
            ),
            (
                "Feed items parsed vs reused from the last poll",
                "ops",
                "timeseries",
                [("{{how}}", f"sum by (how) (rate(wiredesk_feed_items_parsed_total[{R}]))")],
            ),
            (
                "HTTP responses by kind and status class",
                "ops",
                "timeseries",
                [
                    (
                        "{{kind}} {{status_class}}",
                        f"sum by (kind, status_class) (rate(wiredesk_fetch_responses_total[{R}]))",
                    )
                ],
            ),
            (
                "Fetch latency p95 (feeds, pages, robots)",
                "s",
                "timeseries",
                [
                    (
                        "{{kind}}",
                        "histogram_quantile(0.95, sum by (kind, le) "
                        f"(rate(wiredesk_fetch_seconds_bucket[{R}])))",
                    )
                ],
            ),
            (
                "Rights signals of extracted articles (paywalled, tdm_reserved, ai_opt_out)",
                "ops",
                "timeseries",
                [
                    (
                        "{{signal}}={{value}}",
                        f"sum by (signal, value) (rate(wiredesk_rights_articles_total[{R}]))",
                    )
                ],
            ),
            (
                "tdmrep.json fetches by outcome",
                "ops",
                "timeseries",
                [("{{outcome}}", f"sum by (outcome) (rate(wiredesk_tdmrep_total[{R}]))")],
            ),
            (
                "Extraction time p95",
                "s",
                "timeseries",
                [
                    (
                        "extract",
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(wiredesk_extract_seconds_bucket[{R}])))",
                    )
                ],
            ),
            (
                "Raw archive: pages by outcome",
                "ops",
                "timeseries",
                [
                    (
                        "{{outcome}}",
                        f"sum by (outcome) (rate(wiredesk_archive_pages_total[{R}]))",
                    )
                ],
            ),
            (
                "Raw archive: WARC files and bytes written",
                "ops",
                "timeseries",
                [
                    (
                        "files {{outcome}}",
                        f"sum by (outcome) (rate(wiredesk_archive_files_total[{R}]))",
                    ),
                    ("bytes/s", f"sum(rate(wiredesk_archive_bytes_total[{R}]))"),
                ],
            ),
            (
                "Re-checks of published articles by outcome",
                "ops",
                "timeseries",
                [
                    (
                        "{{reason}} {{outcome}}",
                        f"sum by (reason, outcome) (rate(wiredesk_recheck_requests_total[{R}]))",
                    )
                ],
            ),
            (
                "Correction notices in new versions",
                "ops",
                "timeseries",
                [("corrections", f"sum(rate(wiredesk_correction_notices_total[{R}]))")],
            ),
        ],
    ),
}
