"""The panels of the provisioned Grafana dashboards, readable in one place.

Edit here, then run `python deploy/grafana/generate.py` (it writes the JSON files).
"""

from __future__ import annotations

R = "$__rate_interval"

# (title, unit, kind, [(legend, expr)]); kind: timeseries | stat | table
Panel = tuple[str, str, str, list[tuple[str, str]]]

DASHBOARDS: dict[str, tuple[str, list[Panel]]] = {
    "wiredesk-overview": (
        "wiredesk: pipeline overview",
        [
            (
                "Records consumed per stage",
                "ops",
                "timeseries",
                [("{{stage}}", f"sum by (stage) (rate(wiredesk_records_in_total[{R}]))")],
            ),
            (
                "Records published or written per stage",
                "ops",
                "timeseries",
                [("{{stage}}", f"sum by (stage) (rate(wiredesk_records_out_total[{R}]))")],
            ),
            (
                "Sink rows by table and outcome",
                "ops",
                "timeseries",
                [
                    (
                        "{{table}} {{outcome}}",
                        f"sum by (table, outcome) (rate(wiredesk_sink_rows_total[{R}]))",
                    )
                ],
            ),
            (
                "Batch latency p95 per stage",
                "s",
                "timeseries",
                [
                    (
                        "{{stage}}",
                        "histogram_quantile(0.95, sum by (stage, le) "
                        f"(rate(wiredesk_batch_seconds_bucket[{R}])))",
                    )
                ],
            ),
            (
                "End-to-end freshness p50 / p90 (to row written)",
                "s",
                "timeseries",
                [
                    (
                        "p50 since {{since}}",
                        "histogram_quantile(0.5, sum by (since, le) "
                        f"(rate(wiredesk_freshness_seconds_bucket[{R}])))",
                    ),
                    (
                        "p90 since {{since}}",
                        "histogram_quantile(0.9, sum by (since, le) "
                        f"(rate(wiredesk_freshness_seconds_bucket[{R}])))",
                    ),
                ],
            ),
            (
                "Dead letters by stage and reason",
                "ops",
                "timeseries",
                [
                    (
                        "{{stage}} {{reason}}",
                        f"sum by (stage, reason) (rate(wiredesk_dlq_total[{R}]))",
                    )
                ],
            ),
            ("Ready", "none", "stat", [("{{stage}}", "min by (stage) (wiredesk_ready)")]),
            (
                "Paused (backing off)",
                "none",
                "stat",
                [("{{stage}}", "max by (stage) (wiredesk_paused)")],
            ),
            (
                "Seconds since each stage's loop last turned",
                "s",
                "stat",
                [
                    (
                        "{{stage}}",
                        "time() - max by (stage) (wiredesk_last_progress_timestamp_seconds)",
                    )
                ],
            ),
            (
                "Retries of transient failures",
                "ops",
                "timeseries",
                [
                    (
                        "{{stage}} {{step}}",
                        f"sum by (stage, step) (rate(wiredesk_retries_total[{R}]))",
                    )
                ],
            ),
            (
                "Sink transaction p95 and database errors",
                "s",
                "timeseries",
                [
                    (
                        "p95",
                        "histogram_quantile(0.95, sum by (le) "
                        f"(rate(wiredesk_sink_transaction_seconds_bucket[{R}])))",
                    ),
                    (
                        "errors {{kind}}",
                        f"sum by (kind) (rate(wiredesk_sink_db_errors_total[{R}]))",
                    ),
                ],
            ),
            (
                "Rows per table",
                "short",
                "stat",
                [("{{table}}", "max by (table) (wiredesk_db_rows)")],
            ),
            ("Services up", "none", "stat", [("{{instance}}", 'up{job="wiredesk"}')]),
        ],
    ),
    "wiredesk-dedup": (
        "wiredesk: dedup and entities",
        [
            (
                "Duplicate ratio of new articles",
                "percentunit",
                "timeseries",
                [
                    (
                        "duplicates",
                        'sum(rate(wiredesk_sink_articles_total{verdict="duplicate"}'
                        f"[{R}])) / clamp_min(sum(rate(wiredesk_sink_articles_total[{R}])), "
                        "1e-9)",
                    )
                ],
            ),
            (
                "New articles by verdict",
                "ops",
                "timeseries",
                [("{{verdict}}", f"sum by (verdict) (rate(wiredesk_sink_articles_total[{R}]))")],
            ),
            (
                "Entity mentions stored",
                "ops",
                "timeseries",
                [("mentions", f"sum(rate(wiredesk_sink_entity_mentions_total[{R}]))")],
            ),
            (
                "Stories written",
                "ops",
                "timeseries",
                [
                    (
                        "{{outcome}}",
                        "sum by (outcome) "
                        f'(rate(wiredesk_sink_rows_total{{table="stories"}}[{R}]))',
                    )
                ],
            ),
            (
                "Entities, mentions and stories in the database",
                "short",
                "stat",
                [
                    (
                        "{{table}}",
                        'max by (table) (wiredesk_db_rows{table=~"entities|article_entities'
                        '|stories"})',
                    )
                ],
            ),
            (
                "Enricher throughput",
                "ops",
                "timeseries",
                [
                    (
                        "enriched",
                        f'sum(rate(wiredesk_records_out_total{{stage="enrich_articles"}}[{R}]))',
                    )
                ],
            ),
            (
                "Dedup verdicts (new, exact, near, stored on replay)",
                "ops",
                "timeseries",
                [("{{kind}}", f"sum by (kind) (rate(wiredesk_transform_verdicts_total[{R}]))")],
            ),
            (
                "Story decisions",
                "ops",
                "timeseries",
                [
                    (
                        "{{outcome}}",
                        f"sum by (outcome) (rate(wiredesk_transform_stories_total[{R}]))",
                    )
                ],
            ),
            (
                "NER: articles tagged; paragraphs tagged vs reused (copies' unchanged ones)",
                "ops",
                "timeseries",
                [
                    (
                        "articles: {{source}}",
                        f"sum by (source) (rate(wiredesk_transform_entity_source_total[{R}]))",
                    ),
                    (
                        "paragraphs: {{how}}",
                        f"sum by (how) (rate(wiredesk_transform_ner_paragraphs_total[{R}]))",
                    ),
                ],
            ),
            (
                "Articles by detected language",
                "ops",
                "timeseries",
                [
                    (
                        "{{language}}",
                        f"sum by (language) (rate(wiredesk_transform_languages_total[{R}]))",
                    )
                ],
            ),
            (
                "Transform step time p95",
                "s",
                "timeseries",
                [
                    (
                        "{{step}}",
                        "histogram_quantile(0.95, sum by (step, le) "
                        f"(rate(wiredesk_transform_step_seconds_bucket[{R}])))",
                    )
                ],
            ),
        ],
    ),
    "wiredesk-lag": (
        "wiredesk: Kafka consumer lag",
        [
            (
                "Lag per stage",
                "short",
                "timeseries",
                [("{{stage}}", "sum by (stage) (wiredesk_consumer_lag)")],
            ),
            (
                "Lag per partition",
                "short",
                "table",
                [
                    (
                        "{{stage}} {{topic}}[{{partition}}]",
                        "max by (stage, topic, partition) (wiredesk_consumer_lag)",
                    )
                ],
            ),
            (
                "Committed offset progress per partition",
                "ops",
                "timeseries",
                [
                    (
                        "{{stage}} {{topic}}[{{partition}}]",
                        "sum by (stage, topic, partition) "
                        "(deriv(wiredesk_consumer_committed_offset[5m]))",
                    )
                ],
            ),
            (
                "Commits and failed commits (rebalances)",
                "ops",
                "timeseries",
                [
                    ("commits {{stage}}", f"sum by (stage) (rate(wiredesk_commits_total[{R}]))"),
                    (
                        "failed {{stage}}",
                        f"sum by (stage) (rate(wiredesk_commit_failed_total[{R}]))",
                    ),
                ],
            ),
        ],
    ),
}
